"""Deterministic Responses events for a `/responses` body: what the simulator streams.

Pure: no I/O, no clock, no web framework. The same body and `StreamOptions` always give the
same events, so tests can assert exact text. The app layer decides timing, framing and faults
that need the network (stalls, dropped connections); shapes of the stream itself are chosen
here through `StreamOptions`.

Answers:
- an `image_generation` tool offered (and the plan allows it, `StreamOptions.plan`) and the last
  user message forcing or asking for an image (`image_request`) → an `image_generation_call`
  item, then a short message;
- last input item a `function_call_output` → "Tool <name> returned: <output>";
- function tools offered and the last item a user message → a call to one of them, unless the
  text says "reply with X" without naming a tool and `tool_choice` does not force one (real
  clients such as the Codex CLI always offer tools);
- the last user text matches "reply with X [only][.!]" → exactly X;
- the last user message holds images → "azt sim saw <n> image(s) and heard: <text>";
- anything else → "azt sim heard: <last user text>".

A text answer then takes the shape `text.format` asks for: a JSON document filling the
`json_schema` with placeholders, or `{"answer": <text>}` for `json_object`.
"""

import base64
import copy
import json
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from azt.sim.images import (
    ImageRequest,
    asks_for_image,
    forces_image,
    image_gen_usage,
    image_tool,
    images_allowed,
    read_image_request,
    revised_prompt,
    sim_png,
    strip_image_tools,
)

TRUNCATE = 200
WORDS_PER_DELTA = 2
ARGUMENT_CHUNK = 8
# The most a reply writes, as a real model's output limit (128,000 tokens) allows; an echo of
# a huge request stops there and ends `incomplete`, as the backend's replies do.
MAX_OUTPUT_CHARS = 128_000 * 4
REASONING_SUMMARY = (
    "**Considering the request**\n\nThe simulator is preparing a deterministic reply."
)

_REPLY_WITH = re.compile(r"reply with (.+?)(?: only)?[.!]?$", re.IGNORECASE)
_TOOL_OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")
_TOOL_CALL_TYPES = ("function_call", "custom_tool_call")

FAILURE_MESSAGES = {
    "context_length_exceeded": (
        "Your input exceeds the context window of this model. "
        "Please adjust your input and try again."
    ),
    "server_is_overloaded": "Our servers are currently overloaded. Please try again later.",
    "slow_down": "Our servers are receiving too many requests. Please slow down and try again.",
    "rate_limit_exceeded": "Rate limit reached for requests. Please try again in 1.5s.",
    "insufficient_quota": (
        "You exceeded your current quota, please check your plan and billing details."
    ),
    "usage_not_included": "Codex is not included in your plan.",
    "invalid_prompt": (
        "Invalid prompt: your prompt was flagged as potentially violating our usage policy."
    ),
    "moderation_blocked": (
        "Your request was rejected as a result of our safety system. Your request may contain "
        "content that is not allowed by our safety system."
    ),
    "image_generation_failed": "The image could not be generated. Please try again.",
    "server_error": (
        "An error occurred while processing your request. You can retry your request, or "
        "contact us through our help center at help.openai.com if the error persists."
    ),
}


def failure_message(code: str) -> str:
    return FAILURE_MESSAGES.get(code, f"The azt simulator failed this response with {code}.")


@dataclass(frozen=True)
class Ending:
    """How the stream ends: completed, or one of the in-stream failures."""

    kind: Literal["completed", "failed", "incomplete", "error"] = "completed"
    code: str | None = None
    message: str | None = None
    reason: str | None = None
    # Fail straight after response.created, as overload does on the real backend.
    early: bool = False
    # A failure while an image generates (after `.generating`); other turns fail as usual.
    in_image: bool = False


@dataclass(frozen=True)
class StreamOptions:
    number: int  # the response counter; every id in the stream derives from it
    created_at: int
    ending: Ending = field(default_factory=Ending)
    giant_delta: int | None = None  # bytes; the whole text as one delta
    text_only_in_done: bool = False
    keepalive: bool = False
    no_usage: bool = False  # the terminal event carries no usage object
    plan: str | None = None  # the account's plan; "free" strips the image_generation tool


# --- reading the request ---------------------------------------------------------------------


def input_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The input as an item list; a plain string is one user message."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": [_input_text(raw)]}]
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, dict)]
    return []


def _input_text(text: str) -> dict[str, str]:
    return {"type": "input_text", "text": text}


