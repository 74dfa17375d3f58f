"""The OpenAI Responses dialect: the stream translator and collapsed replies."""

import json
import typing
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import BaseModel, TypeAdapter

from azt.dialects.common.sse import encode_event
from azt.dialects.responses.reply import SDK_EVENT_TYPES, ResponsesTranslator
from azt.dialects.responses.request import (
    ResponsesPlan,
    plan_responses_request,
)
from azt.errors import ApiError
from azt.sim.stream import Ending, StreamOptions, response_events
from support.responses import MODEL, WEATHER, plan
from support.sse import events_of

EVENTS = TypeAdapter(ResponseStreamEvent)


# --- recorded streams -----------------------------------------------------------------------


def sim_stream(body: dict[str, Any], **options: Any) -> bytes:
    """The simulator's Codex SSE for the upstream body a client body plans to."""
    upstream = plan_responses_request(body, model=MODEL).upstream
    events = response_events(upstream, StreamOptions(number=1, created_at=1_700_000_000, **options))
    return encode_all(events)


def encode_all(events: Any) -> bytes:
    return b"".join(encode_event(event) for event in events)


def two_calls_stream() -> bytes:
    """Two function calls in one turn: the sim's call, then a copy at output_index 1."""
    upstream = plan_responses_request(
        {"input": "get_weather please", "tools": [WEATHER], "parallel_tool_calls": True},
        model=MODEL,
    ).upstream
    events = list(response_events(upstream, StreamOptions(number=2, created_at=1_700_000_000)))
    first = [e for e in events if "output_index" in e]
    second = json.loads(
        json.dumps(first).replace("fc_sim", "fc_two").replace("call_sim", "call_two")
    )
    for event in second:
        event["output_index"] = 1
    ordered = [*events[:-1], *second, events[-1]]
    for number, event in enumerate(ordered):
        event["sequence_number"] = number
    return encode_all(ordered)


def minimal_stream() -> bytes:
    """The smallest stream the Codex CLI accepts: no ids on items, no deltas, null details."""
    usage = {
        "input_tokens": 5,
        "input_tokens_details": None,
        "output_tokens": 2,
        "output_tokens_details": None,
        "total_tokens": 7,
    }
    part = {"type": "output_text", "text": "Hello"}
    message = {"type": "message", "role": "assistant", "content": [part]}
    return encode_all(
        [
            {"type": "response.created", "response": {"id": "resp_1", "created_at": 1}},
            {"type": "response.output_item.done", "output_index": 0, "item": message},
            {"type": "response.completed", "response": {"id": "resp_1", "usage": usage}},
        ]
    )


TEXT = {"input": "Reply with hello big wide world."}
SCENARIOS: dict[str, bytes] = {
    "text": sim_stream(TEXT),
    "reasoning_text": sim_stream({**TEXT, "reasoning": {"effort": "low"}}),
    "function_calls": two_calls_stream(),
    "text_only_in_done": sim_stream(TEXT, text_only_in_done=True),
    "keepalive": sim_stream(TEXT, keepalive=True),
    "incomplete": sim_stream(TEXT, ending=Ending("incomplete", reason="max_output_tokens")),
    "failed": sim_stream(TEXT, ending=Ending("failed", code="context_length_exceeded")),
    "failed_early": sim_stream(TEXT, ending=Ending("failed", "server_is_overloaded", early=True)),
    "error": sim_stream(TEXT, ending=Ending("error", code="server_error")),
    "minimal": minimal_stream(),
    "crlf": sim_stream(TEXT).replace(b"\n", b"\r\n").replace(b"event: r", b": ping\r\nevent: r"),
}
STREAMING = plan(stream=True)


def translate(pieces: list[bytes], translation_plan: ResponsesPlan = STREAMING) -> bytes:
    translator = ResponsesTranslator(translation_plan, requested_model="alias")
    return b"".join(translator.feed(piece) for piece in pieces) + translator.finish()


