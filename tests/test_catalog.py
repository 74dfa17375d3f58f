import pytest

from azt.catalog import BUILTIN_MODELS, Catalog, CatalogFormatError, models_from_reply
from azt.store.catalog import StoredCatalog


def test_builtin_fallback_lists_visible_models() -> None:
    catalog = Catalog.from_stored(None)
    assert catalog.source == "built-in"
    ids = [m["id"] for m in catalog.openai_list()["data"]]
    assert "gpt-5.4" in ids and "codex-auto-review" not in ids
    assert catalog.knows("codex-auto-review")
    assert len(BUILTIN_MODELS) == 6


def test_stored_catalog_replaces_the_fallback_and_keeps_priority_order() -> None:
    stored = StoredCatalog(
        [
            {"slug": "b", "priority": 2},
            {"slug": "a", "priority": 1},
            {"slug": "h", "visibility": "hide"},
        ],
        '"etag"',
        "0.169.0",
        1_700_000_000,
    )
    listing = Catalog.from_stored(stored).openai_list()
    assert listing["object"] == "list"
    assert [m["id"] for m in listing["data"]] == ["a", "b"]
    assert listing["data"][0] == {
        "id": "a",
        "object": "model",
        "created": 1_700_000_000,
        "owned_by": "azt",
    }


@pytest.mark.parametrize(
    "reply", [{"models": [{"slug": "x"}]}, {"data": [{"slug": "x"}]}, [{"slug": "x"}]]
)
def test_models_from_reply_shapes(reply: object) -> None:
    assert models_from_reply(reply) == [{"slug": "x"}]


@pytest.mark.parametrize("reply", [{"models": "x"}, {"models": [{"id": "x"}]}, None, 5])
def test_models_from_reply_rejects_garbage(reply: object) -> None:
    with pytest.raises(CatalogFormatError):
        models_from_reply(reply)


@pytest.mark.parametrize(
    ("requested", "resolved"),
    [
        ("gpt-5.4", "gpt-5.4"),
        ("GPT-5.4", "gpt-5.4"),
        ("openai/gpt-5.4", "gpt-5.4"),
        ("openai-codex/gpt-5.4-mini", "gpt-5.4-mini"),
        ("auto", "gpt-5.5"),
        ("anthropic/claude", None),
        ("gpt-0", None),
        ("codex-auto-review", "codex-auto-review"),
    ],
)
def test_resolve(requested: str, resolved: str | None) -> None:
    assert Catalog.from_stored(None).resolve(requested) == resolved


def test_reasoning_levels_come_from_the_catalog() -> None:
    stored = StoredCatalog(
        [{"slug": "m", "supported_reasoning_levels": [{"effort": "low"}, {"effort": "high"}]}],
        None,
        None,
        1,
    )
    catalog = Catalog.from_stored(stored)
    assert catalog.reasoning_levels("m") == ["low", "high"]
    assert catalog.reasoning_levels("other") is None


def test_supports_verbosity() -> None:
    stored = StoredCatalog([{"slug": "v", "support_verbosity": True}, {"slug": "n"}], None, None, 1)
    catalog = Catalog.from_stored(stored)
    assert catalog.supports_verbosity("v") is True
    assert catalog.supports_verbosity("n") is None
