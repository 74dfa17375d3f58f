"""Codex SSE for a forced image call → OpenAI Images replies and image stream events.

Streams are built by hand (the event shapes of codex-backend.md §8 and §16) or come from the
simulator, which runs the real backend's image lifecycle. Replies are checked against the
OpenAI SDK's own models.
"""

import base64
import json
from typing import Any

import httpx2
import openai
import pytest
from openai.types import (
    ImageEditCompletedEvent,
    ImageEditPartialImageEvent,
    ImageGenCompletedEvent,
    ImageGenPartialImageEvent,
    ImagesResponse,
)

from azt.dialects.common.sse import encode_event
from azt.dialects.common.usage import usage_from_codex
from azt.dialects.images import (
    ImagePlan,
    ImageResult,
    ImageStreamTranslator,
    collect_image,
    image_failure,
    images_response,
    plan_image_request,
)
from azt.errors import ApiError
from azt.sim.stream import Ending, StreamOptions, response_events
from support.png import make_png, png_size
from support.sse import events_of

CREATED = 1_700_000_000
NOW = 1_800_000_000
PNG = make_png(4, 4)
PARTIAL_PNG = make_png(4, 4, (200, 200, 200))
B64 = base64.b64encode(PNG).decode()
PARTIAL_B64 = base64.b64encode(PARTIAL_PNG).decode()
JPEG_B64 = base64.b64encode(b"\xff\xd8\xff\xe0" + b"\x00" * 20).decode()
USAGE = {
    "input_tokens": 50,
    "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
    "output_tokens": 1056,
    "output_tokens_details": {"image_tokens": 1056, "text_tokens": 0},
    "total_tokens": 1106,
}
FORMATS = {"output_format": "png", "size": "1024x1024", "quality": "medium", "background": "opaque"}


def plan(body: dict[str, Any] | None = None, *, edit: bool = False) -> ImagePlan:
    body = {"prompt": "a fox", **(body or {})}
    if edit:
        body.setdefault("images", ["https://example.com/a.png"])
    return plan_image_request(body, edit=edit, host_model="gpt-5.4-mini")


# --- hand-built upstream streams ------------------------------------------------------------


def created() -> dict[str, Any]:
    response = {"id": "resp_1", "created_at": CREATED, "status": "in_progress", "output": []}
    return {"type": "response.created", "response": response}


def partial(index: int, b64: str = PARTIAL_B64, **formats: Any) -> dict[str, Any]:
    return {
        "type": "response.image_generation_call.partial_image",
        "item_id": "ig_1",
        "output_index": 0,
        "partial_image_index": index,
        "partial_image_b64": b64,
        **formats,
    }


def image_done(b64: str = B64, **fields: Any) -> dict[str, Any]:
    item = {
        "type": "image_generation_call",
        "id": "ig_1",
        "status": "completed",
        "result": b64,
        "revised_prompt": "A red fox in snow.",
        **FORMATS,
        **fields,
    }
    return {"type": "response.output_item.done", "output_index": 0, "item": item}


def message_done(text: str) -> dict[str, Any]:
    item = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return {"type": "response.output_item.done", "output_index": 1, "item": item}


def completed(usage: dict[str, Any] | None = USAGE, output: list[Any] | None = None) -> dict:
    response: dict[str, Any] = {"id": "resp_1", "status": "completed", "output": output or []}
    if usage is not None:
        response["tool_usage"] = {"image_gen": usage}
    return {"type": "response.completed", "response": response}


def failed(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "response.failed",
        "response": {"id": "resp_1", "status": "failed", "error": error},
    }


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(encode_event(event) for event in events)


FULL = sse(
    created(),
    {"type": "response.in_progress", "response": {"id": "resp_1"}},
    {"type": "response.image_generation_call.in_progress", "item_id": "ig_1"},
    {"type": "keepalive"},
    partial(0, **FORMATS),
    partial(1, **FORMATS),
    image_done(),
    completed(),
)


def simulated(body: dict[str, Any], *, edit: bool = False, **options: Any) -> bytes:
    """The simulator's upstream stream for the plan of `body`."""
    upstream = plan(body, edit=edit).upstream
    stream_options = StreamOptions(number=1, created_at=CREATED, **options)
    return sse(*response_events(upstream, stream_options))


# --- collect_image --------------------------------------------------------------------------


