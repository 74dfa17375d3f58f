"""`POST /v1/responses` requests → the body the Codex backend accepts: the request half.

`plan_responses_request` turns a client body into a Codex body (`store:false`, `stream:true`, an
`instructions` string, typed input items), names the parameters it drops and rejects what azt
cannot honour (400, with `param`). See docs/responses-api.md.

Pure: no I/O, no clock.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from azt.dialects.common.effort import nearest_effort
from azt.dialects.common.intake import invalid

# --- the request ------------------------------------------------------------------------------

# Tool types the Codex backend knows.
SUPPORTED_TOOL_TYPES = frozenset(
    {
        "function",
        "custom",
        "namespace",
        "web_search",
        "image_generation",
        "tool_search",
        "local_shell",
    }
)

# Effort names from least to most, to find the nearest level a model offers.

# Parameters that ask for server-side state or features azt does not have: a 400 each.
_REJECTED: dict[str, str] = {
    "previous_response_id": (
        "`previous_response_id` is not supported: azt runs the Codex backend with store=false, "
        "so no response is kept to continue from. Send the whole conversation in `input`, "
        "including the output items of earlier responses."
    ),
    "conversation": (
        "`conversation` is not supported: azt keeps no conversations server-side (the Codex "
        "backend runs with store=false). Send the whole conversation in `input`."
    ),
    "prompt": (
        "`prompt` (stored prompt templates) is not supported through azt: put the prompt's "
        "text in `instructions` and `input` instead."
    ),
}

_ROLES = frozenset({"user", "assistant", "system", "developer"})
_ENCRYPTED_REASONING = "reasoning.encrypted_content"


@dataclass(frozen=True)
class ResponsesPlan:
    """What to send upstream, whether the client streams, and the parameters azt dropped."""

    upstream: dict[str, Any]
    stream: bool
    ignored: tuple[str, ...]


def plan_responses_request(
    body: dict[str, Any], *, model: str, reasoning_levels: Sequence[str] | None = None
) -> ResponsesPlan:
    """The Codex body for a Responses request; raises `ApiError` (400) for what azt refuses.

    `model` is the already resolved upstream model; `reasoning_levels` the efforts it offers
    (None: unknown, any effort passes).
    """
    if not isinstance(body, dict):
        raise invalid(None, "The request body must be a JSON object.", "invalid_type")
    _check_rejected(body)
    present = {key: value for key, value in body.items() if value is not None}
    upstream: dict[str, Any] = {
        "model": model,
        "instructions": _instructions(present.get("instructions")),
        "input": _input(present.get("input")),
    }
    handled = {"model", "stream", "input", "instructions"}
    tools = _tools(present.get("tools"))
    if tools:
        upstream["tools"] = tools
    handled.add("tools")
    for name, check in _PASSED_THROUGH.items():
        if name in present:
            upstream[name] = check(name, present[name])
            handled.add(name)
    if not tools:
        # Meaningless without tools, and peers drop it because the backend may refuse it.
        upstream.pop("parallel_tool_calls", None)
    if "reasoning" in present:
        upstream["reasoning"] = _reasoning(present["reasoning"], reasoning_levels)
        upstream["include"] = _with_encrypted_reasoning(upstream.get("include"))
        handled.add("reasoning")
    if present.get("service_tier") == "priority":
        upstream["service_tier"] = "priority"
        handled.add("service_tier")
    upstream["store"] = False
    upstream["stream"] = True
    ignored = tuple(sorted(key for key in present if key not in handled))
    return ResponsesPlan(upstream=_ordered(upstream), stream=_stream_flag(present), ignored=ignored)


def _check_rejected(body: dict[str, Any]) -> None:
    if body.get("background") is True:
        message = (
            "`background: true` is not supported: azt cannot keep a response running to be "
            "fetched later. Send the request without `background` (use `stream: true` to see "
            "progress)."
        )
        raise invalid("background", message, "unsupported_parameter")
    for name, message in _REJECTED.items():
        if body.get(name) is not None:
            raise invalid(name, message, "unsupported_parameter")


def _stream_flag(body: dict[str, Any]) -> bool:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise invalid("stream", "`stream` must be a boolean.", "invalid_type")
    return stream


def _instructions(value: object) -> str:
    # The backend insists on the field and accepts "".
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid("instructions", "`instructions` must be a string.", "invalid_type")
    return value


def _input(value: object) -> list[dict[str, Any]]:
    if value is None:
        raise invalid("input", "The request has no `input`.", "missing_required_parameter")
    if isinstance(value, str):
        return [_message("user", value)]
    if not isinstance(value, list):
        message = "`input` must be a string or a list of input items."
        raise invalid("input", message, "invalid_type")
    return [_input_item(item, f"input[{index}]") for index, item in enumerate(value)]


def _message(role: str, text: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


def _input_item(item: object, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise invalid(where, f"`{where}` must be an object.", "invalid_type")
    kind = item.get("type", "message")
    if kind == "item_reference":
        message = (
            f"`{where}` is an item_reference: azt keeps no items server-side (store=false). "
            "Send the item itself instead."
        )
        raise invalid(where, message, "unsupported_value")
    # Item ids point at stored items, which do not exist with store=false; codex-rs never
    # sends them back either. `call_id` is what links calls and outputs.
    item = {key: value for key, value in item.items() if key != "id"}
    if kind != "message":
        return item
    return _message_item(item, where)


def _message_item(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        roles = ", ".join(sorted(_ROLES))
        message = f"`{where}.role` must be one of {roles}."
        raise invalid(f"{where}.role", message, "invalid_value")
    content = item.get("content")
    if isinstance(content, str):
        return {**item, **_message(role, content)}
    if not isinstance(content, list) or not all(isinstance(part, dict) for part in content):
        message = f"`{where}.content` must be a string or a list of content parts."
        raise invalid(f"{where}.content", message, "invalid_type")
    return {"type": "message", **item}


def _tools(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid("tools", "`tools` must be a list.", "invalid_type")
    for index, tool in enumerate(value):
        _check_tool(tool, f"tools[{index}]")
    return list(value)


def _check_tool(tool: object, where: str) -> None:
    if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
        raise invalid(where, f"`{where}` must be an object with a `type`.", "invalid_type")
    kind = tool["type"]
    if kind not in SUPPORTED_TOOL_TYPES:
        supported = ", ".join(sorted(SUPPORTED_TOOL_TYPES))
        hint = " (use `web_search`)" if kind.startswith("web_search") else ""
        message = (
            f"The tool type `{kind}` is not available through azt{hint}: the Codex backend "
            f"supports {supported}."
        )
        raise invalid(f"{where}.type", message, "unsupported_value")
    if kind in ("function", "custom") and not isinstance(tool.get("name"), str):
        # A Chat Completions tool nests its name under "function"; Responses tools are flat.
        message = (
            f"Missing required parameter: '{where}.name'. Responses tools are flat: "
            '{"type": "function", "name": ..., "parameters": {...}}.'
        )
        raise invalid(f"{where}.name", message, "missing_required_parameter")


def _expect(kind: type | tuple[type, ...], label: str) -> Any:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, kind):
            raise invalid(name, f"`{name}` must be {label}.", "invalid_type")
        return value

    return check


def _check_include(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise invalid(name, f"`{name}` must be a list of strings.", "invalid_type")
    return list(value)


def _check_metadata(name: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(name, f"`{name}` must map strings to strings.", "invalid_type")
    return dict(value)


# Fields the backend accepts as the client sent them, each with its type check.
_PASSED_THROUGH = {
    "tool_choice": _expect((str, dict), "a string or an object"),
    "parallel_tool_calls": _expect(bool, "a boolean"),
    "include": _check_include,
    "text": _expect(dict, "an object"),
    "prompt_cache_key": _expect(str, "a string"),
    "client_metadata": _check_metadata,
}


def _reasoning(value: object, levels: Sequence[str] | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid("reasoning", "`reasoning` must be an object.", "invalid_type")
    effort = value.get("effort")
    if effort is None or not levels or effort in levels:
        return dict(value)
    return {**value, "effort": _nearest_effort(effort, levels)}


def _nearest_effort(requested: object, levels: Sequence[str]) -> str:
    nearest = nearest_effort(requested, levels) if isinstance(requested, str) else None
    if nearest is None:
        message = f"`reasoning.effort` {requested!r} is not offered; use one of {list(levels)}."
        raise invalid("reasoning.effort", message, "unsupported_value")
    return nearest


def _with_encrypted_reasoning(include: list[str] | None) -> list[str]:
    # With store=false the reasoning only survives the turn as encrypted content.
    entries = list(include or [])
    return entries if _ENCRYPTED_REASONING in entries else [*entries, _ENCRYPTED_REASONING]


_ORDER = (
    "model",
    "instructions",
    "input",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "store",
    "stream",
    "include",
    "service_tier",
    "prompt_cache_key",
    "text",
    "client_metadata",
)


def _ordered(upstream: dict[str, Any]) -> dict[str, Any]:
    """The fields in the order codex-rs serialises them."""
    return {key: upstream[key] for key in _ORDER if key in upstream}
