"""The regression corpus (corpus.py): each known minimal example, judged like a fuzz case."""

import pytest

from fuzz.corpus import entries
from fuzz.runner import Case, Runner
from fuzz.valid import bounded_keys

CORPUS = entries()


@pytest.mark.parametrize(
    "case", [entry[2] for entry in CORPUS], ids=[f"{cls}: {name}" for cls, name, _ in CORPUS]
)
def test_known_example(case: Case, runner: Runner) -> None:
    violations = runner.run(case)
    assert not violations, f"{case!r}\n" + "\n".join(str(v) for v in violations)


@pytest.mark.parametrize(
    "kind", ["model", "path", "source"], ids=["models", "unmatched paths", "sdk languages"]
)
def test_client_controlled_keys_are_bounded(kind: str, runner: Runner) -> None:
    """150 distinct values a client chose: /metrics labels and daily rollup keys stay capped."""
    runner.stack.restart()  # a fresh database, so only these requests count
    runner.http  # noqa: B018 (opens the probe client on this gateway)
    runner.stack.damaged = "150 client-chosen keys"  # the next test gets a fresh one
    for n in range(150):
        if kind == "model":
            body = (
                b'{"model": "fuzz-model-%d", "messages": [{"role": "user", "content": "hi"}]}' % n
            )
            data = (
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )
        elif kind == "path":
            data = b"GET /v1/fuzz-%d HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % n
        else:
            data = (
                b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nx-stainless-lang: fuzz%d\r\n\r\n"
                % n
            )
        exchange = runner.send(Case("cardinality", data))
        assert exchange.first is not None, exchange
    assert bounded_keys(runner.stack.gateway) == []
