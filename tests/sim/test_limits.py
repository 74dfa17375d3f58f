"""Rate-limit windows, x-codex-* headers and the usage JSON."""

from azt.sim.limits import Usage, exhausted, rate_limit_headers, usage_payload, windows

START = 1_700_000_000.0


def test_paid_plan_windows() -> None:
    """Paid plans have a 5-hour primary and a weekly secondary window on fixed boundaries."""
    primary, secondary = windows("plus", Usage(12.5, 40), START, START + 100)
    assert (primary.window_minutes, primary.reset_after_seconds) == (300, 18000 - 100)
    assert primary.reset_at == int(START) + 18000
    assert secondary is not None and secondary.window_minutes == 10080
    assert secondary.reset_at == int(START) + 604800
    assert (primary.used_percent, secondary.used_percent) == (12.5, 40)


def test_free_plan_has_one_weekly_window() -> None:
    """The free plan reports a single weekly window."""
    primary, secondary = windows("free", Usage(), START, START)
    assert primary.window_minutes == 10080 and secondary is None


def test_headers_paid() -> None:
    """The header family spells numbers plainly and booleans the Python way."""
    primary, secondary = windows("pro", Usage(12.5, 3, has_credits=True), START, START)
    headers = rate_limit_headers("pro", primary, secondary, Usage(12.5, 3, has_credits=True))
    assert headers == {
        "x-codex-plan-type": "pro",
        "x-codex-primary-used-percent": "12.5",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-after-seconds": "18000",
        "x-codex-primary-reset-at": str(int(START) + 18000),
        "x-codex-secondary-used-percent": "3",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-after-seconds": "604800",
        "x-codex-secondary-reset-at": str(int(START) + 604800),
        "x-codex-primary-over-secondary-limit-percent": "0",
        "x-codex-credits-has-credits": "True",
        "x-codex-credits-balance": "0",
        "x-codex-credits-unlimited": "False",
    }


def test_headers_free() -> None:
    """Without a secondary window its headers are zero and the reset time empty."""
    primary, secondary = windows("free", Usage(), START, START)
    headers = rate_limit_headers("free", primary, secondary, Usage())
    assert headers["x-codex-secondary-window-minutes"] == "0"
    assert headers["x-codex-secondary-reset-at"] == ""


def test_exhausted_window() -> None:
    """An exhausted window is 100 % used and resets when the fault says."""
    primary, _ = windows("plus", Usage(), START, START)
    window = exhausted(primary, 60, START + 5)
    assert (window.used_percent, window.reset_at, window.reset_after_seconds) == (
        100.0,
        int(START) + 65,
        60,
    )


def test_usage_payload() -> None:
    """The /wham/usage body has the documented shape; 100 % means limit reached."""
    primary, secondary = windows("plus", Usage(42), START, START)
    payload = usage_payload(
        email="a@x",
        account_id="acct",
        user_id="user",
        plan="plus",
        primary=primary,
        secondary=secondary,
        usage=Usage(42),
    )
    assert payload["plan_type"] == "plus"
    assert payload["rate_limit"]["allowed"] is True
    assert payload["rate_limit"]["primary_window"] == {
        "used_percent": 42,
        "limit_window_seconds": 18000,
        "reset_after_seconds": 18000,
        "reset_at": int(START) + 18000,
    }
    assert payload["credits"] == {"has_credits": False, "unlimited": False, "balance": "0"}
    assert payload["rate_limit_reached_type"] is None
    full = usage_payload(
        email="a@x",
        account_id="acct",
        user_id="user",
        plan="free",
        primary=exhausted(primary, 10, START),
        secondary=None,
        usage=Usage(),
    )
    assert full["rate_limit"]["limit_reached"] is True
    assert full["rate_limit"]["secondary_window"] is None