WHOLE = {name: translate([raw]) for name, raw in SCENARIOS.items()}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_split_gives_the_same_output(name: str) -> None:
    """Cutting the upstream bytes at any offset, or byte by byte, changes nothing."""
    raw = SCENARIOS[name]
    for cut in range(len(raw) + 1):
        assert translate([raw[:cut], raw[cut:]]) == WHOLE[name], cut
    assert translate([raw[i : i + 1] for i in range(len(raw))]) == WHOLE[name]


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(sorted(SCENARIOS)), st.lists(st.integers(min_value=0), max_size=20))
def test_random_splits(name: str, cuts: list[int]) -> None:
    """Any set of cut points gives the same output as the whole body."""
    raw = SCENARIOS[name]
    points = sorted({cut % (len(raw) + 1) for cut in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    assert translate(pieces) == WHOLE[name]


def test_feed_returns_events_as_they_complete() -> None:
    """Nothing is held back beyond an unfinished event."""
    raw = SCENARIOS["text"]
    first_event_end = raw.index(b"\n\n") + 2
    translator = ResponsesTranslator(STREAMING, requested_model="alias")
    assert translator.feed(raw[: first_event_end - 1]) == b""
    out = translator.feed(raw[first_event_end - 1 : first_event_end])
    assert [e["type"] for e in events_of(out)] == ["response.created"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_streamed_events_validate_against_the_sdk(name: str) -> None:
    """Every event is in the SDK's union, numbered 0..n-1, framed `event: <type>`."""
    events = events_of(WHOLE[name])
    for event in events:
        EVENTS.validate_python(event)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] in ("response.created", "error")
    frames = WHOLE[name].decode().split("\n\n")[:-1]
    assert [f.split("\n")[0] for f in frames] == [f"event: {e['type']}" for e in events]


def test_sdk_event_types_match_the_sdk_union() -> None:
    """The pass list is exactly the SDK's `ResponseStreamEvent` union."""
    members = typing.get_args(typing.get_args(ResponseStreamEvent)[0])
    names = {typing.get_args(m.model_fields["type"].annotation)[0] for m in members}
    assert SDK_EVENT_TYPES == names


def types(name: str) -> list[str]:
    return [e["type"] for e in events_of(WHOLE[name])]


def test_keepalives_are_dropped() -> None:
    """`keepalive` (not an SDK event) never reaches the client; the rest is unchanged."""
    assert "keepalive" in SCENARIOS["keepalive"].decode()
    assert "keepalive" not in types("keepalive")
    assert types("keepalive") == types("text")


def test_text_only_in_done_gets_deltas() -> None:
    """A message known only from output_item.done gets its part and text events."""
    assert types("text_only_in_done") == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [e["delta"] for e in events_of(WHOLE["text_only_in_done"]) if "delta" in e]
    assert deltas == ["hello big wide world"]


def test_minimal_stream_is_completed() -> None:
    """Ids, added events, text events and usage details are filled in consistently."""
    events = events_of(WHOLE["minimal"])
    assert [e["type"] for e in events] == types("text_only_in_done")[:1] + types(
        "text_only_in_done"
    )[2:]
    ids = {e["item_id"] for e in events if "item_id" in e}
    ids |= {e["item"]["id"] for e in events if "item" in e}
    assert ids == {"msg_resp_1_0"}
    completed = events[-1]["response"]
    assert completed["id"] == events[0]["response"]["id"] == "resp_1"
    assert completed["usage"]["input_tokens_details"] == {
        "cached_tokens": 0,
        "cache_write_tokens": 0,
    }
    assert completed["output"][0]["content"][0]["text"] == "Hello"


def test_completed_carries_the_output_items() -> None:
    """`response.completed.output` lists the done items in order (the backend sends [])."""
    assert b'"output":[]' in SCENARIOS["function_calls"].rsplit(b"event:", 1)[1]
    completed = events_of(WHOLE["function_calls"])[-1]["response"]
    calls = [(i["type"], i["call_id"], i["output_index"] if "output_index" in i else None)
             for i in completed["output"]]  # fmt: skip
    assert [c[:2] for c in calls] == [
        ("function_call", "call_sim000002"),
        ("function_call", "call_two000002"),
    ]
    assert completed["status"] == "completed" and completed["model"] == MODEL
    assert completed["usage"]["total_tokens"] > 0


def test_reasoning_item_keeps_encrypted_content() -> None:
    """The reasoning item reaches the client whole, encrypted content included."""
    completed = events_of(WHOLE["reasoning_text"])[-1]["response"]
    reasoning, message = completed["output"]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"].startswith("gAAA")
    assert message["content"][0]["text"] == "hello big wide world"


def test_failed_stream_maps_the_code_for_the_sdk() -> None:
    """`response.failed` keeps the output so far; its code is one the SDK knows."""
    failed = events_of(WHOLE["failed"])[-1]
    error = failed["response"]["error"]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert error["code"] == "invalid_prompt"
    assert error["upstream_code"] == "context_length_exceeded"
    assert "context window" in error["message"]


def test_error_event_is_openai_shaped() -> None:
    """The top-level error event has flat code/message (OpenAI) and the nested object."""
    error = events_of(WHOLE["error"])[-1]
    assert error["type"] == "error" and error["code"] == "server_error"
    assert error["message"] == error["error"]["message"]
    assert error["error"]["type"] == "server_error"


# --- hand-made edge cases -------------------------------------------------------------------


def run(*events: dict[str, Any]) -> list[dict[str, Any]]:
    out = events_of(translate([encode_all(events)]))
    for event in out:
        EVENTS.validate_python(event)
    return out


CREATED = {"type": "response.created", "response": {"id": "resp_x"}}
COMPLETED = {"type": "response.completed", "response": {"id": "resp_x"}}


def where(**extra: Any) -> dict[str, Any]:
    return {"item_id": "msg_x", "output_index": 0, "content_index": 0, **extra}


def test_deltas_without_parents_get_them() -> None:
    """A delta with no output_item.added or content_part.added gets both first."""
    out = run(
        CREATED,
        {"type": "response.output_text.delta", **where(delta="He")},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"id": "msg_x", "type": "message", "role": "assistant",
                  "content": [{"type": "output_text", "text": "Hello"}]}},
        COMPLETED,
    )  # fmt: skip
    assert [(e["type"], e.get("delta")) for e in out[1:-2]] == [
        ("response.output_item.added", None),
        ("response.content_part.added", None),
        ("response.output_text.delta", "He"),
        ("response.output_text.delta", "llo"),
        ("response.output_text.done", None),
        ("response.content_part.done", None),
    ]
    assert out[-4]["text"] == "Hello"


