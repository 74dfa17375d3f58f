"""Chat Completions request → Codex Responses body: every mapping and every parameter row."""

import re
from pathlib import Path
from typing import Any

import pytest

from azt.dialects.chat.request import (
    EFFORTS,
    PARAMETERS,
    ChatPlan,
    map_effort,
    plan_chat_request,
)
from azt.errors import ApiError
from azt.sim.app import rejection

DOCS = Path(__file__).resolve().parents[3] / "docs" / "chat-completions.md"
USER = {"role": "user", "content": "hi"}
LEVELS = ["low", "medium", "high", "xhigh"]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}
FLAT_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
}


def plan(**fields: Any) -> ChatPlan:
    body = {"messages": [USER], **fields}
    return plan_chat_request(body, model="gpt-5.4")


def upstream(**fields: Any) -> dict[str, Any]:
    return plan(**fields).upstream


def items(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    return plan_chat_request({"messages": list(messages)}, model="gpt-5.4").upstream["input"]


def refused(body: dict[str, Any], **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        plan_chat_request(body, model="gpt-5.4", **kwargs)
    assert caught.value.status == 400
    return caught.value


def refused_with(**fields: Any) -> ApiError:
    return refused({"messages": [USER], **fields})


# --- the forced frame -----------------------------------------------------------------------


def test_minimal_body() -> None:
    """A user message alone gives the fixed frame: model, instructions "", store/stream."""
    result = plan()
    assert result.upstream == {
        "model": "gpt-5.4",
        "instructions": "",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
        ],
        "store": False,
        "stream": True,
    }
    assert (result.stream, result.include_usage, result.stop, result.max_tokens) == (
        False,
        False,
        (),
        None,
    )
    assert result.ignored == ()


def test_the_simulated_backend_accepts_a_full_translation() -> None:
    """A body using every translated parameter passes the simulator's backend checks."""
    body = upstream(
        tools=[TOOL],
        tool_choice="auto",
        parallel_tool_calls=True,
        reasoning_effort="high",
        response_format={"type": "json_object"},
        verbosity="low",
        prompt_cache_key="thread-1",
        temperature=0.3,
        max_tokens=10,
        stop=["x"],
    )
    assert rejection(body) is None


# --- messages -------------------------------------------------------------------------------


def test_system_and_developer_messages_become_instructions() -> None:
    """System and developer text is joined, a blank line apart, in order; parts are allowed."""
    messages = [
        {"role": "system", "content": "Be brief."},
        USER,
        {
            "role": "developer",
            "content": [{"type": "text", "text": "Use"}, {"type": "text", "text": "French."}],
        },
    ]
    result = plan_chat_request({"messages": messages}, model="m").upstream
    assert result["instructions"] == "Be brief.\n\nUse\nFrench."
    assert [item["role"] for item in result["input"]] == ["user"]


def test_user_parts_text_and_images() -> None:
    """Text parts become input_text, image_url parts (object or string) input_image."""
    content = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
        {"type": "image_url", "image_url": "data:image/png;base64,AAAA"},
    ]
    (item,) = items({"role": "user", "content": content})
    assert item["content"] == [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "low"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
    ]


@pytest.mark.parametrize(
    ("part", "param", "fragment"),
    [
        (
            {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}},
            "messages[0].content[0].image_url",
            "URL",
        ),
        (
            {"type": "image_url", "image_url": {"url": "ftp://x/a.png"}},
            "messages[0].content[0].image_url",
            "URL",
        ),
        (
            {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "max"}},
            "messages[0].content[0].image_url.detail",
            "detail",
        ),
        (
            {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
            "messages[0].content[0].type",
            "input_audio",
        ),
        ({"type": "file", "file": {"file_id": "f"}}, "messages[0].content[0].type", "file"),
        ({"type": "video"}, "messages[0].content[0].type", "video"),
        ({"type": "text", "text": 3}, "messages[0].content[0].text", "string"),
        ("plain", "messages[0].content[0]", "object"),
    ],
)
def test_bad_user_parts(part: object, param: str, fragment: str) -> None:
    """Bad or unsupported user parts are refused with the part's path."""
    error = refused({"messages": [{"role": "user", "content": [part]}]})
    assert error.param == param
    assert fragment in error.message