def is_user_message(item: dict[str, Any]) -> bool:
    # "Easy" input messages ({"role","content"}) carry no type.
    return item.get("type", "message") == "message" and item.get("role") == "user"


def content_text(content: object) -> str:
    """The text of message content or tool output: a string, or parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


def last_user_message(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((item for item in reversed(items) if is_user_message(item)), None)


def last_user_text(items: list[dict[str, Any]]) -> str:
    message = last_user_message(items)
    return content_text(message.get("content")) if message is not None else ""


def image_count(message: dict[str, Any] | None) -> int:
    """How many `input_image` parts a message holds."""
    content = message.get("content") if message is not None else None
    if not isinstance(content, list):
        return 0
    return sum(
        1 for part in content if isinstance(part, dict) and part.get("type") == "input_image"
    )


def reply_text(items: list[dict[str, Any]]) -> str:
    """The deterministic answer to a conversation (see the module docstring)."""
    last = items[-1] if items else {}
    if last.get("type") in _TOOL_OUTPUT_TYPES:
        name = last.get("name") or _call_name(items, last.get("call_id")) or "unknown"
        return f"Tool {name} returned: {content_text(last.get('output'))[:TRUNCATE]}"
    text = last_user_text(items)
    match = _REPLY_WITH.search(text.strip())
    if match:
        return match.group(1)
    images = image_count(last_user_message(items))
    if images:
        noun = "image" if images == 1 else "images"
        return f"azt sim saw {images} {noun} and heard: {text[:TRUNCATE]}"
    return f"azt sim heard: {text[:TRUNCATE]}"


def answer_text(body: dict[str, Any], items: list[dict[str, Any]]) -> str:
    """The text answer in the shape `text.format` asks for (plain, json_object, json_schema)."""
    return formatted(body, reply_text(items))


def formatted(body: dict[str, Any], text: str) -> str:
    """`text` in the shape `text.format` asks for."""
    config = body.get("text")
    fmt = config.get("format") if isinstance(config, dict) else None
    fmt = fmt if isinstance(fmt, dict) else {}
    kind = fmt.get("type")
    if kind == "json_schema":
        return json.dumps(schema_example(fmt.get("schema")), ensure_ascii=False)
    if kind == "json_object":
        return json.dumps({"answer": text}, ensure_ascii=False)
    return text


def _call_name(items: list[dict[str, Any]], call_id: object) -> str | None:
    for item in items:
        if item.get("type") in _TOOL_CALL_TYPES and item.get("call_id") == call_id:
            name = item.get("name")
            return name if isinstance(name, str) else None
    return None


def function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    return [
        t
        for t in tools
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)
    ]


def choose_function_call(
    body: dict[str, Any], items: list[dict[str, Any]]
) -> tuple[str, str] | None:
    """(tool name, JSON arguments) when the reply should be a function call, else None.

    The tool is the one forced by `tool_choice`, else the longest tool name that appears in the
    last user text, else the first function tool.
    """
    tools = function_tools(body)
    choice = body.get("tool_choice")
    if not tools or not items or not is_user_message(items[-1]) or choice == "none":
        return None
    if forces_image(choice):  # an image, or text where the plan strips the tool
        return None
    text = last_user_text(items)
    forced = _forced_tool(tools, choice)
    named = _named_tool(tools, text)
    if forced is None and named is None and choice != "required":
        if _REPLY_WITH.search(text.strip()):
            return None
    tool = forced or named or tools[0]
    arguments = arguments_for(tool.get("parameters"))
    return tool["name"], json.dumps(arguments, separators=(",", ":"))


def _forced_tool(tools: list[dict[str, Any]], choice: object) -> dict[str, Any] | None:
    if not isinstance(choice, dict) or choice.get("type") != "function":
        return None
    return next((t for t in tools if t["name"] == choice.get("name")), None)


def _named_tool(tools: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
    named = [t for t in tools if t["name"] in text]
    return max(named, key=lambda t: len(t["name"])) if named else None


_PLACEHOLDERS: dict[str, Any] = {
    "string": "sim",
    "integer": 1,
    "number": 1,
    "boolean": True,
    "array": [],
    "object": {},
}


def arguments_for(schema: object) -> dict[str, Any]:
    """Arguments filling every required property of a JSON schema with a placeholder."""
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    names = [n for n in required if isinstance(n, str)] if isinstance(required, list) else []
    return {name: _placeholder(properties.get(name)) for name in names}


def _placeholder(prop: object) -> Any:
    if not isinstance(prop, dict):
        return "sim"
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return copy.deepcopy(enum[0])
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return copy.deepcopy(_PLACEHOLDERS.get(kind, "sim")) if isinstance(kind, str) else "sim"


def image_request(body: dict[str, Any], items: list[dict[str, Any]]) -> ImageRequest | None:
    """The image to generate, when the body offers the tool and the turn calls for it.

    The last item must be a user message and `tool_choice` not `"none"` nor a forced function;
    then `tool_choice` `{"type":"image_generation"}`, a text asking for an image
    (`asks_for_image`), or `"required"` with no function tools to call instead, make an image.
    Plan gating happens before: on free plans the body has lost the tool.
    """
    tool = image_tool(body)
    if tool is None or not items or not is_user_message(items[-1]):
        return None
    choice = body.get("tool_choice")
    text = last_user_text(items)
    wanted = (
        forces_image(choice)
        or (choice != "none" and _not_a_function(choice) and asks_for_image(text))
        or (choice == "required" and not function_tools(body))
    )
    if not wanted:
        return None
    return read_image_request(tool, text, image_count(last_user_message(items)))


def _not_a_function(choice: object) -> bool:
    return not (isinstance(choice, dict) and choice.get("type") == "function")


def visible_body(body: dict[str, Any], plan: str | None) -> dict[str, Any]:
    """The body as the model sees it: free plans lose the image_generation tool silently."""
    return body if images_allowed(plan) else strip_image_tools(body)


# --- structured output -----------------------------------------------------------------------

SCHEMA_DEPTH = 8  # past this, recursive schemas take their shortest way out

_STRING_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00",
    "duration": "P1D",
    "email": "sim@example.com",
    "uri": "https://example.com/sim",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
}


def schema_example(schema: object) -> Any:
    """A value satisfying a JSON schema, filling every property with a typed placeholder.

    string "sim" (or a value of its `format`), integer 1, number 1.5, boolean true, arrays of
    one element, objects with all their properties; enums and `const` give their value,
    `anyOf`/`oneOf` their first branch, `allOf` the merged branches; `$ref`s into `$defs` or
    `definitions` are followed.
    """
    return _example(schema, schema if isinstance(schema, dict) else {}, 0)


def _example(schema: object, root: dict[str, Any], depth: int) -> Any:
    schema = _resolve(schema, root)
    if "const" in schema:
        return copy.deepcopy(schema["const"])
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return copy.deepcopy(enum[0])
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return _example(_branch(branches, root, depth), root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        return _example(_merged(schema, root), root, depth + 1)
    kind = _schema_type(schema)
    if kind == "object":
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        return {name: _example(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return _array_example(schema, root, depth)
    return _scalar_example(kind, schema)


def _resolve(schema: object, root: dict[str, Any]) -> dict[str, Any]:
    """The schema itself, or what its local `$ref` (`#/$defs/X`, `#/definitions/X`) names."""
    seen: set[str] = set()
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        if ref in seen or not ref.startswith("#"):
            return {}
        seen.add(ref)
        target: Any = root
        for token in ref.removeprefix("#").strip("/").split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            target = target.get(token) if isinstance(target, dict) and token else target
        # Keywords beside a $ref (description, default) do not change the value's shape.
        schema = target
    return schema if isinstance(schema, dict) else {}


def _branch(branches: list[Any], root: dict[str, Any], depth: int) -> Any:
    if depth < SCHEMA_DEPTH:
        return branches[0]
    # Deep in a recursive schema: a null branch ends the recursion.
    return next((b for b in branches if _resolve(b, root).get("type") == "null"), branches[0])


def _merged(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties = dict(merged.get("properties") or {})
    for branch in schema["allOf"]:
        resolved = _resolve(branch, root)
        properties.update(resolved.get("properties") or {})
        merged.update({k: v for k, v in resolved.items() if k != "properties"})
    if properties:
        merged["properties"] = properties
    return merged


def _schema_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        return "object"
    if kind is None and "items" in schema:
        return "array"
    return kind if isinstance(kind, str) else None


def _array_example(schema: dict[str, Any], root: dict[str, Any], depth: int) -> list[Any]:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list):
        return [_example(sub, root, depth + 1) for sub in prefix]
    if depth >= SCHEMA_DEPTH and not schema.get("minItems"):
        return []
    count = max(1, int(schema.get("minItems") or 1))
    return [_example(schema.get("items"), root, depth + 1) for _ in range(count)]


def _scalar_example(kind: str | None, schema: dict[str, Any]) -> Any:
    if kind in ("integer", "number"):
        value: float = 1 if kind == "integer" else 1.5
        low, high = schema.get("minimum"), schema.get("maximum")
        if isinstance(low, int | float) and value < low:
            value = low
        if isinstance(high, int | float) and value > high:
            value = high
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = _STRING_FORMATS.get(str(schema.get("format")), "sim")
    low = schema.get("minLength")
    if isinstance(low, int) and len(text) < low:
        text = text + "m" * (low - len(text))
    high = schema.get("maxLength")
    return text[:high] if isinstance(high, int) else text


# --- small pure helpers ----------------------------------------------------------------------


def split_deltas(text: str, words: int = WORDS_PER_DELTA) -> list[str]:
    """Split text into deltas of about `words` words; joined, they give `text` back."""
    pieces = re.findall(r"\s*\S+", text)
    chunks = ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)]
    trailing = text[len("".join(pieces)) :]
    if trailing:
        chunks.append(trailing)
    return chunks


def split_chunks(text: str, size: int = ARGUMENT_CHUNK) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def token_count(chars: int) -> int:
    """The simulator's token estimate: about four characters a token."""
    return (chars + 3) // 4


