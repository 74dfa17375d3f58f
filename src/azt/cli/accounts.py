"""`azt accounts`: list, import, choose the default, pause and remove pooled accounts.

Nothing here ever prints a token, in the table or in `--json`.
"""

import math
import time
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import click
import httpx

from azt.cli.common import EXIT_NOT_FOUND, fail, open_stores, print_json
from azt.config import data_dir
from azt.pool.accounts import Account, AccountStatus
from azt.pool.hop import SECRET_HEADER
from azt.pool.importer import ImportFileError, read_import
from azt.pool.usage import Window, quota_windows
from azt.runtime_file import read_runtime
from azt.store.accounts import AccountStore

# A gateway that is up answers in milliseconds; a dead address must not hold the listing up.
GATEWAY_TIMEOUT = 0.5
EMAIL_WIDTH = 22  # with the other columns at their widest, rows stay within 100 columns


class State(StrEnum):
    """Whether an account takes new work, and if not, why (the first that applies)."""

    ACTIVE = "active"
    RELOGIN_REQUIRED = "relogin_required"
    PAUSED = "paused"
    COOLING_DOWN = "cooling_down"


_STATE_TEXT = {
    State.ACTIVE: "active",
    State.RELOGIN_REQUIRED: "re-login required",
    State.PAUSED: "paused",
    State.COOLING_DOWN: "cooling down",
}


def account_state(account: Account, now: float) -> State:
    # Same precedence as the scheduler: a dead login outranks a pause, a pause a cooldown.
    if account.status is AccountStatus.RELOGIN_REQUIRED:
        return State.RELOGIN_REQUIRED
    if account.paused:
        return State.PAUSED
    if account.cooling(now):
        return State.COOLING_DOWN
    return State.ACTIVE