def test_assistant_text_refusal_and_tool_calls() -> None:
    """Assistant text and refusal become output_text; each tool call a function_call after it."""
    second = {**CALL, "id": "call_2", "function": {"name": "get_time", "arguments": "{}"}}
    assistant = {
        "role": "assistant",
        "content": [{"type": "text", "text": "Checking."}, {"type": "refusal", "refusal": "No."}],
        "refusal": "Still no.",
        "tool_calls": [CALL, second],
    }
    result = items(USER, assistant)
    assert result[1:] == [
        {
            "type": "message",
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "Checking."},
                {"type": "output_text", "text": "No."},
                {"type": "output_text", "text": "Still no."},
            ],
        },
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
    ]


@pytest.mark.parametrize("content", [None, "", [], [{"type": "text", "text": ""}]])
def test_empty_assistant_text_is_omitted(content: object) -> None:
    """An assistant turn with only tool calls sends no empty message item."""
    result = items(USER, {"role": "assistant", "content": content, "tool_calls": [CALL]})
    assert [item["type"] for item in result] == ["message", "function_call"]


def test_tool_call_arguments_given_as_an_object_are_serialised() -> None:
    """Parsed arguments (a common client slip) go upstream as a JSON string."""
    call = {**CALL, "function": {"name": "f", "arguments": {"a": 1}}}
    result = items(USER, {"role": "assistant", "tool_calls": [call]})
    assert result[1]["arguments"] == '{"a": 1}'


def test_tool_results_answer_earlier_calls() -> None:
    """Tool messages become function_call_output; array content is joined."""
    result = items(
        USER,
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
    )
    assert result[-1] == {"type": "function_call_output", "call_id": "call_1", "output": "a\nb"}


def test_tool_result_for_an_unknown_call_is_refused() -> None:
    """A tool message must answer a call made earlier in the conversation."""
    error = refused(
        {"messages": [USER, {"role": "tool", "tool_call_id": "call_9", "content": "x"}]}
    )
    assert error.param == "messages[1].tool_call_id"


def test_legacy_function_call_and_function_role() -> None:
    """A legacy assistant function_call and its `function` reply pair up by a generated id."""
    result = items(
        USER,
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": "done"},
    )
    call, output = result[1], result[2]
    assert call == {
        "type": "function_call",
        "call_id": call["call_id"],
        "name": "f",
        "arguments": "{}",
    }
    assert output == {"type": "function_call_output", "call_id": call["call_id"], "output": "done"}


def test_function_role_without_a_call_is_refused() -> None:
    """A `function` message naming no earlier unanswered call is refused."""
    error = refused({"messages": [USER, {"role": "function", "name": "f", "content": "x"}]})
    assert error.param == "messages[1].name"


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (None, "messages"),
        ([], "messages"),
        ("hi", "messages"),
        (["hi"], "messages[0]"),
        ([{"content": "hi"}], "messages[0].role"),
        ([{"role": "robot", "content": "hi"}], "messages[0].role"),
        ([{"role": "user"}], "messages[0].content"),
        ([{"role": "user", "content": []}], "messages[0].content"),
        ([{"role": "user", "content": 5}], "messages[0].content"),
        ([USER, {"role": "system", "content": None}], "messages[1].content"),
        (
            [USER, {"role": "system", "content": [{"type": "image_url"}]}],
            "messages[1].content[0].type",
        ),
        ([USER, {"role": "assistant", "content": 5}], "messages[1].content"),
        (
            [USER, {"role": "assistant", "content": [{"type": "image_url"}]}],
            "messages[1].content[0].type",
        ),
        ([USER, {"role": "assistant", "refusal": 5}], "messages[1].refusal"),
        ([USER, {"role": "assistant", "tool_calls": {}}], "messages[1].tool_calls"),
        (
            [USER, {"role": "assistant", "tool_calls": [{**CALL, "id": ""}]}],
            "messages[1].tool_calls[0].id",
        ),
        (
            [USER, {"role": "assistant", "tool_calls": [{**CALL, "type": "custom"}]}],
            "messages[1].tool_calls[0].type",
        ),
        (
            [USER, {"role": "assistant", "tool_calls": [{"id": "c"}]}],
            "messages[1].tool_calls[0].function",
        ),
        (
            [
                USER,
                {"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]},
            ],
            "messages[1].tool_calls[0].function.name",
        ),
        (
            [
                USER,
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": 5}}],
                },
            ],
            "messages[1].tool_calls[0].function.arguments",
        ),
        ([USER, {"role": "tool", "content": "x"}], "messages[1].tool_call_id"),
    ],
)
def test_bad_messages(messages: object, param: str) -> None:
    """Malformed messages are refused with a precise `param`."""
    assert refused({"messages": messages}).param == param


