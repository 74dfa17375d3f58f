"""Chat Completions requests → Codex Responses bodies: the request half of the chat dialect.

`plan_chat_request` validates a `POST /v1/chat/completions` body and returns a `ChatPlan`: the
body to send upstream plus what the reply translator (`azt.dialects.chat.reply`) must do
on its side (stream or collapse, usage chunk, `stop` and `max_tokens` emulation). Every
top-level parameter has one treatment, listed in `PARAMETERS` and documented in
docs/chat-completions.md: accept, translate, emulate, ignore (named back to the client) or
reject with an OpenAI-shaped 400. A parameter whose value is `null` counts as absent.

Pure: no I/O, no clock.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from azt.dialects.common.effort import nearest_effort
from azt.dialects.common.intake import invalid, is_int, unsupported
from azt.dialects.common.params import Treatment, ignored_names

# Every top-level parameter azt knows, with its treatment (docs/chat-completions.md has the why).
# Anything not listed is ignored and named in `ChatPlan.ignored`.
PARAMETERS: dict[str, Treatment] = {
    "model": "accept",
    "stream": "accept",
    "stream_options": "accept",
    "messages": "translate",
    "tools": "translate",
    "tool_choice": "translate",
    "parallel_tool_calls": "translate",
    "functions": "translate",
    "function_call": "translate",
    "reasoning_effort": "translate",
    "response_format": "translate",
    "verbosity": "translate",
    "prompt_cache_key": "translate",
    "stop": "emulate",
    "max_tokens": "emulate",
    "max_completion_tokens": "emulate",
    "temperature": "ignore",
    "top_p": "ignore",
    "frequency_penalty": "ignore",
    "presence_penalty": "ignore",
    "seed": "ignore",
    "user": "ignore",
    "metadata": "ignore",
    "logit_bias": "ignore",
    "service_tier": "ignore",
    "store": "ignore",
    "prediction": "ignore",
    "n": "reject",
    "logprobs": "reject",
    "top_logprobs": "reject",
    "modalities": "reject",
    "audio": "reject",
    "web_search_options": "reject",
}

# Reasoning efforts in OpenAI's vocabulary, cheapest first: the order `map_effort` measures in.
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
VERBOSITIES = ("low", "medium", "high")
IMAGE_DETAILS = ("auto", "low", "high", "original")
TOOL_CHOICES = ("none", "auto", "required")
MAX_STOP_SEQUENCES = 4
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
ROLES = ("system", "developer", "user", "assistant", "tool", "function")


@dataclass(frozen=True)
class ChatPlan:
    """What to send upstream, and what the response side must do for this request."""

    upstream: dict[str, Any]
    stream: bool
    include_usage: bool
    stop: tuple[str, ...]
    max_tokens: int | None
    ignored: tuple[str, ...]  # for the `x-azt-ignored-params` header, sorted


def plan_chat_request(
    body: dict[str, Any],
    *,
    model: str,
    reasoning_levels: Sequence[str] | None = None,
    prompt_cache_key: str | None = None,
    supports_verbosity: bool | None = None,
) -> ChatPlan:
    """Validate a Chat Completions body and build its Codex `/responses` body.

    `model` is the resolved upstream slug; `reasoning_levels` the efforts it supports (None:
    unknown, pass efforts through); `prompt_cache_key` the fallback cache key;
    `supports_verbosity` False drops `verbosity` (None: unknown, send it). Raises `ApiError`
    (400) naming the offending `param`.
    """
    if not isinstance(body, dict):
        raise invalid(None, "The request body must be a JSON object.", code="invalid_type")
    _reject_unsupported(body)
    stream, include_usage = _stream_flags(body)
    instructions, items = translate_messages(body.get("messages"))
    upstream: dict[str, Any] = {"model": model, "instructions": instructions, "input": items}
    upstream.update(_tool_fields(body))
    reasoning = _reasoning(body.get("reasoning_effort"), reasoning_levels)
    if reasoning is not None:
        upstream["reasoning"] = reasoning
    upstream["store"] = False
    upstream["stream"] = True
    if reasoning is not None:
        # Stateless (store=false) reasoning continuity needs the encrypted reasoning back.
        upstream["include"] = ["reasoning.encrypted_content"]
    cache_key = _prompt_cache_key(body.get("prompt_cache_key"), prompt_cache_key)
    if cache_key is not None:
        upstream["prompt_cache_key"] = cache_key
    text = _text_options(body, supports_verbosity)
    if text:
        upstream["text"] = text
    return ChatPlan(
        upstream=upstream,
        stream=stream,
        include_usage=include_usage,
        stop=_stop(body.get("stop")),
        max_tokens=_max_tokens(body),
        ignored=_ignored(body, supports_verbosity),
    )


# --- parameters the backend cannot honour ---------------------------------------------------


def _reject_unsupported(body: dict[str, Any]) -> None:
    """400 for parameters whose meaning azt cannot deliver, rather than a silent wrong answer."""
    n = body.get("n")
    if n is not None:
        if not is_int(n) or n < 1:
            raise invalid("n", "`n` must be a positive integer.")
        if n > 1:
            raise unsupported("n", "azt returns one choice per request; `n` must be 1.")
    logprobs = body.get("logprobs")
    if logprobs is not None and not isinstance(logprobs, bool):
        raise invalid("logprobs", "`logprobs` must be a boolean.", code="invalid_type")
    if logprobs:
        raise unsupported("logprobs", "The Codex backend does not return log probabilities.")
    if body.get("top_logprobs") is not None:
        raise unsupported("top_logprobs", "The Codex backend does not return log probabilities.")
    _check_modalities(body.get("modalities"))
    if body.get("audio") is not None:
        raise unsupported("audio", "Audio output is not supported; azt returns text only.")
    if body.get("web_search_options") is not None:
        raise unsupported(
            "web_search_options", "Web search is not supported on /v1/chat/completions."
        )


def _check_modalities(modalities: object) -> None:
    if modalities is None:
        return
    if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
        raise invalid("modalities", "`modalities` must be a list of strings.", code="invalid_type")
    if "audio" in modalities:
        raise unsupported("modalities", "Audio output is not supported; azt returns text only.")
    for modality in modalities:
        if modality != "text":
            raise invalid("modalities", f"Unknown modality {modality!r}; only 'text' is served.")


def _ignored(body: dict[str, Any], supports_verbosity: bool | None) -> tuple[str, ...]:
    names = ignored_names(body, PARAMETERS)
    if supports_verbosity is False and body.get("verbosity") is not None:
        names.add("verbosity")
    return tuple(sorted(names))


# --- streaming ------------------------------------------------------------------------------


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool]:
    stream = body.get("stream")
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise invalid("stream", "`stream` must be a boolean.", code="invalid_type")
    options = body.get("stream_options")
    if options is None:
        return stream, False
    if not isinstance(options, dict):
        raise invalid("stream_options", "`stream_options` must be an object.", code="invalid_type")
    if not stream:
        raise invalid("stream_options", "`stream_options` is only allowed when `stream` is true.")
    include_usage = options.get("include_usage")
    if include_usage is None:
        return stream, False
    if not isinstance(include_usage, bool):
        param = "stream_options.include_usage"
        raise invalid(param, "`include_usage` must be a boolean.", code="invalid_type")
    return stream, include_usage


# --- emulated parameters --------------------------------------------------------------------


def _stop(stop: object) -> tuple[str, ...]:
    if stop is None:
        return ()
    sequences = [stop] if isinstance(stop, str) else stop
    if not isinstance(sequences, list):
        raise invalid("stop", "`stop` must be a string or a list of strings.", code="invalid_type")
    if len(sequences) > MAX_STOP_SEQUENCES:
        raise invalid("stop", f"`stop` takes at most {MAX_STOP_SEQUENCES} sequences.")
    for sequence in sequences:
        if not isinstance(sequence, str) or not sequence:
            raise invalid("stop", "Each stop sequence must be a non-empty string.")
    return tuple(sequences)


def _max_tokens(body: dict[str, Any]) -> int | None:
    legacy = _positive_int(body, "max_tokens")
    current = _positive_int(body, "max_completion_tokens")
    if legacy is not None and current is not None and legacy != current:
        raise invalid(
            "max_completion_tokens",
            "`max_tokens` and `max_completion_tokens` disagree; send only one.",
        )
    return current if current is not None else legacy


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not is_int(value) or value < 1:
        raise invalid(name, f"`{name}` must be a positive integer.")
    return int(value)


# --- reasoning, text, cache key -------------------------------------------------------------


def map_effort(requested: str, levels: Sequence[str] | None) -> str:
    """The effort to send for `requested` given the efforts the model supports.

    Unknown support (None or empty) passes the value through. Otherwise the nearest supported
    effort in `EFFORTS` order; a tie goes to the higher effort, since the client asked for at
    least that much thinking. Levels outside OpenAI's vocabulary cannot be ranked and are
    skipped; if none can be ranked the value passes through.
    """
    if not levels or requested in levels:
        return requested
    return nearest_effort(requested, levels) or requested


def _reasoning(effort: object, levels: Sequence[str] | None) -> dict[str, Any] | None:
    if effort is None:
        return None
    if not isinstance(effort, str) or effort not in EFFORTS:
        allowed = ", ".join(EFFORTS)
        raise invalid("reasoning_effort", f"`reasoning_effort` must be one of: {allowed}.")
    return {"effort": map_effort(effort, levels), "summary": "auto"}


def _text_options(body: dict[str, Any], supports_verbosity: bool | None) -> dict[str, Any]:
    text: dict[str, Any] = {}
    text_format = _response_format(body.get("response_format"))
    if text_format is not None:
        text["format"] = text_format
    verbosity = body.get("verbosity")
    if verbosity is not None:
        if verbosity not in VERBOSITIES:
            raise invalid("verbosity", f"`verbosity` must be one of: {', '.join(VERBOSITIES)}.")
        if supports_verbosity is not False:
            text["verbosity"] = verbosity
    return text


def _response_format(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("response_format", "`response_format` must be an object.", "invalid_type")
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema":
        raise invalid(
            "response_format.type",
            "`response_format.type` must be text, json_object or json_schema.",
        )
    spec = value.get("json_schema")
    if not isinstance(spec, dict):
        raise invalid("response_format.json_schema", "`json_schema` is required for this type.")
    schema = spec.get("schema")
    if not isinstance(schema, dict):
        raise invalid("response_format.json_schema.schema", "`json_schema.schema` is required.")
    name = spec.get("name", "response")
    if not isinstance(name, str) or not name:
        raise invalid("response_format.json_schema.name", "`json_schema.name` must be a string.")
    result: dict[str, Any] = {"type": "json_schema", "name": name, "schema": schema}
    if isinstance(spec.get("description"), str):
        result["description"] = spec["description"]
    result["strict"] = spec.get("strict") is True
    return result


def _prompt_cache_key(value: object, fallback: str | None) -> str | None:
    if value is None:
        return fallback
    if not isinstance(value, str) or not value:
        raise invalid("prompt_cache_key", "`prompt_cache_key` must be a non-empty string.")
    return value


# --- tools ----------------------------------------------------------------------------------


def _tool_fields(body: dict[str, Any]) -> dict[str, Any]:
    """`tools`, `tool_choice` and `parallel_tool_calls` for upstream (legacy forms included)."""
    if body.get("tools") is not None and body.get("functions") is not None:
        raise invalid("functions", "Send `tools` or the deprecated `functions`, not both.")
    if body.get("tool_choice") is not None and body.get("function_call") is not None:
        raise invalid("function_call", "Send `tool_choice` or the deprecated `function_call`.")
    if body.get("functions") is not None:
        tools = _legacy_functions(body["functions"])
    else:
        tools = _tools(body.get("tools"))
    if body.get("function_call") is not None:
        choice = _legacy_choice(body["function_call"], tools)
    else:
        choice = _tool_choice(body.get("tool_choice"), tools)
    fields: dict[str, Any] = {}
    if tools:
        fields["tools"] = tools
    if choice is not None:
        fields["tool_choice"] = choice
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise invalid("parallel_tool_calls", "`parallel_tool_calls` must be a boolean.")
    if parallel is not None and tools:  # the backend wants it only alongside tools
        fields["parallel_tool_calls"] = parallel
    return fields


def _tools(tools: object) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise invalid("tools", "`tools` must be a list.", code="invalid_type")
    result = []
    for index, tool in enumerate(tools):
        param = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise invalid(param, "Each tool must be an object.", code="invalid_type")
        if tool.get("type") != "function":
            raise invalid(
                f"{param}.type", "Only `function` tools are supported on /v1/chat/completions."
            )
        function = tool.get("function")
        if not isinstance(function, dict):
            raise invalid(f"{param}.function", "A function tool needs a `function` object.")
        result.append(_flat_function(function, f"{param}.function"))
    _check_unique_names(result, "tools")
    return result


def _legacy_functions(functions: object) -> list[dict[str, Any]]:
    if not isinstance(functions, list):
        raise invalid("functions", "`functions` must be a list.", code="invalid_type")
    result = []
    for index, function in enumerate(functions):
        if not isinstance(function, dict):
            raise invalid(f"functions[{index}]", "Each function must be an object.")
        result.append(_flat_function(function, f"functions[{index}]"))
    _check_unique_names(result, "functions")
    return result


def _flat_function(function: dict[str, Any], param: str) -> dict[str, Any]:
    """A Chat function spec as the flat Responses tool the backend requires."""
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(f"{param}.name", "A function needs a non-empty `name`.")
    flat: dict[str, Any] = {"type": "function", "name": name}
    description = function.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise invalid(f"{param}.description", "`description` must be a string.")
        flat["description"] = description
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise invalid(f"{param}.parameters", "`parameters` must be a JSON Schema object.")
    flat["parameters"] = parameters or dict(EMPTY_SCHEMA)
    strict = function.get("strict")
    if strict is not None:
        if not isinstance(strict, bool):
            raise invalid(f"{param}.strict", "`strict` must be a boolean.")
        flat["strict"] = strict
    return flat


def _check_unique_names(tools: list[dict[str, Any]], param: str) -> None:
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        if tool["name"] in seen:
            raise invalid(f"{param}[{index}]", f"Duplicate function name {tool['name']!r}.")
        seen.add(tool["name"])


def _tool_choice(choice: object, tools: list[dict[str, Any]]) -> str | dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in TOOL_CHOICES:
            raise invalid(
                "tool_choice", "`tool_choice` must be none, auto, required or a function."
            )
        return _choice_without_tools(choice, tools)
    if not isinstance(choice, dict) or choice.get("type") != "function":
        raise invalid("tool_choice", "Only a `function` tool_choice object is supported.")
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    return {"type": "function", "name": _known_name(name, tools, "tool_choice.function.name")}


def _legacy_choice(choice: object, tools: list[dict[str, Any]]) -> str | dict[str, Any] | None:
    if choice is None:
        return None
    if choice in ("none", "auto"):
        return _choice_without_tools(str(choice), tools)
    if not isinstance(choice, dict):
        raise invalid("function_call", "`function_call` must be none, auto or {name}.")
    return {"type": "function", "name": _known_name(choice.get("name"), tools, "function_call")}


def _choice_without_tools(choice: str, tools: list[dict[str, Any]]) -> str | None:
    if tools:
        return choice
    if choice == "required":
        raise invalid("tool_choice", "`tool_choice` is `required` but no tools are given.")
    return None  # "none"/"auto" without tools change nothing


def _known_name(name: object, tools: list[dict[str, Any]], param: str) -> str:
    if not isinstance(name, str) or not name:
        raise invalid(param, "The forced function needs a `name`.")
    if name not in {tool["name"] for tool in tools}:
        raise invalid(param, f"The forced function {name!r} is not among the tools.")
    return name


# --- messages -------------------------------------------------------------------------------


def translate_messages(messages: object) -> tuple[str, list[dict[str, Any]]]:
    """(instructions, input items) for a Chat `messages` list."""
    if messages is None:
        raise invalid("messages", "`messages` is required.", code="missing_required_parameter")
    if not isinstance(messages, list):
        raise invalid("messages", "`messages` must be a list.", code="invalid_type")
    if not messages:
        raise invalid("messages", "`messages` must contain at least one message.")
    conversation = _Conversation()
    for index, message in enumerate(messages):
        conversation.add(message, f"messages[{index}]")
    return "\n\n".join(conversation.instructions), conversation.items


@dataclass
class _Conversation:
    """Walks the messages in order, keeping the calls later tool messages must answer."""

    instructions: list[str] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)
    calls: dict[str, str] = field(default_factory=dict)  # call_id -> function name
    unanswered: list[str] = field(default_factory=list)  # call ids, oldest first

    def add(self, message: object, param: str) -> None:
        if not isinstance(message, dict):
            raise invalid(param, "Each message must be an object.", code="invalid_type")
        role = message.get("role")
        if role not in ROLES:
            raise invalid(f"{param}.role", f"`role` must be one of: {', '.join(ROLES)}.")
        if role in ("system", "developer"):
            self._system(message, param)
        elif role == "user":
            self.items.append(_user_item(message.get("content"), f"{param}.content"))
        elif role == "assistant":
            self._assistant(message, param)
        elif role == "tool":
            self._tool(message, param)
        else:
            self._function_result(message, param)

    def _system(self, message: dict[str, Any], param: str) -> None:
        text = "\n".join(_texts(message.get("content"), f"{param}.content"))
        if text:
            self.instructions.append(text)

    def _assistant(self, message: dict[str, Any], param: str) -> None:
        texts = _assistant_texts(message, param)
        if texts:
            content = [{"type": "output_text", "text": text} for text in texts]
            self.items.append({"type": "message", "role": "assistant", "content": content})
        tool_calls = message.get("tool_calls")
        if tool_calls is not None:
            if not isinstance(tool_calls, list):
                raise invalid(f"{param}.tool_calls", "`tool_calls` must be a list.")
            for index, call in enumerate(tool_calls):
                self._call(*_tool_call(call, f"{param}.tool_calls[{index}]"))
        legacy = message.get("function_call")
        if legacy is not None:
            # A legacy call has no id; give it one the `function` reply can be paired with.
            call_id = f"call_legacy_{len(self.items)}"
            self._call(call_id, *_call_function(legacy, f"{param}.function_call"))

    def _call(self, call_id: str, name: str, arguments: str) -> None:
        item = {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}
        self.items.append(item)
        self.calls[call_id] = name
        self.unanswered.append(call_id)

    def _tool(self, message: dict[str, Any], param: str) -> None:
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or call_id not in self.calls:
            raise invalid(
                f"{param}.tool_call_id",
                f"`tool_call_id` {call_id!r} answers no earlier assistant tool call.",
            )
        self._output(call_id, message.get("content"), f"{param}.content")

    def _function_result(self, message: dict[str, Any], param: str) -> None:
        name = message.get("name")
        call_id = next((c for c in self.unanswered if self.calls[c] == name), None)
        if call_id is None:
            raise invalid(f"{param}.name", f"No earlier unanswered call to function {name!r}.")
        self._output(call_id, message.get("content"), f"{param}.content")

    def _output(self, call_id: str, content: object, param: str) -> None:
        output = "\n".join(_texts(content, param)) if content is not None else ""
        item = {"type": "function_call_output", "call_id": call_id, "output": output}
        self.items.append(item)
        if call_id in self.unanswered:
            self.unanswered.remove(call_id)


def _texts(content: object, param: str) -> list[str]:
    """The text of system/developer/tool content: a string or a list of `text` parts."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise invalid(param, "Content must be a string or a list of text parts.", "invalid_type")
    texts = []
    for index, part in enumerate(content):
        where = f"{param}[{index}]"
        if not isinstance(part, dict) or part.get("type") != "text":
            raise invalid(f"{where}.type", "Only `text` parts are allowed in this message.")
        texts.append(_part_text(part, "text", where))
    return texts


