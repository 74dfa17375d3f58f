"""Stream replies through, and record and log each request when its flow ends.

The ledger notes how the flow ended on its exchange (status, whether it streamed, why it
failed), then builds the record from the exchange alone. The record and the log line hold
metadata only (route, source app, model, account key, status, attempts, timings, token
counts): never a prompt, a body, or a credential.
"""

import json
import logging
import time

from mitmproxy import http

from azt.addons.flowstate import exchange_of
from azt.exchange import Exchange
from azt.records.build import UNMATCHED, build_record, safe_text
from azt.records.record import RequestRecord
from azt.records.recorder import Recorder
from azt.routes import normalise_path

logger = logging.getLogger("azt.requests")

_ERROR_BODY_LIMIT = 64 * 1024
LARGE_REPLY = 1024 * 1024


class Ledger:
    def __init__(self, recorder: Recorder | None = None) -> None:
        self._recorder = recorder

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = exchange_of(flow)
        response = flow.response
        if exchange is None or response is None:
            return
        if exchange.first_byte is None:
            exchange.first_byte = time.monotonic()
        if exchange.translation is not None and exchange.translation.stream:
            return  # the translator streams it
        if "text/event-stream" in response.headers.get("content-type", "") or _large(response):
            # Event streams go to the client as they arrive, never buffered; so do large
            # replies (a compaction, many images), which need not fit mitmproxy's body limit.
            response.stream = True

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def _finish(self, flow: http.HTTPFlow) -> None:
        exchange = exchange_of(flow)
        if exchange is None or exchange.ended is not None:
            return
        try:
            conclude(exchange, flow)
            record = build_record(
                exchange,
                prices=self._recorder.prices if self._recorder is not None else None,
                previews=self._recorder is not None and self._recorder.previews,
            )
        except Exception:  # a record must never break the reply it describes
            logger.exception("could not build the request record")
            return
        _log(exchange, record)
        route = exchange.route
        if self._recorder is not None and (route is None or route.recorded):
            self._recorder.record(record)


def conclude(exchange: Exchange, flow: http.HTTPFlow) -> None:
    """Note on the exchange how its flow ended."""
    exchange.ended = time.monotonic()
    response = flow.response
    exchange.status = response.status_code if response is not None else None
    content_type = response.headers.get("content-type", "") if response is not None else ""
    exchange.streamed = "text/event-stream" in content_type
    exchange.error = _error_type(exchange, flow)


def _log(exchange: Exchange, record: RequestRecord) -> None:
    # Unmatched requests are named by path, without the query (it may carry a key), and
    # printable: the path is the client's.
    name = record.endpoint
    if name == UNMATCHED:
        name = safe_text(normalise_path(exchange.path), 200) or "/"
    usage = record.usage
    logger.info(
        "%s %s status=%s source=%s model=%s account=%s attempts=%s %.0fms%s%s",
        record.method,
        name,
        record.status if record.status is not None else "-",
        record.source,
        record.model or "-",
        record.account or "-",
        record.attempts or "-",
        record.duration_ms,
        f" tokens={usage.input}/{usage.output}" if usage else "",
        f" error={record.error_type}" if record.error_type else "",
    )


def _large(response: http.Response) -> bool:
    """A reply of unknown length or over LARGE_REPLY bytes (error bodies are far smaller)."""
    length = response.headers.get("content-length", "")
    return not length.isdigit() or int(length) > LARGE_REPLY


def _error_type(exchange: Exchange, flow: http.HTTPFlow) -> str | None:
    """Why a request failed, as a short code; None when it did not."""
    if exchange.answered is not None:
        return exchange.answered.code or exchange.answered.error_type
    if exchange.failure:
        return exchange.failure
    response = flow.response
    if response is not None and response.status_code >= 400:
        return _error_code_in(response) or f"http_{response.status_code}"
    if flow.error is not None:
        return "client_disconnected" if "client" in flow.error.msg.lower() else "connection_error"
    return None


def _error_code_in(response: http.Response) -> str | None:
    """The `error.code` (or `type`) of an OpenAI-shaped error body that was buffered."""
    if response.stream or not response.raw_content or len(response.raw_content) > _ERROR_BODY_LIMIT:
        return None
    try:
        body = json.loads(response.get_content(strict=False) or b"")
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = error.get("code") or error.get("type")
        return str(code) if code else None
    return None
