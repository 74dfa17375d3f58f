"""The Codex usage check end to end: answered by the pool for the pool, never by upstream."""

import time

from azt.routes import USAGE_PATHS
from azt.sim.faults import Fault
from support.rig import Rig

CODEX_CHECK_HEADERS = {
    "authorization": "Bearer codex-cli-own-token",
    "chatgpt-account-id": "codex-cli-own-account",
    "user-agent": "codex_cli_rs/0.169.0",
}
TURN = {
    "model": "gpt-5.4",
    "instructions": "",
    "input": "Reply with PONG",
    "store": False,
    "stream": True,
}


def cooling(rig: Rig, key: str) -> bool:
    account = rig.runtime.accounts.get(key)
    return account is not None and account.cooling(time.time())


async def usage(rig: Rig, path: str = "/backend-api/wham/usage") -> dict:
    response = await rig.client.get(path, headers=CODEX_CHECK_HEADERS)
    assert response.status_code == 200, response.text
    return response.json()


async def test_usage_stays_allowed_while_another_account_can_serve(rig: Rig) -> None:
    """One account hits its usage limit and cools down; the pool still reports room."""
    first = rig.add_account("first@example.com")
    second = rig.add_account("second@example.com")
    rig.sim.set_fault(first.chatgpt_account_id, Fault("usage_limit", resets_in_seconds=3600))
    turn = await rig.client.post("/codex/v1/responses", json=TURN)
    assert turn.status_code == 200
    await rig.runtime.book.flush()  # cooldowns and quota are written off the request path
    assert cooling(rig, first.key)
    assert rig.runtime.accounts.quota(second.key) is not None

    report = await usage(rig)
    assert report["rate_limit"]["allowed"] is True
    assert report["rate_limit"]["limit_reached"] is False
    primary = report["rate_limit"]["primary_window"]
    assert primary["used_percent"] == 0  # the second account's, fresh
    assert primary["limit_window_seconds"] == 300 * 60
    assert report["additional_rate_limits"] == []
    # Answered locally: the usage check never reaches the backend.
    assert not [r for r in rig.sim.requests if "usage" in r.path]


async def test_usage_reports_the_limit_once_every_account_is_spent(rig: Rig) -> None:
    """With every account limited, the report is limit_reached with the soonest reset."""
    for email, resets_in in (("late@example.com", 3600), ("soon@example.com", 600)):
        account = rig.add_account(email)
        rig.sim.set_fault(
            account.chatgpt_account_id, Fault("usage_limit", resets_in_seconds=resets_in)
        )
    turn = await rig.client.post("/codex/v1/responses", json=TURN)
    assert turn.status_code == 429
    keys = [a.key for a in rig.runtime.accounts.list()]
    await rig.runtime.book.flush()
    assert all(cooling(rig, key) for key in keys)

    report = await usage(rig)
    assert report["rate_limit"]["allowed"] is False
    assert report["rate_limit"]["limit_reached"] is True
    primary = report["rate_limit"]["primary_window"]
    assert primary["used_percent"] == 100
    assert 590 <= primary["reset_after_seconds"] <= 600


async def test_every_usage_path_is_served(rig: Rig) -> None:
    """The ChatGPT-base and Codex-base spellings all get the pooled answer."""
    rig.add_account()
    for path in USAGE_PATHS:
        report = await usage(rig, path)
        assert report["rate_limit"]["allowed"] is True, path
        assert report["plan_type"] == "plus", path


async def test_usage_with_a_wrong_method_is_405(rig: Rig) -> None:
    """Only GET is served on the usage paths."""
    response = await rig.client.post("/backend-api/wham/usage", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