def _part_text(part: dict[str, Any], key: str, param: str) -> str:
    text = part.get(key)
    if not isinstance(text, str):
        raise invalid(f"{param}.{key}", f"The part's `{key}` must be a string.", "invalid_type")
    return text


def _user_item(content: object, param: str) -> dict[str, Any]:
    if isinstance(content, str):
        parts = [{"type": "input_text", "text": content}]
    elif isinstance(content, list) and content:
        parts = [_user_part(part, f"{param}[{i}]") for i, part in enumerate(content)]
    elif isinstance(content, list):
        raise invalid(param, "User content must not be an empty list.")
    else:
        raise invalid(param, "User content must be a string or a list of parts.", "invalid_type")
    return {"type": "message", "role": "user", "content": parts}


def _user_part(part: object, param: str) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise invalid(param, "Each content part must be an object.", code="invalid_type")
    kind = part.get("type")
    if kind == "text":
        return {"type": "input_text", "text": _part_text(part, "text", param)}
    if kind == "image_url":
        return _image_part(part.get("image_url"), f"{param}.image_url")
    if kind in ("input_audio", "file"):
        raise unsupported(f"{param}.type", f"`{kind}` content parts are not supported.")
    raise invalid(f"{param}.type", f"Unknown content part type {kind!r}.")


