"""Fixtures for CLI tests: a private AZT_HOME, and the simulator in a thread (`sim` is shared)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.sim import Sim, sim_in_thread


@pytest.fixture(autouse=True)
def azt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every CLI test gets its own state directory."""
    home = tmp_path / "azt-home"
    monkeypatch.setenv("AZT_HOME", str(home))
    return home


@pytest.fixture
def threaded_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sim]:
    """The simulator in a thread of its own, for commands that run their own event loop.

    `AZT_AUTH_BASE_URL` points the CLI's settings at it.
    """
    with sim_in_thread() as sim:
        monkeypatch.setenv("AZT_AUTH_BASE_URL", sim.url)
        yield sim
