"""Watching a Codex SSE reply on its way to the client.

The tracker forwards complete events only (a partial event is held until its blank line),
notes the response id, the last sequence number and whether a terminal event arrived, so a
reply cut short upstream can be closed with a proper `response.failed` instead of silence.
"""

import json
from typing import Any

from azt.dialects.common.sse import SseParser, encode_event
from azt.dialects.common.usage import TokenUsage, usage_from_codex
from azt.pool.failover import PRELUDE_EVENTS, TERMINAL_EVENTS

OUTPUT_HEAD_CHARS = 200


class StreamTracker:
    def __init__(self) -> None:
        self._parser = SseParser()
        self._pending: list[bytes] = []  # an unfinished event, in the pieces it came in
        self.response_id: str | None = None
        self.sequence_number = -1
        self.terminal: str | None = None
        self.saw_content = False
        self.last_event: dict[str, Any] | None = None
        # What the reply reports about itself, for the request record.
        self.model: str | None = None
        self.usage: TokenUsage | None = None
        self.image_usage: TokenUsage | None = None
        self.image_count = 0
        self.error_code: str | None = None
        self.output_head = ""  # the first characters of output text (previews, if enabled)

    def feed(self, chunk: bytes) -> bytes:
        """Returns the bytes of every event completed by `chunk`."""
        if b"\n" not in chunk:  # a blank line ends with \n: nothing completes here
            self._pending.append(chunk)
            return b""
        data = b"".join(self._pending) + chunk
        cut = _last_boundary(data)
        self._pending = [data[cut:]] if cut < len(data) else []
        if cut == 0:
            return b""
        complete = data[:cut]
        for event in self._parser.feed(complete):
            self._observe(event.data)
        return complete

    def finish(self) -> bytes:
        """The trailing event that lacked its blank line, completed, if it is whole.

        A tail whose data is not valid JSON is a fragment of an event cut off upstream: it is
        dropped rather than passed on corrupt.
        """
        tail = b"".join(self._pending)
        self._pending = []
        if not tail.strip():
            return b""
        events = list(SseParser().feed(tail + b"\n\n"))
        try:
            for event in events:
                json.loads(event.data)
        except ValueError:
            return b""
        for event in events:
            self._observe(event.data)
        return tail + b"\n\n"

    def _observe(self, data: str) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        self.last_event = event
        kind = event.get("type")
        if isinstance(event.get("sequence_number"), int):
            self.sequence_number = event["sequence_number"]
        if kind == "response.created":
            self.response_id = (event.get("response") or {}).get("id") or self.response_id
        if kind in TERMINAL_EVENTS:
            self.terminal = kind
            if kind == "error":
                error = event.get("error")
                error = error if isinstance(error, dict) else event
                self.error_code = str(error.get("code") or error.get("type") or "error")
            self._note_terminal(event.get("response"))
        elif kind not in PRELUDE_EVENTS:
            self.saw_content = True
            self._note_content(kind, event)

    def _note_content(self, kind: object, event: dict[str, Any]) -> None:
        if kind == "response.output_text.delta" and len(self.output_head) < OUTPUT_HEAD_CHARS:
            delta = event.get("delta")
            if isinstance(delta, str):
                self.output_head = (self.output_head + delta)[:OUTPUT_HEAD_CHARS]
        elif kind == "response.output_item.done":
            item = event.get("item")
            if isinstance(item, dict) and item.get("type") == "image_generation_call":
                self.image_count += bool(item.get("result"))

    def _note_terminal(self, response: object) -> None:
        if not isinstance(response, dict):
            return
        if isinstance(response.get("model"), str):
            self.model = response["model"]
        self.usage = usage_from_codex(response.get("usage"))
        tool_usage = response.get("tool_usage")
        if isinstance(tool_usage, dict):
            self.image_usage = usage_from_codex(tool_usage.get("image_gen"))
        error = response.get("error")
        if isinstance(error, dict):
            self.error_code = str(error.get("code") or error.get("type") or "response_failed")
        elif response.get("status") == "failed":
            self.error_code = "response_failed"

    def failure_event(self, code: str, message: str) -> bytes:
        """A `response.failed` closing this stream, numbered after the last event seen."""
        self.sequence_number += 1
        self.terminal = "response.failed"
        self.error_code = code
        return encode_event(
            {
                "type": "response.failed",
                "sequence_number": self.sequence_number,
                "response": {
                    "id": self.response_id,
                    "object": "response",
                    "status": "failed",
                    "output": [],
                    "error": {"type": "server_error", "code": code, "message": message},
                },
            }
        )


def _last_boundary(data: bytes) -> int:
    """Index just past the last blank line (`\\n\\n` or `\\r\\n\\r\\n`), 0 when none."""
    lf = data.rfind(b"\n\n")
    crlf = data.rfind(b"\r\n\r\n")
    return max(lf + 2 if lf != -1 else 0, crlf + 4 if crlf != -1 else 0)
