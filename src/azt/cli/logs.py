"""`azt logs`: the request log, newest last like `tail`, and `--follow` to watch it grow.

The gateway writes records to the SQLite database (WAL); this command reads the same file, so
it works whether or not the gateway is running. Records hold metadata only.

Also home to what `azt usage` shares with it: number formats and rendering.
"""

import io
import json
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from azt.config import database_path
from azt.records.periods import parse_moment
from azt.records.record import RequestRecord
from azt.records.sources import LABELS, label_of
from azt.store.accounts import AccountStore
from azt.store.db import migrate, open_database
from azt.store.requests import RequestFilter, RequestStore

POLL_SECONDS = 0.5
PAGE_SIZE = 1000  # the most RequestStore.find returns at once
PIPE_WIDTH = 200  # piped output is not folded to a terminal's width
DASH = "—"

Batch = list[tuple[int, RequestRecord]]

# --- shared with `azt usage` -------------------------------------------------------------

# click >= 8.4 types a parameter by the value it converts to; older click cannot subscript it.
if TYPE_CHECKING:
    _MomentParam = click.ParamType[float]
else:
    _MomentParam = click.ParamType


class SinceType(_MomentParam):
    """A moment given as a duration back from now, or as a date or time."""

    name = "since"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_moment(str(value), time.time())
        except ValueError as e:
            self.fail(str(e), param, ctx)


SINCE = SinceType()


@contextmanager
def reading_database() -> Iterator[sqlite3.Connection]:
    """The database to read from; an empty in-memory one when none exists yet.

    Reading never creates the file: a fresh install has nothing to show, and the gateway
    creates the database when it first starts.
    """
    path = database_path()
    conn = open_database(path) if path.exists() else _empty_database()
    try:
        yield conn
    finally:
        conn.close()


def _empty_database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    migrate(conn)
    return conn


