"""One request's record, and the token usage it carried.

A record is metadata: where the request came from, what it asked for, which account served
it, how it ended, how long it took and what it used. Prompts, outputs, credentials and image
data never enter it; previews exist only when the user opts in, and are redacted even then.
"""

from dataclasses import dataclass
from typing import Any

from azt.dialects.common.usage import TokenUsage

# Image work: the Images API (a forced image tool on a paid account), or a model turn that
# called the image tool itself.
IMAGES_API = "images-api"
IMAGE_TOOL = "image-tool"

INGRESSES = ("reverse", "proxy", "socks")


@dataclass(frozen=True)
class RequestRecord:
    id: str  # the gateway's flow id
    started_at: float  # unix seconds
    ingress: str  # reverse | proxy | socks
    client: str  # the client's address, without port
    source: str  # see azt.records.sources
    source_version: str | None
    method: str
    endpoint: str  # route name (e.g. chat.completions), or the bare path when unmatched
    dialect: str
    stream: bool
    model_requested: str | None
    model_served: str | None
    account: str | None  # the account key (ids, never an email)
    status: int | None  # None when the client went away before an answer
    error_type: str | None
    attempts: int
    duration_ms: float
    ttfb_ms: float | None
    usage: TokenUsage | None  # None: the upstream reported none (counted, never guessed)
    image_count: int = 0
    image_route: str | None = None
    cost_micro_usd: int | None = None  # None when unknown (no usage, or no price)
    preview_in: str | None = None  # only with --log-previews, redacted
    preview_out: str | None = None

    @property
    def failovers(self) -> int:
        return max(self.attempts - 1, 0)

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 400 and self.error_type is None

    @property
    def model(self) -> str | None:
        """The model it is counted under: the one that served it, else the one asked for."""
        return self.model_served or self.model_requested

    def as_json(self) -> dict[str, Any]:
        usage = self.usage
        return {
            "id": self.id,
            "started_at": self.started_at,
            "ingress": self.ingress,
            "client": self.client,
            "source": self.source,
            "source_version": self.source_version,
            "method": self.method,
            "endpoint": self.endpoint,
            "dialect": self.dialect,
            "stream": self.stream,
            "model_requested": self.model_requested,
            "model_served": self.model_served,
            "account": self.account,
            "status": self.status,
            "ok": self.ok,
            "error_type": self.error_type,
            "attempts": self.attempts,
            "failovers": self.failovers,
            "duration_ms": round(self.duration_ms, 3),
            "ttfb_ms": None if self.ttfb_ms is None else round(self.ttfb_ms, 3),
            "usage": None
            if usage is None
            else {
                "input_tokens": usage.input,
                "cached_tokens": usage.cached,
                "output_tokens": usage.output,
                "reasoning_tokens": usage.reasoning,
                "total_tokens": usage.total,
            },
            "image_count": self.image_count,
            "image_route": self.image_route,
            "cost_micro_usd": self.cost_micro_usd,
            **({"preview_in": self.preview_in} if self.preview_in is not None else {}),
            **({"preview_out": self.preview_out} if self.preview_out is not None else {}),
        }
