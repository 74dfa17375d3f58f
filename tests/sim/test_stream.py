"""Deterministic Responses event generation (pure; no server involved)."""

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from azt.sim.stream import (
    REASONING_SUMMARY,
    Ending,
    StreamOptions,
    arguments_for,
    compact_response,
    input_items,
    reply_text,
    response_events,
    split_deltas,
)

OPTIONS = StreamOptions(number=7, created_at=1_700_000_000)

MESSAGE_LIFECYCLE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 2,
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def body(input: Any = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-5.5", "instructions": "", "input": input, **extra}


def events(request: dict[str, Any], options: StreamOptions = OPTIONS) -> list[dict[str, Any]]:
    return list(response_events(request, options))


def types(evs: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in evs]


def text_of(evs: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in evs if e["type"] == "response.output_text.delta")


def test_message_lifecycle() -> None:
    """A plain turn streams the full message lifecycle and ends with completed, output []."""
    evs = events(body("Reply with hello big world."))
    assert types(evs) == MESSAGE_LIFECYCLE
    assert text_of(evs) == "hello big world"
    created, completed = evs[0]["response"], evs[-1]["response"]
    assert created["id"] == completed["id"] == "resp_sim000007"
    assert created["status"] == "in_progress" and created["created_at"] == 1_700_000_000
    assert completed["status"] == "completed" and completed["output"] == []
    done = evs[-2]["item"]
    assert done["id"] == "msg_sim000007" and done["role"] == "assistant"
    assert done["content"][0]["text"] == "hello big world"


def test_sequence_numbers_and_indices() -> None:
    """sequence_number counts from 0 without gaps; item events name their item and index."""
    evs = events(body(reasoning={"effort": "low"}), OPTIONS)
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))
    for e in evs:
        if e["type"].startswith(("response.output_text", "response.content_part")):
            assert (e["item_id"], e["output_index"], e["content_index"]) == ("msg_sim000007", 1, 0)
        if e["type"].startswith("response.reasoning_summary"):
            assert (e["item_id"], e["output_index"], e["summary_index"]) == ("rs_sim000007", 0, 0)
        if e["type"].startswith("response.output_item"):
            assert "output_index" in e and e["item"]["id"]


def test_usage_is_deterministic_and_consistent() -> None:
    """Usage counts are integers derived from sizes, and the same body gives the same stream."""
    request = body([user("Reply with PONG only.")], reasoning={"effort": "high"})
    first, second = events(request), events(request)
    assert first == second
    usage = first[-1]["response"]["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["input_tokens_details"] == {"cached_tokens": 0}
    assert usage["output_tokens_details"]["reasoning_tokens"] == (len(REASONING_SUMMARY) + 3) // 4
    assert usage["output_tokens"] == 1 + usage["output_tokens_details"]["reasoning_tokens"]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("Reply with PONG only.", "PONG"),
        ("reply with pong", "pong"),
        ("Please REPLY WITH two words!", "two words"),
        ("  Reply with OK only  ", "OK"),
        ("hello there", "azt sim heard: hello there"),
        ("x" * 300, "azt sim heard: " + "x" * 200),
    ],
)
def test_reply_text(text: str, answer: str) -> None:
    """The answer follows the "reply with X" rule, else echoes the (truncated) user text."""
    assert reply_text(input_items(body(text))) == answer


def test_reply_uses_last_user_message() -> None:
    """Developer and assistant messages do not count as the user's text."""
    items = [
        user("Reply with FIRST."),
        {"role": "user", "content": "Reply with EASY."},  # "easy" message: no type
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "d"}]},
    ]
    assert reply_text(items) == "EASY"
    assert reply_text([]) == "azt sim heard: "


