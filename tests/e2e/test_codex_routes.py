"""The Codex routes end to end: client -> reverse listener -> pool -> simulator."""

import asyncio
import json
import time

import httpx
import pytest
import zstandard

from azt.pool.accounts import AccountStatus
from azt.sim.faults import Fault
from support.rig import Rig
from support.sim import Hold, after_event
from support.sse import events_of

# What the Codex CLI 0.169 sends with a ChatGPT login (built-in provider, zstd body).
CODEX_HEADERS = {
    "authorization": "Bearer codex-cli-own-token",
    "chatgpt-account-id": "codex-cli-own-account",
    "originator": "codex_exec",
    "user-agent": "codex_exec/0.169.0 (Debian 12; x86_64) xterm",
    "version": "0.169.0",
    "session-id": "0199a6d4-1111-7000-8000-000000000001",
    "thread-id": "0199a6d4-1111-7000-8000-000000000001",
    "x-client-request-id": "0199a6d4-1111-7000-8000-000000000001",
    "x-codex-window-id": "0199a6d4-1111-7000-8000-000000000001:0",
    "x-codex-turn-metadata": '{"turn_id":"t1","request_kind":"turn","sandbox":"none"}',
    "x-codex-beta-features": "remote_compaction_v2",
    "accept": "text/event-stream",
    "content-type": "application/json",
    "content-encoding": "zstd",
}


def codex_body(text: str = "Reply with PONG only.", **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "model": "gpt-5.4",
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "<permissions>none</permissions>"}],
            },
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        ],
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a6d4-1111-7000-8000-000000000001",
        "client_metadata": {"x-codex-installation-id": "install-1"},
    }
    body.update(extra)
    return body


def zstd(body: dict[str, object]) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(json.dumps(body).encode())


def text_of(events: list[dict]) -> str:
    return "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")


async def post_codex(rig: Rig, body: dict[str, object] | None = None, **headers: str):
    merged = {**CODEX_HEADERS, **headers}
    return await rig.client.post(
        "/codex/v1/responses", content=zstd(body or codex_body()), headers=merged
    )


