"""Codex SSE for a forced `image_generation` call → OpenAI Images replies.

One state machine (`ImageCollector`) reads the upstream events: the final image is the
`image_generation_call` item of `response.output_item.done` (its `result`), partial images
come as `response.image_generation_call.partial_image`, usage as
`response.completed.response.tool_usage.image_gen`. `collect_image` runs it over a whole body
and returns an `ImageResult` (or raises `ApiError`); `images_response` turns results into the
`ImagesResponse` JSON; `ImageStreamTranslator` runs the same machine incrementally and emits
OpenAI image stream events (`image_generation.*` / `image_edit.*`).

Pure: no I/O. The clock is read only when upstream gave no `created_at`.
"""

import base64
import binascii
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from azt.dialects.common.errors import truncated, upstream_failure
from azt.dialects.common.sse import SseEvent, SseParser, encode_event
from azt.dialects.common.usage import TokenUsage, images_usage, usage_from_codex
from azt.dialects.images.request import ImagePlan, sniff_image
from azt.errors import ApiError

TEXT_SNIPPET = 200
KEEPALIVE = b": keepalive\n\n"
# Upstream events that only say "still working": passed on as SSE comments, which keep the
# client's connection (and any proxy in between) from timing out during a 60-120 s generation.
PROGRESS_EVENTS = frozenset(
    {
        "keepalive",
        "response.in_progress",
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
    }
)
# Values the OpenAI SDK's models accept, per field: non-stream reply, then stream events.
REPLY_BACKGROUNDS = ("transparent", "opaque")
REPLY_QUALITIES = ("low", "medium", "high", "xhigh", "max")
EVENT_BACKGROUNDS = ("transparent", "opaque", "auto")
EVENT_QUALITIES = ("low", "medium", "high", "xhigh", "max", "auto")
OUTPUT_FORMATS = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class ImageResult:
    """One generated image and what upstream said about it."""

    b64: str
    revised_prompt: str | None
    output_format: str
    size: str | None
    quality: str | None
    background: str | None
    usage: TokenUsage | None  # the image tool's own tokens
    created: int | None


# --- errors ---------------------------------------------------------------------------------


def image_failure(error: object) -> ApiError:
    """The client-facing error for an upstream `response.failed` / `error` payload."""
    error = error if isinstance(error, dict) else {}
    return upstream_failure(error)


def _incomplete(response: dict[str, Any]) -> ApiError:
    details = response.get("incomplete_details")
    reason = _str(details.get("reason")) if isinstance(details, dict) else None
    if reason == "content_filter":
        message = "The image was blocked by the upstream safety system (content_filter)."
        return upstream_failure({"code": "moderation_blocked", "message": message})
    return ApiError(
        502,
        f"The upstream response ended incomplete ({reason or 'no reason given'}).",
        code="upstream_incomplete",
        type="server_error",
    )


TRUNCATED = truncated("The upstream response ended before the image was complete.")


def _text_answer(texts: list[str]) -> ApiError:
    message = (
        "The upstream model answered in text instead of making an image (image generation "
        "needs a Plus or higher plan; on a free plan the tool is stripped)."
    )
    said = " ".join(" ".join(texts).split())
    if said:
        cut = said[:TEXT_SNIPPET] + ("…" if len(said) > TEXT_SNIPPET else "")
        message += f' It said: "{cut}"'
    return ApiError(
        502,
        message,
        code="no_image_generated",
        type="server_error",
    )


# --- the state machine ----------------------------------------------------------------------


