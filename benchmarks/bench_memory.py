"""The gateway's memory across many requests: does RSS stay flat?

Sends `--requests` non-stream chat completions through the reverse listener, `--concurrency`
at a time, after a warm-up of 2,000 (caches, pools and the request log fill first). RSS is
read at the start, at every tenth of the run, and at the end.

    python benchmarks/bench_memory.py [--requests 100000] [--concurrency 16]
"""

import argparse
import asyncio
import time

from azt.tasks import spawn
from harness import UNLIMITED, Stack
from load import chat_body, client, reverse, send
from report import Report

WARMUP = 2_000
CHECKPOINTS = 10
FLAT_MB = 20  # growth allowed between start and end before the run counts as a leak


async def run(requests: int, concurrency: int) -> Report:
    parameters = {"requests": requests, "concurrency": concurrency, "warmup": WARMUP}
    report = Report("memory", "Gateway RSS over many requests", parameters)
    with Stack() as stack:
        sim = stack.sim()
        gateway = stack.gateway(sim, **UNLIMITED)
        body = chat_body()
        remaining = WARMUP
        errors = 0
        series: list[tuple[int, float]] = []

        async def worker() -> None:
            nonlocal remaining, errors
            async with client() as http:
                target = reverse(gateway, http, "/v1/chat/completions", body)
                while remaining > 0:
                    remaining -= 1
                    if not (await send(target)).ok:
                        errors += 1

        async def batch(count: int) -> None:
            nonlocal remaining
            remaining = count
            await asyncio.gather(*(spawn(worker(), name=f"worker {n}") for n in range(concurrency)))

        await batch(WARMUP)
        series.append((0, gateway.process.rss_mb()))
        started = time.perf_counter()
        step = requests // CHECKPOINTS
        for done in range(step, requests + 1, step):
            await batch(step)
            series.append((done, gateway.process.rss_mb()))
            report.note(f"{done:>7,} requests: RSS {series[-1][1]:,.1f} MB")
        elapsed = time.perf_counter() - started
    start, end = series[0][1], series[-1][1]
    report.results = {
        "requests": series[-1][0],
        "errors": errors,
        "seconds": elapsed,
        "rps": series[-1][0] / elapsed,
        "rss_start_mb": start,
        "rss_end_mb": end,
        "growth_mb": end - start,
        "flat": end - start <= FLAT_MB,
        "series": [{"requests": n, "rss_mb": rss} for n, rss in series],
    }
    verdict = "✓ flat" if end - start <= FLAT_MB else f"✗ grew more than {FLAT_MB} MB"
    report.table(
        "Reverse listener, non-stream chat",
        ["requests", "errors", "req/s", "RSS start MB", "RSS end MB", "growth MB"],
        [
            [
                series[-1][0],
                errors,
                series[-1][0] / elapsed,
                start,
                end,
                f"{end - start:.1f} {verdict}",
            ]
        ],
    )
    report.save()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.concurrency))


if __name__ == "__main__":
    main()