def test_function_call_known_only_when_done() -> None:
    """A call seen only in output_item.done gets added, arguments delta and done events."""
    call = {"type": "function_call", "id": "fc_1", "call_id": "c", "name": "f", "arguments": "{}"}
    stray = {"type": "response.function_call_arguments.delta", "item_id": "fc_1",
             "output_index": 0, "delta": "{"}  # fmt: skip
    out = run(
        CREATED,
        stray,
        {"type": "response.output_item.done", "output_index": 0, "item": call},
        COMPLETED,
    )
    assert [e["type"] for e in out[1:-1]] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert out[1]["item"]["arguments"] == "" and out[2]["delta"] == "{}"


def test_refusal_only_in_done() -> None:
    """A refusal part gets refusal.delta/done events like text does."""
    message = {"type": "message", "id": "msg_x", "role": "assistant",
               "content": [{"type": "refusal", "refusal": "No."}]}  # fmt: skip
    out = run(CREATED, {"type": "response.output_item.done", "output_index": 0, "item": message})
    assert [e["type"] for e in out[2:5]] == [
        "response.content_part.added",
        "response.refusal.delta",
        "response.refusal.done",
    ]


def test_terminal_without_created() -> None:
    """An ending with no response.created first gets one, with the same id."""
    error = {"code": "slow_down"}
    failed = {"type": "response.failed", "response": {"id": "resp_9", "error": error}}
    out = run(failed)
    assert [e["type"] for e in out] == ["response.created", "response.failed"]
    assert out[0]["response"]["id"] == out[1]["response"]["id"] == "resp_9"
    assert out[0]["response"]["status"] == "in_progress"
    assert isinstance(out[0]["response"]["created_at"], int)
    assert out[1]["response"]["error"]["message"]


def test_item_before_created_keeps_one_id() -> None:
    """A made-up response.created fixes the id; a later one from the backend cannot change it."""
    added = {"type": "response.output_item.added", "output_index": 0,
             "item": {"type": "message", "role": "assistant", "content": []}}  # fmt: skip
    out = run(added, CREATED, {"type": "response.in_progress", "response": {"id": "resp_x"}})
    assert [e["type"] for e in out] == [
        "response.created",
        "response.output_item.added",
        "response.in_progress",
        "response.failed",  # the stream ended without a terminal event
    ]
    assert len({e["response"]["id"] for e in out if "response" in e}) == 1
    assert out[0]["response"]["id"] != "resp_x"