def test_collect_final_image() -> None:
    """The image is the output_item.done result, with its item fields and the tool usage."""
    assert collect_image(FULL) == ImageResult(
        b64=B64,
        revised_prompt="A red fox in snow.",
        output_format="png",
        size="1024x1024",
        quality="medium",
        background="opaque",
        usage=usage_from_codex(USAGE),
        created=CREATED,
    )


def test_collect_falls_back_to_last_partial() -> None:
    """Without an output_item.done image, the last partial image is the answer."""
    body = sse(created(), partial(0, b64=B64), partial(1, **FORMATS), completed(usage=None))
    result = collect_image(body)
    assert (result.b64, result.size, result.revised_prompt, result.usage) == (
        PARTIAL_B64,
        "1024x1024",
        None,
        None,
    )


def test_collect_from_completed_output() -> None:
    """An image_generation_call in response.completed.output counts too (store=true shape)."""
    body = sse(created(), completed(output=[image_done()["item"]]))
    assert collect_image(body).b64 == B64


def test_collect_sniffs_format() -> None:
    """Without `output_format`, the format comes from the image bytes."""
    body = sse(image_done(JPEG_B64, output_format=None), completed())
    assert collect_image(body).output_format == "jpeg"


def test_collect_without_terminal_event_keeps_final_image() -> None:
    """A stream cut after the final image still yields it (usage unknown)."""
    result = collect_image(sse(created(), image_done()))
    assert (result.b64, result.usage) == (B64, None)


@pytest.mark.parametrize(
    "body",
    [b"", sse(created()), sse(created(), partial(0)), b'data: {"type": "response.created"'],
)
def test_collect_truncated(body: bytes) -> None:
    """No final image and no terminal event: 502."""
    with pytest.raises(ApiError) as caught:
        collect_image(body)
    assert (caught.value.status, caught.value.code) == (502, "upstream_stream_truncated")


def test_collect_text_answer() -> None:
    """Completed with text and no image (free plan): 502 saying the model answered in text."""
    body = sse(created(), message_done("I can't draw, but here is an SVG: <svg/>"), completed())
    with pytest.raises(ApiError) as caught:
        collect_image(body)
    error = caught.value
    assert (error.status, error.code) == (502, "no_image_generated")
    assert "answered in text" in error.message and "Plus" in error.message
    assert "here is an SVG" in error.message


@pytest.mark.parametrize(
    ("error", "status", "code", "kind"),
    [
        ({"code": "server_error", "message": "boom"}, 502, "server_error", "server_error"),
        ({"code": "image_generation_failed"}, 502, "image_generation_failed", "server_error"),
        (
            {"type": "usage_limit_reached", "resets_at": 5},
            429,
            "usage_limit_reached",
            "rate_limit_error",
        ),
        ({"code": "rate_limit_exceeded"}, 429, "rate_limit_exceeded", "rate_limit_error"),
        ({"code": "server_is_overloaded"}, 503, "server_is_overloaded", "server_error"),
        (
            {"code": "moderation_blocked"},
            400,
            "moderation_blocked",
            "image_generation_user_error",
        ),
        (
            {"code": "content_policy_violation"},
            400,
            "content_policy_violation",
            "invalid_request_error",
        ),
        ({"code": "invalid_prompt"}, 400, "invalid_prompt", "invalid_request_error"),
        ({"type": "invalid_request_error", "code": "x"}, 400, "x", "invalid_request_error"),
        ({}, 502, "upstream_error", "server_error"),
    ],
)
def test_collect_failures(error: dict[str, Any], status: int, code: str, kind: str) -> None:
    """response.failed maps to a status: 5xx → 502, limits → 429, policy → 400."""
    with pytest.raises(ApiError) as caught:
        collect_image(sse(created(), failed(error)))
    failure = caught.value
    assert (failure.status, failure.code, failure.error_type) == (status, code, kind)


def test_failure_keeps_limit_details() -> None:
    """Usage limits keep plan_type and resets_at for the client."""
    error = image_failure({"type": "usage_limit_reached", "plan_type": "plus", "resets_at": 9})
    assert error.body()["error"]["resets_at"] == 9
    assert error.error_type == "rate_limit_error"


def test_collect_error_event() -> None:
    """A top-level `error` event, nested or flat, is a failure."""
    nested = {"type": "error", "error": {"code": "server_error", "message": "bad"}}
    flat = {"type": "error", "code": "moderation_blocked", "message": "no"}
    for event, status in ((nested, 502), (flat, 400)):
        with pytest.raises(ApiError) as caught:
            collect_image(sse(created(), event))
        assert caught.value.status == status


