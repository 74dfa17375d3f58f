"""The requests benchmarks send, and a timed way to send them."""

import random
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness import MODEL, Gateway, Peer, Sim

PROMPT = "Reply with PONG"
# Clients of azt and LiteLLM send some key; neither checks it in these runs.
CLIENT_HEADERS = {"authorization": "Bearer sk-bench"}
OPENAI_HOST = "https://api.openai.com"


def chat_body(stream: bool = False, prompt: str = PROMPT) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": prompt}]}
    if stream:
        body["stream"] = True
    return body


def responses_body(stream: bool = False, prompt: str = PROMPT) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "input": prompt}
    if stream:
        body["stream"] = True
    return body


def codex_body(prompt: str = PROMPT) -> dict[str, Any]:
    """What azt sends upstream for the requests above: a streamed, unstored Responses call."""
    content = [{"type": "input_text", "text": prompt}]
    return {
        "model": MODEL,
        "instructions": "",
        "input": [{"type": "message", "role": "user", "content": content}],
        "store": False,
        "stream": True,
    }


@dataclass(frozen=True)
class Target:
    """Somewhere to send a request: a client with its base URL and headers."""

    name: str
    client: httpx.AsyncClient
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Sample:
    status: int
    ttfb: float  # seconds from sending to the first body byte
    total: float  # seconds from sending to the last body byte
    chunks: list[float] = field(default_factory=list)  # arrival of each body chunk, from the start

    @property
    def ok(self) -> bool:
        return self.status == 200


async def interleaved[T](
    targets: list[Target], rounds: int, warmup: int, measure: Callable[[Target], Awaitable[T]]
) -> dict[str, list[T]]:
    """`measure` each target `rounds` times, one round at a time, in a new order each round,
    after `warmup` unrecorded calls each: machine noise falls on every target alike."""
    for target in targets:
        for _ in range(warmup):
            await measure(target)
    seen: dict[str, list[T]] = {target.name: [] for target in targets}
    order = list(targets)
    for _ in range(rounds):
        random.shuffle(order)  # no target always goes first (or right after another)
        for target in order:
            seen[target.name].append(await measure(target))
    return seen


async def send(target: Target, keep_chunks: bool = False) -> Sample:
    started = time.perf_counter()
    first: float | None = None
    chunks: list[float] = []
    async with target.client.stream(
        "POST", target.url, json=target.body, headers=target.headers
    ) as response:
        async for chunk in response.aiter_raw():
            if not chunk:
                continue
            now = time.perf_counter() - started
            first = now if first is None else first
            if keep_chunks:
                chunks.append(now)
    total = time.perf_counter() - started
    return Sample(response.status_code, total if first is None else first, total, chunks)


def client(**options: Any) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    return httpx.AsyncClient(timeout=60, limits=limits, **options)


def direct(sim: Sim, http: httpx.AsyncClient, prompt: str = PROMPT) -> Target:
    return Target("direct", http, sim.responses_url, sim.headers, codex_body(prompt))


def bare_mitmproxy(mitmdump: Peer, sim: Sim, http: httpx.AsyncClient) -> Target:
    """The direct request, relayed by a bare mitmproxy: the floor under any mitmproxy addon."""
    path = sim.responses_url.removeprefix(sim.url)
    return Target("bare mitmproxy", http, mitmdump.base_url + path, sim.headers, codex_body())


def reverse(
    gateway: Gateway,
    http: httpx.AsyncClient,
    path: str,
    body: dict[str, Any],
    name: str = "azt reverse",
) -> Target:
    return Target(name, http, gateway.base_url + path, CLIENT_HEADERS, body)


def proxy_client(gateway: Gateway) -> httpx.AsyncClient:
    """A client that reaches api.openai.com through azt's proxy listener, trusting azt's CA."""
    assert gateway.proxy_url is not None, "the gateway runs without its proxy listener"
    context = ssl.create_default_context(cafile=str(Path(gateway.ca_file)))
    return client(proxy=gateway.proxy_url, verify=context)


def proxied(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Target:
    return Target("azt proxy (TLS)", http, OPENAI_HOST + path, CLIENT_HEADERS, body)


def peer(litellm: Peer, http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Target:
    return Target("LiteLLM", http, litellm.base_url + path, CLIENT_HEADERS, body)
