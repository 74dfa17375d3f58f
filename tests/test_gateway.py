"""Starting and stopping the gateway itself."""

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from azt.config import Settings
from azt.gateway import Gateway, GatewayStartError, mitmproxy_options
from azt.pool.runtime import PoolRuntime
from support.ports import connects_queued, port_is_free
from support.sim import Hold, after_event, running_sim
from support.sse import events_of

BODY = {"model": "gpt-5.4", "input": "Reply with PONG", "store": False, "stream": True}


def test_options_set_lazy_connections_and_both_listeners() -> None:
    opts = mitmproxy_options(Settings(), "http://127.0.0.1:9", "/tmp/unused")
    assert opts.mode == [
        "reverse:http://127.0.0.1:9@127.0.0.1:8787",
        "regular@127.0.0.1:8788",
    ]
    no_proxy = mitmproxy_options(Settings(proxy=False), "http://127.0.0.1:9", "/tmp/unused")
    assert no_proxy.mode == ["reverse:http://127.0.0.1:9@127.0.0.1:8787"]
    socks = mitmproxy_options(Settings(socks_port=1080), "http://127.0.0.1:9", "/tmp/unused")
    assert socks.mode[-1] == "socks5@127.0.0.1:1080"


async def test_stop_with_a_stream_open_is_prompt_and_frees_the_ports(tmp_path: Path) -> None:
    async with running_sim() as sim:
        # The upstream stream stops after its first output item and never goes on by itself:
        # a stop that waited for it would never return.
        hold = Hold.on(sim.state, after_event(sim.state, "response.output_item.added"))
        runtime = PoolRuntime(sim.settings, tmp_path / "azt.db")
        runtime.accounts.upsert(sim.state.pool_account("a@example.com"))
        gateway = Gateway(runtime, confdir=str(tmp_path / "certs"))
        listeners = await gateway.start()
        received: list[bytes] = []
        first_chunk = asyncio.Event()

        async def listen() -> None:  # reads until the gateway closes the stream
            async with httpx.AsyncClient(timeout=30) as client:
                async with client.stream(
                    "POST", f"{listeners.base_url}/codex/v1/responses", json=BODY
                ) as response:
                    async for chunk in response.aiter_raw():
                        received.append(chunk)
                        first_chunk.set()

        reader = asyncio.get_running_loop().create_task(listen())  # noqa: TID251
        try:
            await first_chunk.wait()
            await hold.holding.wait()  # the stream is open and held upstream
            gateway.shutdown()
            await gateway.stop()
            await runtime.aclose()
            await reader
            await hold.cut.wait()  # the gateway hung up on the held upstream stream
        finally:
            hold.release()
    assert "response.completed" not in [kind for _, kind, _ in sim.state.produced]
    events = events_of(b"".join(received))
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["error"]["code"] == "gateway_shutting_down"
    assert port_is_free(listeners.reverse[1]) and port_is_free(listeners.proxy[1])


async def test_busy_port_is_a_start_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        runtime = PoolRuntime(Settings(port=busy, proxy=False), tmp_path / "azt.db")
        gateway = Gateway(runtime, confdir=str(tmp_path / "certs"))
        with pytest.raises(GatewayStartError, match=str(busy)):
            await gateway.start()
        await runtime.aclose()


async def test_listeners_queue_a_burst_of_connections(tmp_path: Path) -> None:
    runtime = PoolRuntime(Settings(port=0, proxy_port=0, socks_port=0), tmp_path / "azt.db")
    gateway = Gateway(runtime, confdir=str(tmp_path / "certs"))
    listeners = await gateway.start()
    try:
        burst = 250  # asyncio's default backlog of 100 would complete about 101 of them
        for address in (listeners.reverse, listeners.proxy, listeners.socks):
            assert address is not None
            assert connects_queued(address, burst) == burst, address
        pool = httpx.URL(gateway.pool_url)
        assert connects_queued((pool.host, pool.port or 80), burst) == burst
    finally:
        gateway.shutdown()
        await gateway.stop()
        await runtime.aclose()