# --- tools ----------------------------------------------------------------------------------


def test_tools_are_flattened() -> None:
    """Chat function tools become flat Responses tools; an empty schema gets a default."""
    bare = {"type": "function", "function": {"name": "ping"}}
    result = upstream(tools=[TOOL, bare], tool_choice="required", parallel_tool_calls=False)
    assert result["tools"] == [
        FLAT_TOOL,
        {"type": "function", "name": "ping", "parameters": {"type": "object", "properties": {}}},
    ]
    assert result["tool_choice"] == "required"
    assert result["parallel_tool_calls"] is False


def test_named_tool_choice_is_flattened() -> None:
    """{"type":"function","function":{"name"}} becomes {"type":"function","name"}."""
    choice = {"type": "function", "function": {"name": "get_weather"}}
    assert upstream(tools=[TOOL], tool_choice=choice)["tool_choice"] == {
        "type": "function",
        "name": "get_weather",
    }


def test_tool_settings_without_tools_are_dropped() -> None:
    """parallel_tool_calls and a harmless tool_choice are not sent when there are no tools."""
    result = upstream(parallel_tool_calls=True, tool_choice="none")
    assert "parallel_tool_calls" not in result and "tool_choice" not in result


def test_legacy_functions() -> None:
    """Deprecated `functions` / `function_call` map like tools / tool_choice."""
    function = {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    result = upstream(functions=[function], function_call={"name": "get_weather"})
    assert result["tools"] == [{"type": "function", **function}]
    assert result["tool_choice"] == {"type": "function", "name": "get_weather"}
    assert upstream(functions=[function], function_call="auto")["tool_choice"] == "auto"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": {}}, "tools"),
        ({"tools": ["x"]}, "tools[0]"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [{"type": "function", "function": {"name": ""}}]}, "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "description": 1}}]},
            "tools[0].function.description",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
            "tools[0].function.parameters",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}]},
            "tools[0].function.strict",
        ),
        ({"tools": [TOOL, TOOL]}, "tools[1]"),
        ({"tools": [TOOL], "tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [TOOL], "tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
        (
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice.function.name",
        ),
        ({"tools": [TOOL], "tool_choice": {"type": "function"}}, "tool_choice.function.name"),
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
            "tool_choice.function.name",
        ),
        ({"tools": [TOOL], "parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"tools": [TOOL], "functions": [{"name": "f"}]}, "functions"),
        ({"tool_choice": "auto", "function_call": "auto"}, "function_call"),
        ({"functions": {}}, "functions"),
        ({"functions": ["f"]}, "functions[0]"),
        ({"functions": [{"name": "f"}], "function_call": {"name": "g"}}, "function_call"),
        ({"functions": [{"name": "f"}], "function_call": 3}, "function_call"),
    ],
)
def test_bad_tools(fields: dict[str, Any], param: str) -> None:
    """Non-function tools and choices naming unknown tools are refused."""
    assert refused_with(**fields).param == param


# --- reasoning, response format, verbosity, cache key ---------------------------------------


@pytest.mark.parametrize(
    ("requested", "levels", "expected"),
    [
        ("medium", LEVELS, "medium"),
        ("minimal", LEVELS, "low"),
        ("none", LEVELS, "low"),
        ("xhigh", ["low", "medium", "high"], "high"),
        ("high", ["low", "medium"], "medium"),
        ("minimal", ["medium", "high"], "medium"),
        ("medium", ["low", "high"], "high"),  # a tie goes up
        ("none", ["none", "low"], "none"),
        ("low", ["minimal", "high"], "minimal"),
        ("high", None, "high"),
        ("xhigh", [], "xhigh"),
        ("low", ["turbo"], "low"),  # nothing rankable: pass through
        ("low", ["turbo", "high"], "high"),
    ],
)
def test_map_effort(requested: str, levels: list[str] | None, expected: str) -> None:
    """An effort the model lacks becomes the nearest one it has."""
    assert map_effort(requested, levels) == expected


def test_reasoning_effort_is_translated_and_mapped() -> None:
    """reasoning_effort → reasoning {effort, summary:auto} and the encrypted-content include."""
    body = {"messages": [USER], "reasoning_effort": "minimal"}
    result = plan_chat_request(body, model="m", reasoning_levels=LEVELS).upstream
    assert result["reasoning"] == {"effort": "low", "summary": "auto"}
    assert result["include"] == ["reasoning.encrypted_content"]


@pytest.mark.parametrize("effort", ["maximum", 3, ""])
def test_unknown_effort_is_refused(effort: object) -> None:
    """An effort outside OpenAI's vocabulary is refused."""
    assert refused_with(reasoning_effort=effort).param == "reasoning_effort"


def test_all_openai_efforts_are_accepted() -> None:
    """Every OpenAI effort passes when the model's levels are unknown."""
    for effort in EFFORTS:
        assert upstream(reasoning_effort=effort)["reasoning"]["effort"] == effort


def test_response_formats() -> None:
    """text adds nothing; json_object and json_schema become text.format."""
    assert "text" not in upstream(response_format={"type": "text"})
    assert upstream(response_format={"type": "json_object"})["text"] == {
        "format": {"type": "json_object"}
    }
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    spec = {"name": "answer", "schema": schema, "strict": True, "description": "The answer."}
    result = upstream(response_format={"type": "json_schema", "json_schema": spec})
    assert result["text"] == {
        "format": {
            "type": "json_schema",
            "name": "answer",
            "schema": schema,
            "description": "The answer.",
            "strict": True,
        }
    }
    unnamed = upstream(response_format={"type": "json_schema", "json_schema": {"schema": schema}})
    assert unnamed["text"]["format"]["name"] == "response"
    assert unnamed["text"]["format"]["strict"] is False


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ("json", "response_format"),
        ({"type": "xml"}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        (
            {"type": "json_schema", "json_schema": {"name": "a"}},
            "response_format.json_schema.schema",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": 1, "schema": {}}},
            "response_format.json_schema.name",
        ),
    ],
)
def test_bad_response_format(value: object, param: str) -> None:
    """A json_schema format needs its schema; unknown types are refused."""
    assert refused_with(response_format=value).param == param


