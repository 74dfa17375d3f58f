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
    """Linear in the bytes fed, however they are split: a long line arriving in many chunks
    is joined once, when its end arrives, and each line is found by one forward scan."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the unfinished line, in the pieces it came in
        self._event: str | None = None
        self._id: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> Iterator[SseEvent]:
        if not chunk:
            return
        pending = self._pending
        if pending and not pending[-1].endswith(b"\r") and not _ends_a_line(chunk):
            pending.append(chunk)  # still inside one line
            return
        data = b"".join(pending) + chunk if pending else chunk
        pending.clear()
        size, position = len(data), 0
        while position < size:
            newline = data.find(b"\n", position)
            carriage = data.find(b"\r", position, size if newline == -1 else newline)
            if carriage == -1:
                if newline == -1:
                    break
                line, position = data[position:newline], newline + 1
            elif carriage + 1 == size:
                break  # a \n may follow in the next chunk
            else:
                skip = 2 if data[carriage + 1] == 0x0A else 1
                line, position = data[position:carriage], carriage + skip
            event = self._line(line)
            if event is not None:
                yield event
        if position < size:
            pending.append(data[position:])

    def finish(self) -> Iterator[SseEvent]:
        """Flush a final event that lacked its closing blank line."""
        if self._pending:
            tail = b"".join(self._pending)
            self._pending.clear()
            event = self._line(tail)
            if event is not None:
                yield event
        event = self._line(b"")
        if event is not None:
            yield event

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


def _ends_a_line(chunk: bytes) -> bool:
    return b"\n" in chunk or b"\r" in chunk


def encode_event(data: dict[str, Any], event: str | None = None) -> bytes:
    """One SSE event; `event:` defaults to the payload's `type`, as the Codex backend sends."""
    name = event if event is not None else data.get("type")
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {payload}\n\n".encode()
