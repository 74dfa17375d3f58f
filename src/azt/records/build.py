"""A request's record, built from its `Exchange` alone when its flow ends.

Some fields hold text a client or the upstream chose (a model name, a version from a
User-Agent, an error code, previews). Each is cut to a bounded length and made valid,
printable Unicode here, so a record can always be written, rendered as a metric and logged;
a model name azt does not know is recorded as `unknown`, so junk names cannot grow the
statistics without bound.
"""

import re
import time

from azt.exchange import Exchange
from azt.records.prices import PriceTable
from azt.records.record import IMAGE_TOOL, IMAGES_API, RequestRecord
from azt.records.redact import last_user_text, preview
from azt.routes import Dialect

UNMATCHED = "unmatched"  # the endpoint of requests no route matched (paths are not kept)
UNKNOWN_MODEL = "unknown"  # a model named by the client that azt does not know
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def safe_text(value: str | None, limit: int) -> str | None:
    """`value` cut to `limit` characters, control characters and lone surrogates replaced."""
    if value is None:
        return None
    return _UNPRINTABLE.sub("\ufffd", value[:limit])


def build_record(
    exchange: Exchange, *, prices: PriceTable | None = None, previews: bool = False
) -> RequestRecord:
    """The record of a finished exchange; `prices` gives its equivalent API cost."""
    route = exchange.route
    images_api = route is not None and route.dialect is Dialect.IMAGES
    usage = exchange.image_usage if images_api else exchange.usage
    usage = usage.counts() if usage is not None else None
    requested = exchange.model_requested
    if requested is not None and not exchange.model_known:
        requested = UNKNOWN_MODEL
    model = exchange.model_served or requested
    cost = None
    if prices is not None:
        if images_api:
            cost = prices.cost(None, None, exchange.image_usage, image_model=exchange.model_served)
        else:
            cost = prices.cost(model, exchange.usage, exchange.image_usage)
    ended = exchange.ended if exchange.ended is not None else time.monotonic()
    first_byte = exchange.first_byte
    image_route = IMAGES_API if images_api else IMAGE_TOOL if exchange.image_count else None
    return RequestRecord(
        id=exchange.id,
        started_at=exchange.started_at,
        ingress=exchange.client.ingress,
        client=safe_text(exchange.client.address, 64) or "",
        source=exchange.source.name,
        source_version=safe_text(exchange.source.version, 32),
        method=exchange.method,
        endpoint=route.name if route else UNMATCHED,
        dialect=route.dialect.value if route else UNMATCHED,
        stream=exchange.streamed,
        model_requested=safe_text(requested, 128),
        model_served=safe_text(exchange.model_served, 128),
        account=exchange.accounts[0] if exchange.accounts else None,
        status=exchange.status,
        error_type=safe_text(exchange.error, 64),
        attempts=exchange.attempts,
        duration_ms=(ended - exchange.started) * 1000,
        ttfb_ms=(first_byte - exchange.started) * 1000 if first_byte is not None else None,
        usage=usage,
        image_count=exchange.image_count,
        image_route=image_route,
        cost_micro_usd=cost,
        preview_in=safe_text(preview(last_user_text(exchange.body)), 400) if previews else None,
        preview_out=safe_text(preview(exchange.output_head), 400) if previews else None,
    )
