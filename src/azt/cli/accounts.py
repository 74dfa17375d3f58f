"""`azt accounts`: list, import, choose the default and remove pooled accounts.

Nothing here ever prints a token, in the table or in `--json`.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from azt.cli.common import EXIT_NOT_FOUND, fail, open_stores, print_json
from azt.pool.accounts import Account, AccountStatus
from azt.pool.importer import ImportFileError, read_import
from azt.store.accounts import AccountStore


def account_summary(position: int, account: Account) -> dict[str, Any]:
    """The printable facts about an account (the `--json` shape)."""
    return {
        "position": position,
        "email": account.email,
        "plan": account.plan,
        "key": account.key,
        "chatgpt_account_id": account.chatgpt_account_id,
        "status": account.status.value,
        "status_reason": account.status_reason,
        "default": account.is_default,
        "access_expires_at": account.access_expires_at,
        "last_refresh": account.last_refresh,
    }


def describe_expiry(expires_at: int | None, now: float) -> str:
    """'in 42m', 'expired 3h ago' or 'unknown': enough to see at a glance what needs a refresh."""
    if expires_at is None:
        return "unknown"
    delta = int(expires_at - now)
    span = _span(abs(delta))
    return f"in {span}" if delta > 0 else f"expired {span} ago"


def _span(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d"


def _table(accounts: list[Account], now: float) -> str:
    header = ("#", "email", "plan", "key", "status", "default", "access token")
    rows = [
        (
            str(position),
            account.email or "-",
            account.plan or "-",
            account.key,
            account.status.value,
            "*" if account.is_default else "",
            describe_expiry(account.access_expires_at, now),
        )
        for position, account in enumerate(accounts, start=1)
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    return "\n".join(lines)


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
    """List the pooled accounts; the default one is first and marked with *."""
    with open_stores() as stores:
        pooled = stores.accounts.list()
    if as_json:
        print_json([account_summary(n, a) for n, a in enumerate(pooled, start=1)])
        return
    if not pooled:
        click.echo("No accounts yet: add one with `azt login` or `azt accounts import FILE`.")
        return
    click.echo(_table(pooled, time.time()))
    for account in pooled:
        if account.status is AccountStatus.RELOGIN_REQUIRED:
            click.echo(f"\n{account.label}: {account.status_reason or 'run `azt login` again'}")


@accounts.command("use")
@click.argument("ref")
def use_account(ref: str) -> None:
    """Make an account the default (REF: position, email or key)."""
    with open_stores() as stores:
        account = _find_or_fail(stores.accounts, ref)
        stores.accounts.set_default(account.key)
    click.echo(f"{account.label} is now the default account.")


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