def test_events_after_the_end_and_junk_are_dropped() -> None:
    """Nothing follows the terminal event; unknown types and non-JSON data vanish."""
    raw = (
        encode_all([CREATED, {"type": "response.metadata", "headers": {}}])
        + b"data: not json\n\n"
        + encode_all([COMPLETED, {"type": "response.output_text.delta", **where(delta="x")}])
    )
    assert [e["type"] for e in events_of(translate([raw]))] == [
        "response.created",
        "response.completed",
    ]


def test_truncated_stream_is_closed() -> None:
    """A body that ends without a terminal event ends with response.failed."""
    out = events_of(
        translate([SCENARIOS["text"][: SCENARIOS["text"].index(b"response.completed")]])
    )
    assert out[-1]["type"] == "response.failed"
    assert out[-1]["response"]["error"]["upstream_code"] == "upstream_stream_truncated"
    assert out[-1]["response"]["output"][0]["content"][0]["text"] == "hello big wide world"


def test_model_is_the_served_one() -> None:
    """`model` names the model that served the request, on every lifecycle event."""
    out = events_of(WHOLE["text"])
    assert {e["response"]["model"] for e in out if "response" in e} == {MODEL}


# --- collapse (non-stream clients) ----------------------------------------------------------


def collapse(
    name: str, translation_plan: ResponsesPlan | None = None
) -> tuple[int, dict[str, Any]]:
    translator = ResponsesTranslator(translation_plan or plan(), requested_model="alias")
    return translator.collapse(SCENARIOS[name])


@pytest.mark.parametrize(
    "name",
    ["text", "reasoning_text", "function_calls", "text_only_in_done", "keepalive", "minimal"],
)
def test_collapsed_response_validates(name: str) -> None:
    """A completed stream collapses to a 200 `Response` the SDK accepts."""
    status, body = collapse(name)
    assert status == 200
    response = Response.model_validate(body)
    assert response.status == "completed" and response.output
    assert body["output_text"] == response.output_text
    assert body["store"] is False and body["object"] == "response"


def test_collapsed_text_and_echo() -> None:
    """output_text concatenates the message text; request fields are echoed."""
    tools_plan = plan(instructions="Be terse.", tools=[WEATHER], tool_choice="none",
                      reasoning={"effort": "low"})  # fmt: skip
    status, body = collapse("reasoning_text", tools_plan)
    assert status == 200 and body["output_text"] == "hello big wide world"
    assert body["instructions"] == "Be terse." and body["tools"] == [WEATHER]
    assert body["tool_choice"] == "none" and body["reasoning"] == {"effort": "low"}
    assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


def test_collapsed_incomplete() -> None:
    """`response.incomplete` is a 200 with status incomplete and the reason."""
    status, body = collapse("incomplete")
    assert status == 200 and body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert Response.model_validate(body).output_text == "hello big wide world"


@pytest.mark.parametrize(
    ("ending", "status"),
    [
        (Ending("failed", "server_is_overloaded", early=True), 503),
        (Ending("failed", "slow_down"), 503),
        (Ending("failed", "context_length_exceeded"), 400),
        (Ending("failed", "invalid_prompt"), 400),
        (Ending("failed", "usage_limit_reached"), 429),
        (Ending("failed", "rate_limit_exceeded"), 429),
        (Ending("failed", "insufficient_quota"), 429),
        (Ending("failed", "server_error"), 502),
        (Ending("failed", "something_new"), 502),
        (Ending("error", "server_is_overloaded"), 503),
        (Ending("error", "context_length_exceeded"), 400),
        (Ending("error", "server_error"), 502),
    ],
)
def test_collapsed_failures(ending: Ending, status: int) -> None:
    """Failed responses and error events become OpenAI error bodies with a fitting status."""
    translator = ResponsesTranslator(plan(), requested_model="alias")
    got, body = translator.collapse(sim_stream(TEXT, ending=ending))
    assert got == status
    assert body["error"]["code"] == ending.code
    assert body["error"]["message"] and body["detail"] == body["error"]["message"]


