"""Decompression bombs: the gateway's memory while it refuses one, and whether others wait.

A fresh simulator and gateway (default limits: 128 MiB of decoded body) start. For each
content coding, a small body that decodes to `--gib` GiB of zeros is posted to
`/v1/chat/completions` while `--clients` clients ask for the model list in a loop. The gateway
must answer 413 `request_too_large`; its peak RSS (the kernel's high-water mark, reset
before each bomb) and the model list's latency during the bomb are reported next to the
latency with no bomb.

    python benchmarks/bench_bomb.py [--gib 2] [--clients 4]
"""

import argparse
import asyncio
import gzip
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import brotli
import httpx
import zstandard

from azt.tasks import spawn
from harness import Stack
from report import Report

MiB = 1024 * 1024
ZEROS = bytes(MiB)


def _zeros(gib: float) -> Iterator[bytes]:
    for _ in range(int(gib * 1024)):
        yield ZEROS


def zstd_bomb(gib: float) -> bytes:
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    return b"".join(compressor.compress(piece) for piece in _zeros(gib)) + compressor.flush()


def gzip_bomb(gib: float) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return b"".join(compressor.compress(piece) for piece in _zeros(gib)) + compressor.flush()


def deflate_bomb(gib: float) -> bytes:
    compressor = zlib.compressobj(9)
    return b"".join(compressor.compress(piece) for piece in _zeros(gib)) + compressor.flush()


def br_bomb(gib: float) -> bytes:
    compressor = brotli.Compressor(quality=1)
    out = [compressor.process(piece) for piece in _zeros(gib)]
    return b"".join(out) + compressor.finish()


BOMBS: dict[str, Callable[[float], bytes]] = {
    "zstd": zstd_bomb,
    "gzip": gzip_bomb,
    "deflate": deflate_bomb,
    "br": br_bomb,
}
assert gzip.decompress(gzip_bomb(1 / 1024)) == ZEROS  # the builders make what they claim


async def models_latency(base_url: str, clients: int, until: asyncio.Event) -> list[float]:
    """Seconds each model-list request took, from `clients` clients, until `until` is set."""
    latencies: list[float] = []

    async def loop(http: httpx.AsyncClient) -> None:
        while not until.is_set():
            started = time.monotonic()
            reply = await http.get(f"{base_url}/v1/models")
            reply.raise_for_status()
            latencies.append(time.monotonic() - started)

    async with httpx.AsyncClient(timeout=60) as http:
        await asyncio.gather(*(loop(http) for _ in range(clients)))
    return latencies


async def measure(base_url: str, clients: int, send: Callable[[], object]) -> list[float]:
    done = asyncio.Event()
    sampler = spawn(models_latency(base_url, clients, done), name="models")
    try:
        await send()  # type: ignore[misc]
    finally:
        done.set()
    return await sampler


def summary(latencies: list[float]) -> tuple[int, float, float, float]:
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return len(ordered), statistics.median(ordered) * 1000, p99 * 1000, ordered[-1] * 1000


async def run(args: argparse.Namespace) -> int:
    report = Report("bomb", "Decompression bombs", {"gib": args.gib, "clients": args.clients})
    rows = []
    failures = []
    with Stack() as stack:
        sim = stack.sim()
        gateway = stack.gateway(sim)
        process = gateway.process
        url = f"{gateway.base_url}/v1/chat/completions"
        async with httpx.AsyncClient(timeout=120) as http:
            await http.get(f"{gateway.base_url}/v1/models")  # warm up

            async def pause() -> None:
                await asyncio.sleep(args.baseline_seconds)

            idle = await measure(gateway.base_url, args.clients, pause)
            rows.append(["none", "", "", f"{process.rss_mb():.0f}", "", *summary(idle)])
            for coding, build in BOMBS.items():
                body = build(args.gib)
                process.reset_peak_rss()
                outcome: dict[str, object] = {}

                async def send(
                    coding: str = coding, body: bytes = body, outcome: dict[str, object] = outcome
                ) -> None:
                    started = time.monotonic()
                    reply = await http.post(
                        url,
                        content=body,
                        headers={"content-type": "application/json", "content-encoding": coding},
                    )
                    outcome["seconds"] = time.monotonic() - started
                    outcome["status"] = reply.status_code
                    outcome["code"] = reply.json()["error"]["code"]

                during = await measure(gateway.base_url, args.clients, send)
                peak = process.peak_rss_mb()
                rows.append(
                    [
                        coding,
                        f"{len(body) / 1024:.0f} KiB",
                        f"{outcome['status']} in {outcome['seconds']:.2f} s",
                        f"{peak:.0f}",
                        f"{args.gib:g} GiB",
                        *summary(during),
                    ]
                )
                if (outcome["status"], outcome["code"]) != (413, "request_too_large"):
                    failures.append(f"{coding}: {outcome}")
                if peak > args.budget_mb:
                    failures.append(f"{coding}: peak RSS {peak:.0f} MB")
    report.table(
        f"/v1/models from {args.clients} clients while a bomb is refused",
        [
            "bomb",
            "body",
            "answer",
            "peak RSS MB",
            "decodes to",
            "requests",
            "p50 ms",
            "p99 ms",
            "max ms",
        ],
        rows,
    )
    report.results["rows"] = rows
    report.results["failures"] = failures
    report.save()
    for failure in failures:
        report.note(f"[red]FAIL: {failure}")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="decoded size of each bomb")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--baseline-seconds", type=float, default=3.0)
    parser.add_argument("--budget-mb", type=float, default=600.0, help="peak RSS allowed")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