def output_width() -> int:
    """The terminal's width; piped or captured output is not folded to one."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else PIPE_WIDTH


def render(*renderables: RenderableType) -> str:
    """Rich output as text: colored on a terminal; plain, without trailing blanks, if piped."""
    terminal = sys.stdout.isatty()
    console = Console(
        file=io.StringIO(),
        width=output_width(),
        force_terminal=terminal,
        markup=False,  # model names and errors are data, not markup
        highlight=False,
        emoji=False,
    )
    for renderable in renderables:
        console.print(renderable)
    assert isinstance(console.file, io.StringIO)
    text = console.file.getvalue()
    if terminal:
        return text
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def format_count(value: int) -> str:
    """Exact below a million ('12,345'), compact above ('12.35M'), so columns stay narrow."""
    if value < 1_000_000:
        return f"{value:,}"
    if value < 1_000_000_000:
        return f"{value / 1_000_000:.2f}M"
    return f"{value / 1_000_000_000:.2f}B"


def format_usd(micro_usd: int | None) -> str:
    """'$12.34'; under a cent with four decimals ('$0.0042'); '—' when unknown."""
    if micro_usd is None:
        return DASH
    usd = micro_usd / 1_000_000
    if 0 < micro_usd < 10_000:
        return f"${usd:.4f}" if micro_usd >= 100 else "<$0.0001"
    return f"${usd:,.2f}"


def format_ms(ms: float | None) -> str:
    """'850ms', '12.3s', '2m05s'; '—' when unknown."""
    if ms is None:
        return DASH
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes}m{seconds:02d}s"


def short_key(key: str, width: int = 13) -> str:
    """An account key cut in the middle: both the workspace and the user part stay visible."""
    if len(key) <= width:
        return key
    half = (width - 1) // 2
    return f"{key[:half]}…{key[-(width - 1 - half) :]}"


# --- the log -----------------------------------------------------------------------------


def resolve_account(conn: sqlite3.Connection, ref: str) -> str:
    """The key for an email or position from `azt accounts list`; anything else as given.

    A key that no longer names an account still filters: its records outlive it.
    """
    account = AccountStore(conn).find(ref)
    return account.key if account is not None else ref


def resolve_source(ref: str) -> str:
    """A source name from its name or its display label ('Codex CLI' → 'codex-cli')."""
    for name, label in LABELS.items():
        if ref.lower() == label.lower():
            return name
    return ref


def tail(store: RequestStore, query: RequestFilter, limit: int) -> tuple[Batch, int]:
    """The last `limit` matching records, oldest first, and the seq to follow from.

    The seq is read first, so a record committed meanwhile is left to the follow loop and
    shown exactly once.
    """
    last_seq = store.last_seq()
    if limit == 0:
        return [], last_seq
    newest_first = store.find(replace(query, before_seq=last_seq + 1, limit=limit))
    return newest_first[::-1], last_seq


def records_after(store: RequestStore, query: RequestFilter, after_seq: int) -> Batch:
    """Every matching record newer than `after_seq`, oldest first, however many there are."""
    found: Batch = []
    before_seq: int | None = None
    while True:
        page = store.find(
            replace(query, after_seq=after_seq, before_seq=before_seq, limit=PAGE_SIZE)
        )
        found.extend(page)
        if len(page) < PAGE_SIZE:
            break
        before_seq = page[-1][0]  # find pages newest first; go on below the oldest seen
    found.reverse()
    return found


def wait_for_next_poll(seconds: float) -> None:
    time.sleep(seconds)


def follow(
    store: RequestStore,
    query: RequestFilter,
    after_seq: int,
    emit: Callable[[Batch], None],
    *,
    sleep: Callable[[float], None] | None = None,
    polls: int | None = None,
) -> int:
    """Poll for new records and emit each batch, oldest first; returns the last seq seen.

    Runs until interrupted, or for `polls` rounds when given. `sleep` waits between polls
    (`wait_for_next_poll`, looked up when called, by default).
    """
    pause = sleep or wait_for_next_poll
    done = 0
    while polls is None or done < polls:
        pause(POLL_SECONDS)
        batch = records_after(store, query, after_seq)
        if batch:
            emit(batch)
            after_seq = batch[-1][0]
        done += 1
    return after_seq


def json_line(seq: int, record: RequestRecord) -> str:
    return json.dumps({"seq": seq, **record.as_json()}, separators=(",", ":"))


def print_json_lines(batch: Batch) -> None:
    for seq, record in batch:
        click.echo(json_line(seq, record))


LOG_MAX_WIDTH = 170
NARROW_WIDTH = 120  # below this, the columns least needed at a glance are left out
NARROW_DROPS = frozenset({"source", "try", "ttfb"})

# (header, fixed width or None, right-aligned). Text columns share what the fixed ones leave,
# so the layout depends on the width alone and every follow batch lines up with the first.
_COLUMNS: tuple[tuple[str, int | None, bool], ...] = (
    ("time", 14, False),
    ("endpoint", None, False),
    ("source", None, False),
    ("model", None, False),
    ("account", None, False),
    ("status", 6, True),
    ("error", None, False),
    ("try", 3, True),
    ("dur", 6, True),
    ("ttfb", 6, True),
    ("in", 7, True),
    ("out", 7, True),
    ("cost", 8, True),
)


def log_table(batch: Batch, *, show_header: bool, now: float) -> Table:
    width = min(output_width(), LOG_MAX_WIDTH)
    kept = [c for c in _COLUMNS if width >= NARROW_WIDTH or c[0] not in NARROW_DROPS]
    table = Table(
        box=None,
        show_header=show_header,
        header_style="bold",
        pad_edge=False,
        collapse_padding=True,
        width=width,
    )
    for header, fixed, right in kept:
        table.add_column(
            header,
            width=fixed,
            ratio=None if fixed else 1,
            no_wrap=True,
            overflow="ellipsis",
            justify="right" if right else "left",
        )
    headers = [c[0] for c in _COLUMNS]
    keep = [headers.index(c[0]) for c in kept]
    for _, record in batch:
        cells = log_row(record, now)
        table.add_row(*(cells[i] for i in keep))
    return table


def log_row(record: RequestRecord, now: float) -> list[Text | str]:
    usage = record.usage
    return [
        clock_time(record.started_at, now),
        record.endpoint,
        label_of(record.source),
        record.model or DASH,
        short_key(record.account) if record.account else DASH,
        _status_cell(record),
        Text(record.error_type, style="red") if record.error_type else DASH,
        Text(str(record.attempts), style="yellow" if record.failovers else ""),
        format_ms(record.duration_ms),
        format_ms(record.ttfb_ms),
        format_count(usage.input) if usage else DASH,
        format_count(usage.output) if usage else DASH,
        format_usd(record.cost_micro_usd),
    ]


def _status_cell(record: RequestRecord) -> Text:
    if record.status is None:  # the client went away before an answer
        return Text(DASH, style="dim")
    return Text(str(record.status), style="green" if record.ok else "red")


def clock_time(moment: float, now: float) -> str:
    """Local time: '14:05:09' today, '06-09 14:05:09' on another day."""
    at = datetime.fromtimestamp(moment)
    same_day = at.date() == datetime.fromtimestamp(now).date()
    return at.strftime("%H:%M:%S" if same_day else "%m-%d %H:%M:%S")


class TablePrinter:
    """Prints batches as rows of one continuous table: the header goes out once."""

    def __init__(self) -> None:
        self.header_shown = False

    def __call__(self, batch: Batch) -> None:
        table = log_table(batch, show_header=not self.header_shown, now=time.time())
        click.echo(render(table), nl=False)
        self.header_shown = True


def _empty_note(store: RequestStore, filtered: bool) -> str:
    if filtered and store.last_seq():
        return "No requests match these filters."
    return "No requests recorded yet: requests the gateway (`azt start`) serves are listed here."


@click.command(short_help="Show recent requests, or follow new ones (-f).")
@click.option("-f", "--follow", "following", is_flag=True, help="Keep printing new requests.")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(0, PAGE_SIZE),
    default=20,
    show_default=True,
    help="How many recent requests to show first.",
)
@click.option("--endpoint", metavar="ROUTE", help="Only this route, e.g. chat.completions.")
@click.option("--model", help="Only requests served by (or, if none served, asking for) MODEL.")
@click.option(
    "--account", metavar="KEY", help="Only this account: key, email or position in the list."
)
@click.option("--source", metavar="NAME", help="Only this client app, e.g. codex-cli or curl.")
@click.option("--errors", "errors_only", is_flag=True, help="Only failed requests.")
@click.option(
    "--since", type=SINCE, metavar="DURATION|DATE", help="Only since 24h, 7d or 2025-06-01."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line.")
def logs(
    following: bool,
    limit: int,
    endpoint: str | None,
    model: str | None,
    account: str | None,
    source: str | None,
    errors_only: bool,
    since: float | None,
    as_json: bool,
) -> None:
    """Show recent requests, oldest first (like tail); --follow to watch new ones arrive.

    Each line is one request's metadata: when, which route and app, model, account, status,
    attempts, duration, time to first byte, tokens and equivalent API cost, in local time.
    Prompts and replies are not recorded (`--json` includes short redacted previews only if
    the gateway runs with --log-previews).

    \b
    Examples:
      azt logs -n 50 --errors
      azt logs -f --source codex-cli
      azt logs --since 24h --json | jq .cost_micro_usd
    """
    # Following needs the file the gateway will write; a one-off read never creates it.
    opener = _open_for_follow if following else reading_database
    with opener() as conn:
        store = RequestStore(conn)
        query = RequestFilter(
            since=since,
            endpoint=endpoint,
            model=model,
            account=resolve_account(conn, account) if account else None,
            source=resolve_source(source) if source else None,
            errors_only=errors_only,
        )
        emit = print_json_lines if as_json else TablePrinter()
        shown, last_seq = tail(store, query, limit)
        if shown:
            emit(shown)
        elif not as_json and limit:
            filtered = any((since is not None, endpoint, model, account, source, errors_only))
            click.echo(_empty_note(store, filtered))
        if not following:
            return
        if not as_json:
            click.echo("Waiting for new requests (Ctrl-C to stop)…", err=True)
        try:
            follow(store, query, last_seq, emit)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how following ends: not an error


@contextmanager
def _open_for_follow() -> Iterator[sqlite3.Connection]:
    conn = open_database(database_path())
    try:
        yield conn
    finally:
        conn.close()


COMMANDS = [logs]