def test_collapsed_truncation_is_a_502() -> None:
    """A body without a terminal event is a 502 naming the truncation."""
    raw = SCENARIOS["text"][: SCENARIOS["text"].index(b"event: response.completed")]
    status, body = ResponsesTranslator(plan(), requested_model="alias").collapse(raw)
    assert status == 502 and body["error"]["code"] == "upstream_stream_truncated"


def test_collapsed_usage_limit_keeps_details() -> None:
    """Extra fields of the backend's error (plan_type, resets_at) reach the client."""
    error = {"code": "usage_limit_reached", "message": "limit", "plan_type": "plus", "resets_at": 9}
    failed = {"type": "response.failed", "response": {"id": "r", "error": error}}
    status, body = ResponsesTranslator(plan(), requested_model="a").collapse(encode_all([failed]))
    assert status == 429
    assert body["error"]["plan_type"] == "plus" and body["error"]["resets_at"] == 9


# --- the real OpenAI SDK against the translator -----------------------------------------------


def sdk_client(**options: Any) -> openai.OpenAI:
    """An SDK client (strict validation) whose transport plans, simulates and translates."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        try:
            translation_plan = plan_responses_request(body, model=MODEL)
        except ApiError as e:
            return httpx2.Response(e.status, json=e.body())
        stream = StreamOptions(number=3, created_at=1_700_000_000, **options)
        raw = encode_all(response_events(translation_plan.upstream, stream))
        translator = ResponsesTranslator(translation_plan, requested_model=body["model"])
        if translation_plan.stream:
            content = translator.feed(raw) + translator.finish()
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, content=content
            )
        status, payload = translator.collapse(raw)
        return httpx2.Response(status, json=payload)

    return openai.OpenAI(
        api_key="sk-azt",
        base_url="http://azt.test/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
        _strict_response_validation=True,
    )


class Weather(BaseModel):
    city: str
    degrees: float
    sunny: bool
    hourly: list[int]


@pytest.mark.parametrize("options", [{}, {"text_only_in_done": True}, {"keepalive": True}])
def test_sdk_stream_helper(options: dict[str, Any]) -> None:
    """`responses.stream()` sees deltas and a final response with the text."""
    client = sdk_client(**options)
    with client.responses.stream(model="alias", input="Reply with one two three.",
                                 reasoning={"effort": "low"}) as stream:  # fmt: skip
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "one two three"
    assert [item.type for item in final.output] == ["reasoning", "message"]


def test_sdk_stream_function_call() -> None:
    """A streamed function call arrives with its arguments in the final response."""
    client = sdk_client()
    with client.responses.stream(model="alias", input="weather?", tools=[WEATHER]) as stream:  # type: ignore[list-item]
        final = stream.get_final_response()
    (call,) = final.output
    assert call.type == "function_call" and json.loads(call.arguments) == {"city": "sim"}


def test_sdk_create_non_stream() -> None:
    """`responses.create()` gets a full response object."""
    response = sdk_client().responses.create(model="alias", input="Reply with PONG.")
    assert response.output_text == "PONG" and response.model == MODEL
    assert response.usage is not None and response.usage.total_tokens > 0


def test_sdk_parse_and_stream_with_text_format() -> None:
    """`responses.parse(text_format=Model)` and the stream helper both parse the sim's JSON."""
    client = sdk_client()
    parsed = client.responses.parse(model="alias", input="weather", text_format=Weather)
    assert parsed.output_parsed == Weather(city="sim", degrees=1.5, sunny=True, hourly=[1])
    with client.responses.stream(model="alias", input="weather", text_format=Weather) as stream:
        final = stream.get_final_response()
    assert final.output_parsed == parsed.output_parsed


def test_sdk_errors() -> None:
    """Failures surface as the SDK's exceptions, in both modes."""
    failing = sdk_client(ending=Ending("failed", "context_length_exceeded"))
    with pytest.raises(openai.BadRequestError, match="context window"):
        failing.responses.create(model="alias", input="hi")
    with failing.responses.stream(model="alias", input="hi") as stream:
        kinds = [event.type for event in stream]
    assert kinds[-1] == "response.failed"
    erroring = sdk_client(ending=Ending("error", "server_error"))
    with pytest.raises(openai.APIError, match="An error occurred"):
        with erroring.responses.stream(model="alias", input="hi") as stream:
            list(stream)
    with pytest.raises(openai.BadRequestError, match="whole conversation"):
        failing.responses.create(model="alias", input="hi", previous_response_id="resp_1")
