"""Read accounts from files other tools wrote: a Codex `auth.json` and the original system's
exports (one account, a bundle, or its whole `store.json`).

Every error names the file and the entry that is wrong, and never quotes a token.
"""

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from azt.pool.accounts import Account, account_from_tokens

# Key spellings accepted for each field, first match wins (exports and store.json differ).
_ACCESS = ("access_token", "access")
_REFRESH = ("refresh_token", "refresh")
_ID_TOKEN = ("id_token", "idToken")
_ACCOUNT_ID = ("account_id", "accountId")
_EXPIRY = ("expires", "expires_at", "expired", "expiresAt")

# Above this a numeric expiry must be in milliseconds (1e11 seconds is the year 5138).
_MILLISECONDS = 10**11


class ImportFileError(ValueError):
    """Raised when a file cannot be read as accounts; the message names the file and the flaw."""


@dataclass(frozen=True)
class ImportedFile:
    kind: str  # "codex auth.json", "export", "bundle", "store.json" or "list"
    accounts: list[Account]

    @property
    def shares_codex_login(self) -> bool:
        """True when the login is also used by a Codex install (its refresh token is shared)."""
        return self.kind == "codex auth.json"


def load_accounts(path: Path) -> list[Account]:
    return read_import(path).accounts


def read_import(path: Path) -> ImportedFile:
    data = _read_json(path)
    kind, entries = _entries(data, path)
    now = int(time.time())
    accounts = [_account(entry, where, path, now) for where, entry in entries]
    if not accounts:
        raise ImportFileError(f"{path}: the file holds no accounts")
    return ImportedFile(kind, _dedupe(accounts))


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ImportFileError(f"{path}: cannot read the file ({e.strerror})") from e
    except UnicodeDecodeError as e:
        raise ImportFileError(f"{path}: not a UTF-8 text file") from e
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportFileError(
            f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})"
        ) from None  # the decode error's context may quote the file, tokens included


type Entry = tuple[str, Any]


def _entries(data: Any, path: Path) -> tuple[str, list[Entry]]:
    """Recognise the file's format; return it with the (description, object) of each entry."""
    if isinstance(data, list):
        return "list", _numbered(data)
    if not isinstance(data, dict):
        raise ImportFileError(f"{path}: expected a JSON object or array")
    if "tokens" in data or "OPENAI_API_KEY" in data or "auth_mode" in data:
        return "codex auth.json", [_auth_json_entry(data, path)]
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        return "store.json", _store_entries(profiles, data.get("activeProfileId"))
    if isinstance(profiles, list):
        return "bundle", _numbered(profiles)
    if any(name in data for name in _ACCESS + _REFRESH):
        return "export", [("the account", data)]
    raise ImportFileError(
        f"{path}: unrecognised format; expected a Codex auth.json, an AI Zero Token export "
        "or store.json, or a list of accounts"
    )


def _numbered(items: Iterable[Any]) -> list[Entry]:
    return [(f"entry {n}", item) for n, item in enumerate(items, start=1)]


def _auth_json_entry(data: Mapping[str, Any], path: Path) -> Entry:
    tokens = data.get("tokens")
    if not isinstance(tokens, dict):
        if data.get("OPENAI_API_KEY") or data.get("auth_mode") == "apikey":
            raise ImportFileError(
                f"{path}: this auth.json holds an API key, not a ChatGPT login; "
                "sign in with `azt login` instead"
            )
        raise ImportFileError(f"{path}: this auth.json has no `tokens` object")
    entry = dict(tokens)
    if "last_refresh" in data:
        entry["last_refresh"] = data["last_refresh"]
    return "the tokens", entry


def _store_entries(profiles: Mapping[str, Any], active: object) -> list[Entry]:
    # The active profile goes first, so it becomes azt's default in an empty pool.
    ordered = sorted(profiles.items(), key=lambda item: item[0] != active)
    return [(f"profile {profile_id!r}", entry) for profile_id, entry in ordered]


def _field(entry: Mapping[str, Any], names: tuple[str, ...], where: str, path: Path) -> str | None:
    for name in names:
        value = entry.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ImportFileError(f"{path}: {where}: `{name}` is not a string")
        return value
    return None


def _account(entry: Any, where: str, path: Path, now: int) -> Account:
    if not isinstance(entry, dict):
        raise ImportFileError(f"{path}: {where} is not a JSON object")
    access = _field(entry, _ACCESS, where, path)
    refresh = _field(entry, _REFRESH, where, path)
    if not refresh:
        raise ImportFileError(f"{path}: {where} has no refresh token (refresh_token or refresh)")
    if not access:
        raise ImportFileError(f"{path}: {where} has no access token (access_token or access)")
    try:
        account = account_from_tokens(
            id_token=_field(entry, _ID_TOKEN, where, path) or "",
            access_token=access,
            refresh_token=refresh,
            account_id_hint=_field(entry, _ACCOUNT_ID, where, path),
            now=now,
        )
    except ValueError as e:
        raise ImportFileError(f"{path}: {where}: {e}") from None
    return _with_stored_facts(account, entry)


def _with_stored_facts(account: Account, entry: Mapping[str, Any]) -> Account:
    """Fill what the tokens do not say from the entry; the JWT `exp` always wins."""
    email = entry.get("email")
    last_refresh = _timestamp(entry.get("last_refresh"))
    return replace(
        account,
        email=account.email or (email if isinstance(email, str) and email else None),
        access_expires_at=account.access_expires_at or _stored_expiry(entry),
        last_refresh=last_refresh or account.last_refresh,
    )


def _stored_expiry(entry: Mapping[str, Any]) -> int | None:
    for name in _EXPIRY:
        stamp = _timestamp(entry.get(name))
        if stamp is not None:
            return stamp
    return None


def _timestamp(value: object) -> int | None:
    """Unix seconds from seconds, milliseconds or an ISO 8601 string; None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value / 1000) if value > _MILLISECONDS else int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value).timestamp())
        except ValueError:
            return None
    return None


def _dedupe(accounts: list[Account]) -> list[Account]:
    """One account per key; of duplicates keep the one whose access token lives longest."""
    chosen: dict[str, Account] = {}
    for account in accounts:
        previous = chosen.get(account.key)
        if previous is None or (account.access_expires_at or 0) >= (
            previous.access_expires_at or 0
        ):
            chosen[account.key] = account
    return list(chosen.values())
