"""The backend routes: /responses, /responses/compact, /models, usage, and request intake."""

import asyncio
import base64
import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

import brotli
import httpx
import pytest
import zstandard

from azt.loopback import LoopbackServer
from azt.sim.app import Pacing, sse_body
from azt.sim.catalog import models_etag
from azt.sim.state import SimState
from azt.sim.tokens import SimAccount

RESPONSES = "/backend-api/codex/responses"
COMPACT = "/backend-api/codex/responses/compact"
MODELS = "/backend-api/codex/models"

Body = Callable[..., dict[str, Any]]
Parse = Callable[[str], list[dict[str, Any]]]


async def test_stream_reply(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Parse,
) -> None:
    """A valid turn streams SSE with the full header set and a completed response."""
    body = request_body(input="Reply with PONG only.")
    reply = await client.post(RESPONSES, json=body, headers=auth_headers)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    for name in (
        "x-codex-primary-used-percent",
        "x-codex-primary-window-minutes",
        "x-codex-primary-reset-at",
        "x-codex-primary-reset-after-seconds",
        "x-codex-secondary-used-percent",
        "x-codex-secondary-window-minutes",
        "x-codex-secondary-reset-at",
        "x-codex-secondary-reset-after-seconds",
        "x-codex-credits-has-credits",
        "x-codex-credits-unlimited",
        "x-codex-credits-balance",
    ):
        assert name in reply.headers
    assert reply.headers["x-codex-plan-type"] == "plus"
    assert reply.headers["x-codex-credits-unlimited"] == "False"
    assert reply.headers["x-codex-turn-state"] == "ts_sim000001"
    assert reply.headers["x-models-etag"] == models_etag()
    assert reply.headers["openai-model"] == "gpt-5.5"
    assert reply.headers["x-oai-request-id"] == "req_sim000001"
    assert "[DONE]" not in reply.text
    events = parse_sse(reply.text)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "PONG"
    assert events[-1]["type"] == "response.completed"
    numbers = [e["sequence_number"] for e in events]
    assert all(a < b for a, b in zip(numbers, numbers[1:], strict=False))
    assert [(rid, kind) for rid, kind, _ in state.produced] == [
        ("resp_sim000001", e["type"]) for e in events
    ]


async def test_requests_are_recorded(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
) -> None:
    """Each backend request is recorded with lower-case headers, decoded body and account."""
    body = request_body()
    await client.post(RESPONSES, json=body, headers={**auth_headers, "X-Custom": "v"})
    await client.get(MODELS, params={"client_version": "0.169.0"})
    first, second = state.requests
    assert (first.method, first.path, first.body, first.account_id) == (
        "POST",
        RESPONSES,
        body,
        account.account_id,
    )
    assert first.headers["x-custom"] == "v"
    assert (second.account_id, second.body, second.query) == (None, None, "client_version=0.169.0")
    assert first.at <= second.at


async def test_turn_state_is_echoed(
    client: httpx.AsyncClient, auth_headers: dict[str, str], request_body: Body
) -> None:
    """A turn-state token sent by the client comes back unchanged."""
    headers = {**auth_headers, "x-codex-turn-state": "ts-abc"}
    reply = await client.post(RESPONSES, json=request_body(), headers=headers)
    assert reply.headers["x-codex-turn-state"] == "ts-abc"


async def test_authentication(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    tokens: dict[str, Any],
    request_body: Body,
) -> None:
    """Missing, foreign, expired or mismatched credentials get 401 {"detail":"Unauthorized"}."""
    expired = state.issue_tokens(account, access_ttl=0)["access_token"]
    other = state.add_account("other@example.com")
    cases = [
        {},
        {"authorization": "Basic abc"},
        {"authorization": "Bearer not-a-token"},
        {"authorization": f"Bearer {expired}"},
        {
            "authorization": f"Bearer {tokens['access_token']}",
            "chatgpt-account-id": other.account_id,
        },
    ]
    for headers in cases:
        for method, path in (("POST", RESPONSES), ("POST", COMPACT), ("GET", MODELS)):
            reply = await client.request(method, path, json=request_body(), headers=headers)
            assert reply.status_code == 401, (headers, path)
            assert reply.json() == {"detail": "Unauthorized"}
    reply = await client.post(
        RESPONSES, json=request_body(), headers={"authorization": f"Bearer {expired}"}
    )
    explained = json.loads(base64.b64decode(reply.headers["x-error-json"]))
    assert explained["error"]["code"] == "token_expired"
    ok = {"authorization": f"Bearer {tokens['access_token']}"}  # the account header is optional
    assert (await client.post(RESPONSES, json=request_body(), headers=ok)).status_code == 200


