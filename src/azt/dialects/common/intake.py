"""Taking a request body in: JSON objects, and the 400s every dialect answers bad input with.

A body azt accepts is strict JSON: valid UTF-8, no `NaN` or `Infinity`, no string (or key) with
a lone surrogate escape such as `"\ud800"`, and nested at most `MAX_DEPTH` deep. Anything
else is a 400 here, before any of it reaches a translator, the upstream, a record or a metric.

Pure: no I/O.
"""

import json
import re
from typing import Any

from azt.errors import ApiError

MAX_DEPTH = 100  # JSON Schemas in tools nest deep; nothing a real client sends nests this deep
_SURROGATE = re.compile("[\ud800-\udfff]")


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
    body = strict_json(raw)
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def strict_json(raw: bytes) -> Any:
    """`raw` parsed as strict JSON (any value); a 400 `invalid_json` saying why it is not."""
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise _bad_json(f"it is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:
        raise _bad_json(str(e)) from e
    problem = _problem(body)
    if problem is not None:
        raise _bad_json(problem)
    return body


def _bad_json(reason: str) -> ApiError:
    return ApiError(400, f"The request body is not valid JSON: {reason}", code="invalid_json")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _problem(body: object) -> str | None:
    """What makes a parsed body unacceptable: too deep, or a string that is not Unicode."""
    pending: list[tuple[object, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return "a string holds a lone surrogate escape (\\ud800-\\udfff)"
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return f"it is nested deeper than {MAX_DEPTH} levels"
            if isinstance(value, dict):
                pending.extend((key, depth) for key in value)
                pending.extend((item, depth + 1) for item in value.values())
            else:
                pending.extend((item, depth + 1) for item in value)
    return None


def valid_text(text: str) -> bool:
    """Whether `text` is valid Unicode (no surrogate smuggled in by a decoder or an escape)."""
    return _SURROGATE.search(text) is None


def is_int(value: object) -> bool:
    """An integer, and not a boolean (JSON `true` is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool)
