"""Previews for users who opt in: the first characters of a text, with secrets blanked out.

Even then, anything that looks like a credential (API keys, bearer tokens, JWTs, long hex or
base64 runs, `password=...` pairs) is replaced before the text is stored.
"""

import re

PREVIEW_CHARS = 160

_SECRET_PATTERNS = (
    re.compile(r"\b(?:sk|rk|pk|sess)-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"),
    # `password=...`, `access_token: ...`, `"client_secret": "..."`: the key stays.
    re.compile(
        r"(?i)\b([\w-]{0,40}?(?:api[_-]?key|token|secret|password|passwd|authorization))\b"
        r"([\"']?\s*[:=]\s*)(?:\"[^\"\n]*\"|'[^'\n]*'|\S+)"
    ),
    re.compile(r"\b[0-9a-fA-F]{32,}\b"),
    re.compile(r"[A-Za-z0-9+/_\-]{40,}={0,2}"),
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        if pattern.groups >= 2:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def preview(text: str | None, limit: int = PREVIEW_CHARS) -> str | None:
    """`text` with whitespace collapsed, secrets redacted, cut to `limit` characters."""
    if not text or text.isspace():
        return None
    # Redact before cutting, so a cut cannot leave a secret too short to recognise; a generous
    # first cut keeps the work small for huge prompts without reaching the preview's end.
    cleaned = redact(" ".join(text[: limit * 8].split()))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def last_user_text(body: dict[str, object] | None) -> str | None:
    """The last user-authored text of a Chat, Responses or Codex request body."""
    if not body:
        return None
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = body.get("input")
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        prompt = body.get("prompt")
        return prompt if isinstance(prompt, str) else None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text_of(message.get("content"))
    return None


def _text_of(content: object) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            text
            for part in content
            if isinstance(part, dict) and isinstance(text := part.get("text"), str)
        ]
        return " ".join(texts) or None
    return None
