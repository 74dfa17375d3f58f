"""Load and crash: many held streams without an error, then a kill -9 in the middle of
traffic, a restart on the same AZT_HOME, and every committed request record still there.

`azt sim` and `azt start` run as processes (benchmarks/harness.py), on loopback.

1. Hold: `--streams` chat completions stream at once, each for about `--hold` seconds (the
   simulator sends one event per `--delay` seconds). Every stream must answer 200 and end
   with `[DONE]` and no error chunk; then the request log and the daily rollups must count
   exactly the streams that completed.
2. The request log under load: `--load-clients` clients ask for the model list as fast as
   they can for `--load-seconds`, while the request log is read again and again; every read
   must answer within `POLL_TIMEOUT` (the crash phase relies on such reads).
3. Crash: `--clients` clients send short requests in a loop (a Codex compaction through
   the pool, the model list), each tagged with its own `User-Agent: curl/crash-N`, while
   `--open` chat streams are open and a poller reads the request log (the admin API
   answers once what was recorded so far is committed; each read must answer within
   `POLL_TIMEOUT`). After `--traffic` seconds the gateway gets SIGKILL. It is started again
   on the same home, and then: `PRAGMA integrity_check` is `ok`; every record the poller
   saw committed is there; every request a client saw complete more than `LINGER` seconds
   before the kill is there (the writer commits within a quarter second of a request
   ending, docs/architecture.md); the rollups still agree with the raw records and the
   usage summary; the restarted gateway serves.

    python benchmarks/crash.py [--streams 1000] [--hold 60] [--clients 64] [--traffic 8]

Exits 1 when a check fails. Prints its figures and writes benchmarks/results/crash.json.
"""

import argparse
import asyncio
import contextlib
import json
import signal
import sqlite3
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from azt.tasks import spawn
from bench_open_streams import STREAMS_PER_CLIENT, prompt_for, sample_rss
from harness import UNLIMITED, Gateway, Stack
from load import chat_body, codex_body
from report import Report

LINGER = 0.25 + 0.25  # the writer's linger, plus a margin for a loaded machine
POLL_TIMEOUT = 5.0  # seconds a read of the request log may take during traffic
CHAT = "/v1/chat/completions"
COMPACT = "/codex/v1/responses/compact"


@dataclass
class Held:
    """One held stream's outcome."""

    error: str | None
    seconds: float


async def hold_one(http: httpx.AsyncClient, url: str, body: dict[str, object]) -> Held:
    started = time.monotonic()
    try:
        async with http.stream("POST", url, json=body) as response:
            if response.status_code != 200:
                return Held(f"HTTP {response.status_code}", time.monotonic() - started)
            seen = b""
            async for chunk in response.aiter_raw():
                seen = (seen + chunk)[-4096:]
                if b'"error"' in chunk:
                    return Held("error chunk", time.monotonic() - started)
    except httpx.HTTPError as e:
        return Held(type(e).__name__, time.monotonic() - started)
    ok = seen.rstrip().endswith(b"data: [DONE]")
    return Held(None if ok else "no [DONE]", time.monotonic() - started)


def database_counts(home: Path) -> dict[str, int]:
    db = sqlite3.connect(home / "azt.db")
    try:
        (raw,) = db.execute("SELECT COUNT(*) FROM requests").fetchone()
        (rolled,) = db.execute(
            "SELECT COALESCE(SUM(requests), 0) FROM usage_rollup WHERE dimension = 'all'"
        ).fetchone()
        (chats,) = db.execute(
            "SELECT COUNT(*) FROM requests WHERE endpoint = 'chat.completions' AND status = 200"
        ).fetchone()
    finally:
        db.close()
    return {"records": raw, "rollup_requests": rolled, "chat_200_records": chats}


def integrity(home: Path) -> str:
    db = sqlite3.connect(home / "azt.db")
    try:
        rows = db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()
    return "; ".join(str(row[0]) for row in rows)


def recorded_versions(home: Path) -> set[str]:
    db = sqlite3.connect(home / "azt.db")
    try:
        rows = db.execute("SELECT source_version FROM requests WHERE source = 'curl'").fetchall()
    finally:
        db.close()
    return {row[0] for row in rows if row[0]}


def flush(gateway: Gateway) -> None:
    """Wait until everything the gateway recorded so far is committed."""
    httpx.get(f"{gateway.base_url}/_gateway/admin/requests?limit=1", timeout=60).raise_for_status()