def test_verbosity() -> None:
    """verbosity → text.verbosity, unless the model is known not to support it (then ignored)."""
    assert upstream(verbosity="high")["text"] == {"verbosity": "high"}
    body = {"messages": [USER], "verbosity": "high"}
    result = plan_chat_request(body, model="m", supports_verbosity=False)
    assert "text" not in result.upstream
    assert result.ignored == ("verbosity",)
    assert refused_with(verbosity="loud").param == "verbosity"


def test_prompt_cache_key() -> None:
    """The body's prompt_cache_key wins over the caller's; none at all sends none."""
    assert "prompt_cache_key" not in upstream()
    body = {"messages": [USER]}
    assert (
        plan_chat_request(body, model="m", prompt_cache_key="k1").upstream["prompt_cache_key"]
        == "k1"
    )
    body["prompt_cache_key"] = "k2"
    assert (
        plan_chat_request(body, model="m", prompt_cache_key="k1").upstream["prompt_cache_key"]
        == "k2"
    )
    assert refused_with(prompt_cache_key=5).param == "prompt_cache_key"


# --- streaming flags ------------------------------------------------------------------------


def test_stream_flags() -> None:
    """stream sets the reply mode; stream_options.include_usage the usage chunk."""
    assert plan(stream=True).stream is True
    result = plan(stream=True, stream_options={"include_usage": True})
    assert (result.stream, result.include_usage) == (True, True)
    assert plan(stream=True, stream_options={}).include_usage is False
    assert plan(stream=None).stream is False


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"stream": False, "stream_options": {"include_usage": True}}, "stream_options"),
        ({"stream": True, "stream_options": "all"}, "stream_options"),
        (
            {"stream": True, "stream_options": {"include_usage": "yes"}},
            "stream_options.include_usage",
        ),
    ],
)
def test_bad_stream_flags(fields: dict[str, Any], param: str) -> None:
    """stream must be a boolean, and stream_options needs stream."""
    assert refused_with(**fields).param == param


# --- emulated parameters --------------------------------------------------------------------