@pytest.mark.parametrize(
    ("reason", "status"), [("content_filter", 400), ("max_output_tokens", 502)]
)
def test_collect_incomplete(reason: str, status: int) -> None:
    """response.incomplete: content_filter is the client's 400, anything else 502."""
    event = {"type": "response.incomplete", "response": {"incomplete_details": {"reason": reason}}}
    with pytest.raises(ApiError) as caught:
        collect_image(sse(created(), event))
    assert caught.value.status == status


def test_events_after_the_end_are_ignored() -> None:
    """The first terminal event decides."""
    body = sse(created(), image_done(), completed(), failed({"code": "server_error"}))
    assert collect_image(body).b64 == B64


# --- images_response ------------------------------------------------------------------------


def result(**fields: Any) -> ImageResult:
    defaults: dict[str, Any] = {
        "b64": B64,
        "revised_prompt": "r",
        "output_format": "png",
        "size": "1024x1024",
        "quality": "medium",
        "background": "opaque",
        "usage": USAGE,
        "created": CREATED,
    }
    merged = {**defaults, **fields}
    merged["usage"] = usage_from_codex(merged["usage"])
    return ImageResult(**merged)


def test_reply_b64() -> None:
    """b64_json reply with the first image's settings and usage summed over images."""
    reply = images_response([result(), result(created=CREATED - 5, revised_prompt=None)], plan())
    assert reply == {
        "created": CREATED - 5,
        "data": [{"b64_json": B64, "revised_prompt": "r"}, {"b64_json": B64}],
        "background": "opaque",
        "output_format": "png",
        "quality": "medium",
        "size": "1024x1024",
        "usage": {
            "input_tokens": 100,
            "input_tokens_details": {"image_tokens": 80, "text_tokens": 20},
            "output_tokens": 2112,
            "total_tokens": 2212,
            "output_tokens_details": {"image_tokens": 2112, "text_tokens": 0},
        },
    }
    ImagesResponse.model_validate(reply)


def test_reply_urls_from_the_cache() -> None:
    """`response_format: url` asks url_for for each image's bytes and extension."""
    stored: list[tuple[bytes, str]] = []

    def url_for(data: bytes, ext: str) -> str:
        stored.append((data, ext))
        return f"http://127.0.0.1:8080/_gateway/images/{len(stored)}.{ext}"

    reply = images_response(
        [result(), result(output_format="jpeg", b64=JPEG_B64)],
        plan({"response_format": "url", "n": 2}),
        url_for=url_for,
    )
    assert [d["url"] for d in reply["data"]] == [
        "http://127.0.0.1:8080/_gateway/images/1.png",
        "http://127.0.0.1:8080/_gateway/images/2.jpeg",
    ]
    assert stored[0] == (PNG, "png") and stored[1][1] == "jpeg"
    ImagesResponse.model_validate(reply)


def test_reply_url_without_cache_is_a_data_url() -> None:
    """Without url_for, a URL reply carries a data: URL."""
    reply = images_response([result()], plan({"response_format": "url"}))
    assert reply["data"][0]["url"] == f"data:image/png;base64,{B64}"


def test_reply_drops_values_the_sdk_does_not_know() -> None:
    """`auto` background/quality are left out (the SDK allows only concrete values)."""
    reply = images_response(
        [result(background="auto", quality="auto", size="auto", usage=None)], plan()
    )
    assert reply.keys() == {"created", "data", "output_format", "size"}
    assert reply["size"] == "auto"
    ImagesResponse.model_validate(reply)


def test_reply_falls_back_to_the_request() -> None:
    """Settings upstream left out (or said `auto` about) come from the request."""
    requested = plan({"size": "1536x864", "quality": "low", "background": "opaque"})
    reply = images_response(
        [result(background=None, quality="auto", size="auto", usage={"input_tokens": 3})],
        requested,
    )
    assert (reply["background"], reply["quality"], reply["size"]) == ("opaque", "low", "1536x864")
    assert reply["usage"] == {
        "input_tokens": 3,
        "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
        "output_tokens": 0,
        "total_tokens": 3,
    }
    ImagesResponse.model_validate(reply)


def test_reply_created_now_when_unknown() -> None:
    """Without an upstream created_at, `created` is the current time."""
    reply = images_response([result(created=None)], plan())
    assert reply["created"] > CREATED


# --- the stream translator ------------------------------------------------------------------