REJECTIONS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"store": ...}, {"detail": "Store must be set to false"}),
    ({"store": True}, {"detail": "Store must be set to false"}),
    ({"stream": False}, {"detail": "Stream must be set to true"}),
    ({"stream": ...}, {"detail": "Stream must be set to true"}),
    ({"instructions": ...}, {"detail": "Instructions are required"}),
    ({"instructions": ["x"]}, {"detail": "Instructions are required"}),
    *(
        ({name: 1}, {"detail": f"Unsupported parameter: {name}"})
        for name in (
            "max_output_tokens",
            "max_tokens",
            "max_completion_tokens",
            "temperature",
            "top_p",
            "metadata",
            "user",
            "truncation",
            "safety_identifier",
            "prompt_cache_retention",
            "stream_options",
            "previous_response_id",
            "n",
            "stop",
            "logprobs",
        )
    ),
    (
        {"tools": [{"type": "web_search"}, {"type": "function", "function": {"name": "f"}}]},
        {
            "error": {
                "message": "Missing required parameter: 'tools[1].name'.",
                "type": "invalid_request_error",
                "param": "tools[1].name",
                "code": "missing_required_parameter",
            }
        },
    ),
    (
        {"model": "gpt-4o"},
        {"detail": "The 'gpt-4o' model is not supported when using Codex with a ChatGPT account."},
    ),
]


@pytest.mark.parametrize(("change", "expected"), REJECTIONS)
async def test_rejections(
    client: httpx.AsyncClient,
    state: SimState,
    auth_headers: dict[str, str],
    request_body: Body,
    change: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    """Bodies the real backend refuses get its exact 400 and nothing is streamed."""
    reply = await client.post(RESPONSES, json=request_body(**change), headers=auth_headers)
    assert reply.status_code == 400
    assert reply.json() == expected
    assert "x-codex-primary-used-percent" in reply.headers
    assert state.produced == []


async def test_empty_instructions_and_string_input(
    client: httpx.AsyncClient, auth_headers: dict[str, str], request_body: Body, parse_sse: Parse
) -> None:
    """instructions may be "" and input a plain string."""
    body = request_body(instructions="", input="hello")
    reply = await client.post(RESPONSES, json=body, headers=auth_headers)
    events = parse_sse(reply.text)
    assert events[-2]["item"]["content"][0]["text"] == "azt sim heard: hello"


def _zstd(data: bytes) -> bytes:
    # Streamed like the Codex CLI: no content size in the frame header.
    out = zstandard.ZstdCompressor(level=3).compressobj()
    return out.compress(data) + out.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("zstd", _zstd),
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, no zlib wrapper
        ("br", brotli.compress),
        ("identity", lambda data: data),
    ],
)
async def test_compressed_bodies(
    client: httpx.AsyncClient,
    state: SimState,
    auth_headers: dict[str, str],
    request_body: Body,
    encoding: str,
    compress: Callable[[bytes], bytes],
) -> None:
    """zstd, gzip, deflate and br request bodies are decoded before validation."""
    body = request_body(input="Reply with Z.")
    headers = {**auth_headers, "content-encoding": encoding, "content-type": "application/json"}
    reply = await client.post(
        RESPONSES, content=compress(json.dumps(body).encode()), headers=headers
    )
    assert reply.status_code == 200
    assert state.requests[-1].body == body


@pytest.mark.parametrize(
    ("headers", "content", "status", "fragment"),
    [
        ({}, b"{not json", 400, "Could not parse the request body as JSON"),
        ({"content-encoding": "zstd"}, b"not zstd", 400, "Could not decode the zstd"),
        ({"content-encoding": "compress"}, b"{}", 415, "Unsupported Content-Encoding: compress"),
        ({}, b'{"input": "\\ud800"}', 400, "lone surrogate"),
        ({}, b'{"input": NaN}', 400, "NaN is not a JSON number"),
        ({}, b"[" * 5000 + b"]" * 5000, 400, "nested deeper"),
    ],
)
async def test_undecodable_bodies(
    client: httpx.AsyncClient,
    state: SimState,
    auth_headers: dict[str, str],
    headers: dict[str, str],
    content: bytes,
    status: int,
    fragment: str,
) -> None:
    """Bodies that do not decode get a {"detail"} error and are recorded with body None."""
    reply = await client.post(RESPONSES, content=content, headers={**auth_headers, **headers})
    assert reply.status_code == status
    assert fragment in reply.json()["detail"]
    assert state.requests[-1].body is None


async def test_non_object_body(client: httpx.AsyncClient, auth_headers: dict[str, str]) -> None:
    """A JSON body that is not an object is a 400."""
    reply = await client.post(RESPONSES, json=[1], headers=auth_headers)
    assert reply.json() == {"detail": "Request body must be a JSON object"}


