"""Many concurrent open streams: errors and the gateway's peak memory.

For each level a fresh simulator and gateway start; the streams open over `--ramp` seconds
and each streams a chat completion for about `--hold` seconds (the simulator sends one event
per `--delay` seconds). A stream counts as an error unless it answers 200 and ends with
`[DONE]`. The gateway's RSS is sampled twice a second; its kernel high-water mark is read at
the end.

    python benchmarks/bench_open_streams.py [--levels 500,1000,2000] [--hold 30]
"""

import argparse
import asyncio
import contextlib
import ssl
import time
from collections import Counter

import httpx

from azt.tasks import spawn
from harness import UNLIMITED, Process, Stack
from load import CLIENT_HEADERS, chat_body
from report import Report

BUDGET_MB = 400
STREAMS_PER_CLIENT = 50  # bounds each client's connection pool
EVENTS_AROUND_TEXT = 9  # created, in_progress, item and part events, completed


def prompt_for(hold: float, delay: float) -> str:
    deltas = max(1, round(hold / delay) - EVENTS_AROUND_TEXT)
    return "Reply with " + " ".join(f"w{i}" for i in range(2 * deltas))


async def one_stream(http: httpx.AsyncClient, url: str, body: dict[str, object]) -> str | None:
    """None when the stream completed; else what went wrong."""
    try:
        async with http.stream("POST", url, json=body, headers=CLIENT_HEADERS) as response:
            if response.status_code != 200:
                return f"HTTP {response.status_code}"
            tail = b""
            async for chunk in response.aiter_raw():
                tail = (tail + chunk)[-64:]
    except httpx.HTTPError as e:
        return type(e).__name__
    return None if b"[DONE]" in tail else "no [DONE]"


async def sample_rss(process: Process, peaks: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            peaks.append(process.rss_mb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


async def level(streams: int, hold: float, delay: float, ramp: float) -> dict[str, object]:
    with Stack() as stack:
        sim = stack.sim(event_delay=delay)
        gateway = stack.gateway(sim, **UNLIMITED)
        url = f"{gateway.base_url}/v1/chat/completions"
        body = chat_body(stream=True, prompt=prompt_for(hold, delay))
        context = ssl.create_default_context()  # one for all clients; none is used on http
        clients = [
            httpx.AsyncClient(
                timeout=hold * 4, verify=context, limits=httpx.Limits(max_connections=None)
            )
            for _ in range(-(-streams // STREAMS_PER_CLIENT))
        ]
        samples: list[float] = []
        stop = asyncio.Event()
        sampler = spawn(sample_rss(gateway.process, samples, stop), name="rss sampler")
        rss_before = gateway.process.rss_mb()
        started = time.perf_counter()
        tasks = []
        try:
            for n in range(streams):
                http = clients[n // STREAMS_PER_CLIENT]
                tasks.append(spawn(one_stream(http, url, body), name=f"stream {n}"))
                await asyncio.sleep(ramp / streams)
            outcomes = await asyncio.gather(*tasks)
        finally:
            stop.set()
            await sampler
            for http in clients:
                await http.aclose()
        elapsed = time.perf_counter() - started
        errors = Counter(o for o in outcomes if o is not None)
        return {
            "streams": streams,
            "errors": sum(errors.values()),
            "error_kinds": dict(errors),
            "seconds": elapsed,
            "rss_before_mb": rss_before,
            "peak_rss_sampled_mb": max(samples, default=0.0),
            "peak_rss_mb": gateway.process.peak_rss_mb(),
        }


async def run(levels: list[int], hold: float, delay: float, ramp: float) -> Report:
    parameters = {"levels": levels, "hold_s": hold, "event_delay_s": delay, "ramp_s": ramp}
    report = Report("open_streams", "Concurrent open chat streams", parameters)
    rows = []
    for streams in levels:
        result = await level(streams, hold, delay, ramp)
        report.results[str(streams)] = result
        peak = float(result["peak_rss_mb"])  # type: ignore[arg-type]
        verdict = "✓" if peak <= BUDGET_MB and not result["errors"] else "✗"
        rows.append(
            [
                streams,
                result["errors"],
                ", ".join(f"{k}: {v}" for k, v in result["error_kinds"].items()) or None,  # type: ignore[attr-defined]
                result["seconds"],
                result["rss_before_mb"],
                f"{peak:,.0f} {verdict}",
            ]
        )
        report.note(f"{streams} streams done")
    columns = ["streams", "errors", "kinds", "seconds", "RSS before MB", "peak RSS MB"]
    report.table(f"Gateway memory (budget {BUDGET_MB} MB, no errors)", columns, rows)
    report.save()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="500,1000,2000")
    parser.add_argument("--hold", type=float, default=30.0, help="seconds each stream lasts")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds between events")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds to open them all")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    asyncio.run(run(levels, args.hold, args.delay, args.ramp))


if __name__ == "__main__":
    main()
