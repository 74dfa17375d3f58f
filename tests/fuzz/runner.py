"""Run one fuzz case against the stack, judge it, and keep the tally for the final table.

Every case starts on a gateway that is alive and undamaged (a case that left the previous
one dead, over its memory budget, with `/metrics` failing or losing other clients' records
gets it replaced first), so each case is judged on its own and a failing example replays
the same way: what hypothesis shrinks and prints, and what the regression corpus pins.

Two modes. The default, a survey: violations are tallied, never raised, so that every
surface runs its full count of cases; at the end each surface's test fails listing every
kind of violation with the smallest request that showed it. With `AZT_FUZZ_SHRINK=1` the
first violation of a case is raised instead, and hypothesis shrinks it to a minimal
example and prints it (one per kind of violation).
"""

import itertools
import os
import ssl
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from fuzz import wire
from fuzz.oracle import (
    GatewayDied,
    LoggedError,
    MemoryBudget,
    MetricsBroken,
    OthersHurt,
    Verdict,
    Violation,
    judge,
)
from fuzz.stack import RSS_BUDGET_MB, Stack, log_problems

# Seconds a request may take, client side. The simulator answers at once and sends events
# without pauses, so a healthy gateway answers any case in well under a second.
TIMEOUT = float(os.environ.get("AZT_FUZZ_TIMEOUT", "5"))
_SHOWN = 400  # bytes of a request shown in full when printing a case


