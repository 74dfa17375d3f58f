"""Codex Responses SSE → Chat Completions chunks and completions.

Recorded streams come from the simulator (`azt.sim.stream.response_events`), so they have the
real backend's event lifecycle. Output must not depend on how the input bytes were split.
"""

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from azt.dialects.chat.reply import (
    DONE,
    ChatTranslator,
    StopScanner,
    TokenBudget,
)
from azt.dialects.chat.request import ChatPlan, plan_chat_request
from azt.dialects.common.sse import SseParser, encode_event
from azt.dialects.common.tokens import TiktokenCounter, load_vocabulary
from azt.sim.stream import Ending, StreamOptions, response_events

CREATED_AT = 1_700_000_000
MODEL = "gpt-5.4"
CHAT_ID = "chatcmpl-sim000001"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME = {"type": "function", "function": {"name": "get_time"}}
HELLO = "reply with Hello there, wide world."


class WordCounter:
    """A TokenCounter for tests: one token per whitespace-separated word."""

    def count(self, text: str) -> int:
        return len(text.split())

    def truncate(self, text: str, limit: int) -> str:
        words = list(re.finditer(r"\S+", text))
        return text if len(words) <= limit else text[: words[limit].start()]


# --- building recorded streams --------------------------------------------------------------


def make_plan(text: str = HELLO, **fields: Any) -> ChatPlan:
    body = {"messages": [{"role": "user", "content": text}], **fields}
    return plan_chat_request(body, model=MODEL)


def events(plan: ChatPlan, number: int = 1, **options: Any) -> list[dict[str, Any]]:
    stream = StreamOptions(number=number, created_at=CREATED_AT, **options)
    return list(response_events(plan.upstream, stream))


def encode(items: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_event(event) for event in items)


def recorded(plan: ChatPlan, **options: Any) -> bytes:
    return encode(events(plan, **options))


def is_call_event(event: dict[str, Any]) -> bool:
    item = event.get("item")
    return str(event.get("item_id", "")).startswith("fc_") or (
        isinstance(item, dict) and item.get("type") == "function_call"
    )


def parallel_calls() -> tuple[ChatPlan, bytes]:
    """Two function calls in one response, as the backend sends parallel tool calls."""
    plan = make_plan("use get_weather", tools=[WEATHER, TIME])
    first = events(plan)
    second = events(make_plan("use get_time", tools=[WEATHER, TIME]), number=2)
    calls = [e for e in first if is_call_event(e)]
    calls += [{**e, "output_index": 1} for e in second if is_call_event(e)]
    return plan, encode([first[0], first[1], *calls, first[-1]])


def text_then_call() -> tuple[ChatPlan, bytes]:
    """A preamble message, then a function call."""
    plan = make_plan("use get_time", tools=[TIME])
    text = [e for e in events(make_plan("reply with Let me check.")) if "msg_" in json.dumps(e)]
    call = events(plan)
    return plan, encode([*call[:2], *text, *call[2:]])


def two_messages() -> tuple[ChatPlan, bytes]:
    """Two message items (commentary, then the answer): their texts are a blank line apart."""
    plan = make_plan("reply with Second.")
    first = [e for e in events(make_plan("reply with First."), number=7) if "msg_" in json.dumps(e)]
    second = events(plan)
    return plan, encode([*second[:2], *first, *second[2:]])


def minimal() -> tuple[ChatPlan, bytes]:
    """The smallest stream the Codex CLI accepts: the text arrives only in output_item.done."""
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hi"}],
    }
    usage = {"input_tokens": 5, "output_tokens": 1, "total_tokens": 6}
    return make_plan(), encode(
        [
            {"type": "response.created", "response": {"id": "resp_1"}},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": {"id": "resp_1", "usage": usage}},
        ]
    )


def truncated() -> tuple[ChatPlan, bytes]:
    """A stream cut off before its terminal event (mid-event, too)."""
    raw = recorded(make_plan())
    return make_plan(), raw[: raw.rindex(b"event: response.completed") + 40]


