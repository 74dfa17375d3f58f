"""One client request, from the moment azt takes it on to its record: the `Exchange`.

Every fact about a request that more than one part of azt needs lives here and nowhere else:
who sent it and how (client, ingress, source app), what it asked for (route, parsed body),
who may serve it (affinity, ownership, plan), how its reply is translated, and what the pool
did (the accounts it tried, the one that served, the model, usage and failures it saw). The
gateway's addons create and fill it; the pool finds it in-process by its id, the only routing
fact that crosses the loopback hop to the pool as a header (beside the pool's secret); the
request record is built from it alone.

Pure: no mitmproxy, httpx or starlette.
"""

import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from azt.dialects.common.translation import Translation
from azt.dialects.common.usage import TokenUsage
from azt.errors import ApiError
from azt.records.sources import Source
from azt.routes import Route


@dataclass(frozen=True)
class Client:
    """Who sent the request, as far as azt knows today."""

    address: str  # the peer's address, without port
    ingress: str = "reverse"  # the reverse (base-URL) listener, the proxy, or socks


@dataclass(eq=False)  # compared and hashed by identity
class Exchange:
    id: str  # opaque; the flow's id, so the record has it too
    client: Client
    method: str
    path: str  # as the client sent it, without the query (flows are rewritten later)
    started_at: float = field(default_factory=time.time)  # unix seconds
    started: float = field(default_factory=time.monotonic)
    intercepted_host: str | None = None  # the OpenAI host a proxy-listener request was for

    # Classification (the ingress addon), and the model asked for (the routing addons).
    route: Route | None = None
    source: Source = field(default_factory=lambda: Source("other"))
    body: dict[str, Any] | None = None  # the parsed JSON request body
    model_requested: str | None = None  # as the client named it
    model_known: bool = False  # it named a model azt knows (else records say "unknown")

    # Who may serve it (the routing addons, or the pool for image work).
    affinity: str | None = None  # soft: keep a conversation on one account
    owner: str | None = None  # hard: a response id this request continues
    needs_paid: bool = False  # only accounts on a paid plan

    # How the reply is produced and translated.
    translation: Translation | None = None
    whole_reply: bool = False  # the client reads the reply only once complete
    public_base: str = ""  # where the client reached azt, for links back (image URLs)
    ignored: tuple[str, ...] = ()  # parameters dropped, named back to the client

    # What the pool did.
    accounts: list[str] = field(default_factory=list)  # every account that served a part
    attempts: int = 0
    model_served: str | None = None
    usage: TokenUsage | None = None
    image_usage: TokenUsage | None = None  # the image tool's own tokens
    image_count: int = 0
    failure: str | None = None  # a failure code inside a 200 reply (`response.failed`)
    output_head: str = ""  # the first output characters, kept only for opt-in previews

    # How it ended.
    handed_over: bool = False  # rewritten onto the pool
    answered: ApiError | None = None  # the gateway's own error answer
    local: bool = False  # answered by the gateway itself (model list, admin API)
    first_byte: float | None = None  # time.monotonic() when the reply's headers arrived
    status: int | None = None  # None when the client went away before an answer
    streamed: bool = False  # the reply was an event stream
    error: str | None = None  # why it failed, as a short code; None when it did not
    ended: float | None = None  # time.monotonic() when the flow ended

    def note_attempt(self) -> None:
        self.attempts += 1

    def note_served_by(self, account_key: str) -> None:
        self.accounts.append(account_key)

    def add_usage(self, usage: TokenUsage | None) -> None:
        if usage is not None:
            self.usage = usage if self.usage is None else self.usage + usage

    def add_image_usage(self, usage: TokenUsage | None) -> None:
        if usage is not None:
            self.image_usage = usage if self.image_usage is None else self.image_usage + usage


class Exchanges:
    """The exchanges handed to the pool, by id.

    Held weakly: an exchange lives as long as its flow (or a pool call using it), so an entry
    can never outlive its request, whatever way the request ends.
    """

    def __init__(self) -> None:
        self._by_id: weakref.WeakValueDictionary[str, Exchange] = weakref.WeakValueDictionary()

    def register(self, exchange: Exchange) -> None:
        self._by_id[exchange.id] = exchange

    def find(self, exchange_id: str | None) -> Exchange | None:
        return self._by_id.get(exchange_id) if exchange_id else None

    def __len__(self) -> int:
        return len(self._by_id)
