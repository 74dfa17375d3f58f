"""The OpenAI Responses dialect: planning the Codex body."""

from typing import Any

import pytest

from azt.dialects.responses.request import (
    SUPPORTED_TOOL_TYPES,
    plan_responses_request,
)
from azt.errors import ApiError
from support.responses import MODEL, WEATHER, plan

LEVELS = ("low", "medium", "high", "xhigh")


def rejection(body: Any, levels: tuple[str, ...] | None = None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        plan_responses_request(body, model=MODEL, reasoning_levels=levels)
    assert caught.value.status == 400
    return caught.value


# --- the request: mapping -----------------------------------------------------------------


def test_string_input_and_forced_fields() -> None:
    """A string input becomes one user message; store/stream/instructions are forced."""
    result = plan_responses_request({"model": "alias", "input": "Hello"}, model=MODEL)
    assert result.upstream == {
        "model": MODEL,
        "instructions": "",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hello"}],
            }
        ],
        "store": False,
        "stream": True,
    }
    assert result.stream is False and result.ignored == ()


def test_client_stream_flag() -> None:
    """`stream: true` from the client makes a streaming plan; upstream always streams."""
    assert plan(stream=True).stream is True
    assert plan(stream=False).upstream["stream"] is True


def test_shorthand_messages_become_typed_items() -> None:
    """`{"role", "content": str}` items get `type: message` and typed text parts."""
    items = [
        {"role": "system", "content": "be brief"},
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": "question"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": [{"type": "input_text", "text": "parts"}]},
    ]
    upstream = plan(input=items).upstream["input"]
    kinds = [(i["type"], i["role"], i["content"][0]["type"]) for i in upstream]
    assert kinds == [
        ("message", "system", "input_text"),
        ("message", "developer", "input_text"),
        ("message", "user", "input_text"),
        ("message", "assistant", "output_text"),
        ("message", "user", "input_text"),
    ]
    assert upstream[3]["content"][0]["text"] == "answer"


def test_item_ids_are_stripped_and_other_items_pass() -> None:
    """Output items sent back as input lose their `id` (store=false keeps nothing to match)."""
    items = [
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
        {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "ok", "annotations": []}]},
    ]  # fmt: skip
    upstream = plan(input=items).upstream["input"]
    assert all("id" not in item for item in upstream)
    assert upstream[1] == {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"}
    assert upstream[3]["status"] == "completed"


def test_passed_through_fields_and_order() -> None:
    """Fields the backend accepts keep their values, in codex-rs' serialisation order."""
    text = {"format": {"type": "json_schema", "name": "x", "schema": {}}, "verbosity": "low"}
    result = plan(
        text=text,
        client_metadata={"k": "v"},
        prompt_cache_key="thread-1",
        service_tier="priority",
        include=["message.output_text.logprobs"],
        parallel_tool_calls=False,
        tool_choice={"type": "function", "name": "get_weather"},
        tools=[WEATHER],
        instructions="Be terse.",
    )
    assert list(result.upstream) == [
        "model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls", "store",
        "stream", "include", "service_tier", "prompt_cache_key", "text", "client_metadata",
    ]  # fmt: skip
    assert result.upstream["text"] == text and result.upstream["tools"] == [WEATHER]
    assert result.upstream["instructions"] == "Be terse."
    assert result.ignored == ()


def test_parallel_tool_calls_dropped_without_tools() -> None:
    """`parallel_tool_calls` means nothing without tools and is not sent upstream."""
    assert "parallel_tool_calls" not in plan(parallel_tool_calls=True).upstream
    assert "parallel_tool_calls" not in plan(parallel_tool_calls=True, tools=[]).upstream


def test_reasoning_asks_for_encrypted_content() -> None:
    """A reasoning object adds `reasoning.encrypted_content` to `include`, once."""
    assert plan(reasoning={"effort": "low"}).upstream["include"] == ["reasoning.encrypted_content"]
    both = plan(reasoning={}, include=["a", "reasoning.encrypted_content"]).upstream["include"]
    assert both == ["a", "reasoning.encrypted_content"]
    assert "include" not in plan(reasoning=None).upstream


@pytest.mark.parametrize(
    ("effort", "levels", "served"),
    [
        ("medium", LEVELS, "medium"),
        ("minimal", LEVELS, "low"),
        ("none", LEVELS, "low"),
        ("max", LEVELS, "xhigh"),
        ("xhigh", ("low", "medium", "high"), "high"),
        ("medium", ("low", "high"), "high"),
        ("custom", None, "custom"),
        ("none", None, "none"),
    ],
)
def test_effort_maps_to_the_nearest_level(
    effort: str, levels: tuple[str, ...] | None, served: str
) -> None:
    """An effort the model lacks becomes its nearest level (ties go up); no levels: as sent."""
    body = {"input": "hi", "reasoning": {"effort": effort, "summary": "auto"}}
    result = plan_responses_request(body, model=MODEL, reasoning_levels=levels)
    assert result.upstream["reasoning"] == {"effort": served, "summary": "auto"}


def test_unknown_effort_with_known_levels_is_rejected() -> None:
    """A custom effort name cannot be placed on the ladder when the levels are known."""
    error = rejection({"input": "hi", "reasoning": {"effort": "turbo"}}, LEVELS)
    assert error.param == "reasoning.effort" and "turbo" in error.message


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 0.2),
        ("top_p", 0.9),
        ("max_output_tokens", 100),
        ("truncation", "auto"),
        ("user", "u1"),
        ("metadata", {"a": "b"}),
        ("safety_identifier", "s"),
        ("prompt_cache_retention", "24h"),
        ("stream_options", {"include_obfuscation": False}),
        ("store", True),
        ("top_logprobs", 3),
        ("service_tier", "auto"),
        ("service_tier", "flex"),
        ("background", False),
        ("max_tool_calls", 3),
        ("some_future_field", 1),
    ],
)
def test_ignored_parameters(field: str, value: Any) -> None:
    """Dropped parameters are not sent upstream and are named in `ignored`."""
    result = plan(**{field: value})
    assert result.ignored == (field,)
    assert result.upstream.get(field) == {"store": False}.get(field)