CASES: dict[str, tuple[ChatPlan, bytes]] = {
    "text": (make_plan(), recorded(make_plan())),
    "text_usage": (
        p := make_plan(stream=True, stream_options={"include_usage": True}),
        recorded(p),
    ),
    "tool_call": (p := make_plan("use get_weather", tools=[WEATHER]), recorded(p)),
    "parallel_calls": parallel_calls(),
    "text_then_call": text_then_call(),
    "two_messages": two_messages(),
    "reasoning_text": (p := make_plan(reasoning_effort="high"), recorded(p)),
    "done_only": (make_plan(), recorded(make_plan(), text_only_in_done=True)),
    "giant_delta": (make_plan(), recorded(make_plan(), giant_delta=1000)),
    "keepalive": (make_plan(), recorded(make_plan(), keepalive=True)),
    "incomplete": (
        make_plan(),
        recorded(make_plan(), ending=Ending("incomplete", reason="max_output_tokens")),
    ),
    "content_filter": (
        make_plan(),
        recorded(make_plan(), ending=Ending("incomplete", reason="content_filter")),
    ),
    "failed_early": (
        make_plan(),
        recorded(make_plan(), ending=Ending("failed", code="server_is_overloaded", early=True)),
    ),
    "failed": (make_plan(), recorded(make_plan(), ending=Ending("failed", code="invalid_prompt"))),
    "error": (
        make_plan(),
        recorded(make_plan(), ending=Ending("error", code="rate_limit_exceeded")),
    ),
    "stop": (p := make_plan(stop=["e, wi"]), recorded(p)),
    "max_tokens": (p := make_plan(max_tokens=3), recorded(p)),
    "minimal": minimal(),
    "truncated": truncated(),
}


def translator(plan: ChatPlan) -> ChatTranslator:
    return ChatTranslator(plan, requested_model="alias", counter=WordCounter(), created=42)


def translate(plan: ChatPlan, pieces: list[bytes]) -> bytes:
    chat = translator(plan)
    return b"".join(chat.feed(piece) for piece in pieces) + chat.finish()


def payloads(out: bytes) -> list[dict[str, Any]]:
    """The JSON payloads of translated output, after checking framing and the [DONE] end."""
    assert out.endswith(DONE)
    parser = SseParser()
    found = list(parser.feed(out)) + list(parser.finish())
    assert all(e.event is None for e in found)
    assert found[-1].data == "[DONE]"
    return [json.loads(e.data) for e in found[:-1]]


def run(name: str) -> list[dict[str, Any]]:
    plan, raw = CASES[name]
    return payloads(translate(plan, [raw]))


def deltas(chunks: list[dict[str, Any]]) -> list[Any]:
    """Each chunk reduced to its delta (and finish reason), or its usage / error."""
    reduced: list[Any] = []
    for chunk in chunks:
        if "error" in chunk:
            reduced.append(("error", chunk["error"]["code"]))
        elif not chunk["choices"]:
            reduced.append(("usage", chunk["usage"]["completion_tokens"]))
        else:
            (choice,) = chunk["choices"]
            finish = choice["finish_reason"]
            reduced.append((choice["delta"], finish) if finish else choice["delta"])
    return reduced


def content(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c.get("choices"))


def collapse(name: str) -> tuple[int, dict[str, Any]]:
    plan, raw = CASES[name]
    return translator(plan).collapse(raw)


# --- split invariance -----------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_identical_at_every_split_point(name: str) -> None:
    """Two pieces, cut at every byte offset, translate exactly as the whole stream does."""
    plan, raw = CASES[name]
    whole = translate(plan, [raw])
    for cut in range(len(raw) + 1):
        assert translate(plan, [raw[:cut], raw[cut:]]) == whole, cut


@pytest.mark.parametrize("name", CASES)
def test_identical_byte_by_byte(name: str) -> None:
    """Feeding one byte at a time changes nothing."""
    plan, raw = CASES[name]
    assert translate(plan, [raw[i : i + 1] for i in range(len(raw))]) == translate(plan, [raw])


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(CASES)), st.lists(st.integers(min_value=0, max_value=10_000)))
def test_identical_at_random_splits(name: str, cuts: list[int]) -> None:
    """Any split into many pieces gives the same output."""
    plan, raw = CASES[name]
    points = sorted({cut % (len(raw) + 1) for cut in cuts})
    pieces = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    assert translate(plan, pieces) == translate(plan, [raw])


# --- chunk order and content ----------------------------------------------------------------


def test_text_chunks() -> None:
    """Role first, then every delta as it comes, then the finish chunk."""
    chunks = run("text")
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"content": "Hello there,"},
        {"content": " wide world"},
        ({}, "stop"),
    ]
    assert chunks[0] == {
        "id": CHAT_ID,
        "object": "chat.completion.chunk",
        "created": CREATED_AT,
        "model": MODEL,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": ""},
                "logprobs": None,
                "finish_reason": None,
            }
        ],
    }


