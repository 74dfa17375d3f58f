"""The model catalog: what `/v1/models` lists and which model names requests may use.

It comes from the Codex backend (`azt models --refresh`, kept in the store); until the first
refresh a built-in list stands in.
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from azt.store.catalog import StoredCatalog

_BUILTIN_SLUGS = ("gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex", "gpt-5.2")

BUILTIN_MODELS: list[dict[str, Any]] = [
    {"slug": slug, "display_name": slug, "visibility": "list", "priority": index}
    for index, slug in enumerate(_BUILTIN_SLUGS)
] + [{"slug": "codex-auto-review", "display_name": "codex-auto-review", "visibility": "hide"}]

OWNER = "azt"
PROVIDER_PREFIXES = frozenset({"openai", "openai-codex", "codex", "azt"})


class CatalogFormatError(ValueError):
    """The backend's /models reply is not a model list."""


def models_from_reply(body: Any) -> list[dict[str, Any]]:
    """Model entries from a `/models` reply: `{"models": [...]}`, `{"data": [...]}` or a list."""
    entries = body.get("models", body.get("data")) if isinstance(body, dict) else body
    if not isinstance(entries, list):
        raise CatalogFormatError("expected a list of models")
    models = [e for e in entries if isinstance(e, dict) and isinstance(e.get("slug"), str)]
    if not models:
        raise CatalogFormatError("the reply names no model (no entry has a `slug`)")
    return models


@dataclass(frozen=True)
class Catalog:
    models: tuple[dict[str, Any], ...]
    source: str  # "backend" or "built-in"
    fetched_at: int | None = None

    @classmethod
    def from_stored(cls, stored: StoredCatalog | None) -> "Catalog":
        if stored is None or not stored.models:
            return cls(tuple(BUILTIN_MODELS), "built-in")
        return cls(tuple(stored.models), "backend", stored.fetched_at)

    def knows(self, slug: str) -> bool:
        return any(m["slug"] == slug for m in self.models)

    def resolve(self, requested: str) -> str | None:
        """The slug to send upstream for a client's model name, or None when unknown.

        Accepts `provider/model` ids for OpenAI's own provider names (`openai/gpt-5.4`),
        any letter case, and `auto`, which picks the first model meant for pickers.
        """
        name = requested.strip().lower()
        provider, slash, rest = name.partition("/")
        if slash:
            if provider not in PROVIDER_PREFIXES:
                return None
            name = rest
        if name == "auto":
            listed = self.listed()
            return listed[0]["slug"] if listed else None
        return name if self.knows(name) else None

    def entry(self, slug: str) -> dict[str, Any] | None:
        return next((m for m in self.models if m["slug"] == slug), None)

    def supports_verbosity(self, slug: str) -> bool | None:
        """Whether `slug` takes `text.verbosity`; None when the catalog does not say."""
        value = (self.entry(slug) or {}).get("support_verbosity")
        return value if isinstance(value, bool) else None

    def reasoning_levels(self, slug: str) -> list[str] | None:
        """The reasoning efforts `slug` supports, when the catalog says."""
        levels = (self.entry(slug) or {}).get("supported_reasoning_levels")
        if not isinstance(levels, list):
            return None
        return [
            level["effort"] if isinstance(level, dict) else str(level)
            for level in levels
            if isinstance(level, dict | str)
        ]

    def listed(self) -> list[dict[str, Any]]:
        """Models meant for pickers (visibility `list` or unset), in the backend's order."""
        shown = [m for m in self.models if m.get("visibility", "list") == "list"]
        return sorted(shown, key=lambda m: m.get("priority", 1_000_000))

    def openai_list(self) -> dict[str, Any]:
        created = self.fetched_at or 0
        return {
            "object": "list",
            "data": [
                {"id": m["slug"], "object": "model", "created": created, "owned_by": OWNER}
                for m in self.listed()
            ],
        }


class CatalogHolder:
    """The current catalog, re-read from the store at most every `max_age` seconds.

    `azt models --refresh` in another process takes effect without a restart.
    """

    def __init__(
        self, load: Callable[[], Awaitable[StoredCatalog | None]], max_age: float = 5.0
    ) -> None:
        self._load = load
        self._max_age = max_age
        self._catalog = Catalog.from_stored(None)
        self._loaded_at = float("-inf")

    async def current(self) -> Catalog:
        now = time.monotonic()
        if now - self._loaded_at >= self._max_age:
            self._catalog = Catalog.from_stored(await self._load())
            self._loaded_at = now
        return self._catalog
