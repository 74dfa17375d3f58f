"""`azt usage`: totals, a breakdown and a 30-day trend of the requests the gateway served.

Everything comes from the daily rollups via `usage_summary`, the same summary the gateway
serves at `/_gateway/admin/usage`, so this command and the admin API always agree.
"""

import csv
import io
import sqlite3
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from azt.cli.common import print_json
from azt.cli.logs import (
    DASH,
    format_count,
    format_ms,
    format_usd,
    reading_database,
    render,
    short_key,
)
from azt.config import database_path
from azt.records.periods import parse_since
from azt.records.rollup import BUCKET_BOUNDS_MS, Aggregate
from azt.records.sources import label_of
from azt.records.summary import TREND_DAYS, usage_summary
from azt.store.accounts import AccountStore
from azt.store.requests import RequestStore

# --by choices to the summary's breakdown names.
DIMENSIONS = {
    "model": "model",
    "account": "account",
    "source": "source",
    "endpoint": "endpoint",
    "error": "error",
    "image-route": "image_route",
}

# The counters of a breakdown row, in CSV column order: the summary row's, bar the buckets.
CSV_COUNTERS = tuple(name for name in Aggregate().as_json() if name != "duration_buckets")

TREND_BAR_WIDTH = 24

Row = dict[str, Any]  # a total or breakdown row of the summary (Aggregate.as_json shape)
Show = Callable[[Row], str]

# click >= 8.4 types a parameter by the value it converts to; older click cannot subscript it.
if TYPE_CHECKING:
    _DayParam = click.ParamType[date]
else:
    _DayParam = click.ParamType