def translate(body: bytes, image_plan: ImagePlan, chunks: list[int] | None = None) -> bytes:
    translator = ImageStreamTranslator(image_plan, clock=lambda: NOW)
    if chunks is None:
        return translator.feed(body) + translator.finish()
    out, start = b"", 0
    for end in [*chunks, len(body)]:
        out += translator.feed(body[start:end])
        start = end
    return out + translator.finish()


STREAM_PLAN = plan({"stream": True, "partial_images": 2})


def test_stream_events() -> None:
    """Partial images, then the completed event with usage; progress becomes comments."""
    out = translate(FULL, STREAM_PLAN)
    assert out.count(b": keepalive\n\n") == 3
    events = events_of(out)
    settings = {
        "created_at": CREATED,
        "size": "1024x1024",
        "quality": "medium",
        "background": "opaque",
        "output_format": "png",
    }
    assert events == [
        {
            "type": "image_generation.partial_image",
            "b64_json": PARTIAL_B64,
            "partial_image_index": 0,
            **settings,
        },
        {
            "type": "image_generation.partial_image",
            "b64_json": PARTIAL_B64,
            "partial_image_index": 1,
            **settings,
        },
        {
            "type": "image_generation.completed",
            "b64_json": B64,
            **settings,
            "usage": {
                "input_tokens": 50,
                "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
                "output_tokens": 1056,
                "total_tokens": 1106,
                "output_tokens_details": {"image_tokens": 1056, "text_tokens": 0},
            },
        },
    ]
    ImageGenPartialImageEvent.model_validate(events[0])
    ImageGenCompletedEvent.model_validate(events[2])
    assert out.startswith(b": keepalive\n\n: keepalive\n\n: keepalive\n\nevent: image_generation")


def test_stream_edit_events() -> None:
    """Edits use the image_edit.* event names."""
    events = events_of(translate(FULL, plan({"stream": True}, edit=True)))
    assert [e["type"] for e in events] == [
        "image_edit.partial_image",
        "image_edit.partial_image",
        "image_edit.completed",
    ]
    ImageEditPartialImageEvent.model_validate(events[0])
    ImageEditCompletedEvent.model_validate(events[2])


def test_stream_defaults_from_the_request() -> None:
    """Settings missing upstream come from the request; no created_at → the clock; no usage →
    zeros (the SDK requires usage)."""
    requested = plan({"stream": True, "size": "1536x864", "output_format": "webp"})
    body = sse(
        partial(0),
        image_done(output_format=None, size=None, quality=None, background=None),
        completed(usage=None),
    )
    events = events_of(translate(body, requested))
    assert events[0] == {
        "type": "image_generation.partial_image",
        "b64_json": PARTIAL_B64,
        "partial_image_index": 0,
        "created_at": NOW,
        "size": "1536x864",
        "quality": "auto",
        "background": "auto",
        "output_format": "webp",
    }
    assert events[1]["usage"] == {
        "input_tokens": 0,
        "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
        "output_tokens": 0,
        "total_tokens": 0,
    }
    assert events[1]["output_format"] == "png"  # sniffed from the final image's bytes
    ImageGenCompletedEvent.model_validate(events[1])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (sse(created(), failed({"code": "server_error", "message": "boom"})), "server_error"),
        (sse(created(), message_done("no"), completed()), "no_image_generated"),
        (sse(created(), partial(0)), "upstream_stream_truncated"),
        (b"", "upstream_stream_truncated"),
    ],
)
def test_stream_errors(body: bytes, code: str) -> None:
    """Failures, text answers and cut streams end with one `error` event."""
    events = events_of(translate(body, STREAM_PLAN))
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["code"] == code
    assert all(e["type"] != "image_generation.completed" for e in events)


def test_stream_cut_after_final_image_completes() -> None:
    """The final image arrived before the cut: the stream still completes."""
    events = events_of(translate(sse(created(), image_done()), STREAM_PLAN))
    assert [e["type"] for e in events] == ["image_generation.completed"]


def test_stream_ignores_events_after_the_end() -> None:
    """After the terminal event nothing more is emitted, finish() included."""
    translator = ImageStreamTranslator(STREAM_PLAN, clock=lambda: NOW)
    head = translator.feed(sse(image_done(), completed()))
    assert translator.feed(sse(partial(0), failed({}))) == b""
    assert translator.finish() == b""
    assert [e["type"] for e in events_of(head)] == ["image_generation.completed"]


