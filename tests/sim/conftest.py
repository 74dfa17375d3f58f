"""Fixtures for the simulator tests: a state with one account, clients in-process and live."""

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from azt.loopback import LoopbackServer
from azt.sim.app import create_app
from azt.sim.state import SimState
from azt.sim.tokens import SimAccount

RESPONSES = "/backend-api/codex/responses"


def _parse_sse(text: str) -> list[dict[str, Any]]:
    """Events of an SSE body, checking the framing: `event:` then `data:`, blank-line separated."""
    assert text.endswith("\n\n"), "the stream must end on a frame boundary"
    events = []
    for frame in text.split("\n\n")[:-1]:
        event_line, data_line = frame.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        event = json.loads(data_line.removeprefix("data: "))
        assert event["type"] == event_line.removeprefix("event: ")
        events.append(event)
    return events


def _request_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "gpt-5.5",
        "instructions": "You are a test.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ],
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": None,
        "store": False,
        "stream": True,
        "include": [],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
def parse_sse() -> Callable[[str], list[dict[str, Any]]]:
    return _parse_sse


@pytest.fixture
def request_body() -> Callable[..., dict[str, Any]]:
    """A valid /responses body; pass `field=...` (Ellipsis) to drop a field."""
    return _request_body


@pytest.fixture
def state() -> SimState:
    state = SimState(event_delay=0.0)
    state.device_interval = "0"
    return state


@pytest.fixture
def account(state: SimState) -> SimAccount:
    return state.add_account(email="demo@example.com", plan="plus")


@pytest.fixture
def tokens(state: SimState, account: SimAccount) -> dict[str, Any]:
    return state.issue_tokens(account)


@pytest.fixture
def auth_headers(account: SimAccount, tokens: dict[str, Any]) -> dict[str, str]:
    return {
        "authorization": f"Bearer {tokens['access_token']}",
        "chatgpt-account-id": account.account_id,
    }


@pytest.fixture
async def client(state: SimState) -> AsyncIterator[httpx.AsyncClient]:
    """In-process client; whole responses are buffered, so no timing or dropped connections."""
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
        yield client


@pytest.fixture
async def server(state: SimState) -> AsyncIterator[LoopbackServer]:
    async with LoopbackServer(create_app(state)) as server:
        yield server


@pytest.fixture
async def live(server: LoopbackServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client talking to the simulator over a real loopback socket."""
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client
