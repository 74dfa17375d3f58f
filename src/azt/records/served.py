"""What the pool learned while serving a request, handed to the gateway's ledger by request id.

The gateway tags each request it hands to the pool with its flow id; the pool fills in a
`Served` as the request proceeds (accounts tried, the reply's model and usage), so a request
that ends early still reports what was known. Both live in one process and one event loop:
the pool finishes writing before the last byte of its reply leaves, so the ledger, which
runs when the reply has ended, always sees the final state.
"""

from collections import OrderedDict
from dataclasses import dataclass, field

from azt.records.record import TokenUsage

REQUEST_ID_HEADER = "x-azt-request-id"


@dataclass
class Served:
    """What the pool learned while serving one request."""

    accounts: list[str] = field(default_factory=list)  # every account that served a part
    attempts: int = 0
    model: str | None = None
    usage: TokenUsage | None = None
    image_usage: TokenUsage | None = None  # the image tool's own tokens
    image_count: int = 0
    error_code: str | None = None  # a failure inside a 200 stream (`response.failed`)
    output_head: str = ""  # the first output characters, kept only for opt-in previews

    def add_usage(self, usage: TokenUsage | None) -> None:
        if usage is not None:
            self.usage = usage if self.usage is None else self.usage + usage

    def add_image_usage(self, usage: TokenUsage | None) -> None:
        if usage is not None:
            self.image_usage = usage if self.image_usage is None else self.image_usage + usage


class ServedBoard:
    """Open `Served` entries by request id; bounded, so an entry nobody takes cannot leak."""

    def __init__(self, limit: int = 4096) -> None:
        self._entries: OrderedDict[str, Served] = OrderedDict()
        self._limit = limit

    def open(self, request_id: str | None) -> Served:
        """The entry for `request_id` (created on first use); untracked when there is no id."""
        if not request_id:
            return Served()
        entry = self._entries.get(request_id)
        if entry is None:
            entry = self._entries[request_id] = Served()
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(request_id)  # in use: the last to be evicted
        return entry

    def take(self, request_id: str) -> Served | None:
        return self._entries.pop(request_id, None)

    def __len__(self) -> int:
        return len(self._entries)
