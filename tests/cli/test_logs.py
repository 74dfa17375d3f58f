"""`azt logs`: the request log read straight from the database, filtered, and followed."""

import json
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any

import pytest
from click.testing import CliRunner, Result

from azt.cli import logs as logs_module
from azt.cli.logs import (
    follow,
    format_ms,
    format_usd,
    parse_moment,
    records_after,
    short_key,
)
from azt.cli.main import cli
from azt.config import database_path
from azt.dialects.common.usage import TokenUsage
from azt.pool.accounts import Account
from azt.records.record import RequestRecord
from azt.store.accounts import AccountStore
from azt.store.db import open_database
from azt.store.requests import RequestFilter, RequestStore
from support.records import make_record, store_records

KEY_A = "acct-aaaa1111-2222-3333-4444-555566667777/user-AlphaAlphaAlpha"
KEY_B = "acct-bbbb1111-2222-3333-4444-555566667777/user-BravoBravoBravo"
EMAIL_A = "alice@example.com"


def noon(days_ago: int = 0) -> float:
    """Midday, local time, `days_ago` days back: never on the wrong side of midnight."""
    return datetime.combine(date.today() - timedelta(days=days_ago), clock(12)).timestamp()


def record(number: int, **changes: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "id": f"req-{number}",
        "started_at": noon() + number,
        "source": "codex-cli",
        "source_version": "0.169.0",
        "endpoint": "codex.responses",
        "dialect": "codex",
        "stream": True,
        "account": KEY_A,
        "duration_ms": 1234.0,
        "ttfb_ms": 321.0,
        "usage": TokenUsage(input=1500, cached=500, output=250, reasoning=100, total=1750),
        "cost_micro_usd": 1_234_567,
    }
    return make_record(**(values | changes))


def add_account(key: str, email: str | None) -> None:
    account = Account(
        key=key,
        email=email,
        plan="plus",
        chatgpt_account_id=key.split("/")[0],
        chatgpt_user_id=key.split("/")[1],
        id_token="id",
        access_token="access",
        refresh_token="refresh",
        access_expires_at=None,
        last_refresh=None,
    )
    conn = open_database(database_path())
    try:
        AccountStore(conn).upsert(account)
    finally:
        conn.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["logs", *args])


def json_lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def ids(result: Result) -> list[str]:
    return [line["id"] for line in json_lines(result)]


def test_no_database_says_so_and_creates_nothing() -> None:
    """A fresh install has no log: the table mode explains, JSON prints nothing."""
    result = run()
    assert result.exit_code == 0
    assert "No requests recorded yet" in result.output
    assert "azt start" in result.output
    json_result = run("--json")
    assert json_result.exit_code == 0
    assert json_result.stdout == ""
    assert not database_path().exists()


def test_table_shows_every_column_oldest_first() -> None:
    store_records(
        record(1),
        record(
            2,
            endpoint="chat.completions",
            source="openai-sdk-python",
            status=429,
            error_type="usage_limit_reached",
            attempts=3,
            usage=None,
            cost_micro_usd=None,
            duration_ms=45_600.0,
            ttfb_ms=None,
        ),
    )
    result = run()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "time", "endpoint", "source", "model", "account", "status", "error", "try", "dur",
        "ttfb", "in", "out", "cost",
    ]  # fmt: skip
    first, second = lines[1], lines[2]
    assert first.split() == [
        "12:00:01", "codex.responses", "Codex", "CLI", "gpt-5.4", short_key(KEY_A), "200", "—",
        "1", "1.2s", "321ms", "1,500", "250", "$1.23",
    ]  # fmt: skip
    assert second.split() == [
        "12:00:02", "chat.completions", "OpenAI", "SDK", "(Python)", "gpt-5.4", short_key(KEY_A),
        "429", "usage_limit_reached", "3", "45.6s", "—", "—", "—", "—",
    ]  # fmt: skip


