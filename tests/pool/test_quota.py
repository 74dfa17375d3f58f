from azt.pool.quota import quota_from_headers

PLUS_HEADERS = {
    "X-Codex-Primary-Used-Percent": "12.5",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-at": "1775000000",
    "x-codex-primary-reset-after-seconds": "600",
    "x-codex-secondary-used-percent": "3",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-at": "",
    "x-codex-credits-has-credits": "False",
    "x-codex-credits-unlimited": "false",
    "x-codex-credits-balance": "",
    "x-codex-plan-type": "plus",
    "content-type": "text/event-stream",
}


def test_reads_windows_credits_and_plan() -> None:
    assert quota_from_headers(PLUS_HEADERS) == {
        "primary": {
            "used_percent": 12.5,
            "window_minutes": 300,
            "reset_at": 1775000000,
            "reset_after_seconds": 600,
        },
        "secondary": {
            "used_percent": 3.0,
            "window_minutes": 10080,
            "reset_at": None,
            "reset_after_seconds": None,
        },
        "credits": {"has_credits": False, "unlimited": False, "balance": None},
        "plan_type": "plus",
    }


def test_no_codex_headers_means_no_snapshot() -> None:
    assert quota_from_headers({"content-type": "application/json"}) is None


def test_garbage_values_become_none() -> None:
    snapshot = quota_from_headers({"x-codex-primary-used-percent": "lots"})
    assert snapshot is None or snapshot.get("primary") is None