def test_stream_skips_empty_partial_images() -> None:
    """A partial image event without image data is not passed on (nor repeated)."""
    body = sse(partial(0), partial(1, b64=""), image_done(), completed())
    events = events_of(translate(body, STREAM_PLAN))
    assert [e.get("partial_image_index") for e in events] == [0, None]


def test_stream_size_from_the_request_when_upstream_says_auto() -> None:
    """Upstream echoing `size: auto` does not hide the size the client asked for."""
    requested = plan({"stream": True, "size": "1536x864"})
    events = events_of(translate(sse(image_done(size="auto"), completed()), requested))
    assert events[0]["size"] == "1536x864"


def test_stream_split_at_every_offset() -> None:
    """Output does not depend on where the upstream bytes were split."""
    body = sse(
        created(), {"type": "keepalive"}, partial(0, b64="QUJD"), image_done("UE5H"), completed()
    )
    whole = translate(body, STREAM_PLAN)
    for offset in range(len(body) + 1):
        assert translate(body, STREAM_PLAN, [offset]) == whole
    assert translate(body, STREAM_PLAN, list(range(1, len(body)))) == whole


# --- with the simulator and the real SDK ----------------------------------------------------


def test_simulated_generation_round_trip() -> None:
    """plan → simulated backend → collect → reply: a real PNG of the requested shape."""
    body = {"size": "1536x1024", "quality": "low"}
    image = collect_image(simulated(body))
    reply = images_response([image], plan(body))
    parsed = ImagesResponse.model_validate(reply)
    assert parsed.data is not None and parsed.data[0].b64_json is not None
    assert png_size(base64.b64decode(parsed.data[0].b64_json)) == (256, 171)
    assert parsed.size == "1536x1024" and parsed.quality == "low"
    assert parsed.usage is not None and parsed.usage.output_tokens > 0


def test_simulated_free_plan_answers_in_text() -> None:
    """On a free plan the backend strips the tool: 502 saying the model answered in text."""
    with pytest.raises(ApiError, match="answered in text"):
        collect_image(simulated({}, plan="free"))


def test_simulated_failure_inside_the_image() -> None:
    """A moderation failure while generating is the client's 400."""
    ending = Ending(kind="failed", code="moderation_blocked", in_image=True)
    with pytest.raises(ApiError) as caught:
        collect_image(simulated({}, ending=ending))
    assert caught.value.status == 400


def test_simulated_edit_stream() -> None:
    """A streamed edit through the simulator: 3 partials then the completed image."""
    upstream = simulated({"stream": True, "partial_images": 3}, edit=True, keepalive=True)
    events = events_of(translate(upstream, plan({"stream": True, "partial_images": 3}, edit=True)))
    assert [e["type"] for e in events] == ["image_edit.partial_image"] * 3 + [
        "image_edit.completed"
    ]
    assert [e["partial_image_index"] for e in events[:3]] == [0, 1, 2]
    for event in events[:3]:
        ImageEditPartialImageEvent.model_validate(event)
    ImageEditCompletedEvent.model_validate(events[3])


def sdk_client(reply: bytes, content_type: str) -> openai.OpenAI:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=reply, headers={"content-type": content_type})

    http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
    return openai.OpenAI(api_key="k", base_url="http://gateway.test/v1", http_client=http_client)


def test_sdk_reads_the_stream() -> None:
    """The OpenAI SDK iterates the translated stream into its typed events."""
    out = translate(FULL, STREAM_PLAN)
    client = sdk_client(out, "text/event-stream")
    events = list(client.images.generate(prompt="a fox", stream=True, partial_images=2))
    assert [type(e).__name__ for e in events] == [
        "ImageGenPartialImageEvent",
        "ImageGenPartialImageEvent",
        "ImageGenCompletedEvent",
    ]
    client.close()


def test_sdk_raises_on_the_error_event() -> None:
    """The SDK turns the translated `error` event into an APIError with our message."""
    out = translate(
        sse(created(), failed({"code": "server_error", "message": "boom"})), STREAM_PLAN
    )
    client = sdk_client(out, "text/event-stream")
    with pytest.raises(openai.APIError, match="boom"):
        list(client.images.generate(prompt="a fox", stream=True))
    client.close()


def test_sdk_reads_the_reply() -> None:
    """The OpenAI SDK parses the non-stream reply."""
    reply = images_response([result()], plan())
    client = sdk_client(json.dumps(reply).encode(), "application/json")
    parsed = client.images.generate(prompt="a fox")
    assert parsed.data is not None and parsed.data[0].b64_json == B64
    client.close()