def fake_encrypted(payload: dict[str, Any]) -> str:
    """An opaque, deterministic stand-in for the backend's encrypted blobs."""
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return "gAAAAB" + base64.urlsafe_b64encode(raw).decode("ascii")


def giant_text(prefix: str, size: int) -> str:
    """Exactly `size` ASCII characters, starting with `prefix`."""
    filler = " azt sim giant delta"
    text = prefix + filler * (size // len(filler) + 1)
    return text[:size]


def response_id(number: int) -> str:
    return f"resp_sim{number:06d}"


def usage(body: dict[str, Any], output_chars: int, reasoning_chars: int = 0) -> dict[str, Any]:
    prompt = json.dumps(body.get("input"), sort_keys=True, separators=(",", ":"))
    instructions = body.get("instructions")
    prompt_chars = len(prompt) + (len(instructions) if isinstance(instructions, str) else 0)
    input_tokens = max(1, token_count(prompt_chars))
    reasoning_tokens = token_count(reasoning_chars)
    output_tokens = token_count(output_chars) + reasoning_tokens
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


# --- the stream ------------------------------------------------------------------------------


class _Stream:
    """Numbers events and builds the repeated response object."""

    def __init__(self, body: dict[str, Any], options: StreamOptions) -> None:
        self.body = body
        self.options = options
        self.sequence = 0
        self.id = response_id(options.number)

    def event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def item_id(self, prefix: str) -> str:
        return f"{prefix}_sim{self.options.number:06d}"

    def response(self, status: str, **overrides: Any) -> dict[str, Any]:
        body = self.body
        reasoning = body.get("reasoning")
        response = {
            "id": self.id,
            "object": "response",
            "created_at": self.options.created_at,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": None,
            "model": body.get("model"),
            "output": [],
            "parallel_tool_calls": bool(body.get("parallel_tool_calls", False)),
            "previous_response_id": None,
            "reasoning": copy.deepcopy(reasoning) if isinstance(reasoning, dict) else None,
            "service_tier": body.get("service_tier") or "auto",
            "store": False,
            "text": copy.deepcopy(body.get("text")) or {"format": {"type": "text"}},
            "tool_choice": copy.deepcopy(body.get("tool_choice", "auto")),
            "tools": copy.deepcopy(body.get("tools") or []),
            "truncation": "disabled",
            "usage": None,
            "metadata": {},
        }
        response.update(overrides)
        return response

    def failed(self, code: str, message: str | None) -> dict[str, Any]:
        error = {"code": code, "message": message or failure_message(code)}
        return self.event("response.failed", response=self.response("failed", error=error))

    def keepalive(self) -> Iterator[dict[str, Any]]:
        if self.options.keepalive:
            yield self.event("keepalive")


def response_events(body: dict[str, Any], options: StreamOptions) -> Iterator[dict[str, Any]]:
    """Every event of one streamed response, in order, ending with a terminal event."""
    body = visible_body(body, options.plan)
    stream = _Stream(body, options)
    ending = options.ending
    items = input_items(body)
    image = image_request(body, items)
    yield stream.event("response.created", response=stream.response("in_progress"))
    if ending.kind == "failed" and ending.early:
        yield stream.failed(ending.code or "server_is_overloaded", ending.message)
        return
    yield stream.event("response.in_progress", response=stream.response("in_progress"))
    if ending.kind == "failed" and not (ending.in_image and image is not None):
        yield stream.failed(ending.code or "server_error", ending.message)
        return
    if ending.kind == "error":
        yield _error_event(stream, ending.code or "server_error", ending.message)
        return
    if items and items[-1].get("type") == "compaction_trigger":
        yield from _compaction(stream, items)
        return
    yield from _output(stream, items, image)


def _error_event(stream: _Stream, code: str, message: str | None) -> dict[str, Any]:
    server_side = code in ("server_error", "server_is_overloaded")
    kind = "server_error" if server_side else "invalid_request_error"
    error = {"type": kind, "code": code, "message": message or failure_message(code), "param": None}
    return stream.event("error", error=error)


def _output(
    stream: _Stream, items: list[dict[str, Any]], image: ImageRequest | None
) -> Iterator[dict[str, Any]]:
    output_index = 0
    reasoning_chars = 0
    extra: dict[str, Any] = {}
    if isinstance(stream.body.get("reasoning"), dict):
        yield from _reasoning_item(stream, output_index)
        output_index += 1
        reasoning_chars = len(REASONING_SUMMARY)
    call = None if image is not None else choose_function_call(stream.body, items)
    cut_short = False  # the reply reached the model's output limit
    if image is not None:
        revised = revised_prompt(image)
        if not (yield from _image_item(stream, output_index, image, revised)):
            return
        text = formatted(stream.body, image_reply(image))
        yield from _message_item(stream, output_index + 1, text)
        output_chars = len(revised) + len(text)
        extra["tool_usage"] = {"image_gen": image_gen_usage(image, revised)}
    elif call is not None:
        name, arguments = call
        cut_short = len(arguments) > MAX_OUTPUT_CHARS
        arguments = arguments[:MAX_OUTPUT_CHARS]
        yield from _function_call_item(stream, output_index, name, arguments)
        output_chars = len(arguments)
    else:
        text = answer_text(stream.body, items)
        if stream.options.giant_delta is not None:
            text = giant_text(text, stream.options.giant_delta)
        else:
            cut_short = len(text) > MAX_OUTPUT_CHARS
            text = text[:MAX_OUTPUT_CHARS]
        yield from _message_item(stream, output_index, text)
        output_chars = len(text)
    counts = None if stream.options.no_usage else usage(stream.body, output_chars, reasoning_chars)
    ending = stream.options.ending
    if ending.kind == "incomplete" or cut_short:
        details = {"reason": ending.reason or "max_output_tokens"}
        response = stream.response("incomplete", incomplete_details=details, usage=counts)
        yield stream.event("response.incomplete", response=response)
    else:
        response = stream.response("completed", usage=counts, **extra)
        yield stream.event("response.completed", response=response)


def _reasoning_item(stream: _Stream, output_index: int) -> Iterator[dict[str, Any]]:
    item_id = stream.item_id("rs")
    where = {"item_id": item_id, "output_index": output_index, "summary_index": 0}
    item = {"id": item_id, "type": "reasoning", "summary": []}
    yield stream.event("response.output_item.added", output_index=output_index, item=item)
    part = {"type": "summary_text", "text": ""}
    yield stream.event("response.reasoning_summary_part.added", **where, part=part)
    for i, delta in enumerate(split_deltas(REASONING_SUMMARY)):
        if i:
            yield from stream.keepalive()
        yield stream.event("response.reasoning_summary_text.delta", **where, delta=delta)
    yield stream.event("response.reasoning_summary_text.done", **where, text=REASONING_SUMMARY)
    part = {"type": "summary_text", "text": REASONING_SUMMARY}
    yield stream.event("response.reasoning_summary_part.done", **where, part=part)
    done = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": REASONING_SUMMARY}],
        "encrypted_content": fake_encrypted({"sim": "reasoning", "id": item_id}),
    }
    yield stream.event("response.output_item.done", output_index=output_index, item=done)


