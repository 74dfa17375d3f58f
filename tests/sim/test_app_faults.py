"""Every fault kind, as a client of the running simulator sees it."""

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from azt.sim.faults import Fault
from azt.sim.state import SimState
from azt.sim.tokens import SimAccount
from support.sim import Hold

RESPONSES = "/backend-api/codex/responses"
COMPACT = "/backend-api/codex/responses/compact"

Body = Callable[..., dict[str, Any]]
Parse = Callable[[str], list[dict[str, Any]]]


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


async def test_usage_limit(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
) -> None:
    """usage_limit answers the real 429 body and headers, once, then the turn works again."""
    state.set_fault(account.account_id, Fault("usage_limit", times=1, resets_in_seconds=600))
    before = int(time.time())
    reply = await client.post(RESPONSES, json=request_body(), headers=auth_headers)
    assert reply.status_code == 429
    error = reply.json()["error"]
    assert error["type"] == "usage_limit_reached"
    assert error["message"] == "The usage limit has been reached"
    assert error["plan_type"] == "plus"
    assert error["resets_in_seconds"] == 600
    assert before + 600 <= error["resets_at"] <= int(time.time()) + 600
    headers = reply.headers
    assert headers["x-codex-active-limit"] == "codex"
    assert headers["x-codex-primary-used-percent"] == "100"
    assert headers["x-codex-primary-reset-at"] == str(error["resets_at"])
    assert headers["x-codex-primary-reset-after-seconds"] == "600"
    assert headers["x-codex-credits-has-credits"] == "False"
    assert "x-codex-secondary-window-minutes" in headers
    again = await client.post(RESPONSES, json=request_body(), headers=auth_headers)
    assert again.status_code == 200


async def test_usage_endpoint_reports_an_armed_limit(
    client: httpx.AsyncClient, state: SimState, account: SimAccount, auth_headers: dict[str, str]
) -> None:
    """While a usage_limit fault is armed, /wham/usage says the limit is reached."""
    state.set_fault(account.account_id, Fault("usage_limit", resets_in_seconds=60))
    payload = (await client.get("/backend-api/wham/usage", headers=auth_headers)).json()
    assert payload["rate_limit"]["limit_reached"] is True
    assert payload["rate_limit"]["primary_window"]["used_percent"] == 100
    assert payload["rate_limit"]["primary_window"]["reset_after_seconds"] == 60


