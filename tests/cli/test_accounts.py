"""`azt accounts` commands through click's CliRunner, with AZT_HOME private."""

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from azt.cli.accounts import local_time
from azt.cli.common import EXIT_NOT_FOUND, open_stores
from azt.cli.main import cli
from azt.config import Settings, database_path
from azt.loopback import LoopbackServer
from azt.pool.accounts import Account, AccountStatus, account_from_tokens
from azt.pool.runtime import PoolRuntime
from azt.runtime_file import RuntimeInfo, write_runtime


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
    """The table shows position with the default mark, email, plan, state, quota and load."""
    add(sim_state, "a@example.com", "plus")
    add(sim_state, "b@example.com", "pro", ttl=0)
    result = run("accounts", "list")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["#", "email", "plan", "state", "5h", "7d", "in", "flight"]
    assert lines[1].split() == ["1*", "a@example.com", "plus", "active", "-", "-", "-"]
    assert lines[2].split() == ["2", "b@example.com", "pro", "active", "-", "-", "-"]
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
        "state": "active",
        "paused": False,
        "cooldown_until": None,
        "cooldown_reason": None,
        "quota": {"primary": None, "secondary": None, "captured_at": None},
        "in_flight": None,
        "default": True,
        "access_expires_at": a.access_expires_at,
        "last_refresh": a.last_refresh,
    }
    for secret in (a.access_token, a.refresh_token, a.id_token):
        assert secret not in result.output


def test_list_shows_why_a_login_is_needed(sim_state: Any) -> None:
    """A dead account reads "re-login required", with the reason under the table."""
    a = add(sim_state, "a@example.com")
    with open_stores() as stores:
        stores.accounts.mark_status(a.key, AccountStatus.RELOGIN_REQUIRED, "token revoked; log in")
    result = run("accounts", "list")
    assert "re-login required" in result.output.splitlines()[1]
    assert "a@example.com: token revoked; log in" in result.output
    [entry] = json.loads(run("accounts", "list", "--json").output)
    assert entry["state"] == "relogin_required"


def test_list_shows_a_cooldown_with_its_end_and_reason(sim_state: Any) -> None:
    """A cooling account says so in the table, and until when and why under it."""
    a = add(sim_state, "a@example.com")
    until = time.time() + 1800
    with open_stores() as stores:
        stores.accounts.set_cooldown(a.key, until, "usage_limit")
    result = run("accounts", "list")
    assert "cooling down" in result.output.splitlines()[1]
    expected = f"a@example.com: cooling down until {local_time(until, time.time())} (usage_limit)"
    assert expected in result.output
    [entry] = json.loads(run("accounts", "list", "--json").output)
    assert entry["state"] == "cooling_down"
    assert entry["cooldown_until"] == until
    assert entry["cooldown_reason"] == "usage_limit"


def test_an_expired_cooldown_reads_active(sim_state: Any) -> None:
    """Once its cooldown has passed the account is active again, and JSON drops the old end."""
    a = add(sim_state, "a@example.com")
    with open_stores() as stores:
        stores.accounts.set_cooldown(a.key, time.time() - 5, "rate_limited")
    [entry] = json.loads(run("accounts", "list", "--json").output)
    assert (entry["state"], entry["cooldown_until"], entry["cooldown_reason"]) == (
        "active",
        None,
        None,
    )


def quota(five_hour: float, weekly: float, now: float) -> dict[str, Any]:
    return {
        "primary": {"used_percent": five_hour, "window_minutes": 300, "reset_at": int(now) + 3600},
        "secondary": {
            "used_percent": weekly,
            "window_minutes": 10080,
            "reset_at": int(now) + 3 * 86400,
        },
    }


def free_quota(weekly: float, now: float) -> dict[str, Any]:
    """A free plan: one weekly window, reported as primary, and an all-zero secondary."""
    return {
        "primary": {"used_percent": weekly, "window_minutes": 10080, "reset_at": int(now) + 86400},
        "secondary": {"used_percent": 0, "window_minutes": 0, "reset_at": None},
    }


def test_list_shows_quota_windows_with_local_reset_times(sim_state: Any) -> None:
    """The 5h and 7d columns show percent used and the local reset time; a free plan has 7d."""
    now = time.time()
    paid = add(sim_state, "paid@example.com", "plus")
    free = add(sim_state, "free@example.com", "free")
    with open_stores() as stores:
        stores.accounts.save_quota(paid.key, quota(42.7, 17, now), int(now))
        stores.accounts.save_quota(free.key, free_quota(3, now), int(now))
    lines = run("accounts", "list").output.splitlines()
    assert f"42% {local_time(now + 3600, now)}" in lines[1]
    assert f"17% {local_time(now + 3 * 86400, now)}" in lines[1]
    five_hour, weekly = lines[0].index("5h"), lines[0].index("7d")
    assert lines[2][five_hour] == "-"
    assert lines[2][weekly:].startswith(f"3% {local_time(now + 86400, now)}")
    entries = json.loads(run("accounts", "list", "--json").output)
    assert entries[0]["quota"]["primary"] == {
        "label": "5h",
        "used_percent": 42.7,
        "window_minutes": 300,
        "reset_at": int(now) + 3600,
    }
    assert entries[0]["quota"]["secondary"]["label"] == "7d"
    assert entries[0]["quota"]["captured_at"] == int(now)
    assert entries[1]["quota"]["primary"] is None
    assert entries[1]["quota"]["secondary"]["used_percent"] == 3


