"""Streaming fidelity: does a stream through azt keep the simulator's chunk timing?

The simulator sends one event every `--delay` seconds; the reply is `--words` words, two per
text delta. The same prompt goes straight to the simulator and through azt's reverse listener
as a Codex passthrough, a streamed Responses call and a streamed chat completion, interleaved.
For each text delta the benchmark notes when it arrived, from sending the request:

- first byte and first text, azt's median minus direct's. azt holds a stream's first bytes
  until the upstream sends content, so it can still fail over to another account on an
  overload event; the first text is what a user waits for, and the budget applies to it;
- added delay on each later delta: its arrival after its own stream's first delta, against
  the same interval sent direct (median and worst over every delta of every request; direct's
  own spread is the noise floor).

    python benchmarks/bench_streaming.py [--requests 20] [--delay 0.02] [--words 40]
"""

import argparse
import asyncio
import json
import statistics
import time
from dataclasses import dataclass, field

from harness import Stack
from load import (
    Target,
    chat_body,
    client,
    codex_body,
    direct,
    interleaved,
    responses_body,
    reverse,
)
from report import Report

BUDGET_MS = 3.0  # added time to the first text


@dataclass
class Timeline:
    ttfb: float
    deltas: list[float] = field(default_factory=list)  # arrival of each text delta


def _is_text_delta(event: bytes) -> bool:
    for line in event.split(b"\n"):
        if not line.startswith(b"data:") or line.endswith(b"[DONE]"):
            continue
        data = json.loads(line[5:])
        if data.get("type") == "response.output_text.delta":
            return True
        choices = data.get("choices") or [{}]
        return bool(choices[0].get("delta", {}).get("content"))
    return False


async def timeline(target: Target) -> Timeline:
    started = time.perf_counter()
    first: float | None = None
    deltas: list[float] = []
    pending = b""
    async with target.client.stream(
        "POST", target.url, json=target.body, headers=target.headers
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {response.status_code}")
        async for chunk in response.aiter_raw():
            now = time.perf_counter() - started
            first = now if first is None else first
            pending += chunk.replace(b"\r\n", b"\n")
            *events, pending = pending.split(b"\n\n")
            deltas.extend(now for event in events if _is_text_delta(event))
    return Timeline(first if first is not None else time.perf_counter() - started, deltas)


def prompt(words: int) -> str:
    return "Reply with " + " ".join(f"word{i}" for i in range(words))


async def run(requests: int, delay: float, words: int) -> Report:
    parameters = {"requests": requests, "event_delay_s": delay, "words": words}
    report = Report("streaming", "Streaming fidelity", parameters)
    text = prompt(words)
    with Stack() as stack:
        sim = stack.sim(event_delay=delay)
        gateway = stack.gateway(sim)
        async with client() as http:
            passthrough = codex_body(text)
            responses = responses_body(stream=True, prompt=text)
            chat = chat_body(stream=True, prompt=text)
            targets = [
                direct(sim, http, text),
                reverse(gateway, http, "/codex/v1/responses", passthrough, "codex passthrough"),
                reverse(gateway, http, "/v1/responses", responses, "responses stream"),
                reverse(gateway, http, "/v1/chat/completions", chat, "chat stream"),
            ]
            seen = await interleaved(targets, requests, 1, timeline)
    report.results = summarise(seen)
    show(report)
    report.save()
    return report


def summarise(seen: dict[str, list[Timeline]]) -> dict[str, dict[str, float | int]]:
    """Added start-up (first byte, first text) and added delay on each later delta.

    A delta's added delay is measured from its own stream's first delta, against the same
    interval sent direct, so a fixed start-up cost is not counted again on every chunk.
    """
    base = seen["direct"]
    count = min(len(t.deltas) for runs in seen.values() for t in runs)
    expected = [statistics.median(t.deltas[i] - t.deltas[0] for t in base) for i in range(count)]
    base_ttfb = statistics.median(t.ttfb for t in base)
    base_first = statistics.median(t.deltas[0] for t in base)
    results: dict[str, dict[str, float | int]] = {}
    for name, runs in seen.items():
        added = [t.deltas[i] - t.deltas[0] - expected[i] for t in runs for i in range(1, count)]
        ttfb = statistics.median(t.ttfb for t in runs)
        first = statistics.median(t.deltas[0] for t in runs)
        results[name] = {
            "deltas_per_reply": count,
            "ttfb_ms": ttfb * 1000,
            "added_ttfb_ms": (ttfb - base_ttfb) * 1000,
            "first_delta_ms": first * 1000,
            "added_first_delta_ms": (first - base_first) * 1000,
            "median_added_delay_ms": statistics.median(added) * 1000,
            "max_added_delay_ms": max(added) * 1000,
        }
    return results


def show(report: Report) -> None:
    rows = []
    for name, r in report.results.items():
        row: list[object] = [name, r["ttfb_ms"], r["first_delta_ms"]]
        if name == "direct":
            row += [None, None]
        else:
            added = r["added_first_delta_ms"]
            verdict = " ✓" if added <= BUDGET_MS else f" ✗ (budget {BUDGET_MS:.0f})"
            row += [r["added_ttfb_ms"], f"{added:.2f}{verdict}"]
        rows.append([*row, r["median_added_delay_ms"], r["max_added_delay_ms"]])
    columns = [
        "path",
        "first byte",
        "first text",
        "added 1st byte",
        "added 1st text",
        "added delay p50",
        "max",
    ]
    count = next(iter(report.results.values()))["deltas_per_reply"]
    report.table(f"{count} text deltas per reply, medians in ms", columns, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds between events")
    parser.add_argument("--words", type=int, default=40)
    args = parser.parse_args()
    asyncio.run(run(args.requests, args.delay, args.words))


if __name__ == "__main__":
    main()
