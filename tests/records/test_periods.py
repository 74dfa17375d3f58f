"""Reading `since` periods: `7d`, `24h`, or a date."""

from datetime import date, datetime

import pytest

from azt.records.periods import parse_since

NOW = datetime(2026, 11, 22, 1, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1d", date(2026, 11, 22)),  # today only
        ("7d", date(2026, 11, 16)),  # today and the six days before
        ("30d", date(2026, 10, 24)),
        ("366d", date(2025, 11, 22)),
        ("1h", date(2026, 11, 22)),  # 00:30 today
        ("2h", date(2026, 11, 21)),  # 23:30 yesterday
        ("24h", date(2026, 11, 21)),
        ("48h", date(2026, 11, 20)),
        ("99999h", date(2015, 6, 26)),
        (" 7D ", date(2026, 11, 16)),
        ("07d", date(2026, 11, 16)),
        ("2026-11-01", date(2026, 11, 1)),
        ("2030-01-31", date(2030, 1, 31)),  # a future date is still a date
        (" 2026-02-28\n", date(2026, 2, 28)),
    ],
)
def test_parse_since(text: str, expected: date) -> None:
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "0d",
        "0h",
        "-1d",
        "7",
        "d",
        "7w",
        "7 d",
        "1.5d",
        "123456d",
        "yesterday",
        "2026-13-01",
        "2026-02-30",
        "11/01/2026",
    ],
)
def test_parse_since_rejects(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_since(text, now=NOW)
    message = str(caught.value)
    assert "7d" in message or "at least" in message


def test_parse_since_defaults_to_now() -> None:
    today = datetime.now().date()
    assert parse_since("1d") in (today, datetime.now().date())
