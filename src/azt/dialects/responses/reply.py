"""Codex backend SSE → the OpenAI Responses API: the reply half of the responses dialect.

`ResponsesTranslator` turns the backend's SSE into what the OpenAI SDK expects, for streaming
clients event by event (`feed`/`finish`) and for the others as one `response` object
(`collapse`). Both modes run through the same state machine.

The backend's stream is close to OpenAI's, with gaps the SDK trips over: text that arrives only
in `output_item.done`, `response.completed.output` left empty, `keepalive` events, usage without
detail objects. See docs/responses-api.md.

Pure: no I/O. The clock is read only for a response the backend did not date.
"""

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from azt.dialects.common.errors import upstream_failure
from azt.dialects.common.sse import SseEvent, SseParser, encode_event
from azt.dialects.common.usage import responses_usage
from azt.dialects.responses.request import ResponsesPlan
from azt.errors import ApiError

# --- the reply --------------------------------------------------------------------------------

# Every event type in the OpenAI SDK's `ResponseStreamEvent` union; anything else (keepalive,
# response.metadata, codex.*) would fail a validating client and is dropped.
SDK_EVENT_TYPES = frozenset(
    {
        "error",
        "response.audio.delta",
        "response.audio.done",
        "response.audio.transcript.delta",
        "response.audio.transcript.done",
        "response.code_interpreter_call.completed",
        "response.code_interpreter_call.in_progress",
        "response.code_interpreter_call.interpreting",
        "response.code_interpreter_call_code.delta",
        "response.code_interpreter_call_code.done",
        "response.compaction.compacting",
        "response.completed",
        "response.content_part.added",
        "response.content_part.done",
        "response.created",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.failed",
        "response.file_search_call.completed",
        "response.file_search_call.in_progress",
        "response.file_search_call.searching",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.image_generation_call.completed",
        "response.image_generation_call.generating",
        "response.image_generation_call.in_progress",
        "response.image_generation_call.partial_image",
        "response.in_progress",
        "response.incomplete",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "response.mcp_call.in_progress",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_list_tools.completed",
        "response.mcp_list_tools.failed",
        "response.mcp_list_tools.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_text.annotation.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.queued",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.refusal.delta",
        "response.refusal.done",
        "response.shell_call_command.added",
        "response.shell_call_command.delta",
        "response.shell_call_command.done",
        "response.shell_call_output_content.delta",
        "response.shell_call_output_content.done",
        "response.web_search_call.completed",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
    }
)

_LIFECYCLE = {
    "response.created": "in_progress",
    "response.queued": "queued",
    "response.in_progress": "in_progress",
}
_TERMINAL = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}

# Streamed text inside a message part: event prefix and the part's text field.
_PART_TEXT = {
    "output_text": ("response.output_text", "text"),
    "refusal": ("response.refusal", "refusal"),
}
# Streamed text of a call item: event prefix and the item's field.
_CALL_TEXT = {
    "function_call": ("response.function_call_arguments", "arguments"),
    "custom_tool_call": ("response.custom_tool_call_input", "input"),
}
_ID_PREFIX = {"message": "msg", "reasoning": "rs", "function_call": "fc", "custom_tool_call": "ctc"}

# `ResponseError.code` values the SDK accepts in `response.failed`; others are mapped below.
_SDK_ERROR_CODES = frozenset(
    {
        "server_error",
        "rate_limit_exceeded",
        "invalid_prompt",
        "data_residency_mismatch",
        "bio_policy",
        "misalignment_policy_violation",
        "vector_store_timeout",
        "invalid_image",
        "invalid_image_format",
        "invalid_base64_image",
        "invalid_image_url",
        "image_too_large",
        "image_too_small",
        "image_parse_error",
        "image_content_policy_violation",
        "invalid_image_mode",
        "image_file_too_large",
        "unsupported_image_media_type",
        "empty_image_file",
        "failed_to_download_image",
        "image_file_not_found",
    }
)
_SDK_ERROR_CODE_FOR = {
    "usage_limit_reached": "rate_limit_exceeded",
    "usage_not_included": "rate_limit_exceeded",
    "insufficient_quota": "rate_limit_exceeded",
    "context_length_exceeded": "invalid_prompt",
    "cyber_policy": "invalid_prompt",
}


@dataclass
class _Text:
    """How much of one streamed text (a message part, or a call's arguments) the client has."""

    sent: str = ""
    opened: bool = False  # content_part.added sent
    finished: bool = False  # output_text.done (or arguments.done) sent
    closed: bool = False  # content_part.done sent