def test_include_usage() -> None:
    """With include_usage every chunk has usage null, then a choices-less usage chunk."""
    chunks = run("text_usage")
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1] == {
        "id": CHAT_ID,
        "object": "chat.completion.chunk",
        "created": CREATED_AT,
        "model": MODEL,
        "system_fingerprint": None,
        "choices": [],
        "usage": {
            "prompt_tokens": chunks[-1]["usage"]["prompt_tokens"],
            "completion_tokens": 6,
            "total_tokens": chunks[-1]["usage"]["prompt_tokens"] + 6,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_no_usage_chunk_without_include_usage() -> None:
    """Without include_usage no chunk carries a usage key."""
    assert all("usage" not in chunk for chunk in run("text"))


def test_tool_call_chunks() -> None:
    """A call opens with id, name and empty arguments, then streams argument fragments."""
    assert deltas(run("tool_call")) == [
        {"role": "assistant", "content": ""},
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_sim000001",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"sim"}'}}]},
        ({}, "tool_calls"),
    ]


def test_parallel_calls_are_indexed_in_order() -> None:
    """Two calls get indexes 0 and 1, their own ids and names."""
    chunks = run("parallel_calls")
    opened = [
        call
        for chunk in chunks
        for call in chunk["choices"][0]["delta"].get("tool_calls", [])
        if "id" in call
    ]
    assert [(c["index"], c["id"], c["function"]["name"]) for c in opened] == [
        (0, "call_sim000001", "get_weather"),
        (1, "call_sim000002", "get_time"),
    ]
    assert deltas(chunks)[-1] == ({}, "tool_calls")
    status, completion = collapse("parallel_calls")
    message = completion["choices"][0]["message"]
    assert message["content"] is None
    assert [c["function"]["arguments"] for c in message["tool_calls"]] == ['{"city":"sim"}', "{}"]


def test_text_then_call() -> None:
    """Text before a call stays content; the finish reason is tool_calls."""
    status, completion = collapse("text_then_call")
    message = completion["choices"][0]["message"]
    assert (message["content"], message["tool_calls"][0]["function"]["name"]) == (
        "Let me check",
        "get_time",
    )
    assert completion["choices"][0]["finish_reason"] == "tool_calls"


def test_two_message_items_are_separated() -> None:
    """Texts of two message items are joined with a blank line."""
    assert content(run("two_messages")) == "First\n\nSecond"


def test_reasoning_is_not_shown() -> None:
    """Reasoning events produce no chunks; reasoning tokens are reported in usage."""
    assert deltas(run("reasoning_text")) == deltas(run("text"))
    status, completion = collapse("reasoning_text")
    assert completion["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_text_only_in_output_item_done() -> None:
    """A message with no deltas is emitted whole when its item is done."""
    assert deltas(run("done_only")) == [
        {"role": "assistant", "content": ""},
        {"content": "Hello there, wide world"},
        ({}, "stop"),
    ]


def test_giant_delta_passes_whole() -> None:
    """One huge delta goes out as one chunk."""
    chunks = run("giant_delta")
    assert len(content(chunks)) == 1000
    assert len(chunks) == 3


def test_keepalives_are_ignored() -> None:
    """Keepalive events produce nothing."""
    assert deltas(run("keepalive")) == deltas(run("text"))


@pytest.mark.parametrize(
    ("name", "reason"), [("incomplete", "length"), ("content_filter", "content_filter")]
)
def test_incomplete_reasons(name: str, reason: str) -> None:
    """response.incomplete ends with length or content_filter after the text."""
    chunks = run(name)
    assert content(chunks) == "Hello there, wide world"
    assert deltas(chunks)[-1] == ({}, reason)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("failed_early", [{"role": "assistant", "content": ""}, ("error", "server_is_overloaded")]),
        ("failed", [{"role": "assistant", "content": ""}, ("error", "invalid_prompt")]),
        ("error", [{"role": "assistant", "content": ""}, ("error", "rate_limit_exceeded")]),
        (
            "truncated",
            [
                {"role": "assistant", "content": ""},
                {"content": "Hello there,"},
                {"content": " wide world"},
                ("error", "upstream_stream_truncated"),
            ],
        ),
    ],
)
def test_failures_end_with_an_error_chunk(name: str, expected: list[Any]) -> None:
    """Failures end the stream with an OpenAI error payload, then [DONE]."""
    chunks = run(name)
    assert deltas(chunks) == expected
    assert set(chunks[-1]["error"]) >= {"message", "type", "code", "param"}
    assert chunks[-1]["error"]["param"] is None


def test_minimal_stream() -> None:
    """A bare created → item done → completed stream still translates fully."""
    chunks = run("minimal")
    assert chunks[0]["id"] == "chatcmpl-1"
    assert chunks[0]["model"] == "alias"  # upstream named no model
    assert chunks[0]["created"] == 42  # nor a creation time
    assert content(chunks) == "Hi"


# --- stop emulation -------------------------------------------------------------------------


def test_stop_across_delta_boundaries() -> None:
    """A stop sequence split over two deltas cuts the content before it."""
    chunks = run("stop")
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"content": "Hello ther"},
        ({}, "stop"),
    ]


