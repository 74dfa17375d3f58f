"""The flow file: redacted copies of finished flows, readable by mitmproxy."""

import gzip
import os
import stat
import sys
from pathlib import Path

import pytest
from mitmproxy import http, io
from mitmproxy.test import tflow, tutils

from azt.addons.flowfile import FlowFile, FlowFileError, parse_spec
from azt.addons.flowstate import exchange_of
from azt.addons.redaction import (
    CLIENT_REQUEST,
    REDACTED,
    Redactor,
    is_secret_header,
    is_secret_query_param,
)
from azt.pool.hop import SECRET_HEADER

POOL_SECRET = "pool-secret-4f1d9c"
PLANTED = {
    "bearer": "sk-planted-bearer-111",
    "api key": "sk-planted-xapikey-222",
    "cookie": "session=planted-cookie-333",
    "set-cookie": "planted-set-cookie-444",
    "account id": "planted-account-555",
    "query key": "sk-planted-query-666",
    "affinity": "planted-affinity-777",
}
PROMPT = b'{"input":"planted prompt text 987"}'
OUTPUT = b'{"output":"planted output text 654"}'


def secret_flow(make_flow) -> http.HTTPFlow:
    """A routed flow carrying every kind of credential azt sees, plus a prompt and a reply."""
    flow = make_flow(
        path=f"/codex/v1/responses?key={PLANTED['query key']}&stream=true",
        body=PROMPT,
        headers={
            "authorization": f"Bearer {PLANTED['bearer']}",
            "x-api-key": PLANTED["api key"],
            "cookie": PLANTED["cookie"],
            "chatgpt-account-id": PLANTED["account id"],
            SECRET_HEADER: POOL_SECRET,
            "x-azt-affinity": PLANTED["affinity"],
        },
    )
    flow.response = tutils.tresp(
        content=OUTPUT,
        headers=[
            (b"content-type", b"application/json"),
            (b"set-cookie", PLANTED["set-cookie"].encode()),
            (b"x-azt-ignored-params", b"logit_bias"),
            (b"x-ratelimit-remaining-tokens", b"1000"),
        ],
    )
    return flow


def record(path: Path, flows: list[http.HTTPFlow], **redactor: object) -> FlowFile:
    flow_file = FlowFile(str(path), Redactor(known_secrets=(POOL_SECRET,), **redactor))  # type: ignore[arg-type]
    flow_file.open()
    for flow in flows:
        flow_file.requestheaders(flow)
        flow_file.response(flow)
    flow_file.done()
    return flow_file


def read_back(path: Path) -> list[http.HTTPFlow]:
    with path.open("rb") as f:
        return list(io.FlowReader(f).stream())  # type: ignore[arg-type]


def test_no_credential_secret_or_body_reaches_the_file(tmp_path: Path, make_flow) -> None:
    path = tmp_path / "flows"
    flow = secret_flow(make_flow)
    record(path, [flow])

    raw = path.read_bytes()
    for name, value in [*PLANTED.items(), ("pool secret", POOL_SECRET)]:
        assert value.encode() not in raw, name
    assert b"planted prompt" not in raw and b"planted output" not in raw

    (saved,) = read_back(path)
    assert saved.id == flow.id
    request, response = saved.request, saved.response
    assert response is not None
    for name in ("authorization", "x-api-key", "cookie", "chatgpt-account-id", SECRET_HEADER):
        assert request.headers[name] == REDACTED, name
    assert request.headers["x-azt-affinity"] == REDACTED
    assert request.query["key"] == REDACTED and request.query["stream"] == "true"
    assert response.headers["set-cookie"] == REDACTED
    # Harmless facts survive: azt's public header and OpenAI-style rate limits.
    assert response.headers["x-azt-ignored-params"] == "logit_bias"
    assert response.headers["x-ratelimit-remaining-tokens"] == "1000"
    assert (
        request.content
        == (
            f"[body omitted: {len(PROMPT)} bytes; start azt with --flow-bodies to keep bodies]"
        ).encode()
    )
    assert response.content.startswith(b"[body omitted: ")
    assert saved.metadata["azt.redacted"] is True


def test_the_live_flow_is_left_untouched(tmp_path: Path, make_flow) -> None:
    flow = secret_flow(make_flow)
    record(tmp_path / "flows", [flow])
    assert flow.request.headers["authorization"] == f"Bearer {PLANTED['bearer']}"
    assert flow.request.headers[SECRET_HEADER] == POOL_SECRET
    assert flow.request.content == PROMPT
    assert flow.response is not None and flow.response.content == OUTPUT


def test_bodies_are_kept_on_request_with_credentials_still_redacted(
    tmp_path: Path, make_flow
) -> None:
    path = tmp_path / "flows"
    flow = secret_flow(make_flow)
    assert flow.response is not None
    flow.response.content = OUTPUT[:-1] + f',"echo":"{POOL_SECRET}"}}'.encode()
    record(path, [flow], keep_bodies=True)

    raw = path.read_bytes()
    assert b"planted prompt text 987" in raw and b"planted output text 654" in raw
    assert POOL_SECRET.encode() not in raw and PLANTED["bearer"].encode() not in raw
    (saved,) = read_back(path)
    assert saved.request.content == PROMPT
    assert saved.response is not None and REDACTED.encode() in saved.response.content


