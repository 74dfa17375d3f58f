"""Debugging flows end to end: `save_flows` files and the `inspect` UI, with real clients."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mitmproxy import http
from mitmproxy.io import FlowReader
from openai import AsyncOpenAI

from azt.addons.redaction import CLIENT_REQUEST, REDACTED
from azt.gateway import Gateway, GatewayStartError, Listeners
from azt.pool.accounts import Account
from azt.pool.hop import SECRET_HEADER
from azt.pool.runtime import PoolRuntime
from support.mitmweb import flow_updates
from support.ports import port_is_free
from support.sim import Sim, settings_for

API_KEY = "sk-planted-secret-123"
PROMPT = "planted prompt text 987"


@dataclass
class Running:
    """A gateway the test can stop itself, to read what it left behind."""

    gateway: Gateway
    runtime: PoolRuntime
    listeners: Listeners
    account: Account
    stopped: bool = False

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.gateway.stop()


StartGateway = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_gateway(
    sim: Sim, tmp_path: Path, certs_dir: Path, vocabulary: Path
) -> AsyncIterator[StartGateway]:
    started: list[Running] = []
    runtimes: list[PoolRuntime] = []

    async def start(**overrides: object) -> Running:
        settings = settings_for(sim.url, tokenizer_file=str(vocabulary), **overrides)
        runtime = PoolRuntime(settings, tmp_path / f"azt-{len(runtimes)}.db")
        runtimes.append(runtime)
        account = runtime.accounts.upsert(sim.state.pool_account("one@example.com"))
        gateway = Gateway(runtime, confdir=str(certs_dir))
        running = Running(gateway, runtime, await gateway.start(), account)
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            await running.stop()
        for runtime in runtimes:
            await runtime.aclose()


async def chat(base_url: str, stream: bool = False) -> str:
    async with AsyncOpenAI(base_url=f"{base_url}/v1", api_key=API_KEY, max_retries=0) as sdk:
        messages: Any = [{"role": "user", "content": PROMPT}]
        if not stream:
            completion = await sdk.chat.completions.create(model="gpt-5.4", messages=messages)
            answer = completion.choices[0].message.content
        else:
            chunks = await sdk.chat.completions.create(
                model="gpt-5.4", messages=messages, stream=True
            )
            answer = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    assert answer
    return answer


def secrets_of(running: Running) -> dict[str, str]:
    return {
        "client key": API_KEY,
        "pool secret": running.runtime.secret,
        "access token": running.account.access_token,
        "refresh token": running.account.refresh_token,
        "prompt": PROMPT,
    }


async def test_saved_flows_open_in_mitmproxy_and_hold_no_secret(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    path = tmp_path / "azt.flows"
    running = await start_gateway(save_flows=str(path))
    answer = await chat(running.listeners.base_url)
    async with httpx.AsyncClient(base_url=running.listeners.base_url) as client:
        unknown_route = await client.get(f"/v1/nope?key={API_KEY}")
    assert unknown_route.status_code == 404
    await running.stop()

    raw = path.read_bytes()
    for name, secret in secrets_of(running).items():
        assert secret.encode() not in raw, name
    assert answer.encode() not in raw  # replies are private too

    flows: list[http.HTTPFlow] = list(FlowReader(BytesIO(raw)).stream())  # type: ignore[arg-type]
    by_route = {flow.metadata.get("azt.route"): flow for flow in flows}
    completion = by_route["chat.completions"]
    assert completion.metadata[CLIENT_REQUEST] == "POST /v1/chat/completions"
    assert completion.request.path == "/responses"  # as handed to the account pool
    assert completion.response is not None and completion.response.status_code == 200
    assert completion.request.headers[SECRET_HEADER] == REDACTED
    assert completion.request.content is not None
    assert completion.request.content.startswith(b"[body omitted: ")

    unknown = next(flow for flow in flows if flow.request.path.startswith("/v1/nope"))
    assert unknown.response is not None and unknown.response.status_code == 404
    assert unknown.request.headers.get("authorization") is None  # httpx sent none
    assert unknown.request.query["key"] == REDACTED


async def test_flow_bodies_keep_the_conversation_but_not_the_credentials(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    path = tmp_path / "azt.flows"
    running = await start_gateway(save_flows=str(path), flow_bodies=True)
    answer = await chat(running.listeners.base_url)
    await chat(running.listeners.base_url, stream=True)
    await running.stop()

    raw = path.read_bytes()
    assert PROMPT.encode() in raw and answer.encode() in raw
    # Streamed replies are kept too, as the client received them.
    assert b'"object":"chat.completion.chunk"' in raw
    for name in ("client key", "pool secret", "access token", "refresh token"):
        assert secrets_of(running)[name].encode() not in raw, name


async def test_an_unwritable_flow_file_stops_the_start(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    with pytest.raises(GatewayStartError, match="cannot write flows to"):
        await start_gateway(save_flows=str(tmp_path / "missing" / "azt.flows"))


async def test_the_inspector_shows_redacted_flows_and_goes_away_with_the_gateway(
    start_gateway: StartGateway,
) -> None:
    running = await start_gateway(inspect=True, inspect_port=0)
    url = running.listeners.inspect_url
    assert url is not None and url.startswith("http://127.0.0.1:")
    parts = urlsplit(url)
    base, token = f"{parts.scheme}://{parts.netloc}", parse_qs(parts.query)["token"][0]
    assert parts.port != urlsplit(running.listeners.base_url).port

    async with flow_updates(base, token) as updates:
        await chat(running.listeners.base_url)
        await updates.until(
            lambda flow: flow["request"]["path"] == "/responses" and "response" in flow
        )

    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        listing = await client.get("/flows", params={"token": token})
        (completion,) = [f for f in listing.json() if f["request"]["path"] == "/responses"]
        assert completion["response"]["status_code"] == 200
        assert dict(completion["request"]["headers"])[SECRET_HEADER] == REDACTED
        content = await client.get(f"/flows/{completion['id']}/request/content.data")
        dump = (await client.get("/flows/dump")).content
        # The UI's mitmproxy runs no proxy listener of its own.
        assert (await client.get("/state")).json()["servers"] == {}
    for name, secret in secrets_of(running).items():
        assert secret not in listing.text, name
        assert secret.encode() not in content.content, name
        assert secret.encode() not in dump, name
    assert content.content.startswith(b"[body omitted: ")

    await running.stop()
    assert parts.port is not None and port_is_free(parts.port)