def _window_summary(window: Window | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {
        "label": window.label,
        "used_percent": window.used_percent,
        "window_minutes": window.minutes,
        "reset_at": int(window.reset_at) if window.reset_at is not None else None,
    }


def account_summary(
    position: int, account: Account, *, now: float | None = None, in_flight: int | None = None
) -> dict[str, Any]:
    """The printable facts about an account (the `--json` shape).

    `primary` is the 5-hour kind of window and `secondary` the weekly one, whatever the
    backend called them (a free plan's only window is weekly). `in_flight` is None when no
    running gateway answered.
    """
    clock = time.time() if now is None else now
    windows = quota_windows(account, clock)
    cooling = account.cooling(clock)
    return {
        "position": position,
        "email": account.email,
        "plan": account.plan,
        "key": account.key,
        "chatgpt_account_id": account.chatgpt_account_id,
        "status": account.status.value,
        "status_reason": account.status_reason,
        "state": account_state(account, clock).value,
        "paused": account.paused,
        "cooldown_until": account.cooldown_until if cooling else None,
        "cooldown_reason": account.cooldown_reason if cooling else None,
        "quota": {
            "primary": _window_summary(windows.short),
            "secondary": _window_summary(windows.long),
            "captured_at": account.quota_captured_at,
        },
        "in_flight": in_flight,
        "default": account.is_default,
        "access_expires_at": account.access_expires_at,
        "last_refresh": account.last_refresh,
    }


def local_time(moment: float, now: float) -> str:
    """'14:05' today, 'Tue 14:05' within the week ahead, else 'Jun 09 14:05' (local time)."""
    at = datetime.fromtimestamp(moment).astimezone()
    days_ahead = (at.date() - datetime.fromtimestamp(now).astimezone().date()).days
    if days_ahead == 0:
        return at.strftime("%H:%M")
    if 0 < days_ahead < 7:
        return at.strftime("%a %H:%M")
    return at.strftime("%b %d %H:%M")


def gateway_in_flight() -> dict[str, int] | None:
    """Requests in flight per account key on the running gateway; None when none answers.

    Never raises: a stale runtime file, a stopped gateway or a slow one all read as "unknown".
    """
    info = read_runtime(data_dir())
    if info is None:
        return None
    try:
        # trust_env=False: the pool secret must not travel through a proxy from the environment.
        with httpx.Client(trust_env=False, timeout=GATEWAY_TIMEOUT) as client:
            reply = client.get(
                f"{info.pool_url}/admin/accounts", headers={SECRET_HEADER: info.pool_secret}
            )
        reply.raise_for_status()
        return {entry["key"]: int(entry["in_flight"]) for entry in reply.json()["accounts"]}
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None


def _count(in_flight: dict[str, int] | None, key: str) -> int | None:
    # The gateway lists busy accounts only; when it answered, an unlisted one serves nothing.
    return None if in_flight is None else in_flight.get(key, 0)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _quota_cell(window: Window | None, column: str, now: float) -> str:
    """'42% 14:05': percent used and when the window resets; '-' when unknown."""
    if window is None:
        return "-"
    text = f"{math.floor(window.used_percent)}%"
    if window.label != column:  # a window of an unusual length says which it is
        text = f"{window.label} {text}"
    if window.reset_at is not None:
        text += f" {local_time(window.reset_at, now)}"
    return text


def _row(position: int, account: Account, now: float, in_flight: int | None) -> tuple[str, ...]:
    windows = quota_windows(account, now)
    return (
        f"{position}{'*' if account.is_default else ''}",
        _clip(account.email or "-", EMAIL_WIDTH),
        account.plan or "-",
        _STATE_TEXT[account_state(account, now)],
        _quota_cell(windows.short, "5h", now),
        _quota_cell(windows.long, "7d", now),
        "-" if in_flight is None else str(in_flight),
    )


def _table(accounts: list[Account], now: float, in_flight: dict[str, int] | None) -> str:
    # No key column: it would not fit, and position or email name an account as well.
    header = ("#", "email", "plan", "state", "5h", "7d", "in flight")
    rows = [
        _row(position, account, now, _count(in_flight, account.key))
        for position, account in enumerate(accounts, start=1)
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    return "\n".join(lines)


def _note(account: Account, now: float) -> str | None:
    """The detail a state needs that does not fit in the table."""
    state = account_state(account, now)
    if state is State.RELOGIN_REQUIRED:
        return f"{account.label}: {account.status_reason or 'run `azt login` again'}"
    if state is State.COOLING_DOWN:
        return f"{account.label}: {_cooling_text(account, now)}"
    return None


def _cooling_text(account: Account, now: float) -> str:
    assert account.cooldown_until is not None
    reason = f" ({account.cooldown_reason})" if account.cooldown_reason else ""
    return f"cooling down until {local_time(account.cooldown_until, now)}{reason}"


def _find_or_fail(store: AccountStore, ref: str) -> Account:
    account = store.find(ref)
    if account is None:
        fail(
            f"no account matches {ref!r} (use a position, email or key from `azt accounts list`)",
            EXIT_NOT_FOUND,
        )
    return account


@click.group("accounts", invoke_without_command=True)
@click.pass_context
def accounts(ctx: click.Context) -> None:
    """Manage the pooled ChatGPT accounts (alone: list them).

    \b
    Example: azt accounts use 2
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_accounts)


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_accounts(as_json: bool = False) -> None:
    """List the pooled accounts; the default one is first and marked with *.

    Shows each account's state, quota windows (percent used, local reset time) and, while
    `azt start` runs, the requests it is serving now.
    """
    with open_stores() as stores:
        pooled = stores.accounts.list()
    now = time.time()
    in_flight = gateway_in_flight() if pooled else None
    if as_json:
        print_json(
            [
                account_summary(n, a, now=now, in_flight=_count(in_flight, a.key))
                for n, a in enumerate(pooled, start=1)
            ]
        )
        return
    if not pooled:
        click.echo("No accounts yet: add one with `azt login` or `azt accounts import FILE`.")
        return
    click.echo(_table(pooled, now, in_flight))
    notes = [note for account in pooled if (note := _note(account, now))]
    if notes:
        click.echo("\n" + "\n".join(notes))


@accounts.command("use")
@click.argument("ref")
def use_account(ref: str) -> None:
    """Make an account the default (REF: position, email or key)."""
    with open_stores() as stores:
        account = _find_or_fail(stores.accounts, ref)
        stores.accounts.set_default(account.key)
    click.echo(f"{account.label} is now the default account.")


@accounts.command("pause")
@click.argument("ref")
def pause_account(ref: str) -> None:
    """Give an account no new work until `azt accounts resume` (REF: position, email or key).

    Requests it is serving finish; a running gateway stops choosing it from the next request.
    """
    with open_stores() as stores:
        account = _find_or_fail(stores.accounts, ref)
        stores.accounts.set_paused(account.key, True)
    click.echo(f"{account.label} is paused: it gets no new work until `azt accounts resume`.")


@accounts.command("resume")
@click.argument("ref")
def resume_account(ref: str) -> None:
    """Let a paused account take work again (REF: position, email or key).

    A cooldown still runs its course; `azt accounts cooldown clear` ends it early.
    """
    with open_stores() as stores:
        account = _find_or_fail(stores.accounts, ref)
        stores.accounts.set_paused(account.key, False)
    now = time.time()
    message = f"{account.label} takes new work again."
    if account.cooling(now):
        message += f" It is {_cooling_text(account, now)}."
    click.echo(message)


@accounts.group("cooldown")
def cooldown() -> None:
    """An account's cooldown: the time it sits out after a usage or rate limit."""


@cooldown.command("clear")
@click.argument("ref")
def clear_cooldown(ref: str) -> None:
    """End an account's cooldown now (REF: position, email or key).

    \b
    Example: azt accounts cooldown clear 2
    If the limit has not really reset, the next request benches the account again.
    """
    with open_stores() as stores:
        account = _find_or_fail(stores.accounts, ref)
        stores.accounts.set_cooldown(account.key, None, None)
    click.echo(f"{account.label} no longer cools down.")


@accounts.command("remove")
@click.argument("ref")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def remove_account(ref: str, yes: bool) -> None:
    """Remove an account and its tokens from azt (REF: position, email or key)."""
    with open_stores() as stores:
        account = _find_or_fail(stores.accounts, ref)
        if not yes:
            click.confirm(f"Remove {account.label} ({account.key}) from azt?", abort=True)
        stores.accounts.remove(account.key)
    click.echo(f"Removed {account.label}.")


@dataclass
class ImportTally:
    added: int = 0
    updated: int = 0
    kept: int = 0  # azt's copy was newer than the file's


def _import_one(store: AccountStore, account: Account, tally: ImportTally) -> None:
    existing = store.get(account.key)
    if existing is None:
        tally.added += 1
    elif _newer(existing, account):
        # An old export would overwrite a rotated refresh token with a spent one.
        tally.kept += 1
        return
    else:
        tally.updated += 1
    store.upsert(account)


def _newer(existing: Account, incoming: Account) -> bool:
    if existing.status is AccountStatus.RELOGIN_REQUIRED:
        return False  # the stored login is dead; anything is worth trying
    return (existing.access_expires_at or 0) > (incoming.access_expires_at or 0)


@accounts.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def import_accounts(path: Path, as_json: bool) -> None:
    """Import accounts from a Codex auth.json or an AI Zero Token export or store.json.

    \b
    Example: azt accounts import ~/.codex/auth.json
    """
    try:
        imported = read_import(path)
    except ImportFileError as e:
        fail(str(e))
    tally = ImportTally()
    with open_stores() as stores:
        for account in imported.accounts:
            _import_one(stores.accounts, account, tally)
    if as_json:
        print_json({"format": imported.kind, **vars(tally)})
        return
    click.echo(
        f"Imported {imported.kind}: {tally.added} added, {tally.updated} updated"
        + (f", {tally.kept} kept (azt's copy is newer)" if tally.kept else "")
        + "."
    )
    if imported.shares_codex_login:
        click.secho(
            "Note: this login is now shared with that Codex install. Refresh tokens are single "
            "use, so whichever side refreshes first logs the other out. Prefer `azt login`, "
            "which gives azt a login of its own.",
            fg="yellow",
        )


COMMANDS: list[click.Command] = [accounts]