async def test_codex_cli_request_streams_event_by_event(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.event_delay = 0.05
    first_event_at: float | None = None
    chunks: list[bytes] = []
    async with rig.client.stream(
        "POST", "/codex/v1/responses", content=zstd(codex_body()), headers=CODEX_HEADERS
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for chunk in response.aiter_raw():
            if first_event_at is None and b"\n\n" in chunk:
                first_event_at = time.monotonic()
            chunks.append(chunk)
    events = events_of(b"".join(chunks))
    # The first event reached the client before the simulator produced the last one.
    assert first_event_at is not None
    last_produced = rig.sim.produced[-1][2]
    assert first_event_at < last_produced - 0.2
    assert len(chunks) > 5  # arrived in pieces, not as one buffered body
    assert events[0]["type"] == "response.created"
    assert events[-1]["type"] == "response.completed"
    assert text_of(events) == "PONG"
    numbers = [e["sequence_number"] for e in events]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    # The pool's secret and the exchange id stay inside azt.
    assert [name for name in response.headers if name.startswith("x-azt-")] == []
    assert response.headers["x-codex-primary-used-percent"]
    # Upstream saw the Codex headers, the decoded body and the pooled account, not the client's.
    upstream = rig.sim.requests[-1]
    assert upstream.path == "/backend-api/codex/responses"
    assert upstream.headers["authorization"] == f"Bearer {account.access_token}"
    assert upstream.headers["chatgpt-account-id"] == account.chatgpt_account_id
    for name in (
        "originator",
        "user-agent",
        "session-id",
        "thread-id",
        "x-codex-window-id",
        "x-codex-turn-metadata",
        "x-codex-beta-features",
        "x-client-request-id",
    ):
        assert upstream.headers[name] == CODEX_HEADERS[name], name
    assert upstream.body["prompt_cache_key"] == codex_body()["prompt_cache_key"]
    assert upstream.body["instructions"] == ""


async def test_no_token_reaches_the_client(rig: Rig) -> None:
    account = rig.add_account()
    response = await post_codex(rig)
    everything = json.dumps(dict(response.headers)) + response.text
    for secret in (
        account.access_token,
        account.refresh_token,
        account.id_token,
        rig.runtime.secret,
    ):
        assert secret not in everything


async def test_no_account_yet_is_a_503_naming_azt_login(rig: Rig) -> None:
    response = await post_codex(rig)
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "no_account" and "azt login" in error["message"]


async def test_account_needing_relogin_is_a_503(rig: Rig) -> None:
    account = rig.add_account()
    rig.runtime.accounts.mark_status(account.key, AccountStatus.RELOGIN_REQUIRED, "reused")
    response = await post_codex(rig)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "account_relogin_required"
    assert not rig.sim.requests


async def test_unknown_model_is_a_404(rig: Rig) -> None:
    rig.add_account()
    response = await post_codex(rig, codex_body(model="gpt-0"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert not rig.sim.requests


async def test_websocket_upgrade_is_answered_426(rig: Rig) -> None:
    response = await rig.client.get(
        "/codex/v1/responses",
        headers={
            "upgrade": "websocket",
            "connection": "Upgrade",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
            "sec-websocket-version": "13",
        },
    )
    assert response.status_code == 426
    assert response.json()["error"]["code"] == "websocket_unsupported"


async def test_unknown_route_is_an_openai_404(rig: Rig) -> None:
    response = await rig.client.post("/v1/nothing-here", json={})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_malformed_json_and_wrong_content_type(rig: Rig) -> None:
    response = await rig.client.post(
        "/codex/v1/responses", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")
    response = await rig.client.post(
        "/codex/v1/responses", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert response.status_code == 415


@pytest.mark.parametrize("gateway_settings", [{"body_limit_mb": 1}])
async def test_body_over_the_limit_is_a_413(rig: Rig) -> None:
    rig.add_account()
    big = json.dumps(codex_body(text="x" * (2 * 1024 * 1024))).encode()
    response = await rig.client.post(
        "/codex/v1/responses", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


async def test_backend_rejection_comes_back_in_openai_shape(rig: Rig) -> None:
    rig.add_account()
    response = await post_codex(rig, codex_body(temperature=0.2))
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["message"] == "Unsupported parameter: temperature"
    assert body["detail"] == "Unsupported parameter: temperature"


async def test_v1_models_lists_the_catalog(rig: Rig) -> None:
    response = await rig.client.get("/v1/models")
    assert response.status_code == 200
    listing = response.json()
    assert listing["object"] == "list"
    assert {"id": "gpt-5.4", "object": "model"}.items() <= listing["data"][1].items() or any(
        m["id"] == "gpt-5.4" for m in listing["data"]
    )


async def test_codex_models_pass_through_with_etag(rig: Rig) -> None:
    rig.add_account()
    response = await rig.client.get(
        "/codex/v1/models?client_version=0.169.0", headers=CODEX_HEADERS | {"accept": "*/*"}
    )
    assert response.status_code == 200
    assert response.headers.get("etag")
    slugs = [m["slug"] for m in response.json()["models"]]
    assert "gpt-5.4" in slugs
    assert rig.sim.requests[-1].path == "/backend-api/codex/models"


async def test_codex_models_gets_a_client_version_when_none_is_sent(rig: Rig) -> None:
    rig.add_account()
    response = await rig.client.get("/codex/v1/models")
    assert response.status_code == 200
    assert "client_version=0.169.0" in rig.sim.requests[-1].query


async def test_compact_returns_the_compaction_item_last(rig: Rig) -> None:
    rig.add_account()
    body = {
        "model": "gpt-5.4",
        "instructions": "",
        "input": codex_body()["input"],
        "tools": [],
        "parallel_tool_calls": False,
    }
    response = await rig.client.post("/codex/v1/responses/compact", json=body)
    assert response.status_code == 200
    reply = response.json()
    assert reply["object"] == "response.compaction"
    assert reply["output"][-1]["type"] == "compaction"


async def test_usage_limit_fails_over_to_the_next_account(rig: Rig) -> None:
    first = rig.add_account("first@example.com")
    second = rig.add_account("second@example.com")
    rig.sim.set_fault(first.chatgpt_account_id, Fault("usage_limit"))
    response = await post_codex(rig)
    assert response.status_code == 200
    assert text_of(events_of(response.content)) == "PONG"
    assert rig.sim.requests[-1].headers["chatgpt-account-id"] == second.chatgpt_account_id
    # The limited account's quota was captured from its 429 headers, and written off the loop.
    await rig.runtime.book.flush()
    quota, _ = rig.runtime.accounts.quota(first.key)
    assert quota["primary"]["used_percent"] == 100


async def test_every_account_limited_is_a_429_with_the_earliest_reset(rig: Rig) -> None:
    for email, seconds in (("a@example.com", 900), ("b@example.com", 300)):
        account = rig.add_account(email)
        rig.sim.set_fault(
            account.chatgpt_account_id, Fault("usage_limit", resets_in_seconds=seconds)
        )
    response = await post_codex(rig)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["type"] == "usage_limit_reached" and error["code"] == "usage_limit_reached"
    assert abs(error["resets_at"] - (time.time() + 300)) < 5
    assert 290 <= int(response.headers["retry-after"]) <= 300


async def test_overload_inside_a_200_stream_fails_over(rig: Rig) -> None:
    first = rig.add_account("first@example.com")
    rig.add_account("second@example.com")
    rig.sim.set_fault(first.chatgpt_account_id, Fault("overloaded_in_stream"))
    response = await post_codex(rig)
    events = events_of(response.content)
    assert [e["type"] for e in events].count("response.created") == 1
    assert events[-1]["type"] == "response.completed"
    assert text_of(events) == "PONG"


async def test_401_refreshes_the_token_and_retries_once(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("unauthorized", times=1))
    response = await post_codex(rig)
    assert response.status_code == 200
    assert rig.sim.refresh_calls == 1
    stored = rig.runtime.accounts.get(account.key)
    assert stored.refresh_token != account.refresh_token
    assert rig.sim.requests[-1].headers["authorization"] == f"Bearer {stored.access_token}"


async def test_expired_token_is_refreshed_before_sending(rig: Rig) -> None:
    rig.add_account(access_ttl=-10)
    response = await post_codex(rig)
    assert response.status_code == 200
    assert rig.sim.refresh_calls == 1
    assert len(rig.sim.requests) == 1  # no wasted 401 round trip


async def test_concurrent_requests_on_an_expired_token_refresh_once(rig: Rig) -> None:
    rig.add_account(access_ttl=-10)
    rig.sim.refresh_delay = 0.2
    responses = await asyncio.gather(*(post_codex(rig) for _ in range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert rig.sim.refresh_calls == 1


async def test_stream_cut_upstream_ends_with_response_failed(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("drop_mid_stream", after_events=5))
    response = await post_codex(rig)
    assert response.status_code == 200
    events = events_of(response.content)
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "upstream_stream_truncated"
    assert events[-1]["sequence_number"] == events[-2]["sequence_number"] + 1
    assert events[-1]["response"]["id"] == events[0]["response"]["id"]


@pytest.mark.parametrize("gateway_settings", [{"upstream_idle_timeout": 0.5}])
async def test_silence_before_content_is_a_504(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("stall", seconds=2))
    response = await post_codex(rig)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


@pytest.mark.parametrize("gateway_settings", [{"upstream_idle_timeout": 0.5}])
async def test_silence_before_content_fails_over(rig: Rig) -> None:
    first = rig.add_account("first@example.com")
    rig.add_account("second@example.com")
    rig.sim.set_fault(first.chatgpt_account_id, Fault("stall", seconds=2))
    response = await post_codex(rig)
    assert response.status_code == 200
    assert text_of(events_of(response.content)) == "PONG"


@pytest.mark.parametrize("gateway_settings", [{"upstream_idle_timeout": 0.5}])
async def test_slow_headers_beyond_the_timeout_is_a_504(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("slow_headers", seconds=3))
    response = await post_codex(rig)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


async def test_html_403_is_a_502_that_says_why(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("html_403"))
    response = await post_codex(rig)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert "Cloudflare" in response.json()["error"]["message"]


async def test_server_errors_on_every_account_are_a_502(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("server_error", status=500))
    response = await post_codex(rig)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_error"


async def test_giant_delta_passes_whole(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("giant_delta", size=3 * 1024 * 1024))
    response = await post_codex(rig)
    events = events_of(response.content)
    assert len(text_of(events)) == 3 * 1024 * 1024
    assert events[-1]["type"] == "response.completed"


async def test_stream_without_content_type_is_still_streamed_as_sse(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("no_content_type"))
    response = await post_codex(rig)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert text_of(events_of(response.content)) == "PONG"


async def test_proxy_listener_passes_plain_http_through(rig: Rig) -> None:
    proxy = rig.listeners.proxy_url
    assert proxy is not None
    async with httpx.AsyncClient(proxy=proxy, timeout=10) as client:
        response = await client.get(f"{rig.sim_url}/_sim/state")
    assert response.status_code == 200
    assert "accounts" in response.json()


async def test_many_concurrent_streams_all_complete(rig: Rig) -> None:
    rig.add_account()
    rig.sim.event_delay = 0.005
    responses = await asyncio.gather(*(post_codex(rig) for _ in range(60)))
    assert [r.status_code for r in responses] == [200] * 60
    for response in responses:
        events = events_of(response.content)
        assert events[-1]["type"] == "response.completed" and text_of(events) == "PONG"


async def test_client_hanging_up_mid_stream_closes_the_upstream(rig: Rig) -> None:
    rig.add_account()
    # Past its first output item (the first content the pool passes on) the upstream stream
    # waits: only a hang-up can end it now.
    hold = Hold.on(rig.sim, after_event(rig.sim, "response.output_item.added"))
    async with rig.client.stream(
        "POST", "/codex/v1/responses", content=zstd(codex_body()), headers=CODEX_HEADERS
    ) as response:
        async for _ in response.aiter_raw():
            break  # hang up after the first chunk
    produced_at_hangup = len(rig.sim.produced)
    # The gateway hung up on the simulator in turn: nothing keeps reading.
    await hold.cut.wait()
    assert len(rig.sim.produced) == produced_at_hangup
    hold.release()
    follow_up = await post_codex(rig)
    assert follow_up.status_code == 200
