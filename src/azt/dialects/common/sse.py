"""An incremental Server-Sent Events codec.

Bytes arrive split anywhere (mid-line, mid-UTF-8 character, between `\\r` and `\\n`); the parser
keeps the unfinished tail and yields each complete event once its blank line arrives.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SseEvent:
    event: str | None
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


class SseParser:
    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._id: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[SseEvent]:
        self._buffer += chunk
        while True:
            line, found = self._next_line()
            if not found:
                return
            event = self._line(line)
            if event is not None:
                yield event

    def finish(self) -> Iterator[SseEvent]:
        """Flush a final event that lacked its closing blank line."""
        if self._buffer:
            tail, self._buffer = self._buffer, b""
            event = self._line(tail)
            if event is not None:
                yield event
        event = self._line(b"")
        if event is not None:
            yield event

    def _next_line(self) -> tuple[bytes, bool]:
        buffer = self._buffer
        newline, carriage = buffer.find(b"\n"), buffer.find(b"\r")
        if carriage == -1 or (newline != -1 and newline < carriage):
            if newline == -1:
                return b"", False
            self._buffer = buffer[newline + 1 :]
            return buffer[:newline], True
        if carriage + 1 == len(buffer):
            return b"", False  # a \n may follow in the next chunk
        skip = 2 if buffer[carriage + 1] == 0x0A else 1
        self._buffer = buffer[carriage + skip :]
        return buffer[:carriage], True

    def _line(self, raw: bytes) -> SseEvent | None:
        if not raw:
            if not self._data and self._event is None:
                return None
            event = SseEvent(self._event, "\n".join(self._data), self._id)
            self._event, self._data = None, []
            return event
        line = raw.decode("utf-8", errors="replace")
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


def encode_event(data: dict[str, Any], event: str | None = None) -> bytes:
    """One SSE event; `event:` defaults to the payload's `type`, as the Codex backend sends."""
    name = event if event is not None else data.get("type")
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {payload}\n\n".encode()