class ResponsesTranslator:
    """Codex backend SSE → OpenAI Responses SSE (`feed`/`finish`) or one response (`collapse`).

    Events pass through as they complete; only an unfinished event is held back. Every event
    is renumbered (`sequence_number` from 0), and the missing pieces SDK clients rely on are
    synthesised in place. One instance serves one reply.
    """

    def __init__(self, plan: ResponsesPlan, *, requested_model: str) -> None:
        self.plan = plan
        self.requested_model = requested_model
        self._parser = SseParser()
        self._sequence = 0
        self._started = False
        self._response_id = f"resp_azt{uuid.uuid4().hex}"  # until the backend names it
        self._created_at: float = int(time.time())
        self._model = str(plan.upstream.get("model") or requested_model)
        self._named = False
        self._added: dict[int, dict[str, Any]] = {}
        self._done: dict[int, dict[str, Any]] = {}
        self._texts: dict[tuple[int, int], _Text] = {}
        self._terminal: dict[str, Any] | None = None
        self._upstream_error: dict[str, Any] = {}

    # --- public API ---

    def feed(self, data: bytes) -> bytes:
        """OpenAI SSE bytes for every backend event `data` completes."""
        return self._encode(self._parser.feed(data))

    def finish(self) -> bytes:
        """The rest at the end of the upstream body; closes a stream that lacked a terminal."""
        out = self._encode(self._parser.finish())
        if self._terminal is None:
            out += self._emit(self._translate(_truncated_event()))
        return out

    def collapse(self, data: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for a non-streaming client, from the whole upstream body."""
        self.feed(data)
        self.finish()
        return self.result()

    def result(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of the whole reply; meaningful after `finish`."""
        terminal = self._terminal
        assert terminal is not None  # finish() always ends with a terminal event
        if terminal["type"] in ("response.completed", "response.incomplete"):
            response = dict(terminal["response"])
            response["output_text"] = output_text(response["output"])
            return 200, response
        return _error_reply(self._upstream_error)

    # --- framing ---

    def _encode(self, events: Iterable[SseEvent]) -> bytes:
        out = []
        for raw in events:
            try:
                event = raw.json()
            except ValueError:
                continue  # not JSON: nothing a client could use
            if isinstance(event, dict):
                out.append(self._emit(self._translate(event)))
        return b"".join(out)

    def _emit(self, events: list[dict[str, Any]]) -> bytes:
        out = []
        for event in events:
            event["sequence_number"] = self._sequence
            self._sequence += 1
            out.append(encode_event(event))
        return b"".join(out)

    # --- dispatch ---

    def _translate(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        kind = event.get("type")
        if self._terminal is not None or kind not in SDK_EVENT_TYPES:
            return []
        event = {key: value for key, value in event.items() if key != "sequence_number"}
        if kind == "error":
            return self._error(event)
        if kind in _TERMINAL:
            return self._ending(event, _TERMINAL[kind])
        out = self._start(event)
        if kind in _LIFECYCLE:
            if kind != "response.created":
                out.append(self._lifecycle(event, _LIFECYCLE[kind]))
            return out
        handler = _HANDLERS.get(kind)
        if handler is not None:
            return out + handler(self, event)
        return [*out, event]

    def _start(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """`response.created` first, as the SDK demands: the backend's, or one made up.

        A made-up one takes the response of the event that needed it, so the id stays the same.
        """
        if self._started:
            return []
        self._started = True
        raw = event.get("response")
        raw = raw if isinstance(raw, dict) else {}
        created = {"type": "response.created", "response": self._response(raw, "in_progress")}
        self._named = True  # the client now knows the response by this id: keep it
        return [created]

    # --- the response object ---

    def _lifecycle(self, event: dict[str, Any], status: str) -> dict[str, Any]:
        raw = event.get("response")
        raw = raw if isinstance(raw, dict) else {}
        return {"type": event["type"], "response": self._response(raw, status)}

    def _response(self, raw: dict[str, Any], status: str, **overrides: Any) -> dict[str, Any]:
        """A full OpenAI response object: the backend's, with what the client asked for."""
        self._learn(raw)
        upstream = self.plan.upstream
        response: dict[str, Any] = {
            **{key: value for key, value in raw.items() if value is not None},
            "id": self._response_id,
            "object": "response",
            "created_at": self._created_at,
            "status": status,
            "model": self._model,
            "instructions": upstream.get("instructions") or None,
            "tools": upstream.get("tools", []),
            "tool_choice": upstream.get("tool_choice", "auto"),
            "parallel_tool_calls": upstream.get("parallel_tool_calls", True),
            "store": False,
            "background": False,
            "previous_response_id": None,
            "output": [],
            "error": None,
            "incomplete_details": None,
            "usage": responses_usage(raw["usage"]) if isinstance(raw.get("usage"), dict) else None,
        }
        for name in ("reasoning", "text"):
            if name in upstream:
                response[name] = upstream[name]
        response.update(overrides)
        return response

    def _learn(self, raw: dict[str, Any]) -> None:
        """Take the response id, creation time and served model from the first event with them."""
        if self._named:
            return
        if isinstance(raw.get("id"), str):
            self._response_id = raw["id"]
            self._named = True
        if isinstance(raw.get("created_at"), int | float):
            self._created_at = raw["created_at"]
        if isinstance(raw.get("model"), str) and raw["model"]:
            self._model = raw["model"]

    def _output(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """The output items in order: from `output_item.done` (the backend leaves `output` [])."""
        indices = sorted(self._added.keys() | self._done.keys())
        if indices:
            return [self._done.get(index) or self._added[index] for index in indices]
        items = raw.get("output")
        if not isinstance(items, list):
            return []
        return [self._item(item, index, "completed") for index, item in enumerate(items)]

    # --- endings ---

    def _ending(self, event: dict[str, Any], status: str) -> list[dict[str, Any]]:
        raw = event.get("response")
        raw = raw if isinstance(raw, dict) else {}
        out = self._start(event)
        overrides: dict[str, Any] = {"output": self._output(raw)}
        if status == "failed":
            error = raw.get("error")
            error = error if isinstance(error, dict) else {}
            self._upstream_error = _error_fields(error, "The Codex backend failed the response.")
            overrides["error"] = _sdk_error(self._upstream_error)
        if status == "incomplete":
            details = raw.get("incomplete_details")
            overrides["incomplete_details"] = details if isinstance(details, dict) else {}
        ending = {"type": event["type"], "response": self._response(raw, status, **overrides)}
        self._terminal = ending
        return [*out, ending]

    def _error(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        nested = event.get("error")
        source = nested if isinstance(nested, dict) else event
        error = _error_fields(source, "The Codex backend reported an error.")
        self._upstream_error = error
        # Flat fields as in OpenAI's `error` event; the nested object too, so the SDK raises
        # APIError with the message instead of ending the stream silently.
        flat = {"code": error.get("code"), "message": error["message"], "param": error.get("param")}
        self._terminal = {"type": "error", **flat, "error": error}
        return [self._terminal]

    # --- output items ---

    def _item(self, raw: object, index: int, status: str) -> dict[str, Any]:
        """An output item with the fields the SDK requires (ids, status, annotations)."""
        item = dict(raw) if isinstance(raw, dict) else {"type": "message"}
        kind = item.get("type")
        if not isinstance(item.get("id"), str):
            known = self._added.get(index, {}).get("id")
            prefix = _ID_PREFIX.get(str(kind), "item")
            item["id"] = (
                known if isinstance(known, str) else f"{prefix}_{self._response_id}_{index}"
            )
        if kind == "message":
            item.setdefault("role", "assistant")
            item.setdefault("status", status)
            content = item.get("content")
            item["content"] = [_part(p) for p in content] if isinstance(content, list) else []
        elif kind == "reasoning":
            item.setdefault("summary", [])
        return item

    def _item_added(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        index = event.get("output_index")
        if not isinstance(index, int):
            return []
        item = self._item(event.get("item"), index, "in_progress")
        self._added[index] = item
        return [{**event, "item": item}]

    def _ensure_added(self, index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        """An `output_item.added` for an item seen only when done (content needs a parent)."""
        if index in self._added:
            return []
        skeleton = dict(item)
        kind = item.get("type")
        if kind == "message":
            skeleton.update(status="in_progress", content=[])
        elif kind in _CALL_TEXT:
            skeleton.update(status="in_progress", **{_CALL_TEXT[kind][1]: ""})
        self._added[index] = skeleton
        return [{"type": "response.output_item.added", "output_index": index, "item": skeleton}]

    def _item_done(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        index = event.get("output_index")
        if not isinstance(index, int):
            return []
        item = self._item(event.get("item"), index, "completed")
        out = self._ensure_added(index, item)
        kind = item.get("type")
        if kind == "message":
            for content_index, part in enumerate(item["content"]):
                out += self._close_part(index, content_index, item["id"], part)
        elif kind in _CALL_TEXT:
            out += self._close_call(index, item)
        self._done[index] = item
        return [*out, {**event, "item": item}]

    # --- message text ---

    def _ensure_message(self, index: int, item_id: object) -> list[dict[str, Any]]:
        if index in self._added:
            return []
        item = self._item({"type": "message", "id": item_id}, index, "in_progress")
        return self._ensure_added(index, item)

    def _text(self, index: int, content_index: int) -> _Text:
        return self._texts.setdefault((index, content_index), _Text())

    def _open_part(self, event: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        """The parents a part event needs: its message item and its `content_part.added`."""
        index, content_index = event["output_index"], event["content_index"]
        out = self._ensure_message(index, event.get("item_id"))
        text = self._text(index, content_index)
        if not text.opened:
            text.opened = True
            item_id = self._added[index]["id"]
            out.append(_part_event("added", index, content_index, item_id, _empty_part(kind)))
        return out

    def _part_added(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not _has_position(event, content=True):
            return []
        out = self._ensure_message(event["output_index"], event.get("item_id"))
        self._text(event["output_index"], event["content_index"]).opened = True
        return [*out, {**event, "part": _part(event.get("part"))}]

    def _part_done(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not _has_position(event, content=True):
            return []
        out = self._open_part(event, _part_kind(event.get("part")))
        self._text(event["output_index"], event["content_index"]).closed = True
        return [*out, {**event, "part": _part(event.get("part"))}]

    def _text_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not _has_position(event, content=True):
            return []
        kind = "refusal" if event["type"].startswith("response.refusal") else "output_text"
        out = self._open_part(event, kind)
        delta = event.get("delta")
        self._text(event["output_index"], event["content_index"]).sent += (
            delta if isinstance(delta, str) else ""
        )
        return [*out, _with_logprobs(event)]

    def _text_done(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not _has_position(event, content=True):
            return []
        kind = "refusal" if event["type"].startswith("response.refusal") else "output_text"
        out = self._open_part(event, kind)
        self._text(event["output_index"], event["content_index"]).finished = True
        return [*out, _with_logprobs(event)]

    def _close_part(
        self, index: int, content_index: int, item_id: str, part: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Whatever the client still lacks of a finished part: added, the text, done events."""
        spec = _PART_TEXT.get(str(part.get("type")))
        if spec is None:
            return []
        prefix, field = spec
        final = _text_of(part.get(field))
        text = self._text(index, content_index)
        where = {"item_id": item_id, "output_index": index, "content_index": content_index}
        out = []
        if not text.opened:
            empty = _empty_part(str(part["type"]))
            out.append(_part_event("added", index, content_index, item_id, empty))
        if not text.finished:
            if final.startswith(text.sent) and len(final) > len(text.sent):
                delta = {"type": f"{prefix}.delta", **where, "delta": final[len(text.sent) :]}
                out.append(_with_logprobs(delta))
            out.append(_with_logprobs({"type": f"{prefix}.done", **where, field: final}))
        if not text.closed:
            out.append(_part_event("done", index, content_index, item_id, part))
        text.sent, text.opened, text.finished, text.closed = final, True, True, True
        return out

    # --- call arguments ---

    def _call_delta(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        # Without its output_item.added the SDK cannot place a delta; the done item will
        # bring the whole text instead.
        if not _has_position(event) or event["output_index"] not in self._added:
            return []
        delta = event.get("delta")
        self._text(event["output_index"], -1).sent += delta if isinstance(delta, str) else ""
        return [event]

    def _call_done(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if not _has_position(event) or event["output_index"] not in self._added:
            return []
        self._text(event["output_index"], -1).finished = True
        return [event]

    def _close_call(self, index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        prefix, field = _CALL_TEXT[item["type"]]
        final = _text_of(item.get(field))
        text = self._text(index, -1)
        if text.finished:
            return []
        where = {"item_id": item["id"], "output_index": index}
        out = []
        if final.startswith(text.sent) and len(final) > len(text.sent):
            out.append({"type": f"{prefix}.delta", **where, "delta": final[len(text.sent) :]})
        out.append({"type": f"{prefix}.done", **where, field: final})
        text.sent, text.finished = final, True
        return out


_HANDLERS = {
    "response.output_item.added": ResponsesTranslator._item_added,
    "response.output_item.done": ResponsesTranslator._item_done,
    "response.content_part.added": ResponsesTranslator._part_added,
    "response.content_part.done": ResponsesTranslator._part_done,
    "response.output_text.delta": ResponsesTranslator._text_delta,
    "response.refusal.delta": ResponsesTranslator._text_delta,
    "response.output_text.done": ResponsesTranslator._text_done,
    "response.refusal.done": ResponsesTranslator._text_done,
    "response.function_call_arguments.delta": ResponsesTranslator._call_delta,
    "response.custom_tool_call_input.delta": ResponsesTranslator._call_delta,
    "response.function_call_arguments.done": ResponsesTranslator._call_done,
    "response.custom_tool_call_input.done": ResponsesTranslator._call_done,
}


# --- small pure helpers ------------------------------------------------------------------------


def output_text(output: list[dict[str, Any]]) -> str:
    """The concatenated `output_text` of the message items, as the SDK's property computes it."""
    return "".join(
        part.get("text", "")
        for item in output
        if item.get("type") == "message"
        for part in item.get("content", [])
        if isinstance(part, dict) and part.get("type") == "output_text"
    )


def _text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


def _has_position(event: dict[str, Any], *, content: bool = False) -> bool:
    if not isinstance(event.get("output_index"), int):
        return False
    if content:
        event.setdefault("content_index", 0)
        return isinstance(event["content_index"], int)
    return True


def _part(raw: object) -> dict[str, Any]:
    part = dict(raw) if isinstance(raw, dict) else {"type": "output_text", "text": ""}
    if part.get("type") == "output_text":
        part.setdefault("annotations", [])
        part.setdefault("text", "")
    return part


def _part_kind(raw: object) -> str:
    kind = raw.get("type") if isinstance(raw, dict) else None
    return kind if isinstance(kind, str) else "output_text"


def _empty_part(kind: str) -> dict[str, Any]:
    if kind == "refusal":
        return {"type": "refusal", "refusal": ""}
    return {"type": "output_text", "text": "", "annotations": []}


def _part_event(
    stage: str, index: int, content_index: int, item_id: str, part: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": f"response.content_part.{stage}",
        "item_id": item_id,
        "output_index": index,
        "content_index": content_index,
        "part": _part(part),
    }


def _with_logprobs(event: dict[str, Any]) -> dict[str, Any]:
    # The SDK requires `logprobs` on output_text events; the backend may leave it out.
    if event["type"].startswith("response.output_text.") and not isinstance(
        event.get("logprobs"), list
    ):
        return {**event, "logprobs": []}
    return event


def _error_fields(raw: dict[str, Any], fallback: str) -> dict[str, Any]:
    """An error object with a message; the backend's other fields (plan_type, ...) kept."""
    error = {key: value for key, value in raw.items() if value is not None}
    if not isinstance(error.get("message"), str) or not error["message"]:
        error["message"] = fallback
    return error


def _sdk_error(error: dict[str, Any]) -> dict[str, Any]:
    """`response.error` with a code the SDK's vocabulary has; the backend's kept beside it."""
    code = error.get("code")
    if code in _SDK_ERROR_CODES:
        return {**error, "param": error.get("param")}
    mapped = _SDK_ERROR_CODE_FOR.get(str(code), "server_error")
    sdk_error = {**error, "code": mapped, "param": error.get("param")}
    if isinstance(code, str):
        sdk_error["upstream_code"] = code
    return sdk_error


def _error_reply(error: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    failure = upstream_failure(error)
    return failure.status, failure.body()


def _truncated_event() -> dict[str, Any]:
    error = {
        "code": "upstream_stream_truncated",
        "message": "The Codex backend ended the stream before the response finished.",
    }
    return {"type": "response.failed", "response": {"status": "failed", "error": error}}


def error_event(error: ApiError, sequence_number: int = 0) -> dict[str, Any]:
    """A top-level `error` event as the SDK reads it: flat fields and the nested object."""
    nested = {
        "type": error.error_type,
        "code": error.code,
        "message": error.message,
        "param": error.param,
    }
    return {
        "type": "error",
        "code": error.code,
        "message": error.message,
        "param": error.param,
        "error": nested,
        "sequence_number": sequence_number,
    }


def stream_error(error: ApiError) -> bytes:
    """A top-level `error` event: how a Responses stream ends when azt itself fails."""
    return encode_event(error_event(error))