def test_ignored_is_sorted_and_skips_nulls() -> None:
    """`ignored` is sorted; keys sent as null count as absent."""
    result = plan(user="u", temperature=1, metadata=None, top_p=None, instructions=None)
    assert result.ignored == ("temperature", "user")
    assert result.upstream["instructions"] == ""


@pytest.mark.parametrize("kind", sorted(SUPPORTED_TOOL_TYPES))
def test_supported_tool_types(kind: str) -> None:
    """Every tool type the Codex backend knows passes unchanged."""
    tool = {"type": kind, "name": "t"} if kind in ("function", "custom") else {"type": kind}
    assert plan(tools=[tool]).upstream["tools"] == [tool]


# --- the request: rejections --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ({"background": True}, "background", "background"),
        ({"previous_response_id": "resp_1"}, "previous_response_id", "whole conversation"),
        ({"conversation": "conv_1"}, "conversation", "whole conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt", "stored prompt"),
        ({"tools": [{"type": "file_search"}]}, "tools[0].type", "file_search"),
        ({"tools": [WEATHER, {"type": "computer_use_preview"}]}, "tools[1].type", "computer"),
        ({"tools": [{"type": "code_interpreter"}]}, "tools[0].type", "code_interpreter"),
        ({"tools": [{"type": "mcp", "server_label": "x"}]}, "tools[0].type", "mcp"),
        ({"tools": [{"type": "web_search_preview"}]}, "tools[0].type", "use `web_search`"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0].name", "flat"),
        ({"tools": ["get_weather"]}, "tools[0]", "object"),
        ({"tools": {"type": "function"}}, "tools", "list"),
        ({"input": None}, "input", "no `input`"),
        ({"input": 42}, "input", "string or a list"),
        ({"input": ["hi"]}, "input[0]", "object"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role", "one of"),
        ({"input": [{"role": "user", "content": 5}]}, "input[0].content", "content parts"),
        ({"input": [{"role": "user", "content": ["x"]}]}, "input[0].content", "content parts"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0]", "item_reference"),
        ({"instructions": ["a"]}, "instructions", "string"),
        ({"stream": "yes"}, "stream", "boolean"),
        ({"tool_choice": 1}, "tool_choice", "string or an object"),
        ({"parallel_tool_calls": "no"}, "parallel_tool_calls", "boolean"),
        ({"include": "all"}, "include", "list of strings"),
        ({"text": "json"}, "text", "object"),
        ({"prompt_cache_key": 1}, "prompt_cache_key", "string"),
        ({"client_metadata": {"a": 1}}, "client_metadata", "strings"),
        ({"reasoning": "high"}, "reasoning", "object"),
    ],
)
def test_rejections(body: dict[str, Any], param: str, fragment: str) -> None:
    """What azt cannot honour, and malformed bodies, are a 400 naming the parameter."""
    error = rejection({"model": "alias", "input": "hi", **body})
    assert error.param == param
    assert fragment in error.message
    assert error.body()["error"]["type"] == "invalid_request_error"


def test_body_must_be_an_object() -> None:
    """A JSON array or string body is a 400."""
    assert rejection(["input"]).code == "invalid_type"


def test_nulls_are_not_rejections() -> None:
    """`previous_response_id: null` and friends are the same as leaving them out."""
    assert plan(previous_response_id=None, conversation=None, prompt=None).ignored == ()
