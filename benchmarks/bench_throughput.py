"""Throughput through the reverse listener at several concurrency levels, and CPU per request.

Non-stream chat completions for `--seconds` at each level, on keep-alive connections. Beside
them, for scale: the upstream call azt makes for each, straight to the simulator and relayed
by a bare mitmproxy (the floor under any mitmproxy-based gateway). CPU time is read from
`/proc` for the gateway and the simulator, so the load generator's own work is not counted.

    python benchmarks/bench_throughput.py [--seconds 15] [--levels 1,16,64]
"""

import argparse
import asyncio
import time
from collections.abc import Callable

import httpx

from azt.tasks import spawn
from harness import UNLIMITED, Process, Stack
from load import Target, bare_mitmproxy, chat_body, client, direct, reverse, send
from report import Report, ms, percentiles

BUDGET_RPS = 400
Aim = Callable[[httpx.AsyncClient], Target]  # a target for a given client
WARMUP = 50


async def drive(aim: Aim, concurrency: int, seconds: float) -> dict[str, float]:
    """Keep `concurrency` requests in flight for `seconds`; count what completes.

    Each worker has its own client and connection: one shared pool of 64 connections costs
    the load generator more CPU than the requests themselves.
    """
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        async with client() as http:
            target = aim(http)
            await send(target)  # connect before the clock matters
            await ready.wait()
            while time.perf_counter() < deadline:
                try:
                    sample = await send(target)
                except Exception:  # a failed request is counted, not fatal
                    errors += 1
                    continue
                if sample.ok:
                    latencies.append(sample.total)
                else:
                    errors += 1

    ready = asyncio.Event()
    workers = [spawn(worker(), name=f"worker {n}") for n in range(concurrency)]
    await asyncio.sleep(0.5)
    started = time.perf_counter()
    deadline = started + seconds
    ready.set()
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        **{f"{k}_ms": v for k, v in percentiles(ms(latencies)).items()},
    }


async def level(
    aim: Aim, processes: dict[str, Process], concurrency: int, seconds: float
) -> dict[str, float]:
    async with client() as http:
        for _ in range(WARMUP):
            await send(aim(http))
    before = {name: p.cpu_seconds() for name, p in processes.items()}
    result = await drive(aim, concurrency, seconds)
    done = max(1, int(result["requests"] + result["errors"]))
    for name, process in processes.items():
        spent = process.cpu_seconds() - before[name]
        result[f"{name}_cpu_ms_per_request"] = spent / done * 1000
        result[f"{name}_cpu_cores"] = spent / result["seconds"]
    return result


async def run(seconds: float, levels: list[int]) -> Report:
    report = Report(
        "throughput", "Throughput, non-stream chat", {"seconds": seconds, "levels": levels}
    )
    with Stack() as stack:
        sim = stack.sim()
        gateway = stack.gateway(sim, **UNLIMITED)
        mitmdump = stack.mitmdump(sim)
        body = chat_body()

        def via(http: httpx.AsyncClient) -> Target:
            return reverse(gateway, http, "/v1/chat/completions", body)

        def straight(http: httpx.AsyncClient) -> Target:
            return direct(sim, http)

        def relayed(http: httpx.AsyncClient) -> Target:
            return bare_mitmproxy(mitmdump, sim, http)

        both = {"gateway": gateway.process, "sim": sim.process}
        for concurrency in levels:
            report.results[str(concurrency)] = {
                "azt": await level(via, both, concurrency, seconds),
                "direct": await level(straight, {"sim": sim.process}, concurrency, seconds),
                "bare_mitmproxy": await level(
                    relayed, {"gateway": mitmdump.process, "sim": sim.process}, concurrency, seconds
                ),
            }
    show(report)
    report.save()
    return report


def show(report: Report) -> None:
    rows = []
    for concurrency, measured in report.results.items():
        via, straight, floor = measured["azt"], measured["direct"], measured["bare_mitmproxy"]
        verdict = "✓" if via["rps"] >= BUDGET_RPS else "✗"
        rows.append(
            [
                concurrency,
                f"{via['rps']:,.0f} {verdict}",
                via["errors"],
                via["p50_ms"],
                via["p99_ms"],
                via["gateway_cpu_ms_per_request"],
                straight["rps"],
                floor["rps"],
                floor["gateway_cpu_ms_per_request"],
            ]
        )
    columns = [
        "concurrency",
        "azt req/s",
        "errors",
        "p50 ms",
        "p99 ms",
        "azt CPU ms/req",
        "direct req/s",
        "mitmproxy req/s",
        "mitmproxy CPU ms/req",
    ]
    report.table(f"Reverse listener, keep-alive (budget {BUDGET_RPS} req/s)", columns, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--levels", default="1,16,64", help="comma-separated concurrency levels")
    args = parser.parse_args()
    asyncio.run(run(args.seconds, [int(n) for n in args.levels.split(",")]))


if __name__ == "__main__":
    main()
