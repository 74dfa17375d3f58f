"""Statistics and output: every benchmark prints tables and writes one JSON file."""

import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness import machine

RESULTS = Path(__file__).resolve().parent / "results"


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99 of `values` (inclusive method: small samples stay within their range)."""
    if len(values) < 2:
        only = values[0] if values else float("nan")
        return {"p50": only, "p90": only, "p99": only}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": statistics.median(values), "p90": cuts[89], "p99": cuts[98]}


def ms(seconds: Sequence[float]) -> list[float]:
    return [s * 1000 for s in seconds]


@dataclass
class Report:
    """One benchmark's output: tables on the terminal, the same numbers in JSON."""

    name: str
    title: str
    parameters: dict[str, Any]
    results: dict[str, Any] = field(default_factory=dict)
    console: Console = field(default_factory=lambda: Console(width=110))

    def __post_init__(self) -> None:
        self.started = time.time()
        self.console.rule(f"[bold]{self.title}")
        shown = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        self.console.print(f"[dim]{shown}[/dim]")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        table = Table(title=title, title_justify="left")
        for index, column in enumerate(columns):
            table.add_column(column, justify="left" if index == 0 else "right")
        for row in rows:
            table.add_row(*(_cell(value) for value in row))
        self.console.print(table)

    def note(self, text: str) -> None:
        self.console.print(text)

    def save(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        document = {
            "benchmark": self.name,
            "title": self.title,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "seconds": round(time.time() - self.started, 1),
            "machine": machine(),
            "parameters": self.parameters,
            "results": self.results,
        }
        path.write_text(json.dumps(document, indent=2) + "\n")
        self.console.print(f"[dim]wrote {path.relative_to(RESULTS.parent.parent)}[/dim]")
        return path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "—" if value is None else str(value)
