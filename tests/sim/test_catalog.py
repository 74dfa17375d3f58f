"""The /models catalog."""

from azt.sim.catalog import MODELS, SLUGS, models_etag, models_payload

REQUIRED = {
    "slug": str,
    "display_name": str,
    "supported_reasoning_levels": list,
    "shell_type": str,
    "visibility": str,
    "supported_in_api": bool,
    "priority": int,
    "base_instructions": str,
    "supports_reasoning_summaries": bool,
    "support_verbosity": bool,
    "supports_parallel_tool_calls": bool,
    "truncation_policy": dict,
    "experimental_supported_tools": list,
    "context_window": int,
    "input_modalities": list,
    "default_reasoning_level": str,
}


def test_every_model_has_required_fields() -> None:
    """Each entry carries every ModelInfo field the Codex CLI requires, with the right type."""
    for model in MODELS:
        for name, kind in REQUIRED.items():
            assert isinstance(model[name], kind), (model["slug"], name)
        assert model["truncation_policy"]["mode"] in ("tokens", "bytes")
        assert {lvl["effort"] for lvl in model["supported_reasoning_levels"]} == {
            "low",
            "medium",
            "high",
            "xhigh",
        }


def test_catalog_contents() -> None:
    """Five listed models in priority order plus the hidden auto-review model."""
    listed = [m["slug"] for m in sorted(MODELS, key=lambda m: m["priority"])]
    assert listed == [
        "gpt-5.5",
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-5.3-codex",
        "gpt-5.2",
        "codex-auto-review",
    ]
    visibility = {m["slug"]: m["visibility"] for m in MODELS}
    assert visibility["codex-auto-review"] == "hide"
    assert {v for s, v in visibility.items() if s != "codex-auto-review"} == {"list"}
    assert set(listed) == SLUGS


def test_payload_is_a_copy_and_etag_is_stable() -> None:
    """Callers cannot alter the catalog through the payload; the ETag is weak and stable."""
    payload = models_payload()
    payload["models"][0]["slug"] = "changed"
    assert MODELS[0]["slug"] == "gpt-5.5"
    assert models_etag() == models_etag() and models_etag().startswith('W/"')
