"""`azt accounts list|use|remove|import` through click's CliRunner, with AZT_HOME private."""

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from azt.cli.common import EXIT_NOT_FOUND, open_stores
from azt.cli.main import cli
from azt.pool.accounts import Account, AccountStatus, account_from_tokens


@pytest.fixture
def sim_state() -> Any:
    from azt.sim.state import SimState

    return SimState()


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def export(sim_state: Any, email: str, plan: str = "plus", ttl: int = 3600) -> dict[str, Any]:
    """An export entry of the original system for a sim account (created on first use)."""
    account = sim_state.account_by_email(email) or sim_state.add_account(email=email, plan=plan)
    tokens = sim_state.issue_tokens(account, access_ttl=ttl)
    return {
        "type": "codex",
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "id_token": tokens["id_token"],
        "account_id": account.account_id,
    }


def add(sim_state: Any, email: str, plan: str = "plus", ttl: int = 3600) -> Account:
    entry = export(sim_state, email, plan, ttl)
    account = account_from_tokens(
        id_token=entry["id_token"],
        access_token=entry["access_token"],
        refresh_token=entry["refresh_token"],
    )
    with open_stores() as stores:
        return stores.accounts.upsert(account)


def pooled() -> list[Account]:
    with open_stores() as stores:
        return stores.accounts.list()