def test_table_dates_records_of_other_days() -> None:
    store_records(record(1, started_at=noon(3)))
    three_days_ago = datetime.fromtimestamp(noon(3)).strftime("%m-%d 12:00:00")
    assert three_days_ago in run().output


def test_limit_takes_the_newest_and_prints_them_oldest_first() -> None:
    store_records(*(record(n) for n in range(1, 8)))
    assert ids(run("--json", "-n", "3")) == ["req-5", "req-6", "req-7"]
    assert len(run().output.splitlines()) == 1 + 7  # header + rows (default 20)


def test_json_lines_are_the_record_with_its_seq() -> None:
    first, second = record(1), record(2, usage=None, cost_micro_usd=None, status=None)
    store_records(first, second)
    result = run("--json")
    assert result.exit_code == 0
    assert json_lines(result) == [
        {"seq": 1, **first.as_json()},
        {"seq": 2, **second.as_json()},
    ]
    assert json_lines(result)[0]["cost_micro_usd"] == 1_234_567
    assert json_lines(result)[0]["usage"]["input_tokens"] == 1500


def test_filters() -> None:
    store_records(
        record(1),
        record(2, endpoint="chat.completions"),
        record(3, model_served="gpt-5.4-mini", model_requested="auto"),
        record(4, model_served=None, model_requested="gpt-5.5"),
        record(5, account=KEY_B),
        record(6, source="curl"),
        record(7, status=502, error_type="upstream_error"),
        record(8, started_at=noon(2)),
    )
    assert ids(run("--json", "--endpoint", "chat.completions")) == ["req-2"]
    assert ids(run("--json", "--model", "gpt-5.4-mini")) == ["req-3"]
    assert ids(run("--json", "--model", "gpt-5.5")) == ["req-4"]
    assert ids(run("--json", "--account", KEY_B)) == ["req-5"]
    assert ids(run("--json", "--source", "curl")) == ["req-6"]
    assert ids(run("--json", "--errors")) == ["req-7"]
    assert "req-8" not in ids(run("--json", "--since", "24h"))
    assert len(ids(run("--json", "--since", "24h"))) == 7
    assert ids(run("--json", "--since", (date.today() - timedelta(days=2)).isoformat())) == [
        f"req-{n}" for n in range(1, 9)
    ]
    assert ids(run("--json", "--errors", "--endpoint", "chat.completions")) == []


def test_source_by_label_and_account_by_email() -> None:
    add_account(KEY_B, "bob@example.com")
    store_records(record(1), record(2, account=KEY_B, source="openai-sdk-python"))
    assert ids(run("--json", "--source", "OpenAI SDK (Python)")) == ["req-2"]
    assert ids(run("--json", "--account", "bob@example.com")) == ["req-2"]


def test_no_match_is_told_apart_from_an_empty_log() -> None:
    store_records(record(1))
    result = run("--model", "nothing-like-it")
    assert result.exit_code == 0
    assert "No requests match" in result.output


def test_accounts_appear_by_key_never_by_email() -> None:
    add_account(KEY_A, EMAIL_A)
    store_records(record(1))
    for output in (run().output, run("--json").output):
        assert EMAIL_A not in output
    assert json_lines(run("--json"))[0]["account"] == KEY_A


@pytest.mark.parametrize("value", ["bogus", "7", "-3d", "7w", "0h", "2025-13-01", "d"])
def test_bad_since_is_a_usage_error(value: str) -> None:
    result = run("--since", value)
    assert result.exit_code == 2
    assert "Invalid value for '--since'" in result.output
    assert "24h" in result.output or "at least" in result.output


def test_parse_moment() -> None:
    now = datetime(2025, 6, 10, 15, 30).timestamp()
    assert parse_moment("24h", now) == now - 24 * 3600
    assert parse_moment(" 1H ", now) == now - 3600
    assert parse_moment("7d", now) == datetime(2025, 6, 3, 15, 30).timestamp()
    assert parse_moment("2025-06-01", now) == datetime(2025, 6, 1).timestamp()
    assert parse_moment("2025-06-01t08:00", now) == datetime(2025, 6, 1, 8).timestamp()
    for bad in ("yesterday", "0d", "123456h"):
        with pytest.raises(ValueError):
            parse_moment(bad, now)