async def hold_phase(
    gateway: Gateway, streams: int, hold: float, delay: float, ramp: float
) -> dict[str, object]:
    url = f"{gateway.base_url}{CHAT}"
    # A little longer than `hold`: the first and last events do not count as a full delay.
    body = chat_body(stream=True, prompt=prompt_for(hold + 3 * delay, delay))
    clients = [
        httpx.AsyncClient(timeout=hold * 4, limits=httpx.Limits(max_connections=None))
        for _ in range(-(-streams // STREAMS_PER_CLIENT))
    ]
    assert gateway.home is not None
    home = gateway.home
    samples: list[float] = []
    stop = asyncio.Event()
    sampler = spawn(sample_rss(gateway.process, samples, stop), name="rss sampler")
    before = await asyncio.to_thread(database_counts, home)
    started = time.monotonic()
    try:
        tasks = []
        for n in range(streams):
            http = clients[n // STREAMS_PER_CLIENT]
            tasks.append(spawn(hold_one(http, url, body), name=f"stream {n}"))
            await asyncio.sleep(ramp / streams)
        outcomes = await asyncio.gather(*tasks)
    finally:
        stop.set()
        await sampler
        for http in clients:
            await http.aclose()
    elapsed = time.monotonic() - started
    await asyncio.to_thread(flush, gateway)
    after = await asyncio.to_thread(database_counts, home)
    errors: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.error:
            errors[outcome.error] = errors.get(outcome.error, 0) + 1
    completed = sum(1 for o in outcomes if o.error is None)
    durations = [o.seconds for o in outcomes if o.error is None]
    return {
        "streams": streams,
        "hold_s": hold,
        "completed": completed,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": elapsed,
        "stream_seconds_min": min(durations, default=0.0),
        "stream_seconds_median": statistics.median(durations) if durations else 0.0,
        "stream_seconds_max": max(durations, default=0.0),
        "records_added": after["chat_200_records"] - before["chat_200_records"],
        "rollup_added": after["rollup_requests"] - before["rollup_requests"],
        "peak_rss_mb": max(samples, default=0.0),
        "gateway_cpu_s": gateway.process.cpu_seconds(),
    }


async def log_under_load(gateway: Gateway, clients: int, seconds: float) -> dict[str, object]:
    """Reads of the request log, one after another, while `clients` ask for the model list
    as fast as they can: each read must answer within `POLL_TIMEOUT`."""
    stop = asyncio.Event()
    served = 0

    async def hammer(http: httpx.AsyncClient) -> None:
        nonlocal served
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"{gateway.base_url}/v1/models")).status_code == 200:
                    served += 1

    reads: list[float] = []
    timeouts = 0
    failures: Counter[str] = Counter()  # why reads failed, by exception
    limits = httpx.Limits(max_connections=None)
    async with (
        httpx.AsyncClient(timeout=30, limits=limits) as http,
        httpx.AsyncClient(timeout=POLL_TIMEOUT) as admin,
    ):
        tasks = [spawn(hammer(http), name=f"load {n}") for n in range(clients)]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                reply = await admin.get(f"{gateway.base_url}/_gateway/admin/requests?limit=1")
                reply.raise_for_status()
                reads.append(time.monotonic() - started)
            except httpx.HTTPError as e:
                timeouts += 1
                failures[f"{type(e).__name__} after {time.monotonic() - started:.1f} s"] += 1
        stop.set()
        await asyncio.gather(*tasks)
    return {
        "clients": clients,
        "seconds": seconds,
        "requests_served": served,
        "reads_answered": len(reads),
        "reads_timed_out": timeouts,
        "read_failures": dict(failures),
        "read_median_s": statistics.median(reads) if reads else None,
        "read_max_s": max(reads, default=None),
    }


@dataclass
class Traffic:
    sent: int = 0
    completed: dict[str, float] = field(default_factory=dict)  # tag -> when it completed
    failed: list[float] = field(default_factory=list)  # when each failed request ended
    committed: set[str] = field(default_factory=set)  # tags the admin API listed
    polls: list[float] = field(default_factory=list)  # seconds each answered poll took
    poll_failures: int = 0  # polls that timed out or failed


async def client_loop(http: httpx.AsyncClient, base_url: str, me: int, traffic: Traffic) -> None:
    """Short requests in a loop: a Codex compaction through the pool (a unary reply, not
    paced by the simulator's event delay), then the model list the gateway answers itself."""
    for n in range(1_000_000):
        tag = f"crash-{me}-{n}"
        headers = {"user-agent": f"curl/{tag}"}
        traffic.sent += 1
        try:
            if n % 2 == 0:
                reply = await http.post(f"{base_url}{COMPACT}", json=codex_body(), headers=headers)
            else:
                reply = await http.get(f"{base_url}/v1/models", headers=headers)
            done = reply.status_code == 200
        except httpx.HTTPError:
            done = False
        if done:
            traffic.completed[tag] = time.monotonic()
        else:
            traffic.failed.append(time.monotonic())
            await asyncio.sleep(0.05)  # the gateway is gone; do not spin


async def poll_committed(http: httpx.AsyncClient, base_url: str, traffic: Traffic) -> None:
    """Read the request log as it grows: what it lists is committed (the admin API answers
    once every record so far is written)."""
    after = 0
    while True:
        started = time.monotonic()
        try:
            page = (
                await http.get(
                    f"{base_url}/_gateway/admin/requests",
                    params={"after_seq": after, "limit": 1000, "source": "curl"},
                    timeout=POLL_TIMEOUT,
                )
            ).json()
        except (httpx.HTTPError, ValueError):
            traffic.poll_failures += 1
            await asyncio.sleep(0.05)
            continue
        traffic.polls.append(time.monotonic() - started)
        for record in page["data"]:
            traffic.committed.add(record["source_version"])
            after = max(after, record["seq"])
        await asyncio.sleep(0.2)


async def crash_phase(
    stack: Stack, gateway: Gateway, clients: int, streams: int, seconds: float
) -> dict[str, object]:
    assert gateway.home is not None
    traffic = Traffic()
    url = f"{gateway.base_url}{CHAT}"
    limits = httpx.Limits(max_connections=None)
    async with (
        httpx.AsyncClient(timeout=10, limits=limits) as http,
        httpx.AsyncClient(timeout=10) as poller_http,
    ):
        tasks = [
            spawn(client_loop(http, gateway.base_url, n, traffic), name=f"client {n}")
            for n in range(clients)
        ]
        # Streams still running when the gateway dies: they are cut, never recorded as done.
        body = chat_body(stream=True)
        cut = [spawn(hold_one(http, url, body), name=f"open stream {n}") for n in range(streams)]
        poller = spawn(poll_committed(poller_http, gateway.base_url, traffic), name="poller")
        await asyncio.sleep(seconds)
        poller.cancel()
        killed_at = time.monotonic()
        gateway.process.popen.send_signal(signal.SIGKILL)
        await asyncio.to_thread(gateway.process.popen.wait)
        await asyncio.sleep(0.5)  # let the clients see the connections drop
        for task in tasks:
            task.cancel()
        for task in [*tasks, poller]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        streams_cut = sum(1 for held in await asyncio.gather(*cut) if held.error is not None)
    committed = set(traffic.committed)
    completed_early = {t for t, when in traffic.completed.items() if when < killed_at - LINGER}
    completed_late = {
        t for t, when in traffic.completed.items() if killed_at - LINGER <= when < killed_at
    }
    integrity_after_kill = integrity(gateway.home)

    restart_started = time.monotonic()
    restarted = stack.restart(gateway, "azt-restarted")
    restart_seconds = time.monotonic() - restart_started
    kept = recorded_versions(gateway.home)
    served = httpx.post(f"{restarted.base_url}{CHAT}", json=chat_body(), timeout=30)
    flush(restarted)
    counts = database_counts(gateway.home)
    usage = httpx.get(f"{restarted.base_url}/_gateway/admin/usage", timeout=30)
    lifetime = usage.json()["lifetime"]["requests"] if usage.status_code == 200 else None
    return {
        "clients": clients,
        "traffic_seconds": seconds,
        "requests_sent": traffic.sent,
        "completed_before_kill": len(traffic.completed),
        "completed_in_last_linger": len(completed_late),
        "failed_before_kill": sum(1 for when in traffic.failed if when < killed_at),
        "failed_at_the_kill": sum(1 for when in traffic.failed if when >= killed_at),
        "open_streams_cut": streams_cut,
        "request_log_reads_answered": len(traffic.polls),
        "request_log_reads_timed_out": traffic.poll_failures,
        "request_log_read_max_s": max(traffic.polls, default=None),
        "committed_seen_by_poller": len(committed),
        "records_kept": len(kept),
        "missing_committed": sorted(committed - kept)[:20],
        "missing_completed_before_linger": sorted(completed_early - kept)[:20],
        "lost_in_last_linger": len(completed_late - kept),
        "records_without_a_completed_reply": len(kept - set(traffic.completed)),
        "integrity_after_kill": integrity_after_kill,
        "integrity_after_restart": integrity(gateway.home),
        "restart_seconds": restart_seconds,
        "restarted_serves": served.status_code,
        "records_total": counts["records"],
        "rollup_total": counts["rollup_requests"],
        "usage_lifetime_requests": lifetime,
    }


def problems(hold: dict, log: dict, crash: dict) -> list[str]:
    found = []
    if log["reads_timed_out"] or not log["reads_answered"]:
        found.append(
            f"the request log did not answer under load: {log['reads_timed_out']} reads "
            f"failed ({log['read_failures']}), {log['reads_answered']} answered"
        )
    if hold["errors"] or hold["completed"] != hold["streams"]:
        found.append(f"{hold['errors']} of {hold['streams']} streams failed: {hold['error_kinds']}")
    if hold["completed"] and hold["stream_seconds_min"] < hold["hold_s"]:
        found.append(f"the shortest stream lasted {hold['stream_seconds_min']:.1f} s")
    if not hold["records_added"] == hold["rollup_added"] == hold["completed"]:
        found.append(
            f"{hold['completed']} streams completed, {hold['records_added']} records and "
            f"{hold['rollup_added']} rollup requests added"
        )
    if crash["failed_before_kill"]:
        found.append(f"{crash['failed_before_kill']} requests failed before the kill")
    for key in ("integrity_after_kill", "integrity_after_restart"):
        if crash[key] != "ok":
            found.append(f"{key}: {crash[key]}")
    if crash["missing_committed"]:
        found.append(f"committed records lost: {crash['missing_committed']}")
    if crash["missing_completed_before_linger"]:
        found.append(f"completed requests lost: {crash['missing_completed_before_linger']}")
    if crash["restarted_serves"] != 200:
        found.append(f"the restarted gateway answered {crash['restarted_serves']}")
    if not crash["records_total"] == crash["rollup_total"] == crash["usage_lifetime_requests"]:
        found.append(
            f"{crash['records_total']} records, {crash['rollup_total']} in the rollups, "
            f"{crash['usage_lifetime_requests']} in the usage summary"
        )
    if not crash["request_log_reads_answered"] or crash["request_log_reads_timed_out"]:
        found.append(
            f"the request log did not answer during traffic: "
            f"{crash['request_log_reads_timed_out']} reads timed out after {POLL_TIMEOUT:.0f} s, "
            f"{crash['request_log_reads_answered']} answered"
        )
    if crash["completed_before_kill"] == 0:
        found.append("no request completed before the kill: the crash tested nothing")
    return found


async def run(args: argparse.Namespace) -> int:
    parameters = vars(args) | {"linger_s": LINGER}
    report = Report("crash", "Held streams, then kill -9 and restart", parameters)
    with Stack() as stack:
        sim = stack.sim(event_delay=args.delay)
        gateway = stack.gateway(sim, **UNLIMITED)
        report.note(f"holding {args.streams} streams for {args.hold:.0f} s")
        hold = await hold_phase(gateway, args.streams, args.hold, args.delay, args.ramp)
        report.results["hold"] = hold
        report.note(f"reading the request log while {args.load_clients} clients load it")
        log = await log_under_load(gateway, args.load_clients, args.load_seconds)
        report.results["log_under_load"] = log
        report.note(f"traffic from {args.clients} clients, SIGKILL after {args.traffic:.0f} s")
        crash = await crash_phase(stack, gateway, args.clients, args.open, args.traffic)
        report.results["crash"] = crash
    report.table(
        "Held streams",
        [
            "streams",
            "completed",
            "errors",
            "stream s (min/median/max)",
            "records",
            "rollup",
            "peak RSS MB",
        ],
        [
            [
                hold["streams"],
                hold["completed"],
                hold["errors"],
                f"{hold['stream_seconds_min']:.1f} / {hold['stream_seconds_median']:.1f} / "
                f"{hold['stream_seconds_max']:.1f}",
                hold["records_added"],
                hold["rollup_added"],
                f"{hold['peak_rss_mb']:.0f}",
            ]
        ],
    )
    report.table(
        f"The request log under load (each read within {POLL_TIMEOUT:.0f} s)",
        ["clients", "seconds", "requests served", "reads", "timed out", "median s", "max s"],
        [
            [
                log["clients"],
                log["seconds"],
                log["requests_served"],
                log["reads_answered"],
                log["reads_timed_out"],
                log["read_median_s"],
                log["read_max_s"],
            ]
        ],
    )
    report.table(
        "kill -9 in the middle of traffic, restart on the same home",
        ["figure", "value"],
        [
            [key, json.dumps(value) if isinstance(value, list) else value]
            for key, value in crash.items()
        ],
    )
    found = problems(hold, log, crash)
    report.results["problems"] = found
    report.save()
    for problem in found:
        print(f"FAIL: {problem}", file=sys.stderr)
    if not found:
        print("crash: all checks passed")
    return 1 if found else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=60.0, help="seconds each stream lasts")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds between events")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds to open them all")
    parser.add_argument("--load-clients", type=int, default=16, help="clients loading the log")
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64, help="clients in the crash phase")
    parser.add_argument("--open", type=int, default=50, help="streams open at the kill")
    parser.add_argument("--traffic", type=float, default=8.0, help="seconds before the kill")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
