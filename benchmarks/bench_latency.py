"""Added latency of non-stream chat and Responses requests, interleaved in one run.

Each round sends one request to every target in turn, on keep-alive connections: straight
to the simulator (the streamed Codex call azt itself makes for that request), the same call
relayed by a bare mitmproxy (the floor under any mitmproxy-based gateway), through azt's
reverse listener, through its proxy listener with TLS, and through the LiteLLM proxy
configured to the same simulator. Interleaving spreads any machine noise over all of them.

    python benchmarks/bench_latency.py [--rounds 500]
"""

import argparse
import asyncio

from harness import Stack
from load import (
    Target,
    bare_mitmproxy,
    chat_body,
    client,
    direct,
    interleaved,
    peer,
    proxied,
    proxy_client,
    responses_body,
    reverse,
    send,
)
from report import Report, ms, percentiles

WARMUP = 30
DIALECTS = {
    "chat": ("/v1/chat/completions", chat_body()),
    "responses": ("/v1/responses", responses_body()),
}
BUDGET_MS = {"azt reverse": 3.0, "azt proxy (TLS)": 5.0}


async def total_time(target: Target) -> float:
    sample = await send(target)
    if not sample.ok:
        raise RuntimeError(f"{target.name}: HTTP {sample.status}")
    return sample.total


async def run(rounds: int) -> Report:
    report = Report("latency", "Added latency, non-stream, keep-alive", {"rounds": rounds})
    with Stack() as stack:
        sim = stack.sim()
        gateway = stack.gateway(sim, proxy=True)
        mitmdump = stack.mitmdump(sim)
        litellm = stack.litellm(sim)
        if litellm is None:
            report.note("[yellow]LiteLLM is not installed (make bench-deps); skipping it[/]")
        async with client() as plain, proxy_client(gateway) as tunnelled:
            for dialect, (path, body) in DIALECTS.items():
                targets = [direct(sim, plain), bare_mitmproxy(mitmdump, sim, plain)]
                targets.append(reverse(gateway, plain, path, body))
                targets.append(proxied(tunnelled, path, body))
                if litellm is not None:
                    targets.append(peer(litellm, plain, path, body))
                times = await interleaved(targets, rounds, WARMUP, total_time)
                report.results[dialect] = summarise(times)
                show(report, dialect, report.results[dialect])
    report.save()
    return report


def summarise(times: dict[str, list[float]]) -> dict[str, dict[str, float | bool | None]]:
    base = percentiles(ms(times["direct"]))
    rows: dict[str, dict[str, float | bool | None]] = {}
    for name, values in times.items():
        stats: dict[str, float | bool | None] = dict(percentiles(ms(values)))
        stats["added_p50"] = stats["p50"] - base["p50"]  # type: ignore[operator]
        for key in ("p50", "p90", "p99"):
            stats[f"ratio_{key}"] = stats[key] / base[key]  # type: ignore[operator]
        budget = BUDGET_MS.get(name)
        stats["budget_ms"] = budget
        stats["within_budget"] = None if budget is None else stats["added_p50"] <= budget  # type: ignore[operator]
        rows[name] = stats
    return rows


def show(report: Report, dialect: str, rows: dict[str, dict[str, float | bool | None]]) -> None:
    columns = ["target", "p50 ms", "p90 ms", "p99 ms", "added p50", "× direct p50", "p99 ×"]
    table = []
    for name, s in rows.items():
        added = None if name == "direct" else s["added_p50"]
        verdict = ""
        if s["within_budget"] is not None:
            verdict = " ✓" if s["within_budget"] else f" ✗ (budget {s['budget_ms']:.0f})"
        table.append(
            [
                name,
                s["p50"],
                s["p90"],
                s["p99"],
                None if added is None else f"{added:.2f}{verdict}",
                f"{s['ratio_p50']:.2f}",
                f"{s['ratio_p99']:.2f}",
            ]
        )
    report.table(f"{dialect}: {report.parameters['rounds']} interleaved rounds", columns, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