async def test_compact(
    client: httpx.AsyncClient, auth_headers: dict[str, str], state: SimState
) -> None:
    """/responses/compact answers unary JSON, compaction item last, with turn state."""
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]}
    body = {"model": "gpt-5.4", "instructions": "x", "input": [user], "tools": []}
    reply = await client.post(COMPACT, json=body, headers=auth_headers)
    assert reply.status_code == 200
    payload = reply.json()
    assert payload["object"] == "response.compaction"
    assert payload["id"].startswith("resp_")
    assert payload["output"][0] == user
    assert payload["output"][-1]["type"] == "compaction"
    assert set(payload["usage"]) >= {"input_tokens", "output_tokens", "total_tokens"}
    assert reply.headers["x-codex-turn-state"].startswith("ts_sim")
    assert "x-codex-primary-used-percent" in reply.headers
    bad = await client.post(COMPACT, json={**body, "model": "nope"}, headers=auth_headers)
    assert bad.status_code == 400
    assert state.produced == []


async def test_compaction_v2(
    client: httpx.AsyncClient, auth_headers: dict[str, str], request_body: Body, parse_sse: Parse
) -> None:
    """A /responses turn ending in compaction_trigger streams one compaction item."""
    body = request_body(input=[{"type": "compaction_trigger"}])
    events = parse_sse((await client.post(RESPONSES, json=body, headers=auth_headers)).text)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [item["type"] for item in done] == ["compaction"]
    assert events[-1]["type"] == "response.completed"


async def test_models(client: httpx.AsyncClient, auth_headers: dict[str, str]) -> None:
    """/models lists the catalog with an ETag."""
    reply = await client.get(MODELS, params={"client_version": "0.169.0"}, headers=auth_headers)
    assert reply.status_code == 200
    assert reply.headers["etag"] == models_etag()
    slugs = [m["slug"] for m in reply.json()["models"]]
    assert slugs[0] == "gpt-5.5" and "codex-auto-review" in slugs


@pytest.mark.parametrize("path", ["/backend-api/wham/usage", "/api/codex/usage"])
async def test_usage(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    path: str,
) -> None:
    """Both usage paths answer for the token's account and reflect set usage."""
    state.set_usage(account.account_id, primary_used_percent=42)
    payload = (await client.get(path, headers=auth_headers)).json()
    assert payload["plan_type"] == "plus"
    assert payload["email"] == "demo@example.com"
    assert payload["account_id"] == account.account_id
    assert payload["rate_limit"]["primary_window"]["used_percent"] == 42
    assert payload["rate_limit"]["limit_reached"] is False
    assert (await client.get(path)).status_code == 401


async def test_not_found_is_json(client: httpx.AsyncClient) -> None:
    """Unknown routes and methods answer FastAPI-style JSON."""
    assert (await client.get("/nope")).json() == {"detail": "Not Found"}
    reply = await client.get(RESPONSES)
    assert reply.status_code == 405 and reply.json() == {"detail": "Method Not Allowed"}


async def test_event_delay_paces_the_stream(
    state: SimState, live: httpx.AsyncClient, auth_headers: dict[str, str], request_body: Body
) -> None:
    """event_delay spaces consecutive events on the wire."""
    state.event_delay = 0.02
    reply = await live.post(RESPONSES, json=request_body(), headers=auth_headers)
    assert reply.status_code == 200
    stamps = [at for _, _, at in state.produced]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert len(gaps) >= 8 and min(gaps) >= 0.015


class FakeClock:
    """The simulator's clock and sleep with no real time: a sleep moves the clock on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_a_late_event_does_not_push_back_the_ones_after_it() -> None:
    """Events keep a fixed schedule: after a stall, overdue events catch up at once."""
    clock = FakeClock()
    state = SimState(event_delay=0.05, clock=clock, sleep=clock.sleep)
    events = iter([{"type": f"e{n}"} for n in range(5)])
    async for frame in sse_body(state, "resp_1", events, Pacing()):
        if b"e1" in frame:
            clock.now += 0.12  # a busy machine: e2 (due at 0.10) and e3 (0.15) are now late
    stamps = [at for _, _, at in state.produced]
    # e2 and e3 go at once; e4 keeps its slot at 0.20 (pushed back it would be 0.32).
    assert stamps == pytest.approx([0.0, 0.05, 0.17, 0.17, 0.20])
    assert clock.slept == pytest.approx([0.05, 0.0, 0.0, 0.03])


async def test_websocket_upgrade_gets_426(server: LoopbackServer) -> None:
    """A WebSocket upgrade on /responses is refused with 426 so clients switch to HTTP."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"GET /backend-api/codex/responses HTTP/1.1\r\nHost: sim\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 426")