def _image_part(image: object, param: str) -> dict[str, Any]:
    detail = None
    if isinstance(image, dict):
        url, detail = image.get("url"), image.get("detail")
    else:
        url = image
    if not isinstance(url, str) or not url.lower().startswith(("data:", "http://", "https://")):
        raise invalid(param, "`image_url` must be a data: URL or an http(s) URL.")
    part: dict[str, Any] = {"type": "input_image", "image_url": url}
    if detail is not None:
        if detail not in IMAGE_DETAILS:
            raise invalid(
                f"{param}.detail", f"`detail` must be one of: {', '.join(IMAGE_DETAILS)}."
            )
        part["detail"] = detail
    return part


def _assistant_texts(message: dict[str, Any], param: str) -> list[str]:
    """Non-empty text of an assistant message: content (text/refusal parts), then `refusal`."""
    content = message.get("content")
    texts: list[str] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for index, part in enumerate(content):
            where = f"{param}.content[{index}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in ("text", "refusal"):
                raise invalid(f"{where}.type", "Assistant parts must be `text` or `refusal`.")
            texts.append(_part_text(part, kind, where))
    elif content is not None:
        raise invalid(f"{param}.content", "Content must be a string, a list or null.")
    refusal = message.get("refusal")
    if refusal is not None:
        if not isinstance(refusal, str):
            raise invalid(f"{param}.refusal", "`refusal` must be a string.", code="invalid_type")
        texts.append(refusal)
    return [text for text in texts if text]


def _tool_call(call: object, param: str) -> tuple[str, str, str]:
    """(call_id, name, arguments) of one assistant `tool_calls` entry."""
    if not isinstance(call, dict):
        raise invalid(param, "Each tool call must be an object.", code="invalid_type")
    if call.get("type", "function") != "function":
        raise invalid(f"{param}.type", "Only `function` tool calls are supported.")
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise invalid(f"{param}.id", "A tool call needs a non-empty `id`.")
    return (call_id, *_call_function(call.get("function"), f"{param}.function"))


def _call_function(function: object, param: str) -> tuple[str, str]:
    if not isinstance(function, dict):
        raise invalid(param, "A call needs a `function` object with `name` and `arguments`.")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise invalid(f"{param}.name", "A call needs a non-empty `name`.")
    arguments = function.get("arguments")
    if arguments is None:
        return name, "{}"
    if isinstance(arguments, dict):  # some clients send parsed arguments; the wire wants JSON
        return name, json.dumps(arguments, ensure_ascii=False)
    if not isinstance(arguments, str):
        raise invalid(f"{param}.arguments", "`arguments` must be a JSON string.")
    return name, arguments
