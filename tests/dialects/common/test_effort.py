import pytest

from azt.dialects.common.effort import nearest_effort


@pytest.mark.parametrize(
    ("requested", "levels", "expected"),
    [
        ("minimal", ["low", "medium", "high"], "low"),
        ("none", ["low", "high"], "low"),
        ("xhigh", ["low", "medium", "high"], "high"),
        ("medium", ["low", "high"], "high"),  # a tie goes to more thinking
        ("high", ["custom"], None),
        ("turbo", ["low"], None),
    ],
)
def test_nearest_effort(requested: str, levels: list[str], expected: str | None) -> None:
    assert nearest_effort(requested, levels) == expected
