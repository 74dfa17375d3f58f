"""Python function calls per request, by package: the work on the hot path, without the clock.

Timings on a shared 2-core machine move by a third from run to run; the number of Python
function calls a request costs does not. The gateway and the simulator run in this process on
loopback ports, the requests go through the reverse listener one at a time, and cProfile counts
every call in the loop's thread, grouped by the package the function lives in (the simulator's
own calls are counted apart). Compare two versions of azt by running this in each.

    python benchmarks/bench_calls.py [--requests 300]
"""

import argparse
import asyncio
import cProfile
import pstats
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from azt.config import Settings
from azt.gateway import Gateway
from azt.loopback import LoopbackServer
from azt.pool.runtime import PoolRuntime
from azt.sim.app import create_app
from azt.sim.state import SimState
from load import MODEL
from report import Report

WARM_UP = 30
# Where a function lives, by a part of its file's path; the first match names its group.
GROUPS = (
    ("/azt/sim/", "azt sim"),
    ("/azt/", "azt"),
    ("/mitmproxy/", "mitmproxy"),
    ("/httpx/", "httpx, httpcore, h11, h2"),
    ("/httpcore/", "httpx, httpcore, h11, h2"),
    ("/h11/", "httpx, httpcore, h11, h2"),
    ("/h2/", "httpx, httpcore, h11, h2"),
    ("/starlette/", "starlette, uvicorn"),
    ("/uvicorn/", "starlette, uvicorn"),
)
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    "chat, streamed": (
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}], "stream": True},
    ),
    "responses": ("/v1/responses", {"input": "hi"}),
    "codex, streamed": (
        "/codex/v1/responses",
        {"instructions": "", "input": "hi", "store": False, "stream": True},
    ),
}


def group_of(filename: str) -> str:
    return next((group for part, group in GROUPS if part in filename), "other")


async def count(requests: int) -> dict[str, Counter[str]]:
    """Calls per case and group, over `requests` requests of each case."""
    state = SimState(event_delay=0.0)
    counted: dict[str, Counter[str]] = {}
    async with LoopbackServer(create_app(state)) as sim:
        home = Path(tempfile.mkdtemp(prefix="azt-bench-calls-"))
        settings = Settings(
            port=0,
            proxy_port=0,
            codex_base_url=f"{sim.url}/backend-api/codex",
            chatgpt_base_url=f"{sim.url}/backend-api",
            auth_base_url=sim.url,
        )
        runtime = PoolRuntime(settings, home / "azt.db")
        runtime.accounts.upsert(state.pool_account("bench@example.com", "plus", 3600))
        gateway = Gateway(runtime, confdir=str(home / "certs"))
        listeners = await gateway.start()
        try:
            async with httpx.AsyncClient(base_url=listeners.base_url, timeout=30) as client:
                for case, (path, fields) in CASES.items():
                    body = {"model": MODEL, **fields}
                    for _ in range(WARM_UP):
                        (await client.post(path, json=body)).raise_for_status()
                    profile = cProfile.Profile()
                    profile.enable()
                    for _ in range(requests):
                        (await client.post(path, json=body)).raise_for_status()
                    profile.disable()
                    counted[case] = _by_group(pstats.Stats(profile))
        finally:
            await gateway.stop()
            await runtime.aclose()
    return counted


def _by_group(stats: pstats.Stats) -> Counter[str]:
    groups: Counter[str] = Counter()
    for (filename, _, _), (_, calls, *_) in stats.stats.items():  # type: ignore[attr-defined]
        groups[group_of(filename)] += calls
    return groups


def run(requests: int) -> Report:
    report = Report("calls", "Python function calls per request", {"requests_per_case": requests})
    counted = asyncio.run(count(requests))
    names = sorted({group for groups in counted.values() for group in groups})
    rows = []
    for case, groups in counted.items():
        per_request = {group: groups[group] / requests for group in names}
        total = sum(per_request.values())
        report.results[case] = {
            "total": round(total, 1),
            **{group: round(n, 1) for group, n in per_request.items()},
        }
        rows.append([case, *(per_request[group] for group in names), total])
    report.table("calls per request", ["request", *names, "total"], rows)
    report.save()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    run(args.requests)


if __name__ == "__main__":
    main()