@dataclass(frozen=True)
class Case:
    """One request on the wire, exactly as sent."""

    surface: str  # the table row: a route name, or the kind of raw input
    data: bytes
    listener: Literal["reverse", "proxy"] = "reverse"
    tunnel: str | None = None  # CONNECT to this host:port on the proxy listener, then TLS
    well_formed: bool = True  # a valid HTTP/1.1 message: it must be answered
    passthrough: bool = False  # for a host azt does not intercept (the sink)
    half_close: bool = False  # shut our side after sending (a body promised but not sent)
    all_replies: bool = False  # read replies until the gateway closes (pipelining)
    note: str = ""  # how the case was made, for the reader

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How hypothesis prints a falsifying case: as `repr`, long bodies cut short."""
        printer.text(repr(self))

    def __repr__(self) -> str:
        data = self.data
        if len(data) <= _SHOWN:
            shown = repr(data)
        else:  # the head in full (up to a point), the body by its size
            head, _, body = data.partition(b"\r\n\r\n")
            shown = f"{head[:_SHOWN] + b'\r\n\r\n'!r} + <{len(body)} body bytes>"
            if len(head) > _SHOWN:
                shown = f"{head[:_SHOWN]!r} + <{len(data) - _SHOWN} more bytes>"
        extras = [
            f"{name}={getattr(self, name)!r}"
            for name in ("listener", "tunnel", "well_formed", "passthrough", "half_close")
            if getattr(self, name) != Case.__dataclass_fields__[name].default
        ]
        note = f", note={self.note!r}" if self.note else ""
        return f"Case({self.surface!r}, {shown}{''.join(', ' + e for e in extras)}{note})"


@dataclass
class Seen:
    count: int = 0
    smallest: Case | None = None
    detail: str = ""


@dataclass
class Tally:
    cases: int = 0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    azt_5xx: Counter[str] = field(default_factory=Counter)
    relayed_5xx: Counter[str] = field(default_factory=Counter)
    non_json_errors: Counter[str] = field(default_factory=Counter)
    by_surface: Counter[str] = field(default_factory=Counter)
    by_family: Counter[str] = field(default_factory=Counter)
    violations: dict[str, dict[str, Seen]] = field(default_factory=dict)  # family -> kind
    relayed: dict[str, Seen] = field(default_factory=dict)  # surface -> a relayed 5xx
    restarts: int = 0
    peak_rss_mb: float = 0.0

    def add(self, family: str, case: Case, verdict: Verdict) -> None:
        self.cases += 1
        self.by_surface[case.surface] += 1
        self.by_family[family] += 1
        for status in verdict.statuses:
            self.statuses[(case.surface, status)] += 1
        self.azt_5xx[case.surface] += verdict.azt_5xx
        self.relayed_5xx[case.surface] += verdict.relayed_5xx
        self.non_json_errors[case.surface] += verdict.non_json_errors
        for detail in verdict.relayed:
            self._keep(self.relayed.setdefault(case.surface, Seen()), case, detail)
        kinds = self.violations.setdefault(family, {})
        for violation in verdict.violations:
            self._keep(kinds.setdefault(violation.kind, Seen()), case, violation.detail)

    @staticmethod
    def _keep(seen: Seen, case: Case, detail: str) -> None:
        seen.count += 1
        if seen.smallest is None or len(case.data) < len(seen.smallest.data):
            seen.smallest, seen.detail = case, detail

    def report(self, family: str) -> str:
        """Each kind of violation in `family`, with its smallest example."""
        lines = []
        for kind, seen in sorted(self.violations.get(family, {}).items()):
            lines.append(f"{kind}: {seen.count} of {self.by_family[family]} cases")
            lines.append(f"  smallest: {seen.smallest!r}")
            lines.append(f"  saw: {seen.detail[:400]}")
        return "\n".join(lines)


TALLY = Tally()
SHRINK = os.environ.get("AZT_FUZZ_SHRINK", "") not in ("", "0")


class Runner:
    """Sends cases to the stack's current gateway and judges what happened."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._canaries = itertools.count(1)
        self._generation = -1
        self._http: httpx.Client | None = None
        self._tls: ssl.SSLContext | None = None

    def _fresh(self) -> None:
        self.stack.ensure_fresh()
        TALLY.restarts = self.stack.restarts
        if self._generation != self.stack.generation:
            if self._http is not None:
                self._http.close()
            gateway = self.stack.gateway
            self._http = httpx.Client(base_url=gateway.base_url, timeout=TIMEOUT)
            self._tls = gateway.tls_context()
            self._generation = self.stack.generation

    @property
    def http(self) -> httpx.Client:
        self._fresh()
        assert self._http is not None
        return self._http

    def send(self, case: Case) -> wire.Exchange:
        gateway = self.stack.gateway
        address = gateway.reverse if case.listener == "reverse" else gateway.proxy
        return wire.send(
            address,
            case.data.replace(b"SINKPORT", str(self.stack.sink.port).encode()),
            timeout=TIMEOUT,
            all_replies=case.all_replies,
            half_close=case.half_close,
            tunnel=case.tunnel,
            tls=self._tls,
        )

    def run(self, case: Case, family: str = "corpus") -> list[Violation]:
        """Send `case`, judge it and its aftermath, tally; raise in shrink mode."""
        self._fresh()
        mark = self.stack.gateway.log_size()
        self.stack.gateway.reset_peak()
        exchange = self.send(case)
        head = case.data.split(b" ", 1)[0] == b"HEAD"
        verdict = judge(
            exchange, well_formed=case.well_formed, passthrough=case.passthrough, head=head
        )
        verdict.violations.extend(self.aftermath(mark))
        TALLY.add(family, case, verdict)
        if SHRINK and verdict.violations:
            raise verdict.violations[0]
        return verdict.violations

    def aftermath(self, mark: int) -> list[Violation]:
        """The gateway after a case: alive, within budget, serving others, recording."""
        gateway = self.stack.gateway
        found: list[Violation] = []
        if gateway.alive():
            found.extend(self._others_served())
            peak = gateway.peak_rss_mb()  # since reset_peak, just before the case
            TALLY.peak_rss_mb = max(TALLY.peak_rss_mb, peak)
            if peak > RSS_BUDGET_MB:
                found.append(MemoryBudget(f"peak RSS {peak:.0f} MB during the case"))
        if not gateway.alive():
            why = f"exit status {gateway.popen.poll()}"
            if gateway.killed_for_memory is not None:
                why = f"killed by the watchdog at {gateway.killed_for_memory:.0f} MB RSS"
                TALLY.peak_rss_mb = max(TALLY.peak_rss_mb, gateway.killed_for_memory)
            found.append(GatewayDied(why))
        problems = log_problems(gateway.log_since(mark))
        if problems:
            found.append(LoggedError(" | ".join(problems[:4])[:600]))
        damaging = (GatewayDied, MemoryBudget, OthersHurt, MetricsBroken)
        if any(isinstance(v, damaging) for v in found):
            self.stack.damaged = ", ".join(v.kind for v in found)
        return found

    def _others_served(self) -> list[Violation]:
        """Another client's valid request right after the case: served, and recorded."""
        assert self._http is not None
        http, n = self._http, next(self._canaries)
        found: list[Violation] = []
        try:
            reply = http.post(
                "/v1/chat/completions",
                json={
                    "model": "gpt-5.4",
                    "messages": [{"role": "user", "content": "Reply with OK"}],
                },
                headers={"user-agent": f"curl/canary-{n}"},
            )
            if reply.status_code != 200:
                found.append(OthersHurt(f"a valid chat answered {reply.status_code}"))
            # The admin API answers once every record so far is committed (or lost).
            listed = http.get("/_gateway/admin/requests", params={"source": "curl", "limit": 5})
            versions = [r.get("source_version") for r in listed.json().get("data", [])]
            if listed.status_code != 200 or f"canary-{n}" not in versions:
                found.append(
                    OthersHurt(f"the valid chat's record is missing ({listed.status_code})")
                )
            metrics = http.get("/metrics")
            if metrics.status_code != 200:
                found.append(MetricsBroken(f"/metrics answered {metrics.status_code}"))
        except (httpx.HTTPError, ValueError) as e:
            found.append(OthersHurt(f"{type(e).__name__}: {e}"))
        return found

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
