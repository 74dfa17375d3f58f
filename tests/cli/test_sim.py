"""`azt sim`: start-up pieces, serving, and the command's user errors."""

import asyncio
import json
import socket
import stat
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from azt.cli.main import cli
from azt.cli.sim import banner, build_state, parse_account, serve, write_auth_files
from azt.pool.jwt import identity_from_id_token
from azt.tasks import spawn


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("a@example.com", ("a@example.com", "plus")),
        ("a@example.com:pro", ("a@example.com", "pro")),
        (" a@example.com : free ", ("a@example.com", "free")),
    ],
)
def test_parse_account(spec: str, expected: tuple[str, str]) -> None:
    """EMAIL[:PLAN] parses, the plan defaulting to plus."""
    assert parse_account(spec) == expected


def test_parse_account_rejects_non_emails() -> None:
    """Something without an @ is a usage error."""
    with pytest.raises(click.BadParameter, match="EMAIL"):
        parse_account("alice:pro")


def test_build_state() -> None:
    """Without --account there is one demo account; duplicates are refused."""
    state = build_state([], 0.5, 60)
    assert [(a.email, a.plan) for a in state.accounts.values()] == [("demo@example.com", "plus")]
    assert (state.event_delay, state.access_ttl) == (0.5, 60)
    with pytest.raises(click.BadParameter, match="already exists"):
        build_state(["a@example.com", "A@example.com:pro"], 0, 60)


def test_write_auth_files(tmp_path: Path) -> None:
    """One private Codex auth.json per account, holding tokens the sim accepts."""
    state = build_state(["a@example.com:pro", "b@example.com"], 0, 3600)
    files = write_auth_files(state, tmp_path / "auth")
    assert [f.path for f in files] == [
        tmp_path / "auth" / "a@example.com" / "auth.json",
        tmp_path / "auth" / "b@example.com" / "auth.json",
    ]
    for f in files:
        assert stat.S_IMODE(f.path.stat().st_mode) == 0o600
        document = json.loads(f.path.read_text())
        assert document["auth_mode"] == "chatgpt"
        assert document["tokens"]["account_id"] == f.account.account_id
        identity = identity_from_id_token(document["tokens"]["id_token"])
        assert (identity.email, identity.plan) == (f.account.email, f.account.plan)
        access = document["tokens"]["access_token"]
        assert state.tokens.account_for_access_token(access) == f.account.account_id


def test_banner(tmp_path: Path) -> None:
    """The banner gives the three environment lines and an import command per account."""
    state = build_state([], 0, 3600)
    files = write_auth_files(state, tmp_path)
    text = banner("http://127.0.0.1:8790", files)
    lines = text.splitlines()
    assert "AZT_CODEX_BASE_URL=http://127.0.0.1:8790/backend-api/codex" in lines
    assert "AZT_CHATGPT_BASE_URL=http://127.0.0.1:8790/backend-api" in lines
    assert "AZT_AUTH_BASE_URL=http://127.0.0.1:8790" in lines
    assert f"azt accounts import {files[0].path}    # demo@example.com (plus)" in lines


async def test_serve_until_stopped() -> None:
    """serve() announces its URL once listening and stops when asked."""
    state = build_state([], 0, 3600)
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    server = spawn(serve(state, "127.0.0.1", 0, ready.set_result, stop), name="sim under test")
    url = await asyncio.wait_for(ready, 5)
    async with httpx.AsyncClient() as client:
        snapshot = (await client.get(f"{url}/_sim/state")).json()
    assert snapshot["accounts"][0]["email"] == "demo@example.com"
    stop.set()
    await asyncio.wait_for(server, 5)


def test_help_is_registered() -> None:
    """`azt sim --help` documents the options."""
    result = CliRunner().invoke(cli, ["sim", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--account", "--event-delay", "--auth-dir"):
        assert option in result.output


def test_bad_account_is_a_usage_error() -> None:
    """A malformed --account exits with the usage status."""
    result = CliRunner().invoke(cli, ["sim", "--account", "nobody"])
    assert result.exit_code == 2
    assert "EMAIL[:PLAN]" in result.output


def test_busy_port_fails_cleanly(tmp_path: Path) -> None:
    """When the port is taken the command says so and exits 4, after writing auth files."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(cli, ["sim", "--port", str(port), "--auth-dir", str(tmp_path)])
    assert result.exit_code == 4
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert (tmp_path / "demo@example.com" / "auth.json").exists()


def test_image_delay_flag_sets_the_simulated_generation_time(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    import azt.cli.sim as sim_cli

    seen = {}

    async def fake_serve(state, host, port, on_ready, stop=None):  # type: ignore[no-untyped-def]
        seen["image_delay"] = state.image_delay

    monkeypatch.setattr(sim_cli, "serve", fake_serve)
    result = CliRunner().invoke(
        sim_cli.sim_command, ["--image-delay", "2.5", "--auth-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert seen == {"image_delay": 2.5}
