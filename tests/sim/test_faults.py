"""The fault model and the per-account fault book."""

import pytest

from azt.sim.faults import KINDS, Fault, FaultBook


def test_defaults_merge_with_params() -> None:
    """Parameters not given take the kind's defaults."""
    fault = Fault("server_error", times=2, status=502)
    assert fault.params == {"status": 502}
    assert Fault("drop_mid_stream").params == {"after_events": 4}
    assert Fault("usage_limit").to_dict() == {
        "kind": "usage_limit",
        "times": None,
        "resets_in_seconds": 3600,
        "plan_type": None,
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "nope"}, "unknown fault kind 'nope'"),
        ({"kind": "stall", "times": 0}, "times must be at least 1"),
        ({"kind": "stall", "second": 1}, "takes no parameter second; allowed: seconds"),
        ({"kind": "keepalive", "x": 1}, "allowed: none"),
    ],
)
def test_invalid_faults(kwargs: dict, message: str) -> None:
    """Typos in kinds, times or parameters fail loudly."""
    with pytest.raises(ValueError, match=message):
        Fault(**kwargs)


def test_from_dict() -> None:
    """The admin JSON shape builds the same fault; bad shapes are ValueErrors."""
    assert Fault.from_dict({"kind": "stall", "times": 1, "seconds": 2}) == Fault(
        "stall", times=1, seconds=2
    )
    with pytest.raises(ValueError, match="kind"):
        Fault.from_dict({})
    with pytest.raises(ValueError, match="times"):
        Fault.from_dict({"kind": "stall", "times": "1"})


def test_every_kind_is_constructible() -> None:
    """Every documented kind builds with its defaults and has a route."""
    for kind, spec in KINDS.items():
        assert Fault(kind).applies_to("responses")
        assert spec.routes


def test_times_counts_down() -> None:
    """A fault with times=N applies to N requests, then is gone."""
    book = FaultBook()
    book.set("a", Fault("rate_limited", times=2))
    assert book.take("a", "responses") == Fault("rate_limited", times=2)
    assert book.remaining("a") == [1]
    assert book.take("a", "compact") is not None
    assert book.take("a", "responses") is None
    assert book.peek("a") == []


def test_unlimited_until_cleared() -> None:
    """times=None keeps applying until cleared."""
    book = FaultBook()
    book.set("a", Fault("unauthorized"))
    for _ in range(5):
        assert book.take("a", "responses") is not None
    book.clear("a")
    assert book.take("a", "responses") is None


def test_stream_faults_skip_compact() -> None:
    """A stream-shape fault is neither applied nor consumed by /responses/compact."""
    book = FaultBook()
    book.set("a", Fault("keepalive", times=1))
    book.add("a", Fault("overloaded", times=1))
    assert book.take("a", "compact") == Fault("overloaded", times=1)
    assert book.take("a", "compact") is None
    assert book.take("a", "responses") == Fault("keepalive", times=1)


def test_set_replaces_add_queues() -> None:
    """set() replaces the account's faults; add() queues behind them; clear() empties all."""
    book = FaultBook()
    book.add("a", Fault("stall", times=1))
    book.add("a", Fault("keepalive", times=1))
    assert [f.kind for f in book.peek("a")] == ["stall", "keepalive"]
    assert book.take("a", "responses").kind == "stall"  # type: ignore[union-attr]
    assert book.take("a", "responses").kind == "keepalive"  # type: ignore[union-attr]
    book.add("a", Fault("stall"))
    book.set("a", Fault("html_403"))
    book.set("b", Fault("html_403"))
    assert [f.kind for f in book.peek("a")] == ["html_403"]
    book.clear()
    assert book.peek("a") == book.peek("b") == []


def test_repr() -> None:
    """The repr reads like the constructor call."""
    assert repr(Fault("stall", times=1, seconds=2)) == "Fault('stall', times=1, seconds=2)"