def _function_call_item(
    stream: _Stream, output_index: int, name: str, arguments: str
) -> Iterator[dict[str, Any]]:
    item_id = stream.item_id("fc")
    call_id = stream.item_id("call")

    def item(status: str, args: str) -> dict[str, Any]:
        return {
            "id": item_id,
            "type": "function_call",
            "status": status,
            "arguments": args,
            "call_id": call_id,
            "name": name,
        }

    where = {"item_id": item_id, "output_index": output_index}
    added = item("in_progress", "")
    yield stream.event("response.output_item.added", output_index=output_index, item=added)
    for i, delta in enumerate(split_chunks(arguments)):
        if i:
            yield from stream.keepalive()
        yield stream.event("response.function_call_arguments.delta", **where, delta=delta)
    yield stream.event("response.function_call_arguments.done", **where, arguments=arguments)
    done = item("completed", arguments)
    yield stream.event("response.output_item.done", output_index=output_index, item=done)


IMAGE_EVENT = "response.image_generation_call"


def image_reply(image: ImageRequest) -> str:
    """The short message after an image, as the real model often adds one."""
    if image.edit:
        noun = "image" if image.references == 1 else "images"
        return f"azt sim edited {image.references} reference {noun}: {image.prompt[:TRUNCATE]}"
    return f"azt sim generated an image: {image.prompt[:TRUNCATE]}"


