"""Chat stream translation alone: Codex SSE events in, Chat Completions chunks out, per core.

The input is a recorded-style stream from the simulator's own event generator (a long text
reply, two words per delta), fed to `ChatTranslator` in network-sized pieces. CPU time is
process time on one thread, so the figure is events per second per core.

    python benchmarks/bench_translator.py [--events 20000] [--piece 1400]
"""

import argparse
import json
import time

from azt.dialects.chat.reply import ChatTranslator
from azt.dialects.chat.request import plan_chat_request
from azt.sim.app import sse_frame
from azt.sim.stream import StreamOptions, response_events
from load import MODEL
from report import Report

REPEATS = 5


def recorded_stream(words: int) -> tuple[bytes, int]:
    """One Codex reply of `words` words as SSE bytes, and its event count."""
    text = " ".join(f"word{i}" for i in range(words))
    body = {"model": MODEL, "input": f"Reply with {text}", "stream": True}
    events = list(response_events(body, StreamOptions(number=1, created_at=1_700_000_000)))
    return b"".join(sse_frame(event) for event in events), len(events)


def translate(stream: bytes, piece: int, streaming: bool) -> int:
    """Translate `stream` once; returns the bytes produced (so nothing is optimised away)."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stream": streaming}
    plan = plan_chat_request(body, model=MODEL)
    translator = ChatTranslator(plan, requested_model=MODEL, counter=None, created=1)
    if not streaming:
        # What a non-stream client gets: the whole body collapsed into one completion.
        _, completion = translator.collapse(stream)
        return len(json.dumps(completion))
    produced = 0
    for start in range(0, len(stream), piece):
        produced += len(translator.feed(stream[start : start + piece]))
    return produced + len(translator.finish())


def measure(stream: bytes, events: int, piece: int, streaming: bool, target: int) -> float:
    """Best of REPEATS runs of about `target` events each: events per CPU second."""
    rounds = max(1, target // events)
    best = 0.0
    for _ in range(REPEATS):
        started = time.process_time()
        for _ in range(rounds):
            translate(stream, piece, streaming)
        elapsed = time.process_time() - started
        best = max(best, rounds * events / elapsed)
    return best


def run(events: int, piece: int) -> Report:
    report = Report(
        "translator",
        "Chat stream translation, events per second per core",
        {"events_per_run": events, "piece_bytes": piece, "repeats": REPEATS},
    )
    rows = []
    for words in (20, 400):
        stream, count = recorded_stream(words)
        for streaming in (True, False):
            rate = measure(stream, count, piece, streaming, events)
            mode = "stream" if streaming else "collapse (non-stream)"
            key = f"{words}_words_{'stream' if streaming else 'collapse'}"
            report.results[key] = {
                "events_per_reply": count,
                "stream_bytes": len(stream),
                "events_per_cpu_second": round(rate),
                "microseconds_per_event": round(1e6 / rate, 2),
            }
            rows.append([f"{words} words, {mode}", count, rate, 1e6 / rate])
    report.table("ChatTranslator", ["reply", "events", "events/s/core", "µs/event"], rows)
    report.save()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--piece", type=int, default=1400, help="bytes per feed() call")
    args = parser.parse_args()
    run(args.events, args.piece)


if __name__ == "__main__":
    main()
