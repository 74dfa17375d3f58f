"""Error bodies in the client's dialect, built in one place.

OpenAI shape: `{"error": {"message", "type", "param", "code"}, "detail": message}`. The
top-level `detail` string is for clients (Z-AI style) that read FastAPI-style errors.
"""

import json
from dataclasses import dataclass, field
from typing import Any

# The OpenAI `type` each status gets unless the caller names one.
_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    426: "invalid_request_error",
    431: "invalid_request_error",
    429: "rate_limit_error",
}


@dataclass(frozen=True)
class ApiError(Exception):
    """An error to answer the client with: status, message, and OpenAI's type/code/param."""

    status: int
    message: str
    code: str | None = None
    type: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. plan_type, resets_at on 429s

    def __str__(self) -> str:
        return f"{self.status} {self.code or self.error_type}: {self.message}"

    @property
    def error_type(self) -> str:
        if self.type:
            return self.type
        return _TYPE_BY_STATUS.get(self.status, "server_error" if self.status >= 500 else "error")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        }
        error.update(self.extra)
        return {"error": error, "detail": self.message}

    def body_bytes(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False).encode()


def internal_error(what: str) -> ApiError:
    return ApiError(500, f"azt failed while {what}; see the gateway log.", code="internal_error")