def test_stop_is_emulated_not_forwarded() -> None:
    """stop (a string or up to four) goes to the plan, never upstream."""
    assert plan(stop="END").stop == ("END",)
    result = plan(stop=["a", "b", "c", "d"])
    assert result.stop == ("a", "b", "c", "d")
    assert "stop" not in result.upstream
    assert plan(stop=[]).stop == ()


@pytest.mark.parametrize("stop", [["a"] * 5, [""], "", [1], 5])
def test_bad_stop(stop: object) -> None:
    """More than four, empty or non-string stop sequences are refused."""
    assert refused_with(stop=stop).param == "stop"


def test_max_tokens_is_emulated_not_forwarded() -> None:
    """max_tokens / max_completion_tokens go to the plan; equal values may both be given."""
    assert plan(max_tokens=5).max_tokens == 5
    assert plan(max_completion_tokens=7).max_tokens == 7
    result = plan(max_tokens=9, max_completion_tokens=9)
    assert result.max_tokens == 9
    assert not {"max_tokens", "max_completion_tokens", "max_output_tokens"} & set(result.upstream)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": -1}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_completion_tokens": "10"}, "max_completion_tokens"),
        ({"max_tokens": 5, "max_completion_tokens": 6}, "max_completion_tokens"),
    ],
)
def test_bad_max_tokens(fields: dict[str, Any], param: str) -> None:
    """Token limits must be positive integers and agree when both are given."""
    assert refused_with(**fields).param == param


# --- ignored and rejected parameters --------------------------------------------------------

IGNORED_VALUES: dict[str, Any] = {
    "temperature": 0.2,
    "top_p": 0.9,
    "frequency_penalty": 0.5,
    "presence_penalty": 0.5,
    "seed": 7,
    "user": "u-1",
    "metadata": {"a": "b"},
    "logit_bias": {"50256": -100},
    "service_tier": "priority",
    "store": True,
    "prediction": {"type": "content", "content": "x"},
}


def test_ignored_parameters_are_dropped_and_named() -> None:
    """Each ignored parameter (and any unknown key) is dropped and listed, sorted."""
    assert set(IGNORED_VALUES) == {n for n, t in PARAMETERS.items() if t == "ignore"}
    result = plan(**IGNORED_VALUES, safety_identifier="s", zeta=1)
    assert result.ignored == tuple(sorted([*IGNORED_VALUES, "safety_identifier", "zeta"]))
    assert result.upstream == plan().upstream  # store stays false, nothing else is added


def test_null_parameters_count_as_absent() -> None:
    """A null value is neither ignored nor refused."""
    nulls = {name: None for name in PARAMETERS if name not in ("messages", "model")}
    result = plan(**nulls)
    assert result.ignored == ()
    assert result.upstream == plan().upstream


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"n": 2}, "n"),
        ({"n": 0}, "n"),
        ({"n": "1"}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"logprobs": "yes"}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"modalities": ["image"]}, "modalities"),
        ({"modalities": "text"}, "modalities"),
        ({"audio": {"voice": "alloy", "format": "mp3"}}, "audio"),
        ({"web_search_options": {}}, "web_search_options"),
    ],
)
def test_rejected_parameters(fields: dict[str, Any], param: str) -> None:
    """Parameters azt cannot honour are refused with their name."""
    assert refused_with(**fields).param == param


def test_harmless_values_of_rejected_parameters_pass() -> None:
    """n=1, logprobs=false and text-only modalities change nothing."""
    result = plan(n=1, logprobs=False, modalities=["text"])
    assert result.ignored == () and result.upstream == plan().upstream


def test_body_must_be_an_object() -> None:
    """A non-object body is refused."""
    assert refused([USER]).status == 400  # type: ignore[arg-type]


def test_every_rejection_row_is_tested() -> None:
    """The rejected set is exactly the parameters the tests above refuse."""
    assert {n for n, t in PARAMETERS.items() if t == "reject"} == {
        "n",
        "logprobs",
        "top_logprobs",
        "modalities",
        "audio",
        "web_search_options",
    }


# --- docs -----------------------------------------------------------------------------------


def test_every_parameter_is_in_the_docs_table() -> None:
    """docs/chat-completions.md has a row per known parameter with the same treatment."""
    section = DOCS.read_text().split("### Parameters", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\w+) \|", section, flags=re.MULTILINE)
    assert dict(rows) == PARAMETERS
    assert len(rows) == len(PARAMETERS)  # no parameter listed twice
