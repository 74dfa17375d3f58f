"""Added latency of the Codex route: the same streamed request direct to the simulator and
through the gateway, side by side in one run.

    .venv/bin/python benchmarks/bench_codex_passthrough.py [--requests 300] [--concurrency 1]

Reports p50/p95 time to first event and to the last byte, and the difference the gateway adds.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from azt.config import Settings
from azt.gateway import Gateway
from azt.loopback import LoopbackServer
from azt.pool.runtime import PoolRuntime
from azt.sim.app import create_app
from azt.sim.state import SimState

BODY = {
    "model": "gpt-5.4",
    "instructions": "",
    "input": "Reply with PONG",
    "store": False,
    "stream": True,
}


async def one(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    first = None
    async with client.stream("POST", url, json=BODY, headers=headers) as response:
        async for chunk in response.aiter_raw():
            if first is None and chunk:
                first = time.perf_counter()
    assert response.status_code == 200, response.status_code
    end = time.perf_counter()
    return (first or end) - started, end - started


async def measure(url: str, headers: dict[str, str], requests: int, concurrency: int):
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(20):  # warm up connections and caches
            await one(client, url, headers)
        results: list[tuple[float, float]] = []

        async def worker(count: int) -> None:
            for _ in range(count):
                results.append(await one(client, url, headers))

        share = requests // concurrency
        started = time.perf_counter()
        await asyncio.gather(*(worker(share) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return results, len(results) / elapsed


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


async def main(requests: int, concurrency: int) -> None:
    state = SimState(event_delay=0.0)
    async with LoopbackServer(create_app(state)) as sim:
        home = Path(tempfile.mkdtemp(prefix="azt-bench-"))
        settings = Settings(
            port=0,
            proxy=False,
            codex_base_url=f"{sim.url}/backend-api/codex",
            chatgpt_base_url=f"{sim.url}/backend-api",
            auth_base_url=sim.url,
        )
        runtime = PoolRuntime(settings, home / "azt.db")
        account = runtime.accounts.upsert(
            state.pool_account("bench@example.com", access_ttl=24 * 3600)
        )
        gateway = Gateway(runtime, confdir=str(home / "certs"))
        listeners = await gateway.start()
        try:
            direct_headers = {
                "authorization": f"Bearer {account.access_token}",
                "chatgpt-account-id": account.chatgpt_account_id,
            }
            direct, direct_rps = await measure(
                f"{sim.url}/backend-api/codex/responses", direct_headers, requests, concurrency
            )
            via, via_rps = await measure(
                f"{listeners.base_url}/codex/v1/responses", {}, requests, concurrency
            )
        finally:
            await gateway.stop()
            await runtime.aclose()
    print(f"{requests} streamed requests, concurrency {concurrency}")
    print(f"{'':24}{'TTFB p50':>10}{'p95':>8}{'total p50':>11}{'p95':>8}{'req/s':>8}")
    for name, rows, rps in (
        ("direct to simulator", direct, direct_rps),
        ("through azt", via, via_rps),
    ):
        ttfb, total = quantiles([r[0] for r in rows]), quantiles([r[1] for r in rows])
        print(f"{name:24}{ttfb[0]:10.2f}{ttfb[1]:8.2f}{total[0]:11.2f}{total[1]:8.2f}{rps:8.0f}")
    added = quantiles([r[1] for r in via])[0] - quantiles([r[1] for r in direct])[0]
    print(f"added latency p50: {added:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