def test_stop_keeps_reading_usage() -> None:
    """After a stop cut the usage chunk still arrives."""
    plan = make_plan(stop=["there"], stream=True, stream_options={"include_usage": True})
    chunks = payloads(translate(plan, [recorded(plan)]))
    assert content(chunks) == "Hello "
    assert deltas(chunks)[-2:] == [({}, "stop"), ("usage", 6)]


def test_stop_that_never_matches_releases_the_held_tail() -> None:
    """Text held back as a possible stop start is released at the end."""
    plan = make_plan(stop=["world!"])
    assert content(payloads(translate(plan, [recorded(plan)]))) == "Hello there, wide world"


def test_stop_ignores_a_later_failure() -> None:
    """Once stop has ended the choice, an upstream failure does not turn it into an error."""
    plan = make_plan(stop=["wide"])
    raw = recorded(plan)
    raw = raw[: raw.rindex(b"event: response.completed")] + encode_event(
        {"type": "response.failed", "response": {"error": {"code": "server_error"}}}
    )
    chat = translator(plan)
    assert chat.collapse(raw)[0] == 200
    assert chat.result()[1]["choices"][0]["message"]["content"] == "Hello there, "


@pytest.mark.parametrize(
    ("stops", "pieces", "expected"),
    [
        (("END",), ["abcEN", "Dxyz"], ("abc", True)),
        (("END",), ["abc", "E", "N", "D"], ("abc", True)),
        (("END",), ["aEb", "ENx"], ("aEbENx", False)),
        (("abcd", "bc"), ["abcd"], ("a", True)),  # "bc" completes first
        (("abcd", "cx"), ["abc", "x"], ("ab", True)),
        (("xyz", "y"), ["axyz"], ("ax", True)),
        (("ab", "abc"), ["zab"], ("z", True)),  # same start: shorter completes first
        (("é!",), ["caf", "é", "!"], ("caf", True)),
        ((), ["free text"], ("free text", False)),
    ],
)
def test_stop_scanner(
    stops: tuple[str, ...], pieces: list[str], expected: tuple[str, bool]
) -> None:
    """The scanner releases exactly the text before the first completed stop sequence."""
    scanner = StopScanner(stops)
    released, found = "", False
    for piece in pieces:
        text, found = scanner.feed(piece)
        released += text
        if found:
            break
    if not found:
        released += scanner.flush()
    assert (released, found) == expected


def test_stop_scanner_holds_back_only_a_possible_start() -> None:
    """Only the tail that could begin a stop sequence is held back."""
    scanner = StopScanner(("STOP",))
    assert scanner.feed("abc ST") == ("abc ", False)
    assert scanner.feed("x") == ("STx", False)
    assert scanner.feed("STO") == ("", False)
    assert scanner.flush() == "STO"


# --- max_tokens emulation -------------------------------------------------------------------


def test_max_tokens_cuts_at_the_limit() -> None:
    """Content stops at exactly max_tokens tokens; finish reason length."""
    plan = make_plan("reply with one two three four five six seven.", max_tokens=3)
    chunks = payloads(translate(plan, [recorded(plan)]))
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"content": "one two"},
        {"content": " three "},
        ({}, "length"),
    ]


