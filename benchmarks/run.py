"""Run every benchmark, or the ones named, one after another (`make bench`).

    python benchmarks/run.py [--quick] [latency streaming throughput open_streams memory translator
                              calls]

Each prints its tables and writes `benchmarks/results/<name>.json`. `--quick` shrinks every
run to a smoke test of a minute or two; its numbers are not worth recording.
"""

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import bench_calls
import bench_latency
import bench_memory
import bench_open_streams
import bench_streaming
import bench_throughput
import bench_translator

Runner = Callable[[], Any]  # a benchmark's run, a coroutine when it is async
BENCHMARKS: dict[str, tuple[Runner, Runner]] = {
    # name: (full run, quick run)
    "translator": (
        lambda: bench_translator.run(20_000, 1400),
        lambda: bench_translator.run(2_000, 1400),
    ),
    "latency": (lambda: bench_latency.run(500), lambda: bench_latency.run(30)),
    "streaming": (
        lambda: bench_streaming.run(20, 0.02, 40),
        lambda: bench_streaming.run(3, 0.02, 20),
    ),
    "throughput": (
        lambda: bench_throughput.run(15, [1, 16, 64]),
        lambda: bench_throughput.run(2, [1, 16]),
    ),
    "open_streams": (
        lambda: bench_open_streams.run([500, 1000, 2000], 30, 1.0, 5),
        lambda: bench_open_streams.run([100], 5, 0.5, 1),
    ),
    "memory": (lambda: bench_memory.run(100_000, 16), lambda: bench_memory.run(2_000, 16)),
    "calls": (lambda: bench_calls.run(300), lambda: bench_calls.run(20)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="tiny runs, to check it all works")
    args = parser.parse_args()
    if unknown := set(args.names) - BENCHMARKS.keys():
        parser.error(
            f"no benchmark named {', '.join(sorted(unknown))}; try {', '.join(BENCHMARKS)}"
        )
    for name in args.names or BENCHMARKS:
        full, quick = BENCHMARKS[name]
        outcome = (quick if args.quick else full)()
        if isinstance(outcome, Coroutine):
            asyncio.run(outcome)


if __name__ == "__main__":
    main()