def test_an_encoded_body_is_replaced_by_a_note_in_the_same_encoding(
    tmp_path: Path, make_flow
) -> None:
    path = tmp_path / "flows"
    flow = make_flow(body=gzip.compress(PROMPT), headers={"content-encoding": "gzip"})
    flow.response = tutils.tresp()
    record(path, [flow])
    (saved,) = read_back(path)
    assert saved.request.headers["content-encoding"] == "gzip"
    assert saved.request.content is not None
    assert saved.request.content.startswith(b"[body omitted: ")


def test_streamed_bodies_that_were_not_kept_stay_absent(tmp_path: Path, make_flow) -> None:
    path = tmp_path / "flows"
    flow = make_flow()
    flow.response = tutils.tresp(headers=[(b"content-type", b"text/event-stream")])
    flow.response.raw_content = None  # what mitmproxy leaves after streaming
    record(path, [flow])
    (saved,) = read_back(path)
    assert saved.response is not None and saved.response.raw_content is None


def test_failed_flows_and_flows_open_at_shutdown_are_written(tmp_path: Path, make_flow) -> None:
    path = tmp_path / "flows"
    failed = make_flow(headers={"authorization": f"Bearer {PLANTED['bearer']}"})
    failed.error = tflow.terr()
    unfinished = make_flow(path="/v1/models")
    flow_file = FlowFile(str(path), Redactor())
    flow_file.open()
    flow_file.requestheaders(failed)
    flow_file.requestheaders(unfinished)
    flow_file.error(failed)
    flow_file.done()

    saved = read_back(path)
    assert [f.id for f in saved] == [failed.id, unfinished.id]
    assert saved[0].error is not None and saved[1].response is None
    assert PLANTED["bearer"].encode() not in path.read_bytes()


def test_websocket_flows_are_written_once_with_messages_omitted(tmp_path: Path) -> None:
    path = tmp_path / "flows"
    flow = tflow.twebsocketflow()
    assert flow.websocket is not None
    flow_file = FlowFile(str(path), Redactor())
    flow_file.open()
    flow_file.response(flow)  # the upgrade: not yet
    flow_file.websocket_end(flow)
    flow_file.done()

    (saved,) = read_back(path)
    assert saved.websocket is not None
    assert all(m.content.startswith(b"[body omitted: ") for m in saved.websocket.messages)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_the_file_is_private_and_truncated_unless_plus_appends(tmp_path: Path, make_flow) -> None:
    path = tmp_path / "flows"
    path.write_bytes(b"stale")
    os.chmod(path, 0o644)
    record(path, [make_flow()])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(read_back(path)) == 1

    record(Path(f"+{path}"), [make_flow()])
    assert len(read_back(path)) == 2


def test_a_fresh_file_is_created_private(tmp_path: Path, make_flow) -> None:
    path = tmp_path / "new.flows"
    record(path, [make_flow()])
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_an_unwritable_path_is_a_clear_error(tmp_path: Path) -> None:
    flow_file = FlowFile(str(tmp_path / "missing" / "flows"), Redactor())
    with pytest.raises(FlowFileError, match="cannot write flows to"):
        flow_file.open()
    flow_file.done()  # nothing to close, and no complaint


def test_spec_parsing() -> None:
    assert parse_spec("+~/x.flows") == (Path("~/x.flows").expanduser(), True)
    assert parse_spec("x.flows") == (Path("x.flows"), False)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True),
        ("proxy-authorization", True),
        ("X-Api-Key", True),
        ("api-key", True),
        ("cookie", True),
        ("set-cookie", True),
        ("chatgpt-account-id", True),
        (SECRET_HEADER, True),
        ("x-azt-account", True),
        ("x-auth-token", True),
        ("x-goog-api-key", True),
        ("x-azt-ignored-params", False),
        ("x-ratelimit-remaining-tokens", False),
        ("content-type", False),
        ("session_id", False),
    ],
)
def test_secret_headers(name: str, secret: bool) -> None:
    assert is_secret_header(name) is secret


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("key", True),
        ("api_key", True),
        ("token", True),
        ("access_token", True),
        ("client_secret", True),
        ("stream", False),
        ("limit", False),
    ],
)
def test_secret_query_params(name: str, secret: bool) -> None:
    assert is_secret_query_param(name) is secret


def test_a_routed_flow_names_the_request_the_client_sent(tmp_path: Path, make_flow) -> None:
    path = tmp_path / "flows"
    flow = make_flow(path=f"/v1/chat/completions?key={PLANTED['query key']}")
    flow_file = FlowFile(str(path), Redactor())
    flow_file.open()
    flow_file.requestheaders(flow)
    flow.request.path = "/responses"  # what the pool route does in `request`
    exchange_of(flow).handed_over = True
    flow.response = tutils.tresp()
    flow_file.response(flow)
    flow_file.done()

    (saved,) = read_back(path)
    assert saved.request.path == "/responses"
    assert saved.metadata[CLIENT_REQUEST] == "POST /v1/chat/completions"
    assert saved.comment.startswith("client request: POST /v1/chat/completions")
    assert PLANTED["query key"].encode() not in path.read_bytes()