def test_tool_output_answer() -> None:
    """After a function_call_output the answer reports the tool by name and its output."""
    items = [
        user("weather?"),
        {"type": "function_call", "name": "get_weather", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny" + "!" * 300},
    ]
    assert reply_text(items) == "Tool get_weather returned: sunny" + "!" * 195
    items[-1]["output"] = [{"type": "input_text", "text": "parts"}]
    assert reply_text(items) == "Tool get_weather returned: parts"
    items[-1]["call_id"] = "unknown"
    assert reply_text(items).startswith("Tool unknown returned")


def test_no_reasoning_without_reasoning_object() -> None:
    """reasoning null (or absent) means no reasoning item."""
    assert "response.reasoning_summary_text.delta" not in types(events(body(reasoning=None)))


def test_reasoning_lifecycle() -> None:
    """A reasoning object adds the reasoning item, summary deltas and encrypted_content."""
    evs = events(body(reasoning={"effort": "medium", "summary": "auto"}))
    kinds = types(evs)
    assert kinds[2:5] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
    ]
    done_at = kinds.index("response.reasoning_summary_text.done")
    assert kinds[done_at : done_at + 3] == [
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    deltas = [e["delta"] for e in evs if e["type"] == "response.reasoning_summary_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == REASONING_SUMMARY
    item = evs[done_at + 2]["item"]
    assert item["type"] == "reasoning" and item["encrypted_content"].startswith("gAAAAB")
    assert item["summary"] == [{"type": "summary_text", "text": REASONING_SUMMARY}]
    assert kinds[done_at + 3 :] == MESSAGE_LIFECYCLE[2:]


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "scale": {"type": "number"},
            "alerts": {"type": "boolean"},
            "tags": {"type": "array"},
            "extra": {"type": "object"},
            "optional": {"type": "string"},
        },
        "required": ["city", "days", "scale", "alerts", "tags", "extra"],
    },
}
LOOKUP = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}


def test_function_call_lifecycle() -> None:
    """With function tools and a user turn, the reply is a streamed function call."""
    evs = events(body([user("hi")], tools=[WEATHER, LOOKUP]))
    kinds = types(evs)
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(kinds[3:-3]) == {"response.function_call_arguments.delta"}
    added, done = evs[2]["item"], evs[-2]["item"]
    assert added["arguments"] == "" and added["status"] == "in_progress"
    expected = '{"city":"sim","days":1,"scale":1,"alerts":true,"tags":[],"extra":{}}'
    assert done == {
        "id": "fc_sim000007",
        "type": "function_call",
        "status": "completed",
        "arguments": expected,
        "call_id": "call_sim000007",
        "name": "get_weather",
    }
    deltas = [e["delta"] for e in evs if e["type"] == "response.function_call_arguments.delta"]
    assert "".join(deltas) == expected and len(deltas) > 1
    assert all(e["item_id"] == "fc_sim000007" for e in evs[3:-2])


@pytest.mark.parametrize(
    ("text", "tool_choice", "called"),
    [
        ("use lookup please", "auto", "lookup"),
        ("nothing named", "auto", "get_weather"),
        ("use lookup", {"type": "function", "name": "get_weather"}, "get_weather"),
        ("use lookup", "none", None),
        ("Reply with PONG only.", "auto", None),
        ("Reply with PONG only.", "required", "get_weather"),
        ("call lookup, then reply with OK", "auto", "lookup"),
    ],
)
def test_function_choice(text: str, tool_choice: Any, called: str | None) -> None:
    """The named tool is called, else the first; tool_choice forces or forbids a call."""
    evs = events(body([user(text)], tools=[WEATHER, LOOKUP], tool_choice=tool_choice))
    calls = [e["item"].get("name") for e in evs if e["type"] == "response.output_item.done"]
    if called is None:
        assert "response.output_text.delta" in types(evs)
    else:
        assert calls == [called]


def test_no_function_call_after_tool_output() -> None:
    """When the last item is a tool output, the model answers in text even with tools."""
    items = [
        user("hi"),
        {"type": "function_call", "name": "lookup", "arguments": "{}", "call_id": "c"},
        {"type": "function_call_output", "call_id": "c", "output": "42"},
    ]
    evs = events(body(items, tools=[LOOKUP]))
    assert text_of(evs) == "Tool lookup returned: 42"


@pytest.mark.parametrize(
    ("schema", "arguments"),
    [
        (None, {}),
        ({"type": "object"}, {}),
        ({"properties": {"a": {"type": ["null", "integer"]}}, "required": ["a"]}, {"a": 1}),
        ({"properties": {"a": {"enum": ["x", "y"]}}, "required": ["a"]}, {"a": "x"}),
        ({"properties": {}, "required": ["untyped"]}, {"untyped": "sim"}),
    ],
)
def test_arguments_for(schema: Any, arguments: dict[str, Any]) -> None:
    """Required properties get placeholders; nullable types, enums and untyped ones too."""
    assert arguments_for(schema) == arguments


def test_compaction_trigger() -> None:
    """A v2 compaction turn streams exactly one compaction item, then completed."""
    evs = events(body([user("old"), {"type": "compaction_trigger"}], reasoning={"effort": "low"}))
    assert types(evs) == [
        "response.created",
        "response.in_progress",
        "response.output_item.done",
        "response.completed",
    ]
    item = evs[2]["item"]
    assert item["type"] == "compaction" and item["encrypted_content"].startswith("gAAAAB")


