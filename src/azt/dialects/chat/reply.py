"""Codex Responses SSE → Chat Completions: the response half of the chat dialect.

One state machine serves both paths. `ChatTranslator.feed` takes raw upstream SSE bytes split
anywhere and returns `chat.completion.chunk` events as they become due; `finish` flushes and
appends `data: [DONE]`. `collapse` runs the same machine over a whole buffered body and returns
one `chat.completion` (or an OpenAI error body) with its HTTP status.

Text is passed on as it arrives. The only hold-back is for `stop` emulation: the tail of the
text that could still grow into a stop sequence (at most the longest stop minus one
character). `max_tokens` emulation cuts the visible content exactly at the limit with a
`TokenCounter`. Either cut ends the choice at once; later events are read only for usage.

Pure: no I/O. The clock is read only when the caller passes no `created` fallback.
"""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azt.dialects.chat.request import ChatPlan
from azt.dialects.common.errors import truncated, upstream_failure
from azt.dialects.common.sse import SseParser, encode_event
from azt.dialects.common.tokens import TokenCounter
from azt.dialects.common.usage import chat_usage, read_usage
from azt.errors import ApiError

DONE = b"data: [DONE]\n\n"
_CALL_TYPES = ("function_call", "custom_tool_call")
MESSAGE_SEPARATOR = "\n\n"  # between the texts of two upstream message items

TRUNCATED = truncated("The upstream response ended before it was complete.")


# --- emulation helpers ----------------------------------------------------------------------


class StopScanner:
    """Finds the first stop sequence in text that arrives in pieces.

    `feed` returns (text safe to release, whether a stop sequence was found). Only the tail
    that could still be the start of a stop sequence is held back. "First" means the one
    that completes first, as generation would have halted there.
    """

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = stops
        self._held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        if not self._stops:
            return text, False
        buffer = self._held + text
        hit = self._first_match(buffer)
        if hit is not None:
            self._held = ""
            return buffer[:hit], True
        keep = self._partial_suffix(buffer)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return buffer[: len(buffer) - keep], False

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

    def _first_match(self, buffer: str) -> int | None:
        best: tuple[int, int] | None = None  # (end, start): earliest end, then longest
        for stop in self._stops:
            start = buffer.find(stop)
            if start != -1 and (best is None or (start + len(stop), start) < best):
                best = (start + len(stop), start)
        return None if best is None else best[1]

    def _partial_suffix(self, buffer: str) -> int:
        longest = max(len(stop) for stop in self._stops) - 1
        for size in range(min(longest, len(buffer)), 0, -1):
            tail = buffer[-size:]
            if any(stop.startswith(tail) for stop in self._stops):
                return size
        return 0


class TokenBudget:
    """Lets text through until it reaches `limit` tokens, cutting exactly at the limit.

    Counting the whole delivered text after every delta would cost O(n²). A token is at least
    one byte, so text whose bytes fit the headroom left at the last exact count (less a slack
    for re-tokenising the seam) cannot exceed the limit: it is let through uncounted, and the
    exact counts get more frequent only as the limit nears.
    """

    SLACK = 16

    def __init__(self, counter: TokenCounter, limit: int) -> None:
        self._counter = counter
        self._limit = limit
        self._text = ""
        self._counted = 0  # exact token count of the text at the last count
        self._uncounted_bytes = 0
        self.tokens = 0  # tokens delivered; exact once the budget is exhausted

    def take(self, text: str) -> tuple[str, bool]:
        """(the part of `text` to deliver, whether the limit was reached)."""
        self._uncounted_bytes += len(text.encode())
        if self._counted + self._uncounted_bytes + self.SLACK <= self._limit:
            self._text += text
            return text, False
        candidate = self._text + text
        total = self._counter.count(candidate)
        if total <= self._limit:
            self._text, self._counted, self._uncounted_bytes = candidate, total, 0
            self.tokens = total
            return text, False
        kept = self._counter.truncate(candidate, self._limit)
        allowed = kept[len(self._text) :] if len(kept) >= len(self._text) else ""
        self._text += allowed
        self.tokens = self._counter.count(self._text)
        return allowed, True


# --- the translator -------------------------------------------------------------------------


@dataclass
class _ToolCall:
    index: int
    call_id: str
    name: str
    arguments: str = ""  # as delivered to the client