def write(tmp_path: Path, value: object, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def test_empty_pool_says_how_to_add() -> None:
    """With no accounts, `azt accounts` explains how to add one."""
    result = run("accounts")
    assert result.exit_code == 0
    assert "azt login" in result.output


def test_list_table(sim_state: Any) -> None:
    """The table shows position, email, plan, key, status, the default mark and expiry."""
    a = add(sim_state, "a@example.com", "plus")
    b = add(sim_state, "b@example.com", "pro", ttl=0)
    result = run("accounts", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["#", "email", "plan", "key", "status", "default", "access", "token"]
    assert lines[1].split()[:6] == ["1", "a@example.com", "plus", a.key, "ok", "*"]
    assert lines[1].split()[6] == "in"
    assert lines[2].split()[:5] == ["2", "b@example.com", "pro", b.key, "ok"]
    assert "expired" in lines[2]
    assert run("accounts").output == result.output  # the bare group lists too


def test_list_json_has_no_tokens(sim_state: Any) -> None:
    """`--json` gives the same facts as the table, and no token."""
    a = add(sim_state, "a@example.com")
    result = run("accounts", "list", "--json")
    assert result.exit_code == 0
    [entry] = json.loads(result.output)
    assert entry == {
        "position": 1,
        "email": "a@example.com",
        "plan": "plus",
        "key": a.key,
        "chatgpt_account_id": a.chatgpt_account_id,
        "status": "ok",
        "status_reason": None,
        "default": True,
        "access_expires_at": a.access_expires_at,
        "last_refresh": a.last_refresh,
    }
    for secret in (a.access_token, a.refresh_token, a.id_token):
        assert secret not in result.output


def test_list_shows_why_a_login_is_needed(sim_state: Any) -> None:
    """A dead account shows relogin_required and the reason in the table."""
    a = add(sim_state, "a@example.com")
    with open_stores() as stores:
        stores.accounts.mark_status(a.key, AccountStatus.RELOGIN_REQUIRED, "token revoked; log in")
    result = run("accounts", "list")
    assert "relogin_required" in result.output
    assert "a@example.com: token revoked; log in" in result.output


@pytest.mark.parametrize("ref", ["2", "B@example.com", "key"])
def test_use_by_position_email_or_key(sim_state: Any, ref: str) -> None:
    """`use` makes the referenced account the default."""
    add(sim_state, "a@example.com")
    b = add(sim_state, "b@example.com")
    result = run("accounts", "use", b.key if ref == "key" else ref)
    assert result.exit_code == 0, result.output
    assert "b@example.com is now the default" in result.output
    assert [a.email for a in pooled() if a.is_default] == ["b@example.com"]


@pytest.mark.parametrize(
    "command", [["use", "nobody"], ["remove", "nobody", "--yes"], ["use", "9"]]
)
def test_unknown_ref_exits_3(sim_state: Any, command: list[str]) -> None:
    """An unknown REF fails with exit code 3 and says how to find a valid one."""
    add(sim_state, "a@example.com")
    result = run("accounts", *command)
    assert result.exit_code == EXIT_NOT_FOUND
    assert "no account matches" in result.output
    assert "azt accounts list" in result.output


def test_remove_with_yes(sim_state: Any) -> None:
    """`remove --yes` deletes without asking; the other account becomes the default."""
    add(sim_state, "a@example.com")
    add(sim_state, "b@example.com")
    result = run("accounts", "remove", "a@example.com", "--yes")
    assert result.exit_code == 0
    assert [(a.email, a.is_default) for a in pooled()] == [("b@example.com", True)]


def test_remove_asks_first(sim_state: Any) -> None:
    """Without --yes, `remove` asks, and "no" keeps the account (exit code 1)."""
    add(sim_state, "a@example.com")
    refused = run("accounts", "remove", "1", input="n\n")
    assert refused.exit_code == 1
    assert len(pooled()) == 1
    accepted = run("accounts", "remove", "1", input="y\n")
    assert accepted.exit_code == 0
    assert pooled() == []


def test_import_then_reimport_updates(sim_state: Any, tmp_path: Path) -> None:
    """Importing adds accounts; importing the same file again updates them, never duplicates."""
    bundle = {
        "type": "codex_profiles",
        "profiles": [export(sim_state, "a@example.com"), export(sim_state, "b@example.com", "pro")],
    }
    path = write(tmp_path, bundle)
    first = run("accounts", "import", str(path))
    assert first.exit_code == 0, first.output
    assert "2 added, 0 updated" in first.output
    again = run("accounts", "import", str(path), "--json")
    assert again.exit_code == 0
    assert json.loads(again.output) == {"format": "bundle", "added": 0, "updated": 2, "kept": 0}
    assert [(a.email, a.plan) for a in pooled()] == [
        ("a@example.com", "plus"),
        ("b@example.com", "pro"),
    ]


def test_import_keeps_newer_tokens(sim_state: Any, tmp_path: Path) -> None:
    """An export older than azt's copy does not overwrite the rotated refresh token."""
    old = write(tmp_path, export(sim_state, "a@example.com", ttl=60))
    current = add(sim_state, "a@example.com", ttl=3600)
    result = run("accounts", "import", str(old), "--json")
    assert json.loads(result.output)["kept"] == 1
    assert pooled()[0].refresh_token == current.refresh_token


def test_import_codex_auth_json_warns_about_sharing(sim_state: Any, tmp_path: Path) -> None:
    """Importing a Codex auth.json works, with a warning that the login is now shared."""
    entry = export(sim_state, "a@example.com")
    auth = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {k: entry[k] for k in ("id_token", "access_token", "refresh_token")},
        "last_refresh": "2026-06-01T12:34:56Z",
    }
    result = run("accounts", "import", str(write(tmp_path, auth, "auth.json")))
    assert result.exit_code == 0, result.output
    assert "1 added" in result.output
    assert "shared with that Codex install" in result.output


def test_import_api_key_auth_json_fails(tmp_path: Path) -> None:
    """An API-key auth.json is refused with exit code 1 and a clear message."""
    path = write(tmp_path, {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-x"}, "auth.json")
    result = run("accounts", "import", str(path))
    assert result.exit_code == 1
    assert "holds an API key, not a ChatGPT login" in result.output
    assert "sk-x" not in result.output
    assert pooled() == []


def test_import_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    """A path that does not exist is a usage error (exit code 2)."""
    result = run("accounts", "import", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