STATUS_FAULTS: list[tuple[Fault, int, Any]] = [
    (
        Fault("usage_not_included"),
        429,
        {
            "error": {
                "type": "usage_not_included",
                "message": "Codex is not included in your plan.",
                "plan_type": "plus",
            }
        },
    ),
    (
        Fault("rate_limited", retry_after=7),
        429,
        {
            "error": {
                "message": "Rate limit reached for requests. Please try again in 7s.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
    ),
    (Fault("unauthorized"), 401, {"detail": "Unauthorized"}),
    (Fault("server_error"), 500, "server_error"),
    (Fault("server_error", status=502), 502, "server_error"),
    (Fault("overloaded"), 503, "server_is_overloaded"),
    (Fault("overloaded", code="slow_down"), 503, "slow_down"),
]


@pytest.mark.parametrize("route", [RESPONSES, COMPACT])
@pytest.mark.parametrize(("fault", "status", "expected"), STATUS_FAULTS)
async def test_status_faults(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    route: str,
    fault: Fault,
    status: int,
    expected: Any,
) -> None:
    """Status-code faults answer their status and body on /responses and /responses/compact."""
    state.set_fault(account.account_id, fault)
    reply = await client.post(route, json=request_body(), headers=auth_headers)
    assert reply.status_code == status
    if isinstance(expected, str):
        assert reply.json()["error"]["code"] == expected
        assert reply.json()["error"]["message"]
    else:
        assert reply.json() == expected
    if fault.kind == "rate_limited":
        assert reply.headers["retry-after"] == "7"
    assert state.produced == []


async def test_html_403(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
) -> None:
    """html_403 is a Cloudflare-style HTML challenge page."""
    state.set_fault(account.account_id, Fault("html_403"))
    reply = await client.post(RESPONSES, json=request_body(), headers=auth_headers)
    assert reply.status_code == 403
    assert reply.headers["content-type"].startswith("text/html")
    assert reply.headers["cf-mitigated"] == "challenge"
    assert "Just a moment..." in reply.text


async def test_slow_headers(
    live: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Parse,
) -> None:
    """slow_headers delays the status line, then answers normally."""
    state.set_fault(account.account_id, Fault("slow_headers", times=1, seconds=0.2))
    hold = Hold.on(state, when=lambda: not state.produced)  # holds the wait before headers

    async def post() -> tuple[bool, httpx.Response]:
        async with live.stream(
            "POST", RESPONSES, json=request_body(), headers=auth_headers
        ) as reply:
            released_before_headers = hold.released
            await reply.aread()
        return released_before_headers, reply

    posting = asyncio.ensure_future(post())
    await hold.holding.wait()
    assert hold.slept == [0.2] and not state.produced  # waiting the fault's time, no headers
    hold.release()
    released_before_headers, reply = await posting
    assert released_before_headers  # the status line came only after the wait
    assert reply.status_code == 200
    assert parse_sse(reply.text)[-1]["type"] == "response.completed"


STREAM_FAULTS: list[tuple[Fault, list[str]]] = [
    (Fault("overloaded_in_stream"), ["response.created", "response.failed"]),
    (
        Fault("failed_in_stream", code="context_length_exceeded"),
        ["response.created", "response.in_progress", "response.failed"],
    ),
    (Fault("error_event"), ["response.created", "response.in_progress", "error"]),
]


@pytest.mark.parametrize(("fault", "expected"), STREAM_FAULTS)
async def test_failing_streams(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Parse,
    fault: Fault,
    expected: list[str],
) -> None:
    """In-stream failures arrive inside a 200 stream, with the documented error codes."""
    state.set_fault(account.account_id, fault)
    reply = await client.post(RESPONSES, json=request_body(), headers=auth_headers)
    assert reply.status_code == 200
    events = parse_sse(reply.text)
    assert types(events) == expected
    last = events[-1]
    code = last["error"]["code"] if last["type"] == "error" else last["response"]["error"]["code"]
    assert (
        code
        == {
            "overloaded_in_stream": "server_is_overloaded",
            "failed_in_stream": "context_length_exceeded",
            "error_event": "server_error",
        }[fault.kind]
    )


async def test_incomplete(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Parse,
) -> None:
    """incomplete ends with response.incomplete and the reason (max_output_tokens default)."""
    state.set_fault(account.account_id, Fault("incomplete"))
    events = parse_sse(
        (await client.post(RESPONSES, json=request_body(), headers=auth_headers)).text
    )
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


async def test_stream_shapes(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Parse,
) -> None:
    """giant_delta, text_only_in_done and keepalive change the shape of the stream."""
    post = lambda: client.post(RESPONSES, json=request_body(), headers=auth_headers)  # noqa: E731
    state.set_fault(account.account_id, Fault("giant_delta", times=1))
    deltas = [
        e for e in parse_sse((await post()).text) if e["type"] == "response.output_text.delta"
    ]
    assert len(deltas) == 1 and len(deltas[0]["delta"].encode()) == 1048576

    state.set_fault(account.account_id, Fault("text_only_in_done", times=1))
    events = parse_sse((await post()).text)
    assert "response.output_text.delta" not in types(events)
    assert events[-2]["item"]["content"][0]["text"] == "azt sim heard: hi"

    state.set_fault(account.account_id, Fault("keepalive", times=1))
    body = request_body(input="Reply with one two three four five six.")
    events = parse_sse((await client.post(RESPONSES, json=body, headers=auth_headers)).text)
    assert types(events).count("keepalive") == 2


async def test_no_content_type(
    live: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Parse,
) -> None:
    """no_content_type streams normally but without any Content-Type header."""
    state.set_fault(account.account_id, Fault("no_content_type"))
    reply = await live.post(RESPONSES, json=request_body(), headers=auth_headers)
    assert reply.status_code == 200
    assert "content-type" not in reply.headers
    assert types(parse_sse(reply.text))[-1] == "response.completed"


async def test_drop_mid_stream(
    caplog: pytest.LogCaptureFixture,
    live: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
) -> None:
    """drop_mid_stream sends N events, then cuts the connection: the client's read fails."""
    state.set_fault(account.account_id, Fault("drop_mid_stream", times=1, after_events=3))
    received = b""
    with pytest.raises(httpx.RemoteProtocolError):
        async with live.stream(
            "POST", RESPONSES, json=request_body(), headers=auth_headers
        ) as reply:
            assert reply.status_code == 200
            async for chunk in reply.aiter_bytes():
                received += chunk
    assert received.count(b"event: ") == 3
    assert b"response.completed" not in received
    assert [kind for _, kind, _ in state.produced] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
    after = await live.post(RESPONSES, json=request_body(), headers=auth_headers)
    assert after.status_code == 200
    # The deliberate drop is not reported as a server error.
    assert not [r for r in caplog.records if r.name == "uvicorn.error"]


async def test_stall(
    live: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
) -> None:
    """stall leaves a silence after response.created, then the stream continues."""
    state.set_fault(account.account_id, Fault("stall", seconds=0.2))
    reply = await live.post(RESPONSES, json=request_body(), headers=auth_headers)
    assert reply.status_code == 200
    (_, first, created_at), (_, second, next_at) = state.produced[:2]
    assert (first, second) == ("response.created", "response.in_progress")
    assert next_at - created_at >= 0.19
    assert state.produced[-1][1] == "response.completed"


async def test_compact_ignores_stream_faults(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
) -> None:
    """A stream-shape fault neither affects nor is consumed by /responses/compact."""
    state.set_fault(account.account_id, Fault("overloaded_in_stream", times=1))
    reply = await client.post(COMPACT, json=request_body(), headers=auth_headers)
    assert reply.status_code == 200
    assert state.faults.remaining(account.account_id) == [1]


async def test_faults_are_per_account(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
) -> None:
    """A fault on one account leaves the others alone; clear_faults() disarms."""
    other = state.add_account("other@example.com")
    other_headers = {"authorization": f"Bearer {state.issue_tokens(other)['access_token']}"}
    state.set_fault(account.account_id, Fault("unauthorized"))
    assert (
        await client.post(RESPONSES, json=request_body(), headers=other_headers)
    ).status_code == 200
    assert (
        await client.post(RESPONSES, json=request_body(), headers=auth_headers)
    ).status_code == 401
    state.clear_faults()
    assert (
        await client.post(RESPONSES, json=request_body(), headers=auth_headers)
    ).status_code == 200


async def test_set_fault_needs_a_known_account(state: SimState) -> None:
    """Arming a fault for an unknown account is a KeyError."""
    with pytest.raises(KeyError):
        state.set_fault("nope", Fault("unauthorized"))