def test_max_tokens_usage_reports_delivered_tokens() -> None:
    """After a max_tokens cut completion_tokens counts delivered tokens plus reasoning."""
    plan = make_plan(
        "reply with one two three four five six seven.",
        max_tokens=3,
        reasoning_effort="high",
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = payloads(translate(plan, [recorded(plan)]))
    usage = chunks[-1]["usage"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert reasoning > 0
    assert usage["completion_tokens"] == 3 + reasoning
    assert usage["total_tokens"] == usage["prompt_tokens"] + 3 + reasoning


def test_max_tokens_not_reached_keeps_upstream_usage() -> None:
    """A reply within the limit finishes normally with upstream's counts."""
    plan = make_plan(max_tokens=50)
    status, completion = translator(plan).collapse(recorded(plan))
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["completion_tokens"] == 6


def test_max_tokens_needs_a_counter() -> None:
    """Emulating max_tokens without a counter is a programming error."""
    with pytest.raises(ValueError, match="TokenCounter"):
        ChatTranslator(make_plan(max_tokens=3), requested_model=MODEL, counter=None)


def test_token_budget_counts_rarely_and_cuts_exactly() -> None:
    """The budget counts only near the limit, and cuts at the exact token."""

    class Counting(WordCounter):
        calls = 0

        def count(self, text: str) -> int:
            Counting.calls += 1
            return super().count(text)

    budget = TokenBudget(Counting(), 100)
    delivered = ""
    for _ in range(200):
        text, done = budget.take("word ")
        delivered += text
        if done:
            break
    assert delivered == "word " * 100
    assert budget.tokens == 100
    assert Counting.calls < 40


def test_token_budget_matches_counting_every_time(vocabulary: Path) -> None:
    """With the real o200k tokenizer, skipping counts never changes where the cut falls."""
    counter = TiktokenCounter(load_vocabulary(vocabulary))
    words = ["hello", " world", "  ", "\n", "123456789", "é", "🙂", "supercalifragilistic", "語"]
    rng = random.Random(7)
    for _ in range(300):
        limit = rng.randint(1, 60)
        budget, reference = TokenBudget(counter, limit), ""
        for _ in range(rng.randint(1, 40)):
            piece = "".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
            allowed, done = budget.take(piece)
            if counter.count(reference + piece) <= limit:
                assert (allowed, done) == (piece, False)
                reference += piece
                continue
            kept = counter.truncate(reference + piece, limit)
            assert (allowed, done) == (kept[len(reference) :], True)
            break


# --- collapse -------------------------------------------------------------------------------


def test_collapse_text() -> None:
    """A whole stream becomes one chat.completion with usage."""
    status, completion = collapse("text")
    assert status == 200
    assert completion == {
        "id": CHAT_ID,
        "object": "chat.completion",
        "created": CREATED_AT,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello there, wide world",
                    "refusal": None,
                },
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": completion["usage"],
        "system_fingerprint": None,
    }
    assert completion["usage"]["completion_tokens"] == 6


def test_collapse_tool_call() -> None:
    """A tool-only turn has content null and the full call."""
    status, completion = collapse("tool_call")
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {
                "id": "call_sim000001",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"sim"}'},
            }
        ],
    }


@pytest.mark.parametrize(
    ("name", "finish", "text"),
    [
        ("reasoning_text", "stop", "Hello there, wide world"),
        ("done_only", "stop", "Hello there, wide world"),
        ("keepalive", "stop", "Hello there, wide world"),
        ("incomplete", "length", "Hello there, wide world"),
        ("content_filter", "content_filter", "Hello there, wide world"),
        ("stop", "stop", "Hello ther"),
        ("max_tokens", "length", "Hello there, wide "),
        ("minimal", "stop", "Hi"),
        ("two_messages", "stop", "First\n\nSecond"),
    ],
)
def test_collapse_finishes(name: str, finish: str, text: str) -> None:
    """Collapsed replies carry the same text and finish reason as the stream."""
    status, completion = collapse(name)
    assert status == 200
    assert completion["choices"][0]["finish_reason"] == finish
    assert completion["choices"][0]["message"]["content"] == text


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("failed_early", 503, "server_is_overloaded"),
        ("failed", 400, "invalid_prompt"),
        ("error", 429, "rate_limit_exceeded"),
        ("truncated", 502, "upstream_stream_truncated"),
    ],
)
def test_collapse_failures(name: str, status: int, code: str) -> None:
    """Collapsed failures become an OpenAI error body with a mapped status."""
    got, body = collapse(name)
    assert (got, body["error"]["code"]) == (status, code)
    assert body["error"]["message"]


