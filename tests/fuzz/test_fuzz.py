"""Property-based fuzzing of every surface of a running gateway (see oracle.py for what is
checked, runner.py for how each case is run, strategies.py for what is sent)."""

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from fuzz.conftest import examples_per_family, is_full
from fuzz.runner import SHRINK, TALLY, Case, Runner
from fuzz.seeds import seeded_routes, table_routes
from fuzz.strategies import FAMILIES
from fuzz.valid import still_serves

EXAMPLES = examples_per_family()
# Seconds a family may take: a small sample is quick; a full run of 1,200 cases, with bodies
# of up to 9 MB, bombs and the restarts they cause, takes minutes.
BUDGET = 120 if not is_full() else 3600


def test_every_route_has_seeds() -> None:
    """Each route of the route table is fuzzed, starting from a valid request of its own."""
    assert table_routes() - seeded_routes() == set()


def test_valid_requests_are_served(runner: Runner) -> None:
    """The seeds the fuzz starts from are valid: a fresh gateway serves every one."""
    runner.stack.restart()
    runner.http  # noqa: B018 (opens the probe client on this gateway)
    assert still_serves(runner) == []


@pytest.mark.timeout(BUDGET)
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz(family: str, runner: Runner) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not is_full(),
        phases=list(Phase) if SHRINK else [Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=FAMILIES[family])
    def check(case: Case) -> None:
        runner.run(case, family)

    # Each family starts on a fresh gateway, so what is checked after it is its own doing.
    runner.stack.restart()
    check()
    problems = TALLY.report(family)
    afterwards = still_serves(runner)
    message = problems
    if afterwards:
        message += "\nafter the cases, the gateway no longer serves:\n  " + "\n  ".join(afterwards)
    assert not message, f"{family}: {TALLY.by_family[family]} cases\n{message}"
