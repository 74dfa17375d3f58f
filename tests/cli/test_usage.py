"""`azt usage`: totals, breakdowns and the trend, as tables, JSON and CSV."""

import csv
import io
import json
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any

import pytest
from click.testing import CliRunner, Result

from azt.cli.main import cli
from azt.cli.usage import exact_usd
from azt.config import database_path
from azt.dialects.common.usage import TokenUsage
from azt.pool.accounts import Account
from azt.records.record import RequestRecord
from azt.store.accounts import AccountStore
from azt.store.db import open_database
from support.records import make_record, store_records

KEY_A = "acct-aaaa1111-2222-3333-4444-555566667777/user-AlphaAlphaAlpha"
KEY_B = "acct-bbbb1111/user-Bravo"
EMAIL_A = "alice@example.com"
EMAIL_B = "bob@example.com"


def noon(days_ago: int = 0) -> float:
    """Midday, local time, `days_ago` days back: never on the wrong side of midnight."""
    return datetime.combine(date.today() - timedelta(days=days_ago), clock(12)).timestamp()


def record(number: int, **changes: Any) -> RequestRecord:
    values: dict[str, Any] = {
        "id": f"req-{number}",
        "started_at": noon(),
        "source": "codex-cli",
        "source_version": None,
        "endpoint": "codex.responses",
        "dialect": "codex",
        "stream": True,
        "account": KEY_A,
        "duration_ms": 400.0,
        "ttfb_ms": 100.0,
        "usage": TokenUsage(input=1000, cached=200, output=300, reasoning=50, total=1300),
        "cost_micro_usd": 1_500_000,
    }
    return make_record(**(values | changes))


def add_account(key: str, email: str) -> None:
    account_id, user_id = key.split("/")
    conn = open_database(database_path())
    try:
        AccountStore(conn).upsert(
            Account(
                key=key,
                email=email,
                plan="plus",
                chatgpt_account_id=account_id,
                chatgpt_user_id=user_id,
                id_token="id",
                access_token="access",
                refresh_token="refresh",
                access_expires_at=None,
                last_refresh=None,
            )
        )
    finally:
        conn.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["usage", *args])