class ImageCollector:
    """Reads upstream events (parsed JSON) and remembers what makes the final image."""

    def __init__(self) -> None:
        self.created: int | None = None
        self.final: dict[str, Any] | None = None  # image_generation_call item with a result
        self.partial: dict[str, Any] | None = None  # the last partial_image event
        self.usage: TokenUsage | None = None
        self.texts: list[str] = []
        self.error: ApiError | None = None
        self.completed = False

    @property
    def done(self) -> bool:
        return self.completed or self.error is not None

    def update(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        if isinstance(response.get("created_at"), int) and self.created is None:
            self.created = response["created_at"]
        if kind == "response.image_generation_call.partial_image":
            if _str(event.get("partial_image_b64")):
                self.partial = event
        elif kind == "response.output_item.done":
            self._item(event.get("item"))
        elif kind == "response.completed":
            self._completed(response)
        elif kind == "response.failed":
            self.error = image_failure(response.get("error"))
        elif kind == "response.incomplete":
            self.error = _incomplete(response)
        elif kind == "error":
            payload = event.get("error")
            if not isinstance(payload, dict):  # some error events carry the fields flat
                payload = {key: value for key, value in event.items() if key != "type"}
            self.error = image_failure(payload)

    def _item(self, item: object) -> None:
        if not isinstance(item, dict):
            return
        if item.get("type") == "image_generation_call" and _str(item.get("result")):
            self.final = item
        elif item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and _str(part.get("text")):
                    self.texts.append(part["text"])

    def _completed(self, response: dict[str, Any]) -> None:
        self.completed = True
        tool_usage = response.get("tool_usage")
        usage = tool_usage.get("image_gen") if isinstance(tool_usage, dict) else None
        self.usage = usage_from_codex(usage) or self.usage
        if self.final is None:  # with store=false `output` is usually empty, but not always
            for item in response.get("output") or []:
                self._item(item)

    def result(self) -> ImageResult:
        """The image; raises the upstream failure, or 502 when there is no image."""
        if self.error is not None:
            raise self.error
        if self.final is not None:
            return self._result(self.final, "result")
        if not self.completed:
            raise TRUNCATED
        if self.partial is not None:
            return self._result(self.partial, "partial_image_b64")
        raise _text_answer(self.texts)

    def _result(self, source: dict[str, Any], key: str) -> ImageResult:
        b64 = source[key]
        output_format = _str(source.get("output_format"))
        if output_format not in OUTPUT_FORMATS:
            output_format = sniff_b64(b64) or "png"
        return ImageResult(
            b64=b64,
            revised_prompt=_str(source.get("revised_prompt")),
            output_format=output_format,
            size=_str(source.get("size")),
            quality=_str(source.get("quality")),
            background=_str(source.get("background")),
            usage=self.usage,
            created=self.created,
        )


def collect_image(sse: bytes) -> ImageResult:
    """A whole Codex SSE body → the final image (or the last partial one); raises `ApiError`."""
    collector = ImageCollector()
    parser = SseParser()
    for event in [*parser.feed(sse), *parser.finish()]:
        data = _json(event)
        if data is not None:
            collector.update(data)
            if collector.done:
                break
    return collector.result()


# --- non-stream reply -----------------------------------------------------------------------


def images_response(
    results: list[ImageResult],
    plan: ImagePlan,
    *,
    url_for: Callable[[bytes, str], str] | None = None,
) -> dict[str, Any]:
    """The OpenAI `ImagesResponse` JSON for `results` (one per image, in order).

    With `response_format: "url"`, `url_for(image_bytes, ext)` names where the image is
    served; without it the URL is a `data:` URL.
    """
    created = [r.created for r in results if r.created is not None]
    reply: dict[str, Any] = {
        "created": min(created) if created else int(time.time()),
        "data": [_datum(result, plan, url_for) for result in results],
    }
    tool = plan.tool
    first = results[0] if results else None
    fields = {
        "background": _pick(first and first.background, tool.get("background"), REPLY_BACKGROUNDS),
        "output_format": first.output_format if first else plan.output_format,
        "quality": _pick(first and first.quality, tool.get("quality"), REPLY_QUALITIES),
        "size": _size(first.size if first else None, _str(tool.get("size"))),
        "usage": sum_usage(r.usage for r in results),
    }
    reply.update({key: value for key, value in fields.items() if value is not None})
    return reply


def _datum(
    result: ImageResult, plan: ImagePlan, url_for: Callable[[bytes, str], str] | None
) -> dict[str, Any]:
    datum: dict[str, Any]
    if plan.response_format != "url":
        datum = {"b64_json": result.b64}
    elif url_for is None:
        datum = {"url": f"data:image/{result.output_format};base64,{result.b64}"}
    else:
        datum = {"url": url_for(base64.b64decode(result.b64), result.output_format)}
    if result.revised_prompt is not None:
        datum["revised_prompt"] = result.revised_prompt
    return datum


def _size(reported: str | None, requested: str | None) -> str | None:
    """The image's size: upstream's, unless it only says `auto` and the client named one."""
    if reported is None or reported == "auto":
        return requested if requested not in (None, "auto") else reported
    return reported


def _pick(reported: object, requested: object, allowed: tuple[str, ...]) -> str | None:
    for value in (reported, requested):
        if isinstance(value, str) and value in allowed:
            return value
    return None


def sum_usage(usages: Iterable[TokenUsage | None]) -> dict[str, Any] | None:
    """Image usage added up, in the shape the SDK's `Usage` models require; None if none."""
    present = [usage for usage in usages if usage is not None]
    if not present:
        return None
    return images_usage(sum(present, TokenUsage()))


# --- stream ---------------------------------------------------------------------------------


class ImageStreamTranslator:
    """Codex SSE → OpenAI image stream events, incrementally (bytes may split anywhere).

    Emits `<prefix>.partial_image` per upstream partial image, then `<prefix>.completed` with
    the final image and usage (prefix `image_generation` or `image_edit`). An upstream failure,
    a text answer or a stream cut before the final image ends with an `error` event; a stream
    cut after the final image arrived still completes. Progress events become SSE comments.
    """

    def __init__(self, plan: ImagePlan, *, clock: Callable[[], float] = time.time) -> None:
        self._plan = plan
        self._prefix = "image_edit" if plan.edit else "image_generation"
        self._clock = clock
        self._parser = SseParser()
        self._collector = ImageCollector()
        self._closed = False
        self.result: ImageResult | None = None  # the image, once the stream has made it
        self.error: ApiError | None = None  # why it did not

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._event(event) for event in self._parser.feed(chunk))

    def finish(self) -> bytes:
        out = b"".join(self._event(event) for event in self._parser.finish())
        if not self._closed:
            out += self._end()
        return out

    def _event(self, event: SseEvent) -> bytes:
        data = _json(event)
        if self._closed or data is None:
            return b""
        self._collector.update(data)
        kind = data.get("type")
        if self._collector.done:
            return self._end()
        if self._collector.partial is data:  # a usable partial image just arrived
            return self._partial(data)
        if kind in PROGRESS_EVENTS:
            return KEEPALIVE
        return b""

    def _partial(self, data: dict[str, Any]) -> bytes:
        index = data.get("partial_image_index")
        event = {
            "type": f"{self._prefix}.partial_image",
            "b64_json": data["partial_image_b64"],
            "partial_image_index": index if isinstance(index, int) else 0,
            **self._settings(data, self._plan.output_format),
        }
        return encode_event(event)

    def _end(self) -> bytes:
        self._closed = True
        try:
            result = self._collector.result()
        except ApiError as e:
            self.error = e
            return encode_event({"type": "error", "error": e.body()["error"]})
        self.result = result
        source = {
            "size": result.size,
            "quality": result.quality,
            "background": result.background,
            "output_format": result.output_format,
        }
        event = {
            "type": f"{self._prefix}.completed",
            "b64_json": result.b64,
            **self._settings(source, result.output_format),
            "usage": images_usage(result.usage or TokenUsage()),
        }
        return encode_event(event)

    def _settings(self, source: dict[str, Any], output_format: str) -> dict[str, Any]:
        """created_at, size, quality, background, output_format: upstream's, else requested."""
        tool = self._plan.tool
        created = self._collector.created
        fmt = _str(source.get("output_format"))
        return {
            "created_at": created if created is not None else int(self._clock()),
            "size": _size(_str(source.get("size")), _str(tool.get("size"))) or "auto",
            "quality": _pick(source.get("quality"), tool.get("quality"), EVENT_QUALITIES) or "auto",
            "background": _pick(source.get("background"), tool.get("background"), EVENT_BACKGROUNDS)
            or "auto",
            "output_format": fmt if fmt in OUTPUT_FORMATS else output_format,
        }


# --- helpers --------------------------------------------------------------------------------


def _json(event: SseEvent) -> dict[str, Any] | None:
    if not event.data or event.data == "[DONE]":
        return None
    try:
        data = json.loads(event.data)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def sniff_b64(b64: str) -> str | None:
    """The image format of base64 data, from its first bytes."""
    try:
        head = base64.b64decode(b64[:24] + "=" * (-len(b64[:24]) % 4))
    except (binascii.Error, ValueError):
        return None
    return sniff_image(head)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
