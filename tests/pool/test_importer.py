"""Importing accounts from a Codex auth.json and from the original system's files."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from azt.pool.importer import ImportFileError, load_accounts, read_import
from azt.pool.jwt import expiry

type MakeJwt = Callable[[dict[str, Any]], str]


@pytest.fixture
def sim_state() -> Any:
    from azt.sim.state import SimState

    return SimState()


@pytest.fixture
def alice(sim_state: Any) -> tuple[Any, dict[str, Any]]:
    account = sim_state.add_account(email="alice@example.com", plan="plus")
    return account, sim_state.issue_tokens(account, access_ttl=3600)


@pytest.fixture
def bob(sim_state: Any) -> tuple[Any, dict[str, Any]]:
    account = sim_state.add_account(email="bob@example.com", plan="pro")
    return account, sim_state.issue_tokens(account, access_ttl=600)


def write(tmp_path: Path, value: object, name: str = "accounts.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def export_of(account: Any, tokens: dict[str, Any], *, with_id_token: bool = True) -> dict:
    """The original system's single-account export."""
    export = {
        "type": "codex",
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expired": "2020-01-01T00:00:00.000Z",
        "email": account.email,
        "account_id": account.account_id,
        "profile_id": f"openai-codex:{account.account_id}",
        "exported_at": "2026-06-01T00:00:00.000Z",
    }
    if with_id_token:
        export["id_token"] = tokens["id_token"]
    return export


def test_codex_auth_json(tmp_path: Path, alice: tuple[Any, dict[str, Any]]) -> None:
    """A Codex auth.json gives one account with identity from its id_token."""
    account, tokens = alice
    auth = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {**{k: tokens[k] for k in ("id_token", "access_token", "refresh_token")}},
        "last_refresh": "2026-06-01T12:34:56.123456Z",
    }
    auth["tokens"]["account_id"] = account.account_id
    imported = read_import(write(tmp_path, auth, "auth.json"))
    assert imported.kind == "codex auth.json" and imported.shares_codex_login
    [got] = imported.accounts
    assert (got.email, got.plan, got.chatgpt_account_id, got.chatgpt_user_id) == (
        "alice@example.com",
        "plus",
        account.account_id,
        account.user_id,
    )
    assert got.refresh_token == tokens["refresh_token"]
    assert got.access_expires_at == expiry(tokens["access_token"])
    assert got.last_refresh == 1780317296  # 2026-06-01T12:34:56Z


