"""Planted secrets and prompt text appear in no record, log, flow file or admin reply."""

import logging
import sqlite3
from pathlib import Path

import pytest

from support.rig import Rig

CLIENT_KEY = "sk-planted-client-key-7f3a9c"
PROMPT = "PLANTED-PROMPT-TEXT-5d1e"
HEADERS = {"authorization": f"Bearer {CLIENT_KEY}", "x-api-key": CLIENT_KEY}
FLOWS = "flows.mitm"


@pytest.fixture
def gateway_settings(tmp_path: Path) -> dict[str, object]:
    return {"save_flows": str(tmp_path / FLOWS)}


def _message(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def _traffic(rig: Rig) -> list[bytes]:
    """Every kind of request, each carrying the planted key and prompt; the admin replies."""
    chat = {"model": "gpt-5.4", "messages": [{"role": "user", "content": PROMPT}]}
    sent = [
        ("/v1/chat/completions", chat),
        ("/v1/chat/completions", {**chat, "stream": True}),
        ("/v1/chat/completions", {**chat, "model": "no-such-model"}),
        ("/v1/responses", {"model": "gpt-5.4", "input": PROMPT}),
        (
            "/codex/v1/responses",
            {"model": "gpt-5.4", "input": [_message(PROMPT)], "stream": True, "store": False},
        ),
        ("/v1/images/generations", {"model": "gpt-image-1", "prompt": PROMPT}),
    ]
    for path, body in sent:
        reply = await rig.client.post(f"{path}?api_key={CLIENT_KEY}", json=body, headers=HEADERS)
        assert reply.status_code in (200, 404), reply.text
    return [
        (await rig.client.get(path, headers=HEADERS)).content
        for path in (
            "/_gateway/admin/usage",
            "/_gateway/admin/requests?limit=100",
            "/metrics",
        )
    ]


def _record_tables(database: Path) -> bytes:
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT * FROM requests").fetchall()
        rows += conn.execute("SELECT * FROM usage_rollup").fetchall()
    finally:
        conn.close()
    return repr(rows).encode()


async def test_no_secret_or_prompt_is_kept(
    rig: Rig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = rig.add_account("secret-holder@example.com", plan="plus")
    admin_replies = await _traffic(rig)
    assert rig.gateway is not None
    await rig.gateway.stop()  # flush records and close the flow file

    planted = {
        "client key": CLIENT_KEY,
        "prompt": PROMPT,
        "access token": account.access_token,
        "refresh token": account.refresh_token,
        "id token": account.id_token,
        "pool secret": rig.runtime.secret,
    }
    database = tmp_path / "azt.db"
    whole_database = b"".join(
        p.read_bytes() for p in database.parent.glob("azt.db*") if p.is_file()
    )
    places = {
        # The accounts table holds the pool's own tokens by design; the records must not.
        "request records": _record_tables(database),
        "log": "\n".join(
            r.getMessage()
            for r in caplog.records
            if rig.base_url not in r.getMessage()  # the test client's own request lines
        ).encode(),
        "flow file": (tmp_path / FLOWS).read_bytes(),
        **{f"admin reply {n}": reply for n, reply in enumerate(admin_replies)},
    }
    assert len(places["flow file"]) > 0 and len(places["request records"]) > 100
    for place, content in places.items():
        for what, secret in planted.items():
            assert secret.encode() not in content, f"the {what} leaked into the {place}"
    for what in ("client key", "prompt"):
        assert planted[what].encode() not in whole_database, f"the {what} is in the database"
