"""Taking a request body in: JSON objects, and the 400s every dialect answers bad input with.

Pure: no I/O.
"""

import json
from typing import Any

from azt.errors import ApiError


def invalid(param: str | None, message: str, code: str = "invalid_value") -> ApiError:
    """A 400 naming the offending parameter."""
    return ApiError(400, message, code=code, type="invalid_request_error", param=param)


def unsupported(param: str, message: str) -> ApiError:
    """A 400 for a parameter whose meaning azt cannot deliver."""
    return invalid(param, message, code="unsupported_parameter")


def is_json_media(content_type: str) -> bool:
    """`application/json`, or another `application/*` type spelled with json (`+json`, ...)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and "json" in media)


def json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object; a 400 `invalid_json` saying why when it is not one."""
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"The request body is not valid JSON: {e}", code="invalid_json") from e
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def is_int(value: object) -> bool:
    """An integer, and not a boolean (JSON `true` is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool)