class ChatTranslator:
    """Codex Responses SSE in, Chat Completions out (chunks, or one completion via `collapse`).

    `requested_model` names the model until upstream says which one answers; `counter` is
    required when the plan emulates `max_tokens`; `created` is the timestamp to use if
    upstream gives none (default: now).
    """

    def __init__(
        self,
        plan: ChatPlan,
        *,
        requested_model: str,
        counter: TokenCounter | None,
        created: int | None = None,
    ) -> None:
        if plan.max_tokens is not None and counter is None:
            raise ValueError("max_tokens emulation needs a TokenCounter")
        self._plan = plan
        self._parser = SseParser()
        self._out: list[bytes] = []
        self._id: str | None = None
        self.model = requested_model
        self.created = created if created is not None else int(time.time())
        self._stop = StopScanner(plan.stop)
        self._budget = (
            TokenBudget(counter, plan.max_tokens)
            if counter is not None and plan.max_tokens is not None
            else None
        )
        self._started = False
        self._content: list[str] = []
        self._refusal: list[str] = []
        self._text_item: str | None = None  # the message item the last text came from
        self._streamed_items: set[str] = set()  # message items that sent text/refusal deltas
        self._calls: dict[str, _ToolCall] = {}  # by item id and by call id
        self._call_list: list[_ToolCall] = []
        self._saw_output = False  # any output event; else response.output is read
        self.finish_reason: str | None = None  # set once the choice has ended
        self._cut = False  # ended early by stop / max_tokens emulation
        self.upstream_usage: dict[str, Any] | None = None
        self.error: ApiError | None = None
        self._terminal = False
        self._finished = False

    # --- public -----------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Chat Completions SSE for the upstream events completed by `data`."""
        for event in self._parser.feed(data):
            self._on_data(event.data)
        return self._take()

    def finish(self) -> bytes:
        """What is left, then `data: [DONE]`; a stream with no terminal event ends in an error."""
        if self._finished:
            return b""
        self._finished = True
        for event in self._parser.finish():
            self._on_data(event.data)
        if not self._terminal and not self._cut:
            self._fail(TRUNCATED)
        self._out.append(DONE)
        return self._take()

    def collapse(self, data: bytes) -> tuple[int, dict[str, Any]]:
        """(HTTP status, `chat.completion` or error body) for a whole buffered upstream body."""
        self.feed(data)
        self.finish()
        return self.result()

    def result(self) -> tuple[int, dict[str, Any]]:
        """The reply so far as one `chat.completion`; meaningful after `finish`."""
        if self.error is not None:
            return self.error.status, self.error.body()
        choice = {
            "index": 0,
            "message": self._message(),
            "finish_reason": self.finish_reason,
            "logprobs": None,
        }
        completion: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }
        usage = self.usage()
        if usage is not None:
            completion["usage"] = usage
        completion["system_fingerprint"] = None
        return 200, completion

    @property
    def id(self) -> str:
        if self._id is None:  # content before response.created: a stream we cannot name
            self._id = "chatcmpl-" + uuid.uuid4().hex
        return self._id

    def usage(self) -> dict[str, Any] | None:
        """Chat usage, or None when upstream gave none.

        After a `max_tokens` cut, completion tokens are the content tokens delivered plus the
        reasoning tokens upstream reports (reasoning always precedes the content, and keeping
        it makes `reasoning_tokens <= completion_tokens` hold), not upstream's full count.
        """
        if self.upstream_usage is None:
            return None
        usage = chat_usage(read_usage(self.upstream_usage))
        cut_by_limit = self._cut and self.finish_reason == "length"
        if cut_by_limit and self._budget is not None:
            reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
            usage["completion_tokens"] = self._budget.tokens + reasoning
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return usage

    # --- events -----------------------------------------------------------------------------

    def _on_data(self, data: str) -> None:
        if self._terminal:
            return
        try:
            event = json.loads(data)
        except ValueError:
            return  # not JSON (a stray `[DONE]`, a fragment): nothing to translate
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(self, event)

    def _on_created(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        if isinstance(response, dict) and self._id is None:
            response_id = response.get("id")
            if isinstance(response_id, str) and response_id:
                self._id = "chatcmpl-" + response_id.removeprefix("resp_")
            if isinstance(response.get("created_at"), int):
                self.created = response["created_at"]
            if isinstance(response.get("model"), str) and response["model"]:
                self.model = response["model"]
        self._start()

    def _on_item_added(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if isinstance(item, dict) and item.get("type") in _CALL_TYPES:
            self._saw_output = True
            self._open_call(item)

    def _on_text_delta(self, event: dict[str, Any]) -> None:
        delta = event.get("delta")
        if isinstance(delta, str):
            item_id = _str(event.get("item_id"))
            self._saw_output = True
            self._streamed_items.add(item_id)
            self._add_text(item_id, delta)

    def _on_refusal_delta(self, event: dict[str, Any]) -> None:
        delta = event.get("delta")
        if isinstance(delta, str):
            self._saw_output = True
            self._streamed_items.add(_str(event.get("item_id")))
            self._add_refusal(delta)

    def _on_arguments_delta(self, event: dict[str, Any]) -> None:
        call = self._find_call(event.get("item_id"), event.get("call_id"))
        delta = event.get("delta")
        if call is not None and isinstance(delta, str) and delta and not self._ended():
            call.arguments += delta
            self._emit({"tool_calls": [{"index": call.index, "function": {"arguments": delta}}]})

    def _on_arguments_done(self, event: dict[str, Any]) -> None:
        call = self._find_call(event.get("item_id"), event.get("call_id"))
        if call is not None:
            self._complete_arguments(call, event.get("arguments"))

    def _on_item_done(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            return
        self._item_done(item)

    def _item_done(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "message":
            self._saw_output = True
            self._message_done(item)
        elif kind in _CALL_TYPES:
            self._saw_output = True
            call = self._open_call(item)
            if call is not None:
                arguments = item.get("arguments" if kind == "function_call" else "input")
                self._complete_arguments(call, arguments)

    def _on_completed(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        if not self._saw_output:
            # Some streams carry their items only in the final response object.
            for item in response.get("output") or []:
                if isinstance(item, dict):
                    self._item_done(item)
        self._start()
        self._release(self._stop.flush())
        reason = None
        if event.get("type") == "response.incomplete":
            reason = _incomplete_reason(response)
        if not self._ended():
            default = "tool_calls" if self._call_list else "stop"
            self._end(reason or default)
        self._finish_usage(response.get("usage"))

    def _on_failed(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        error = response.get("error")
        self._failure(error if isinstance(error, dict) else {}, response.get("usage"))

    def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error")
        # Some backends put code/message at the top level of the `error` event.
        self._failure(error if isinstance(error, dict) else event, None)

    def _failure(self, error: dict[str, Any], usage: object) -> None:
        if self._cut:
            # The client already has the whole answer it asked for (stop / max_tokens); a
            # failure while azt was only waiting for usage does not undo it.
            self._finish_usage(usage)
            return
        self._fail(upstream_failure(error))

    # --- building the choice ----------------------------------------------------------------

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._emit({"role": "assistant", "content": ""})

    def _ended(self) -> bool:
        return self.finish_reason is not None or self.error is not None

    def _message_done(self, item: dict[str, Any]) -> None:
        item_id = _str(item.get("id"))
        if item_id in self._streamed_items:
            return
        # No deltas for this message: its text exists only here.
        for part in item.get("content") or []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                self._add_text(item_id, part["text"])
            elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                self._add_refusal(part["refusal"])

    def _add_text(self, item_id: str, text: str) -> None:
        if self._ended() or not text:
            return
        if self._text_item is not None and item_id != self._text_item and self._content:
            text = MESSAGE_SEPARATOR + text
        self._text_item = item_id
        released, stopped = self._stop.feed(text)
        self._release(released)
        if stopped and not self._ended():
            self._cut = True
            self._end("tool_calls" if self._call_list else "stop")

    def _release(self, text: str) -> None:
        """Deliver text that stop emulation has cleared, within the max_tokens budget."""
        if self._ended() or not text:
            return
        exhausted = False
        if self._budget is not None:
            text, exhausted = self._budget.take(text)
        if text:
            self._start()
            self._content.append(text)
            self._emit({"content": text})
        if exhausted:
            self._cut = True
            self._end("length")

    def _add_refusal(self, text: str) -> None:
        if not self._ended() and text:
            self._start()
            self._refusal.append(text)
            self._emit({"refusal": text})

    def _find_call(self, item_id: object, call_id: object) -> _ToolCall | None:
        return self._calls.get(_str(item_id)) or self._calls.get(_str(call_id))

    def _open_call(self, item: dict[str, Any]) -> _ToolCall | None:
        """The call for a function/custom call item, announcing it to the client when new."""
        known = self._find_call(item.get("id"), item.get("call_id"))
        item_id, call_id, name = _str(item.get("id")), item.get("call_id"), item.get("name")
        if known is not None or self._ended():
            return known
        if not isinstance(call_id, str) or not call_id or not isinstance(name, str):
            return None
        # Held-back text belongs before the call in the client's view.
        self._release(self._stop.flush())
        if self._ended():
            return None
        call = _ToolCall(len(self._call_list), call_id, name)
        self._call_list.append(call)
        self._calls[call_id] = call
        if item_id:
            self._calls[item_id] = call
        self._start()
        function = {"name": name, "arguments": ""}
        self._emit(
            {
                "tool_calls": [
                    {"index": call.index, "id": call_id, "type": "function", "function": function}
                ]
            }
        )
        return call

    def _complete_arguments(self, call: _ToolCall, arguments: object) -> None:
        """Send the full arguments if no fragment was streamed for this call."""
        if call.arguments or not isinstance(arguments, str) or not arguments or self._ended():
            return
        call.arguments = arguments
        self._emit({"tool_calls": [{"index": call.index, "function": {"arguments": arguments}}]})

    def _end(self, reason: str) -> None:
        self._start()
        self.finish_reason = reason
        self._emit({}, finish_reason=reason)

    def _finish_usage(self, usage: object) -> None:
        self._terminal = True
        if isinstance(usage, dict):
            self.upstream_usage = usage
        chat = self.usage()
        if self._plan.include_usage and chat is not None:
            self._out.append(self._encode({**self._envelope(), "choices": [], "usage": chat}))

    def _fail(self, error: ApiError) -> None:
        self._terminal = True
        self.error = error
        payload = {"message": error.message, "type": error.error_type, "code": error.code}
        self._out.append(self._encode({"error": {**payload, "param": None, **error.extra}}))

    def _message(self) -> dict[str, Any]:
        content = "".join(self._content)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": content if content or not self._call_list else None,
            "refusal": "".join(self._refusal) or None,
        }
        if self._call_list:
            message["tool_calls"] = [
                {
                    "id": call.call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in self._call_list
            ]
        return message

    # --- output -----------------------------------------------------------------------------

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
        }

    def _emit(self, delta: dict[str, Any], finish_reason: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk = {**self._envelope(), "choices": [choice]}
        if self._plan.include_usage:
            chunk["usage"] = None
        self._out.append(self._encode(chunk))

    def _encode(self, payload: dict[str, Any]) -> bytes:
        return encode_event(payload, event="")

    def _take(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _incomplete_reason(response: dict[str, Any]) -> str | None:
    """`length` or `content_filter`; None for other reasons (the default reason applies)."""
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, dict) else None
    if not isinstance(reason, str):
        return None
    return {"max_output_tokens": "length", "content_filter": "content_filter"}.get(reason)


_Handler = Callable[[ChatTranslator, dict[str, Any]], None]
_HANDLERS: dict[str, _Handler] = {
    "response.created": ChatTranslator._on_created,
    "response.output_item.added": ChatTranslator._on_item_added,
    "response.output_text.delta": ChatTranslator._on_text_delta,
    "response.refusal.delta": ChatTranslator._on_refusal_delta,
    "response.function_call_arguments.delta": ChatTranslator._on_arguments_delta,
    "response.custom_tool_call_input.delta": ChatTranslator._on_arguments_delta,
    "response.function_call_arguments.done": ChatTranslator._on_arguments_done,
    "response.output_item.done": ChatTranslator._on_item_done,
    "response.completed": ChatTranslator._on_completed,
    "response.incomplete": ChatTranslator._on_completed,
    "response.failed": ChatTranslator._on_failed,
    "error": ChatTranslator._on_error,
}


def stream_error(error: ApiError) -> bytes:
    """An `error` chunk, then `[DONE]`: how a chat stream ends when azt itself fails."""
    return encode_event({"error": error.body()["error"]}, event="") + DONE
