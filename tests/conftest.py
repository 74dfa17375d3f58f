"""Shared fixtures. Every test runs with AZT_HOME in a temporary directory."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.sim import Sim, running_sim


@pytest.fixture(autouse=True)
def azt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "azt-home"
    monkeypatch.setenv("AZT_HOME", str(home))
    for name in list(__import__("os").environ):
        if name.startswith("AZT_") and name != "AZT_HOME":
            monkeypatch.delenv(name)
    return home


VOCABULARY = Path(__file__).resolve().parent.parent / ".e2e" / "o200k_base.tiktoken"


@pytest.fixture(scope="session")
def vocabulary() -> Path:
    """The o200k_base vocabulary `make test` installs (tests that count tokens need it)."""
    if not VOCABULARY.exists():
        pytest.fail(f"{VOCABULARY} is missing: run `make test` (it installs the vocabulary)")
    return VOCABULARY


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """How `sim` starts (`event_delay`, or settings for azt); override in a suite or module."""
    return {}


@pytest.fixture
async def sim(sim_options: dict[str, Any]) -> AsyncIterator[Sim]:
    """The simulator on a loopback port, with `settings` pointing every base URL at it."""
    async with running_sim(**sim_options) as sim:
        yield sim