def test_table_fits_in_100_columns(sim_state: Any) -> None:
    """Long emails are clipped and details go under the table, so rows stay within 100 columns."""
    now = time.time()
    long = add(sim_state, "a.very.long.name.indeed.1987@example.com", "plus")
    dead = add(sim_state, "dead@example.com", "enterprise")
    with open_stores() as stores:
        # A weekly reset more than a week of dates away is the widest reset time there is.
        snapshot = quota(100, 64.5, now)
        snapshot["secondary"]["reset_at"] = int(now) + 8 * 86400
        stores.accounts.save_quota(long.key, snapshot, int(now))
        stores.accounts.set_cooldown(long.key, now + 7 * 3600, "usage_not_included")
        stores.accounts.mark_status(dead.key, AccountStatus.RELOGIN_REQUIRED, "token expired")
    table = run("accounts", "list").output.split("\n\n")[0]
    assert max(len(line) for line in table.splitlines()) <= 100
    assert "a.very.long.name.inde…" in table


def test_pause_and_resume(sim_state: Any) -> None:
    """`pause` takes an account out of new work, `resume` brings it back."""
    add(sim_state, "a@example.com")
    paused = run("accounts", "pause", "1")
    assert paused.exit_code == 0, paused.output
    assert "a@example.com is paused" in paused.output
    assert pooled()[0].paused
    assert "paused" in run("accounts", "list").output.splitlines()[1]
    assert json.loads(run("accounts", "list", "--json").output)[0]["state"] == "paused"
    resumed = run("accounts", "resume", "a@example.com")
    assert resumed.exit_code == 0
    assert "a@example.com takes new work again." in resumed.output
    assert not pooled()[0].paused


def test_resume_says_a_cooldown_still_runs(sim_state: Any) -> None:
    """Resuming does not lift a cooldown, and says so; `cooldown clear` does."""
    a = add(sim_state, "a@example.com")
    with open_stores() as stores:
        stores.accounts.set_paused(a.key, True)
        stores.accounts.set_cooldown(a.key, time.time() + 600, "rate_limited")
    resumed = run("accounts", "resume", "1")
    assert "It is cooling down until" in resumed.output
    assert pooled()[0].cooling(time.time())
    cleared = run("accounts", "cooldown", "clear", "1")
    assert cleared.exit_code == 0
    assert "a@example.com no longer cools down." in cleared.output
    assert pooled()[0].cooldown_until is None


def test_in_flight_is_unknown_without_a_gateway(sim_state: Any, azt_home: Path) -> None:
    """No runtime file, or one pointing at nothing: in flight reads "-" and null, no failure."""
    add(sim_state, "a@example.com")
    dead = RuntimeInfo(os.getpid(), "http://127.0.0.1:9", "x", "http://127.0.0.1:9", None, 0)
    for runtime_file in (None, dead):
        if runtime_file is not None:
            write_runtime(azt_home, runtime_file)
        result = run("accounts", "list")
        assert result.exit_code == 0
        assert result.output.splitlines()[1].split()[-1] == "-"
        assert json.loads(run("accounts", "list", "--json").output)[0]["in_flight"] is None


async def test_in_flight_from_a_running_gateway(sim_state: Any, azt_home: Path) -> None:
    """With a live pool named in the runtime file, the list shows its requests in flight."""
    a = add(sim_state, "a@example.com")
    add(sim_state, "b@example.com")
    runtime = PoolRuntime(Settings(), database_path())
    try:
        async with LoopbackServer(runtime.app.asgi()) as pool:
            info = RuntimeInfo(os.getpid(), pool.url, runtime.secret, "http://x", None, 0)
            write_runtime(azt_home, info)
            runtime.slots.try_take([a])
            runtime.slots.try_take([a])
            # The CLI blocks while it asks; the pool must keep running in this loop.
            table = await asyncio.to_thread(run, "accounts", "list")
            listed = await asyncio.to_thread(run, "accounts", "list", "--json")
    finally:
        await runtime.aclose()
    rows = table.output.splitlines()
    assert [rows[1].split()[-1], rows[2].split()[-1]] == ["2", "0"]
    assert [e["in_flight"] for e in json.loads(listed.output)] == [2, 0]


def test_a_gateway_with_the_wrong_secret_reads_as_unknown(sim_state: Any, azt_home: Path) -> None:
    """A refusal (a stale file naming another process's port) is "-", not an error."""
    add(sim_state, "a@example.com")
    write_runtime(azt_home, RuntimeInfo(1, "http://127.0.0.1:9", "x", "http://x", None, 0))
    assert json.loads(run("accounts", "list", "--json").output)[0]["in_flight"] is None


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
    "command",
    [
        ["use", "nobody"],
        ["remove", "nobody", "--yes"],
        ["use", "9"],
        ["pause", "nobody"],
        ["resume", "9"],
        ["cooldown", "clear", "nobody"],
    ],
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
