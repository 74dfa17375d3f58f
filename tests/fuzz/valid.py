"""After fuzzing: the gateway as the cases left it still serves valid requests on every
route, answers `/metrics` and the usage summary, and records every request it served."""

import json
import re
import sqlite3
from collections import defaultdict

from azt.metrics import MAX_LABEL_VALUES
from fuzz import wire
from fuzz.oracle import judge
from fuzz.runner import TIMEOUT, Runner
from fuzz.seeds import SEEDS, encode_json, http_request, seed_request
from fuzz.stack import Gateway

_UNRECORDED = {"admin.usage", "admin.requests", "admin.metrics"}
# Client-controlled keys (model names, unmatched paths, source names) are capped: 100
# distinct values per label, the rest counted as `other` (docs/usage.md). Daily rollups
# must be bounded the same way, or any client can grow the database and every summary
# without limit.
MAX_KEYS = MAX_LABEL_VALUES + 1
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def _get(gateway: Gateway, target: bytes) -> wire.Exchange:
    return wire.send(gateway.reverse, http_request(b"GET", target), timeout=TIMEOUT)


def _last_seq(gateway: Gateway) -> int | None:
    reply = _get(gateway, b"/_gateway/admin/requests?limit=1").first
    if reply is None or reply.status != 200:
        return None
    seq: int = json.loads(reply.body)["last_seq"]
    return seq


def still_serves(runner: Runner) -> list[str]:
    """What the current gateway fails to do of what a healthy one does; [] when healthy.

    It checks the gateway as it is, without replacing a damaged one first.
    """
    gateway = runner.stack.gateway
    if not gateway.alive():
        return [f"the gateway is not running (exit status {gateway.popen.poll()})"]
    problems: list[str] = []
    before = _last_seq(gateway)
    if before is None:
        problems.append("/_gateway/admin/requests does not answer 200")
    recorded = 0
    for seed in SEEDS:
        if seed.route == "images.cached":
            continue  # needs an image made first, below
        exchange = wire.send(gateway.reverse, seed_request(seed), timeout=TIMEOUT)
        verdict = judge(exchange, well_formed=True)
        reply = exchange.first
        status = reply.status if reply is not None else None
        if status != 200 or verdict.violations:
            why = "; ".join(str(v) for v in verdict.violations) or f"status {status}"
            problems.append(f"{seed.route} {seed.note}: {why}"[:400])
        if seed.route not in _UNRECORDED:
            recorded += 1
    problems.extend(_cached_image(gateway))
    recorded += 2
    for target in (b"/metrics", b"/_gateway/admin/usage"):
        reply = _get(gateway, target).first
        if reply is None or reply.status != 200:
            problems.append(f"{target.decode()} answers {reply.status if reply else 'nothing'}")
    after = _last_seq(gateway)
    if before is not None and after is not None and after - before != recorded:
        problems.append(f"{recorded} requests served, {after - before} records written")
    return problems + bounded_keys(gateway)


def bounded_keys(gateway: Gateway) -> list[str]:
    """Label values in /metrics and keys in the daily rollups, per label or dimension, are
    at most `MAX_KEYS` however many distinct values clients sent."""
    problems = []
    _last_seq(gateway)  # the admin API answers once every record so far is committed
    reply = _get(gateway, b"/metrics").first
    if reply is not None and reply.status == 200:
        values: dict[tuple[str, str], set[str]] = defaultdict(set)
        for line in reply.body.decode(errors="replace").splitlines():
            if line.startswith("#") or "{" not in line:
                continue
            name = line.split("{", 1)[0]
            for label, value in _LABEL.findall(line):
                values[(name, label)].add(value)
        for (name, label), seen in sorted(values.items()):
            if len(seen) > MAX_KEYS:
                problems.append(f"/metrics {name} has {len(seen)} values of `{label}`")
    database = sqlite3.connect(f"file:{gateway.home / 'azt.db'}?mode=ro", uri=True)
    try:
        rows = database.execute(
            "SELECT day, dimension, COUNT(*) FROM usage_rollup GROUP BY day, dimension"
        ).fetchall()
    finally:
        database.close()
    for day, dimension, keys in rows:
        if keys > MAX_KEYS:
            problems.append(f"usage_rollup has {keys} `{dimension}` keys on {day}")
    return problems


def _cached_image(gateway: Gateway) -> list[str]:
    body = encode_json({"model": "gpt-image-1", "prompt": "Draw a fox", "response_format": "url"})
    made = wire.send(
        gateway.reverse,
        http_request(
            b"POST", b"/v1/images/generations", [(b"Content-Type", b"application/json")], body
        ),
        timeout=TIMEOUT,
    ).first
    if made is None or made.status != 200:
        return [f"an image with response_format url: {made.status if made else 'no reply'}"]
    url = json.loads(made.body)["data"][0]["url"]
    path = "/" + url.split("/", 3)[3]
    fetched = _get(gateway, path.encode()).first
    if fetched is None or fetched.status != 200 or not fetched.body.startswith(b"\x89PNG"):
        return [f"GET {path}: {fetched.status if fetched else 'no reply'}"]
    return []