def test_compact_response() -> None:
    """The v1 compact reply keeps the user messages and puts the compaction item last."""
    first, second = user("one"), {"role": "user", "content": "two"}
    items = [first, {"type": "message", "role": "assistant", "content": []}, second]
    reply = compact_response(body(items), 3)
    assert reply["id"] == "resp_sim000003" and reply["object"] == "response.compaction"
    assert reply["output"][:-1] == [first, second]
    assert reply["output"][-1]["type"] == "compaction"
    assert isinstance(reply["usage"]["total_tokens"], int)


def ending(kind: str, **fields: Any) -> StreamOptions:
    return StreamOptions(number=1, created_at=0, ending=Ending(kind, **fields))  # type: ignore[arg-type]


def test_failed_early() -> None:
    """Overload fails right after response.created."""
    evs = events(body(), ending("failed", code="server_is_overloaded", early=True))
    assert types(evs) == ["response.created", "response.failed"]
    error = evs[1]["response"]["error"]
    assert error["code"] == "server_is_overloaded" and "overloaded" in error["message"]
    assert evs[1]["response"]["status"] == "failed"


def test_failed_with_code() -> None:
    """A failure with a code and a custom message ends after in_progress."""
    evs = events(body(), ending("failed", code="context_length_exceeded"))
    assert types(evs) == ["response.created", "response.in_progress", "response.failed"]
    assert evs[-1]["response"]["error"]["code"] == "context_length_exceeded"
    evs = events(body(), ending("failed", code="weird", message="custom"))
    assert evs[-1]["response"]["error"] == {"code": "weird", "message": "custom"}


def test_incomplete() -> None:
    """An incomplete response streams output, then response.incomplete with the reason."""
    evs = events(body(), ending("incomplete", reason="content_filter"))
    assert types(evs) == [*MESSAGE_LIFECYCLE[:-1], "response.incomplete"]
    response = evs[-1]["response"]
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "content_filter"}


def test_error_event() -> None:
    """A top-level error event ends the stream with no terminal response event."""
    evs = events(body(), ending("error", code="server_error"))
    assert types(evs) == ["response.created", "response.in_progress", "error"]
    assert evs[-1]["error"]["code"] == "server_error"
    assert evs[-1]["sequence_number"] == 2


def test_giant_delta() -> None:
    """The giant-delta shape sends the whole text, exactly N bytes, as one delta."""
    evs = events(body("Reply with BIG."), StreamOptions(1, 0, giant_delta=5000))
    deltas = [e["delta"] for e in evs if e["type"] == "response.output_text.delta"]
    assert len(deltas) == 1 and len(deltas[0].encode()) == 5000
    assert deltas[0].startswith("BIG ")
    assert evs[-2]["item"]["content"][0]["text"] == deltas[0]


def test_text_only_in_done() -> None:
    """Without deltas, the text appears only in output_item.done."""
    evs = events(body("Reply with X."), StreamOptions(1, 0, text_only_in_done=True))
    assert types(evs) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    assert evs[3]["item"]["content"][0]["text"] == "X"


def test_keepalive_between_deltas() -> None:
    """Keepalive events sit between deltas, numbered like any other event."""
    evs = events(body("Reply with a b c d e f."), StreamOptions(1, 0, keepalive=True))
    kinds = types(evs)
    first = kinds.index("response.output_text.delta")
    assert kinds[first : first + 5] == [
        "response.output_text.delta",
        "keepalive",
        "response.output_text.delta",
        "keepalive",
        "response.output_text.delta",
    ]
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))


@given(st.text())
def test_split_deltas_rejoins(text: str) -> None:
    """Deltas always join back to the original text."""
    assert "".join(split_deltas(text)) == text


def test_split_deltas_two_words() -> None:
    """Deltas hold about two words each."""
    assert split_deltas("one two three four five") == ["one two", " three four", " five"]
    assert split_deltas("") == []


def test_events_are_json() -> None:
    """Every event serialises to JSON."""
    for e in events(body([user("x")], tools=[WEATHER], reasoning={})):
        json.dumps(e)


def test_stream_module_is_pure() -> None:
    """Importing the event generator pulls in no web framework."""
    code = "import sys, azt.sim.stream; print('starlette' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