def test_formats() -> None:
    assert format_usd(None) == "—"
    assert format_usd(0) == "$0.00"
    assert format_usd(4_200) == "$0.0042"
    assert format_usd(12_345_678) == "$12.35"
    assert format_usd(1_234_500_000) == "$1,234.50"
    assert format_ms(850) == "850ms"
    assert format_ms(12_340) == "12.3s"
    assert format_ms(125_000) == "2m05s"
    assert short_key("acct-1/user-1") == "acct-1/user-1"
    assert short_key(KEY_A) == "acct-a…aAlpha"


def test_follow_emits_records_added_later() -> None:
    store_records(record(1))
    conn = open_database(database_path())
    store = RequestStore(conn)
    batches: list[list[str]] = []
    polls = iter([[record(2), record(3)], [], [record(4)]])

    def sleep(seconds: float) -> None:
        assert seconds == logs_module.POLL_SECONDS
        store_records(*next(polls))  # the gateway commits while we wait

    try:
        last = follow(
            store,
            RequestFilter(),
            store.last_seq(),
            lambda batch: batches.append([r.id for _, r in batch]),
            sleep=sleep,
            polls=3,
        )
    finally:
        conn.close()
    assert batches == [["req-2", "req-3"], ["req-4"]]
    assert last == 4


def test_follow_applies_the_filters() -> None:
    conn = open_database(database_path())
    store = RequestStore(conn)
    seen: list[str] = []
    try:
        follow(
            store,
            RequestFilter(errors_only=True),
            0,
            lambda batch: seen.extend(r.id for _, r in batch),
            sleep=lambda _: store_records(
                record(1), record(2, status=500, error_type="server_error")
            ),
            polls=1,
        )
    finally:
        conn.close()
    assert seen == ["req-2"]


def test_records_after_pages_past_the_query_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs_module, "PAGE_SIZE", 2)
    store_records(*(record(n) for n in range(1, 8)))
    conn = open_database(database_path())
    try:
        found = records_after(RequestStore(conn), RequestFilter(), 1)
    finally:
        conn.close()
    assert [seq for seq, _ in found] == [2, 3, 4, 5, 6, 7]


def interrupt_after(monkeypatch: pytest.MonkeyPatch, *arrivals: list[RequestRecord]) -> None:
    """Each poll adds the next batch; the poll after the last stands in for Ctrl-C."""
    pending = list(arrivals)

    def wait(seconds: float) -> None:
        if not pending:
            raise KeyboardInterrupt
        store_records(*pending.pop(0))

    monkeypatch.setattr(logs_module, "wait_for_next_poll", wait)


def test_follow_command_prints_new_rows_and_ctrl_c_exits_0(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_records(record(1))
    interrupt_after(monkeypatch, [record(2, model_served="gpt-5.4-mini")], [], [record(3)])
    result = run("--follow")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0].startswith("time")
    assert [line.split()[0] for line in rows[1:]] == ["12:00:01", "12:00:02", "12:00:03"]
    assert "gpt-5.4-mini" in rows[2]
    assert sum(line.startswith("time") for line in rows) == 1  # one header for the session
    assert "Ctrl-C" in result.stderr


def test_follow_json_starts_empty_and_creates_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Following before the gateway ever ran waits for the first records."""
    interrupt_after(monkeypatch, [record(1)], [record(2)])
    result = run("-f", "--json", "-n", "0")
    assert result.exit_code == 0
    assert ids(result) == ["req-1", "req-2"]
    assert [line["seq"] for line in json_lines(result)] == [1, 2]


def test_follow_skips_what_the_tail_showed(monkeypatch: pytest.MonkeyPatch) -> None:
    store_records(record(1), record(2))
    interrupt_after(monkeypatch, [record(3)])
    assert ids(run("-f", "--json", "-n", "1")) == ["req-2", "req-3"]