def summary(*args: str) -> dict[str, Any]:
    result = run("--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def csv_rows(*args: str) -> list[dict[str, str]]:
    result = run("--csv", *args)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.fixture
def history() -> None:
    """Today: three on KEY_A (one failed with failover, one without usage) and one on KEY_B
    with an unpriced model; ten days ago: one more on KEY_A with an image."""
    store_records(
        record(1),
        record(2, status=502, error_type="upstream_error", attempts=3, duration_ms=2500.0),
        record(3, usage=None, cost_micro_usd=None, source="curl", endpoint="chat.completions"),
        record(
            4,
            account=KEY_B,
            model_served="mystery-model",
            model_requested="mystery-model",
            cost_micro_usd=None,
            usage=TokenUsage(input=10, cached=0, output=5, reasoning=0, total=15),
        ),
        record(
            5,
            started_at=noon(10),
            endpoint="images.generations",
            image_count=2,
            image_route="images-api",
            cost_micro_usd=250_000,
        ),
    )


def test_empty_database() -> None:
    result = run()
    assert result.exit_code == 0
    assert "No requests recorded yet" in result.output
    empty = summary()
    assert empty["lifetime"]["requests"] == 0
    assert empty["by_model"] == []
    assert run("--csv").stdout.splitlines() == [
        "key,requests,successes,failures,failovers,usage_unknown,input_tokens,cached_tokens,"
        "output_tokens,reasoning_tokens,total_tokens,images,cost_micro_usd,cost_usd,unpriced,"
        "average_duration_ms,average_ttfb_ms,p95_duration_ms"
    ]
    assert not database_path().exists()  # reading never creates the database


@pytest.mark.usefixtures("history")
def test_json_totals_are_exact() -> None:
    data = summary()
    assert data["since"] is None and data["period"] is None
    today, lifetime = data["today_totals"], data["lifetime"]
    assert {k: today[k] for k in ("requests", "successes", "failures", "failovers")} == {
        "requests": 4,
        "successes": 3,
        "failures": 1,
        "failovers": 2,
    }
    assert today["usage_unknown"] == 1
    assert today["unpriced"] == 1
    assert today["input_tokens"] == 2010
    assert today["cached_tokens"] == 400
    assert today["output_tokens"] == 605
    assert today["reasoning_tokens"] == 100
    assert today["total_tokens"] == 2615
    assert today["cost_micro_usd"] == 3_000_000
    assert lifetime["requests"] == 5
    assert lifetime["images"] == 2
    assert lifetime["cost_micro_usd"] == 3_250_000
    assert lifetime["total_tokens"] == 3915
    assert data["database"] == str(database_path())


@pytest.mark.usefixtures("history")
def test_since_limits_period_and_breakdowns() -> None:
    data = summary("--since", "7d")
    assert data["since"] == (date.today() - timedelta(days=6)).isoformat()  # as the admin API
    assert data["period"]["requests"] == 4
    assert data["lifetime"]["requests"] == 5
    assert {row["key"]: row["requests"] for row in data["by_account"]} == {KEY_A: 3, KEY_B: 1}
    assert [row["key"] for row in data["by_image_route"]] == ["none"]
    everything = summary("--since", (date.today() - timedelta(days=30)).isoformat())
    assert everything["period"]["requests"] == 5
    assert {row["key"]: row["requests"] for row in everything["by_account"]} == {
        KEY_A: 4,
        KEY_B: 1,
    }


def test_since_hours_start_on_the_day_they_land_on() -> None:
    expected = date.fromtimestamp(time.time() - 48 * 3600).isoformat()
    assert summary("--since", "48h")["since"] == expected
    assert summary("--since", "1d")["since"] == date.today().isoformat()


def test_json_lists_every_row() -> None:
    """No top-N cut: every model is listed, more than the admin API's default shows."""
    store_records(*(record(n, model_served=f"model-{n:02d}") for n in range(20)))
    assert len(summary()["by_model"]) == 20


@pytest.mark.usefixtures("history")
def test_csv_breakdown_is_exact() -> None:
    rows = csv_rows("--by", "account")
    assert [row["key"] for row in rows] == [KEY_A, KEY_B]
    assert rows[0] == {
        "key": KEY_A,
        "requests": "4",
        "successes": "3",
        "failures": "1",
        "failovers": "2",
        "usage_unknown": "1",
        "input_tokens": "3000",
        "cached_tokens": "600",
        "output_tokens": "900",
        "reasoning_tokens": "150",
        "total_tokens": "3900",
        "images": "2",
        "cost_micro_usd": "3250000",
        "cost_usd": "3.250000",
        "unpriced": "0",
        "average_duration_ms": "925.0",
        "average_ttfb_ms": "100.0",
        "p95_duration_ms": "5000",
    }
    assert rows[1]["cost_micro_usd"] == "0"
    assert rows[1]["unpriced"] == "1"


@pytest.mark.usefixtures("history")
def test_csv_other_dimensions() -> None:
    by_route = {row["key"]: row["requests"] for row in csv_rows("--by", "image-route")}
    assert by_route == {"none": "4", "images-api": "1"}
    by_error = {row["key"]: row["requests"] for row in csv_rows("--by", "error")}
    assert by_error == {"upstream_error": "1"}
    by_source = {row["key"]: row["requests"] for row in csv_rows("--by", "source")}
    assert by_source == {"codex-cli": "4", "curl": "1"}
    by_endpoint = csv_rows("--by", "endpoint", "--since", "1d")
    assert {row["key"]: row["requests"] for row in by_endpoint} == {
        "codex.responses": "3",
        "chat.completions": "1",
    }


def test_exact_usd() -> None:
    assert exact_usd(0) == "0.000000"
    assert exact_usd(5_985) == "0.005985"
    assert exact_usd(12_340_000) == "12.340000"


@pytest.mark.usefixtures("history")
def test_tables() -> None:
    result = run("--since", "7d")
    assert result.exit_code == 0, result.output
    out = result.output
    since = (date.today() - timedelta(days=6)).isoformat()
    totals = out[out.index("Totals") : out.index("By model")]
    assert f"since {since}" in totals
    line = {row.split("  ")[0].strip(): row.split() for row in totals.splitlines()}
    assert line["requests"][-3:] == ["4", "4", "5"]  # today, since, lifetime
    assert line["total tokens"][-3:] == ["2,615", "2,615", "3,915"]
    assert line["equivalent API cost"][-3:] == ["$3.00", "$3.00", "$3.25"]
    assert line["failovers"][-3:] == ["2", "2", "2"]
    breakdown = out[out.index("By model") : out.index("Last 30 days")]
    assert f"By model (since {since})" in breakdown
    rows = {row.split()[0]: row.split() for row in breakdown.splitlines() if row.strip()}
    assert rows["gpt-5.4"][1] == "3"
    assert "$3.00" in rows["gpt-5.4"]
    assert rows["mystery-model"][-3] == "—"  # usage but no price: no cost, never guessed
    trend = out[out.index("Last 30 days") :]
    assert date.today().isoformat() in trend
    assert (date.today() - timedelta(days=10)).isoformat() in trend
    assert "No price for mystery-model (1 request)" in out
    assert '[prices."MODEL"]' in out


@pytest.mark.usefixtures("history")
def test_breakdown_by_account_shows_keys_and_emails_on_request() -> None:
    add_account(KEY_A, EMAIL_A)
    add_account(KEY_B, EMAIL_B)
    plain = run("--by", "account")
    assert KEY_B in plain.output  # short enough to show whole
    assert KEY_A[:10] in plain.output  # long keys are cut in the middle
    with_emails = run("--by", "account", "--emails")
    assert EMAIL_A in with_emails.output and EMAIL_B in with_emails.output
    assert KEY_B not in with_emails.output
    emailed = {row["key"]: row["requests"] for row in csv_rows("--by", "account", "--emails")}
    assert emailed == {EMAIL_A: "4", EMAIL_B: "1"}
    rows = summary("--emails")["by_account"]
    assert {row["key"]: row["email"] for row in rows} == {KEY_A: EMAIL_A, KEY_B: EMAIL_B}


@pytest.mark.usefixtures("history")
def test_emails_never_appear_without_the_flag() -> None:
    add_account(KEY_A, EMAIL_A)
    add_account(KEY_B, EMAIL_B)
    for args in (
        ("--by", "account"),
        ("--by", "account", "--csv"),
        ("--json",),
        ("--since", "7d", "--json"),
    ):
        output = run(*args).output
        assert "@" not in output, args


def test_emails_fall_back_to_keys_for_unknown_accounts() -> None:
    add_account(KEY_A, EMAIL_A)
    store_records(record(1), record(2, account=KEY_B))
    emailed = {row["key"] for row in csv_rows("--by", "account", "--emails")}
    assert emailed == {EMAIL_A, KEY_B}


@pytest.mark.usefixtures("history")
def test_sources_show_their_labels_in_the_table() -> None:
    out = run("--by", "source").output
    assert "By source (lifetime)" in out
    assert "Codex CLI" in out and "curl" in out


def test_cost_dash_when_nothing_could_be_priced() -> None:
    store_records(record(1, usage=None, cost_micro_usd=None))
    totals = run().output.split("By model")[0]
    cost_line = next(line for line in totals.splitlines() if "equivalent API cost" in line)
    assert cost_line.split()[-2:] == ["—", "—"]


@pytest.mark.parametrize("value", ["soon", "7x", "0d", "2025-02-30"])
def test_bad_since_is_a_usage_error(value: str) -> None:
    result = run("--since", value)
    assert result.exit_code == 2
    assert "Invalid value for '--since'" in result.output
    assert "7d" in result.output or "at least" in result.output


def test_json_and_csv_together_is_a_usage_error() -> None:
    result = run("--json", "--csv")
    assert result.exit_code == 2
    assert "--json and --csv" in result.output


def test_unknown_dimension_is_a_usage_error() -> None:
    assert run("--by", "weather").exit_code == 2