def _image_item(
    stream: _Stream, output_index: int, image: ImageRequest, revised: str
) -> Generator[dict[str, Any], None, bool]:
    """The image_generation_call lifecycle; False when the stream failed inside it."""
    item_id = stream.item_id("ig")
    where = {"item_id": item_id, "output_index": output_index}
    added = {"type": "image_generation_call", "id": item_id, "status": "in_progress"}
    yield stream.event("response.output_item.added", output_index=output_index, item=added)
    yield stream.event(f"{IMAGE_EVENT}.in_progress", **where)
    yield stream.event(f"{IMAGE_EVENT}.generating", **where)
    ending = stream.options.ending
    if ending.kind == "failed" and ending.in_image:
        yield stream.failed(ending.code or "server_error", ending.message)
        return False
    for index in range(image.partial_images):
        yield from stream.keepalive()
        progress = (index + 1) / (image.partial_images + 1)
        partial = _b64(sim_png(image.prompt, image.size, image.background, progress))
        yield stream.event(
            f"{IMAGE_EVENT}.partial_image",
            **where,
            partial_image_index=index,
            partial_image_b64=partial,
            **image.formats(),
        )
    yield from stream.keepalive()
    yield stream.event(f"{IMAGE_EVENT}.completed", **where)
    done = {
        **added,
        "status": "completed",
        "revised_prompt": revised,
        "result": _b64(sim_png(image.prompt, image.size, image.background)),
        **image.formats(),
    }
    yield stream.event("response.output_item.done", output_index=output_index, item=done)
    return True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _message_item(stream: _Stream, output_index: int, text: str) -> Iterator[dict[str, Any]]:
    item_id = stream.item_id("msg")
    where = {"item_id": item_id, "output_index": output_index, "content_index": 0}

    def part(value: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": value}

    added = {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    yield stream.event("response.output_item.added", output_index=output_index, item=added)
    if not stream.options.text_only_in_done:
        yield from _text_parts(stream, where, text, part)
    done = {**added, "status": "completed", "content": [part(text)]}
    yield stream.event("response.output_item.done", output_index=output_index, item=done)


def _text_parts(
    stream: _Stream, where: dict[str, Any], text: str, part: Any
) -> Iterator[dict[str, Any]]:
    yield stream.event("response.content_part.added", **where, part=part(""))
    deltas = [text] if stream.options.giant_delta is not None else split_deltas(text)
    for i, delta in enumerate(deltas):
        if i:
            yield from stream.keepalive()
        yield stream.event("response.output_text.delta", **where, delta=delta, logprobs=[])
    yield stream.event("response.output_text.done", **where, text=text, logprobs=[])
    yield stream.event("response.content_part.done", **where, part=part(text))


def _compaction(stream: _Stream, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    item = compaction_item(items)
    yield stream.event("response.output_item.done", output_index=0, item=item)
    counts = usage(stream.body, len(item["encrypted_content"]))
    yield stream.event("response.completed", response=stream.response("completed", usage=counts))


def compaction_item(items: list[dict[str, Any]]) -> dict[str, Any]:
    history = [i for i in items if i.get("type") != "compaction_trigger"]
    summary = {"sim": "compaction", "items": len(history), "last_user": last_user_text(history)}
    return {"type": "compaction", "encrypted_content": fake_encrypted(summary)}


def compact_response(body: dict[str, Any], number: int) -> dict[str, Any]:
    """The v1 `/responses/compact` reply: retained user messages, then the compaction item."""
    items = input_items(body)
    retained = [copy.deepcopy(item) for item in items if is_user_message(item)]
    item = compaction_item(items)
    return {
        "id": response_id(number),
        "object": "response.compaction",
        "output": [*retained, item],
        "usage": usage(body, len(item["encrypted_content"])),
    }