class PeriodType(_DayParam):
    """The first day of a period: `7d` (today and the six days before), `24h`, or a date.

    The same reading as the admin API's `?since=`, so both report the same numbers.
    """

    name = "period"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return parse_since(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


def account_emails(conn: sqlite3.Connection) -> dict[str, str]:
    """Account key to email, for the accounts that have one."""
    return {a.key: a.email for a in AccountStore(conn).list() if a.email}


def exact_usd(micro_usd: int) -> str:
    """Micro-USD as an exact decimal string ('12.345678'), free of float rounding."""
    return f"{micro_usd // 1_000_000}.{micro_usd % 1_000_000:06d}"


def cost_cell(row: Row) -> str:
    """The equivalent API cost, or '—' when none of the requests could be priced."""
    unknowable = row["unpriced"] + row["usage_unknown"] >= row["requests"]
    if row["cost_micro_usd"] == 0 and unknowable:
        return DASH
    return format_usd(row["cost_micro_usd"])


def p95_cell(p95_ms: int | None) -> str:
    # The summary reads p95 from duration buckets: it is the bucket's upper bound.
    if p95_ms is None:
        return DASH
    if p95_ms == -1:  # beyond the largest bucket
        return f">{format_ms(BUCKET_BOUNDS_MS[-1])}"
    return f"≤{format_ms(p95_ms)}"


def _with_emails(summary: dict[str, Any], emails: dict[str, str]) -> dict[str, Any]:
    """The summary with each account row naming its email too (null where unknown)."""
    rows = [{**row, "email": emails.get(row["key"])} for row in summary["by_account"]]
    return {**summary, "by_account": rows}


def breakdown_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", *CSV_COUNTERS])
    for row in rows:
        values = {**row, "cost_usd": exact_usd(row["cost_micro_usd"])}
        writer.writerow(
            [row["key"], *("" if values[c] is None else values[c] for c in CSV_COUNTERS)]
        )
    return out.getvalue()


def _named(rows: list[Row], emails: dict[str, str]) -> list[Row]:
    """Rows with account keys replaced by emails where known."""
    return [{**row, "key": emails.get(row["key"], row["key"])} for row in rows]


# --- tables ------------------------------------------------------------------------------

# (label, how to show a total) for each line of the totals table.
_TOTAL_LINES: tuple[tuple[str, Show], ...] = (
    ("requests", lambda t: format_count(t["requests"])),
    ("ok", lambda t: format_count(t["successes"])),
    ("failed", lambda t: format_count(t["failures"])),
    ("failovers", lambda t: format_count(t["failovers"])),
    ("no usage reported", lambda t: format_count(t["usage_unknown"])),
    ("input tokens", lambda t: format_count(t["input_tokens"])),
    ("  cached", lambda t: format_count(t["cached_tokens"])),
    ("output tokens", lambda t: format_count(t["output_tokens"])),
    ("  reasoning", lambda t: format_count(t["reasoning_tokens"])),
    ("total tokens", lambda t: format_count(t["total_tokens"])),
    ("images", lambda t: format_count(t["images"])),
    ("equivalent API cost", cost_cell),
    ("average duration", lambda t: format_ms(t["average_duration_ms"])),
    ("p95 duration", lambda t: p95_cell(t["p95_duration_ms"])),
)


def totals_table(summary: dict[str, Any]) -> Table:
    periods = [("today", summary["today_totals"])]
    if summary["period"] is not None:
        periods.append((f"since {summary['since']}", summary["period"]))
    periods.append(("lifetime", summary["lifetime"]))
    table = Table(title="Totals", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column("")
    for name, _ in periods:
        table.add_column(name, justify="right")
    for label, show in _TOTAL_LINES:
        table.add_row(label, *(show(totals) for _, totals in periods))
    return table


# (header, how to show a row, summary counter that may hide the column when zero everywhere).
_BREAKDOWN_COLUMNS: tuple[tuple[str, Show, str | None], ...] = (
    ("requests", lambda r: format_count(r["requests"]), None),
    ("ok", lambda r: format_count(r["successes"]), None),
    ("failed", lambda r: format_count(r["failures"]), None),
    ("failovers", lambda r: format_count(r["failovers"]), "failovers"),
    ("no usage", lambda r: format_count(r["usage_unknown"]), "usage_unknown"),
    ("input", lambda r: format_count(r["input_tokens"]), None),
    ("cached", lambda r: format_count(r["cached_tokens"]), "cached_tokens"),
    ("output", lambda r: format_count(r["output_tokens"]), None),
    ("reasoning", lambda r: format_count(r["reasoning_tokens"]), "reasoning_tokens"),
    ("total", lambda r: format_count(r["total_tokens"]), None),
    ("images", lambda r: format_count(r["images"]), "images"),
    ("cost", cost_cell, None),
    ("avg", lambda r: format_ms(r["average_duration_ms"]), None),
    ("p95", lambda r: p95_cell(r["p95_duration_ms"]), None),
)


def breakdown_table(dimension: str, rows: list[Row], title: str) -> Table:
    # Optional columns that are zero in every row only take room (images for text-only use).
    shown = [
        (header, show)
        for header, show, counter in _BREAKDOWN_COLUMNS
        if counter is None or any(row[counter] for row in rows)
    ]
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(dimension.replace("_", " "), overflow="fold")
    for header, _ in shown:
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        table.add_row(_key_cell(dimension, row["key"]), *(show(row) for _, show in shown))
    return table


def _key_cell(dimension: str, key: str) -> str:
    if dimension == "account":
        return short_key(key, 28)  # whole keys are in --csv and --json
    if dimension == "source":
        return label_of(key)
    return key


def trend_table(daily: list[Row]) -> Table | None:
    """The days with requests among the last 30, oldest first, with a bar for the count."""
    active = [day for day in reversed(daily) if day["requests"]]
    if not active:
        return None
    busiest = max(day["requests"] for day in active)
    table = Table(
        title=f"Last {TREND_DAYS} days", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False
    )
    for header in ("date", "requests", "failed", "tokens", "cost"):
        table.add_column(header, justify="left" if header == "date" else "right")
    table.add_column("")
    for day in active:
        bar = "█" * max(1, round(TREND_BAR_WIDTH * day["requests"] / busiest))
        table.add_row(
            day["date"],
            format_count(day["requests"]),
            format_count(day["failures"]),
            format_count(day["total_tokens"]),
            cost_cell(day),
            Text(bar, style="cyan"),
        )
    return table


def unpriced_note(model_rows: list[Row]) -> str | None:
    """Which models had usage but no price, and how to price them."""
    missing = [row for row in model_rows if row["unpriced"]]
    if not missing:
        return None
    names = ", ".join(f"{row['key']} ({_requests(row['unpriced'])})" for row in missing)
    return (
        f"\nNo price for {names}: the cost leaves them out.\n"
        'To count them, add [prices."MODEL"] with input, cached_input and output to config.toml.'
    )


def _requests(count: int) -> str:
    return f"{count} request{'' if count == 1 else 's'}"


def print_tables(summary: dict[str, Any], dimension: str, emails: dict[str, str]) -> None:
    if summary["lifetime"]["requests"] == 0:
        click.echo(
            "No requests recorded yet: usage appears here once the gateway (`azt start`) "
            "has served requests."
        )
        return
    period = f"since {summary['since']}" if summary["since"] else "lifetime"
    rows = summary[f"by_{dimension}"]
    if dimension == "account":
        rows = _named(rows, emails)
    parts: list[Any] = [totals_table(summary)]
    if rows:
        parts.append(breakdown_table(dimension, rows, f"By {dimension} ({period})"))
    else:
        parts.append(Text(f"No requests {period}.\n"))
    trend = trend_table(summary["daily"])
    parts.append(
        trend if trend is not None else Text(f"No requests in the last {TREND_DAYS} days.")
    )
    spaced = [item for part in parts for item in (part, Text(""))][:-1]
    click.echo(render(*spaced), nl=False)
    note = unpriced_note(summary["by_model"])
    if note:
        click.echo(note)


@click.command(short_help="Show requests, tokens and equivalent API cost.")
@click.option(
    "--since",
    type=PeriodType(),
    metavar="PERIOD",
    help="Also total, and break down, whole days: 7d (today and the 6 before), 24h or a date.",
)
@click.option(
    "--by",
    "by",
    type=click.Choice(list(DIMENSIONS)),
    default="model",
    show_default=True,
    help="What the breakdown is cut by.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole summary as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the breakdown as CSV.")
@click.option("--emails", is_flag=True, help="Name accounts by email instead of key.")
def usage(since: date | None, by: str, as_json: bool, as_csv: bool, emails: bool) -> None:
    """Show request counts, tokens and equivalent API cost: today, lifetime and a breakdown.

    The cost is what the same tokens would have cost on the metered OpenAI API (prices in
    config.toml under [prices."MODEL"]); requests without reported usage or without a price
    are counted but never guessed at. Days are local days, and periods are whole days: 7d is
    today and the six days before, 24h starts at midnight of the day 24 hours ago.

    \b
    Examples:
      azt usage --since 7d --by account --emails
      azt usage --by source --csv > usage.csv
      azt usage --json | jq .lifetime.cost_usd
    """
    if as_json and as_csv:
        raise click.UsageError("--json and --csv cannot be used together")
    dimension = DIMENSIONS[by]
    with reading_database() as conn:
        summary = usage_summary(RequestStore(conn), since=since, database=database_path(), top=None)
        known_emails = account_emails(conn) if emails else {}
    if as_json:
        print_json(_with_emails(summary, known_emails) if emails else summary)
    elif as_csv:
        rows = summary[f"by_{dimension}"]
        named = _named(rows, known_emails) if dimension == "account" else rows
        click.echo(breakdown_csv(named), nl=False)
    else:
        print_tables(summary, dimension, known_emails)


COMMANDS = [usage]