def test_usage_limit_keeps_its_reset_time() -> None:
    """A usage-limit failure passes resets_at and plan_type on."""
    raw = encode(
        [
            {"type": "response.created", "response": {"id": "resp_9"}},
            {
                "type": "response.failed",
                "response": {
                    "error": {"type": "usage_limit_reached", "plan_type": "plus", "resets_at": 9}
                },
            },
        ]
    )
    status, body = translator(make_plan()).collapse(raw)
    assert status == 429
    assert (body["error"]["code"], body["error"]["resets_at"]) == ("usage_limit_reached", 9)
    assert body["error"]["type"] == "rate_limit_error"


# --- robustness -----------------------------------------------------------------------------


def test_junk_and_unknown_events_are_ignored() -> None:
    """Non-JSON data, non-object JSON, unknown events and a stray [DONE] change nothing."""
    plan, raw = CASES["text"]
    junk = b"data: not json\n\ndata: [1,2]\n\ndata: [DONE]\n\n: comment\n\n"
    junk += encode_event({"type": "response.mystery", "x": 1})
    cut = raw.index(b"event: response.output_item.added")
    assert translate(plan, [raw[:cut] + junk + raw[cut:]]) == translate(plan, [raw])


def test_events_after_the_terminal_one_are_ignored() -> None:
    """Nothing after response.completed is translated."""
    plan, raw = CASES["text"]
    extra = encode_event({"type": "response.output_text.delta", "item_id": "m", "delta": "late"})
    assert translate(plan, [raw + extra]) == translate(plan, [raw])


def test_call_without_deltas_gets_its_arguments_whole() -> None:
    """Without argument deltas the full arguments come from output_item.done."""
    item = {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "call_1",
        "name": "f",
        "arguments": "",
    }
    raw = encode(
        [
            {"type": "response.created", "response": {"id": "resp_2", "model": "m"}},
            {"type": "response.output_item.added", "output_index": 0, "item": item},
            {"type": "response.output_item.done", "item": {**item, "arguments": '{"a":1}'}},
            # a second call known only from its done item
            {
                "type": "response.output_item.done",
                "item": {**item, "id": "fc_2", "call_id": "call_2"},
            },
            {"type": "response.completed", "response": {"id": "resp_2"}},
        ]
    )
    chunks = payloads(translate(make_plan(), [raw]))
    assert deltas(chunks)[1:] == [
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]},
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "f", "arguments": ""},
                }
            ]
        },
        ({}, "tool_calls"),
    ]


def test_output_only_in_the_completed_response() -> None:
    """Items present only in response.completed.output are still delivered."""
    item = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "late"}],
    }
    raw = encode(
        [
            {"type": "response.created", "response": {"id": "resp_3"}},
            {"type": "response.completed", "response": {"id": "resp_3", "output": [item]}},
        ]
    )
    status, completion = translator(make_plan()).collapse(raw)
    assert completion["choices"][0]["message"]["content"] == "late"
    assert "usage" not in completion  # upstream reported none


def test_refusal() -> None:
    """Refusal deltas become delta.refusal and message.refusal."""
    raw = encode(
        [
            {"type": "response.created", "response": {"id": "resp_4"}},
            {"type": "response.refusal.delta", "item_id": "msg_1", "delta": "I can't"},
            {"type": "response.refusal.delta", "item_id": "msg_1", "delta": " help."},
            {
                "type": "response.output_item.done",
                "item": {
                    "id": "msg_1",
                    "type": "message",
                    "content": [{"type": "refusal", "refusal": "I can't help."}],
                },
            },
            {"type": "response.completed", "response": {"id": "resp_4"}},
        ]
    )
    chunks = payloads(translate(make_plan(), [raw]))
    assert deltas(chunks)[1:] == [{"refusal": "I can't"}, {"refusal": " help."}, ({}, "stop")]
    message = translator(make_plan()).collapse(raw)[1]["choices"][0]["message"]
    assert (message["content"], message["refusal"]) == ("", "I can't help.")


def test_finish_twice_is_harmless() -> None:
    """A second finish adds nothing."""
    chat = translator(CASES["text"][0])
    chat.feed(CASES["text"][1])
    assert chat.finish().endswith(DONE)
    assert chat.finish() == b""
