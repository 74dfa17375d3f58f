"""Which app sent a request, from its headers alone.

Codex identifies itself with `originator` and a User-Agent that starts with it; the OpenAI
and Anthropic SDKs send `x-stainless-*` headers naming their language; Claude Code and curl
say so in the User-Agent. Anything else is `other`.
"""

from collections.abc import Mapping
from dataclasses import dataclass

LABELS = {
    "codex-cli": "Codex CLI",
    "openclaw": "OpenClaw",
    "claude-code": "Claude Code",
    "openai-sdk-python": "OpenAI SDK (Python)",
    "openai-sdk-node": "OpenAI SDK (Node)",
    "anthropic-sdk": "Anthropic SDK",
    "curl": "curl",
    "console": "azt console",
    "other": "other",
}

# x-stainless-lang values, as the SDKs send them, to our names.
_LANGUAGES = {"js": "node", "javascript": "node", "typescript": "node", "node": "node"}
# The languages the SDKs are written for; any other value a client sends counts as unknown,
# so statistics grouped by source stay bounded whatever a client claims.
SDK_LANGUAGES = frozenset(
    {"python", "node", "go", "java", "kotlin", "ruby", "dotnet", "csharp", "php", "rust", "swift"}
)


@dataclass(frozen=True)
class Source:
    name: str  # a key of LABELS, or openai-sdk-<language> for other languages
    version: str | None = None

    @property
    def label(self) -> str:
        return label_of(self.name)


def label_of(name: str) -> str:
    if name in LABELS:
        return LABELS[name]
    if name.startswith("openai-sdk-"):
        return f"OpenAI SDK ({name.removeprefix('openai-sdk-').capitalize()})"
    return name


def _product_version(user_agent: str) -> str | None:
    """`2.1.3` from `name/2.1.3 (details)`."""
    first = user_agent.split(" ", 1)[0]
    _, slash, version = first.partition("/")
    return version[:32] if slash and version else None


def _sdk_version(user_agent: str) -> str | None:
    """`1.99.0` from `OpenAI/Python 1.99.0`: the SDKs name their language before the version."""
    words = user_agent.split()
    if len(words) > 1 and words[1][:1].isdigit():
        return words[1][:32]
    return _product_version(user_agent)


def detect_source(headers: Mapping[str, str], *, codex_route: bool = False) -> Source:
    """Name the client app; `codex_route` marks requests to the Codex API surface."""
    user_agent = headers.get("user-agent", "")
    lowered = user_agent.lower()
    originator = headers.get("originator", "").lower()
    if originator.startswith("codex") or lowered.startswith("codex"):
        return Source("codex-cli", _product_version(user_agent))
    if "openclaw" in lowered:
        return Source("openclaw", _product_version(user_agent))
    if lowered.startswith(("claude-cli", "claude-code")):
        return Source("claude-code", _product_version(user_agent))
    if lowered.startswith("curl/"):
        return Source("curl", _product_version(user_agent))
    language = headers.get("x-stainless-lang", "").lower()
    if language or lowered.startswith(("openai/", "anthropic/")):
        version = headers.get("x-stainless-package-version") or _sdk_version(user_agent)
        if lowered.startswith("anthropic/"):
            return Source("anthropic-sdk", version)
        if not language:
            language = lowered.split("/", 1)[1].split(" ", 1)[0] if "/" in lowered else ""
            language = "" if language[:1].isdigit() else language
        language = _LANGUAGES.get(language, language)
        return Source(f"openai-sdk-{language if language in SDK_LANGUAGES else 'unknown'}", version)
    referer = headers.get("referer", "")
    if "/_gateway/" in referer:
        return Source("console")
    if codex_route and not user_agent:
        return Source("codex-cli")
    return Source("other")