@pytest.mark.parametrize(
    "auth",
    [
        {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-secret"},
        {"OPENAI_API_KEY": "sk-secret", "tokens": None},
    ],
)
def test_api_key_auth_json_is_refused(tmp_path: Path, auth: dict[str, Any]) -> None:
    """An API-key auth.json is no ChatGPT login, and the message says so without the key."""
    with pytest.raises(ImportFileError, match="holds an API key, not a ChatGPT login") as caught:
        load_accounts(write(tmp_path, auth, "auth.json"))
    assert "sk-secret" not in str(caught.value)
    assert "auth.json" in str(caught.value)


def test_single_export(tmp_path: Path, alice: tuple[Any, dict[str, Any]]) -> None:
    """The original system's one-account export is read; the JWT exp beats `expired`."""
    account, tokens = alice
    imported = read_import(write(tmp_path, export_of(account, tokens)))
    [got] = imported.accounts
    assert imported.kind == "export"
    assert (got.email, got.plan, got.chatgpt_account_id) == (
        "alice@example.com",
        "plus",
        account.account_id,
    )
    assert got.access_expires_at == expiry(tokens["access_token"])


def test_single_export_without_id_token(tmp_path: Path, alice: tuple[Any, dict[str, Any]]) -> None:
    """Without an id_token, identity comes from the access token's claims."""
    account, tokens = alice
    [got] = load_accounts(write(tmp_path, export_of(account, tokens, with_id_token=False)))
    assert (got.email, got.chatgpt_account_id, got.chatgpt_user_id) == (
        "alice@example.com",
        account.account_id,
        account.user_id,
    )
    assert got.id_token == ""


def test_bundle(
    tmp_path: Path, alice: tuple[Any, dict[str, Any]], bob: tuple[Any, dict[str, Any]]
) -> None:
    """A `codex_profiles` bundle gives every account in it, in order."""
    bundle = {
        "type": "codex_profiles",
        "exported_at": "2026-06-01T00:00:00.000Z",
        "profiles": [export_of(*alice), export_of(*bob)],
    }
    imported = read_import(write(tmp_path, bundle))
    assert imported.kind == "bundle"
    assert [(a.email, a.plan) for a in imported.accounts] == [
        ("alice@example.com", "plus"),
        ("bob@example.com", "pro"),
    ]


def test_store_json(
    tmp_path: Path, alice: tuple[Any, dict[str, Any]], bob: tuple[Any, dict[str, Any]]
) -> None:
    """The original system's store.json is read with its short key names, active profile first."""

    def profile(account: Any, tokens: dict[str, Any]) -> dict[str, Any]:
        return {
            "provider": "openai-codex",
            "profileId": f"openai-codex:{account.account_id}",
            "mode": "oauth_account",
            "access": tokens["access_token"],
            "refresh": tokens["refresh_token"],
            "expires": 1_700_000_000_000,
            "accountId": account.account_id,
            "email": account.email,
            "authStatus": {"state": "ok", "checkedAt": 1},
        }

    store_json = {
        "version": 1,
        "activeProfileId": f"openai-codex:{bob[0].account_id}",
        "profiles": {
            f"openai-codex:{alice[0].account_id}": profile(*alice),
            f"openai-codex:{bob[0].account_id}": profile(*bob),
        },
    }
    imported = read_import(write(tmp_path, store_json, "store.json"))
    assert imported.kind == "store.json"
    assert [a.email for a in imported.accounts] == ["bob@example.com", "alice@example.com"]
    assert imported.accounts[1].refresh_token == alice[1]["refresh_token"]
    assert imported.accounts[1].access_expires_at == expiry(alice[1]["access_token"])


def test_plain_array_and_profiles_object(
    tmp_path: Path, alice: tuple[Any, dict[str, Any]], bob: tuple[Any, dict[str, Any]]
) -> None:
    """A bare array, or `{profiles: [...]}` without a type, is a list of accounts."""
    entries = [export_of(*alice), export_of(*bob)]
    assert len(load_accounts(write(tmp_path, entries, "a.json"))) == 2
    assert len(load_accounts(write(tmp_path, {"profiles": entries}, "b.json"))) == 2


def test_duplicates_keep_the_longest_lived(tmp_path: Path, sim_state: Any) -> None:
    """The same account twice in one file is imported once, with the later-expiring tokens."""
    account = sim_state.add_account(email="dup@example.com", plan="plus")
    older = sim_state.issue_tokens(account, access_ttl=60)
    newer = sim_state.issue_tokens(account, access_ttl=7200)
    [got] = load_accounts(write(tmp_path, [export_of(account, newer), export_of(account, older)]))
    assert got.refresh_token == newer["refresh_token"]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ({"expires": 1_900_000_000}, 1_900_000_000),
        ({"expires_at": 1_900_000_000_000}, 1_900_000_000),
        ({"expired": "2030-03-17T17:46:40Z"}, 1_900_000_000),
        ({"expiresAt": "2030-03-17T17:46:40+00:00"}, 1_900_000_000),
        ({}, None),
    ],
)
def test_stored_expiry_used_when_the_jwt_has_none(
    tmp_path: Path, make_jwt: MakeJwt, stored: dict[str, Any], expected: int | None
) -> None:
    """Without a JWT exp, the file's expiry in seconds, milliseconds or ISO form is used."""
    id_token = make_jwt({"email": "e@example.com", "https://api.openai.com/auth": {}})
    entry = {"access_token": "opaque", "refresh_token": "r", "id_token": id_token, "accountId": "a"}
    [got] = load_accounts(write(tmp_path, {**entry, **stored}))
    assert got.access_expires_at == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"type": "codex",\n  "access_token": }', r"not valid JSON \(line 2, column 19"),
        ("[]", "holds no accounts"),
        ('"text"', "expected a JSON object or array"),
        ('{"hello": 1}', "unrecognised format"),
        ('[{"access_token": "SECRET-AT"}]', "entry 1 has no refresh token"),
        ('[{"refresh_token": "SECRET-RT"}]', "entry 1 has no access token"),
        ('[{"access_token": "SECRET-AT", "refresh_token": 5}]', "entry 1: `refresh_token` is not"),
        ("[1]", "entry 1 is not a JSON object"),
        ('{"tokens": {"access_token": "SECRET-AT"}}', "the tokens has no refresh token"),
        ('{"auth_mode": "chatgpt"}', "has no `tokens` object"),
        (
            '[{"access_token": "SECRET-AT", "refresh_token": "SECRET-RT"}]',
            "entry 1: there is no id_token and the access token is not a JWT",
        ),
    ],
)
def test_errors_name_file_and_flaw_without_tokens(
    tmp_path: Path, content: str, message: str
) -> None:
    """Each malformed file is refused with its path and the precise flaw, quoting no token."""
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFileError, match=message) as caught:
        load_accounts(path)
    assert str(path) in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    """An unreadable path is an ImportFileError naming it."""
    with pytest.raises(ImportFileError, match="cannot read"):
        load_accounts(tmp_path / "nope.json")
