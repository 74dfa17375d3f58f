"""A request's record, built from its `Exchange` alone when its flow ends."""

import time

from azt.exchange import Exchange
from azt.records.prices import PriceTable
from azt.records.record import IMAGE_TOOL, IMAGES_API, RequestRecord
from azt.records.redact import last_user_text, preview
from azt.routes import Dialect

UNMATCHED = "unmatched"  # the endpoint of requests no route matched (paths are not kept)


def build_record(
    exchange: Exchange, *, prices: PriceTable | None = None, previews: bool = False
) -> RequestRecord:
    """The record of a finished exchange; `prices` gives its equivalent API cost."""
    route = exchange.route
    images_api = route is not None and route.dialect is Dialect.IMAGES
    usage = exchange.image_usage if images_api else exchange.usage
    usage = usage.counts() if usage is not None else None
    model = exchange.model_served or exchange.model_requested
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
        client=exchange.client.address,
        source=exchange.source.name,
        source_version=exchange.source.version,
        method=exchange.method,
        endpoint=route.name if route else UNMATCHED,
        dialect=route.dialect.value if route else UNMATCHED,
        stream=exchange.streamed,
        model_requested=exchange.model_requested,
        model_served=exchange.model_served,
        account=exchange.accounts[0] if exchange.accounts else None,
        status=exchange.status,
        error_type=exchange.error,
        attempts=exchange.attempts,
        duration_ms=(ended - exchange.started) * 1000,
        ttfb_ms=(first_byte - exchange.started) * 1000 if first_byte is not None else None,
        usage=usage,
        image_count=exchange.image_count,
        image_route=image_route,
        cost_micro_usd=cost,
        preview_in=preview(last_user_text(exchange.body)) if previews else None,
        preview_out=preview(exchange.output_head) if previews else None,
    )
