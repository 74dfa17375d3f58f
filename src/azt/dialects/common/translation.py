"""What a translated dialect gives the gateway: a plan for the request, a machine for the reply.

A dialect (`azt.dialects.chat`, `azt.dialects.responses`, ...) exports one `DialectSpec`: from a
client body and the facts about its model it makes a `Translation` (the Codex `/responses`
body to send, and a `Translator` for the reply), and it knows how to end a broken stream in its
own words. The gateway's translating addon needs nothing else, so a new dialect is a new
package plus a route entry.

Pure: no I/O.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from azt.dialects.common.tokens import TokenCounter
from azt.errors import ApiError


class Translator(Protocol):
    """One reply's state machine: `feed` and `finish` turn the upstream events into the
    client's stream; for a client that reads the reply whole, `result` (after `finish`) is
    the one JSON body, built as the events arrive so the stream itself is never held."""

    def feed(self, data: bytes) -> bytes:
        """The client's bytes for every upstream event `data` completes."""
        ...

    def finish(self) -> bytes:
        """What is left at the end of the upstream body, closing the client's stream."""
        ...

    def result(self) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of the whole reply; meaningful after `finish`."""
        ...

    def collapse(self, data: bytes) -> tuple[int, dict[str, Any]]:
        """`feed(data)`, `finish()`, then `result()`: a whole upstream body at once."""
        ...


@dataclass(frozen=True)
class ModelFacts:
    """The model a request names, resolved against the catalog."""

    requested: str  # as the client named it (replies name it until upstream says otherwise)
    slug: str  # the upstream model
    reasoning_levels: tuple[str, ...] | None = None  # None: unknown, efforts pass through
    supports_verbosity: bool | None = None  # None: unknown, verbosity is sent


@dataclass(frozen=True)
class Translation:
    """What the request phase decided, for the pool and for the reply phase."""

    upstream: dict[str, Any]  # the Codex /responses body
    translator: Translator
    stream: bool  # the client reads the reply as a stream
    ignored: tuple[str, ...] = ()  # parameters dropped, sorted


@dataclass(frozen=True)
class DialectSpec:
    """A client API translated onto the Codex backend."""

    # Whether this body needs the tokenizer (loading it is slow, so only when needed).
    needs_counter: Callable[[Mapping[str, Any]], bool]
    # Plan the request; raises ApiError for bad input.
    translate: Callable[[dict[str, Any], ModelFacts, TokenCounter | None], Translation]
    # The bytes that end a client's stream with `error`, when the translator itself broke.
    stream_error: Callable[[ApiError], bytes]
