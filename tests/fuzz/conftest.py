"""The fuzz suite's stack (one per session), its size, and the table printed at the end.

`AZT_FUZZ` sets the size: `small` (the default, what `make test` runs), `full` (what
`make fuzz` runs: at least 10,000 cases), or a number of cases per family.
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuzz.oracle import KINDS
from fuzz.runner import TALLY, Runner
from fuzz.stack import RSS_BUDGET_MB, VOCABULARY, Stack

SIZES = {"small": 12, "full": 1200}


def examples_per_family() -> int:
    size = os.environ.get("AZT_FUZZ", "small") or "small"
    return SIZES[size] if size in SIZES else int(size)


def is_full() -> bool:
    return examples_per_family() > SIZES["small"]


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    if not VOCABULARY.exists():
        pytest.fail(f"{VOCABULARY} is missing: run `make test` (it installs the vocabulary)")
    built = Stack()
    try:
        yield built
    finally:
        built.close()


@pytest.fixture(scope="session")
def runner(stack: Stack) -> Iterator[Runner]:
    made = Runner(stack)
    try:
        yield made
    finally:
        made.close()


def _status_name(status: int) -> str:
    return {0: "none", -1: "hung"}.get(status, str(status))


def table() -> str:
    statuses = sorted({status for _, status in TALLY.statuses}, key=lambda s: (s <= 0, s))
    surfaces = sorted(TALLY.by_surface)
    columns = ["surface", *map(_status_name, statuses), "azt 5xx", "relayed 5xx", "non-JSON err"]
    rows = []
    for surface in surfaces:
        rows.append(
            [
                surface,
                *(str(TALLY.statuses.get((surface, s), "")) for s in statuses),
                str(TALLY.azt_5xx[surface]),
                str(TALLY.relayed_5xx[surface]),
                str(TALLY.non_json_errors[surface]),
            ]
        )
    rows.append(
        [
            "all",
            *(str(sum(n for (_, st), n in TALLY.statuses.items() if st == s)) for s in statuses),
            str(sum(TALLY.azt_5xx.values())),
            str(sum(TALLY.relayed_5xx.values())),
            str(sum(TALLY.non_json_errors.values())),
        ]
    )
    lines = [_format([columns, *rows])]
    families = sorted(TALLY.by_family)
    kinds = [k for k in KINDS if any(k in TALLY.violations.get(f, {}) for f in families)]
    if kinds:
        grid = [["family", "cases", *kinds]]
        for family in families:
            seen = TALLY.violations.get(family, {})
            cells = [str(seen[k].count) if k in seen else "" for k in kinds]
            grid.append([family, str(TALLY.by_family[family]), *cells])
        lines += ["", "Violations (cases) by family:", _format(grid)]
    for surface, seen in sorted(TALLY.relayed.items()):
        lines.append(f"relayed 5xx on {surface} ({seen.count}), e.g. {seen.detail[:160]}")
    lines.append(
        f"\n{TALLY.cases} cases; gateway restarted {TALLY.restarts} times after a damaging "
        f"case; peak gateway RSS {TALLY.peak_rss_mb:.0f} MB (budget {RSS_BUDGET_MB} MB during "
        "each case)"
    )
    return "\n".join(lines)


def _format(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.cases:
        return
    terminalreporter.section("azt fuzz: requests by status")
    terminalreporter.write_line(table())
    report = os.environ.get("AZT_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps(_as_json(), indent=2) + "\n")
        terminalreporter.write_line(f"report written to {report}")


def _as_json() -> dict[str, object]:
    return {
        "cases": TALLY.cases,
        "restarts": TALLY.restarts,
        "peak_rss_mb": TALLY.peak_rss_mb,
        "statuses": {f"{s} {_status_name(c)}": n for (s, c), n in sorted(TALLY.statuses.items())},
        "azt_5xx": dict(TALLY.azt_5xx),
        "relayed_5xx": dict(TALLY.relayed_5xx),
        "non_json_errors": dict(TALLY.non_json_errors),
        "relayed_examples": {
            surface: {"count": seen.count, "smallest": repr(seen.smallest), "saw": seen.detail}
            for surface, seen in TALLY.relayed.items()
        },
        "violations": {
            family: {
                kind: {"count": seen.count, "smallest": repr(seen.smallest), "saw": seen.detail}
                for kind, seen in kinds.items()
            }
            for family, kinds in TALLY.violations.items()
        },
    }
