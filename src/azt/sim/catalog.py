"""The model catalog the simulator serves on /models, shaped like the Codex `ModelInfo` list.

It mirrors the June 2026 bundled catalog: five listed models and one
hidden helper. `/responses` accepts exactly these slugs.
"""

import copy
import hashlib
import json
from typing import Any

CONTEXT_WINDOW = 272000

BASE_INSTRUCTIONS = (
    "You are Codex, a coding agent running in the azt simulator. Answers are deterministic "
    "and come from the simulator, not from a model."
)

_EFFORTS = (
    ("low", "Fast responses with lighter reasoning"),
    ("medium", "Balances speed and reasoning depth for everyday tasks"),
    ("high", "Greater reasoning depth for complex problems"),
    ("xhigh", "Extra high reasoning depth for complex problems"),
)


def _model(
    slug: str, display_name: str, priority: int, *, visibility: str = "list", description: str
) -> dict[str, Any]:
    return {
        "slug": slug,
        "display_name": display_name,
        "description": description,
        "default_reasoning_level": "medium",
        "supported_reasoning_levels": [
            {"effort": effort, "description": text} for effort, text in _EFFORTS
        ],
        "shell_type": "shell_command",
        "visibility": visibility,
        "supported_in_api": visibility == "list",
        "priority": priority,
        "base_instructions": BASE_INSTRUCTIONS,
        "supports_reasoning_summaries": True,
        "default_reasoning_summary": "auto",
        "support_verbosity": True,
        "default_verbosity": "low",
        "supports_parallel_tool_calls": True,
        "apply_patch_tool_type": "freeform",
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [],
        "context_window": CONTEXT_WINDOW,
        "effective_context_window_percent": 95,
        "input_modalities": ["text", "image"],
    }


MODELS: list[dict[str, Any]] = [
    _model("gpt-5.5", "GPT-5.5", 0, description="Latest frontier agentic coding model."),
    _model("gpt-5.4", "GPT-5.4", 1, description="Strong everyday coding model."),
    _model("gpt-5.4-mini", "GPT-5.4 mini", 2, description="Smaller, faster and cheaper."),
    _model("gpt-5.3-codex", "GPT-5.3 Codex", 3, description="Codex-tuned coding model."),
    _model("gpt-5.2", "GPT-5.2", 4, description="Previous generation model."),
    _model(
        "codex-auto-review",
        "Codex auto review",
        100,
        visibility="hide",
        description="Reviews changes; not for direct use.",
    ),
]

SLUGS: frozenset[str] = frozenset(model["slug"] for model in MODELS)


def models_payload() -> dict[str, Any]:
    """The /models body; a deep copy so callers cannot alter the catalog."""
    return {"models": copy.deepcopy(MODELS)}


def models_etag() -> str:
    """A weak ETag that changes whenever the catalog does (sent as ETag and x-models-etag)."""
    digest = hashlib.sha256(json.dumps(MODELS, sort_keys=True).encode()).hexdigest()
    return f'W/"{digest[:32]}"'
