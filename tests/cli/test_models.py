"""`azt models`: the stored catalog, and `--refresh` from the backend through the pool."""

import json

import pytest
from click.testing import CliRunner

from azt.cli.common import EXIT_UNAVAILABLE
from azt.cli.main import cli
from azt.config import database_path
from azt.store.accounts import AccountStore
from azt.store.db import open_database


@pytest.fixture
def pointed_at_sim(threaded_sim, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AZT_CODEX_BASE_URL", threaded_sim.url + "/backend-api/codex")
    monkeypatch.setenv("AZT_CHATGPT_BASE_URL", threaded_sim.url + "/backend-api")
    return threaded_sim


def test_refresh_fetches_the_catalog_with_a_pooled_account(pointed_at_sim) -> None:  # type: ignore[no-untyped-def]
    sim = pointed_at_sim
    database_path().parent.mkdir(parents=True, exist_ok=True)
    conn = open_database(database_path())
    account = AccountStore(conn).upsert(sim.state.pool_account("one@example.com"))
    conn.close()
    result = CliRunner().invoke(cli, ["models", "--refresh", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["source"] == "backend" and "gpt-5.4" in listed["models"]
    (request,) = [r for r in sim.state.requests if r.path.endswith("/models")]
    assert request.headers["authorization"] == f"Bearer {account.access_token}"
    # The stored list is what a plain `azt models` shows afterwards.
    again = CliRunner().invoke(cli, ["models", "--json"])
    assert json.loads(again.output)["models"] == listed["models"]


def test_refresh_without_an_account_says_how_to_add_one(pointed_at_sim) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["models", "--refresh"])
    assert result.exit_code == EXIT_UNAVAILABLE
    assert "azt login" in result.output
