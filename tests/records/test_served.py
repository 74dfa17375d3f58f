"""What the pool learned about a request, held by id until the ledger takes it."""

from azt.records.record import TokenUsage
from azt.records.served import Served, ServedBoard


def test_add_usage_accumulates_and_ignores_unknown() -> None:
    served = Served()
    served.add_usage(None)
    assert served.usage is None  # unknown stays unknown
    served.add_usage(TokenUsage(input=10, cached=2, output=5, reasoning=1, total=15))
    served.add_usage(None)
    served.add_usage(TokenUsage(input=1, output=1, total=2))
    assert served.usage == TokenUsage(input=11, cached=2, output=6, reasoning=1, total=17)
    assert served.image_usage is None


def test_add_image_usage_is_kept_apart() -> None:
    served = Served()
    served.add_image_usage(None)
    assert served.image_usage is None
    served.add_image_usage(TokenUsage(input=100, output=10, total=110))
    served.add_image_usage(TokenUsage(input=5, output=5, total=10))
    assert served.image_usage == TokenUsage(input=105, output=15, total=120)
    assert served.usage is None


def test_served_defaults_are_not_shared() -> None:
    a, b = Served(), Served()
    a.accounts.append("acct-a")
    assert b.accounts == []


def test_open_returns_the_same_entry_until_taken() -> None:
    board = ServedBoard()
    first = board.open("flow-1")
    first.attempts = 2
    assert board.open("flow-1") is first
    assert len(board) == 1
    other = board.open("flow-2")
    assert other is not first and len(board) == 2
    assert board.take("flow-1") is first
    assert board.take("flow-1") is None  # taken once
    assert len(board) == 1
    assert board.open("flow-1") is not first  # a fresh entry after taking


def test_open_without_id_is_untracked() -> None:
    board = ServedBoard()
    for missing in (None, ""):
        entry = board.open(missing)
        assert isinstance(entry, Served)
        assert board.open(missing) is not entry
    assert len(board) == 0


def test_take_unknown_id() -> None:
    assert ServedBoard().take("nope") is None


def test_board_is_bounded() -> None:
    board = ServedBoard(limit=3)
    for n in range(10):
        board.open(f"flow-{n}")
        assert len(board) <= 3
    # The oldest entries went first.
    assert [board.take(f"flow-{n}") is not None for n in range(10)] == [False] * 7 + [True] * 3


def test_board_evicts_the_least_recently_used() -> None:
    board = ServedBoard(limit=3)
    a = board.open("a")
    board.open("b")
    board.open("c")
    assert board.open("a") is a  # used again: now the most recent
    board.open("d")
    assert board.take("b") is None  # the least recently used went
    assert board.take("a") is a
    assert board.take("c") is not None and board.take("d") is not None
