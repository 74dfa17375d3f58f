"""Stream replies through, take the pool's routing facts off them, record and log each request.

The record and the log line hold metadata only (route, source app, model, account key,
status, attempts, timings, token counts): never a prompt, a body, or a credential.
"""

import json
import logging
import time

from mitmproxy import http

from azt.addons.flowstate import (
    ACCOUNT,
    ANSWERED,
    ATTEMPTS,
    BODY,
    PASSTHROUGH,
    ROUTED,
    STARTED,
    TRANSLATION,
    route_of,
)
from azt.errors import ApiError
from azt.pool.server import ACCOUNT_HEADER, ATTEMPTS_HEADER, SECRET_HEADER
from azt.records.record import IMAGE_TOOL, IMAGES_API, RequestRecord
from azt.records.recorder import Recorder
from azt.records.redact import last_user_text, preview
from azt.records.served import Served, ServedBoard
from azt.records.sources import Source, detect_source
from azt.routes import normalise_path

logger = logging.getLogger("azt.requests")

SOURCE = "azt.source"  # the client app, named from the request's own headers
FIRST_BYTE = "azt.first_byte"  # time.monotonic() when the reply's headers arrived
RECORDED = "azt.recorded"

UNMATCHED = "unmatched"  # the endpoint of requests no route matched (paths are not kept)
_INGRESS = {"reverse": "reverse", "regular": "proxy", "socks5": "socks"}
_ERROR_BODY_LIMIT = 64 * 1024


class Ledger:
    def __init__(self, recorder: Recorder | None = None, board: ServedBoard | None = None) -> None:
        self._recorder = recorder
        self._board = board if board is not None else ServedBoard()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get(PASSTHROUGH):
            return
        route = route_of(flow)
        codex = route is not None and route.kind == "codex"
        flow.metadata[SOURCE] = detect_source(flow.request.headers, codex_route=codex)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        response = flow.response
        if response is None:
            return
        flow.metadata.setdefault(FIRST_BYTE, time.monotonic())
        if flow.metadata.get(ROUTED):
            flow.metadata[ACCOUNT] = response.headers.pop(ACCOUNT_HEADER, None)
            flow.metadata[ATTEMPTS] = response.headers.pop(ATTEMPTS_HEADER, None)
            response.headers.pop(SECRET_HEADER, None)
        translated = TRANSLATION in flow.metadata  # the translator decides for those
        if not translated and "text/event-stream" in response.headers.get("content-type", ""):
            # Event streams go to the client as they arrive, never buffered.
            response.stream = True

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def _finish(self, flow: http.HTTPFlow) -> None:
        if flow.metadata.get(PASSTHROUGH) or flow.metadata.get(RECORDED):
            return
        flow.metadata[RECORDED] = True
        try:
            record = self._record_of(flow)
        except Exception:  # a record must never break the reply it describes
            logger.exception("could not build the request record")
            return
        self._log(flow, record)
        route = route_of(flow)
        if self._recorder is not None and (route is None or route.recorded):
            self._recorder.record(record)

    def _record_of(self, flow: http.HTTPFlow) -> RequestRecord:
        route = route_of(flow)
        served = self._board.take(flow.id) or Served()
        response = flow.response
        started = flow.metadata.get(STARTED, time.monotonic())
        first_byte = flow.metadata.get(FIRST_BYTE)
        body = flow.metadata.get(BODY) or {}
        source: Source = flow.metadata.get(SOURCE) or detect_source(flow.request.headers)
        images_api = route is not None and route.kind == "images"
        model_requested = body.get("model") if isinstance(body.get("model"), str) else None
        usage = served.image_usage if images_api else served.usage
        model = served.model or model_requested
        cost = None
        if self._recorder is not None:
            prices = self._recorder.prices
            if images_api:
                cost = prices.cost(None, None, served.image_usage, image_model=served.model)
            else:
                cost = prices.cost(model, served.usage, served.image_usage)
        previews = self._recorder is not None and self._recorder.previews
        content_type = response.headers.get("content-type", "") if response else ""
        return RequestRecord(
            id=flow.id,
            started_at=flow.request.timestamp_start,
            ingress=_INGRESS.get(flow.client_conn.proxy_mode.type_name, "reverse"),
            client=str(flow.client_conn.peername[0]) if flow.client_conn.peername else "",
            source=source.name,
            source_version=source.version,
            method=flow.request.method,
            endpoint=route.name if route else UNMATCHED,
            dialect=route.kind if route else UNMATCHED,
            stream="text/event-stream" in content_type,
            model_requested=model_requested,
            model_served=served.model,
            account=(served.accounts[0] if served.accounts else flow.metadata.get(ACCOUNT)),
            status=response.status_code if response else None,
            error_type=_error_type(flow, served),
            attempts=served.attempts or int(flow.metadata.get(ATTEMPTS) or 0),
            duration_ms=(time.monotonic() - started) * 1000,
            ttfb_ms=(first_byte - started) * 1000 if first_byte is not None else None,
            usage=usage,
            image_count=served.image_count,
            image_route=IMAGES_API if images_api else IMAGE_TOOL if served.image_count else None,
            cost_micro_usd=cost,
            preview_in=preview(last_user_text(body)) if previews else None,
            preview_out=preview(served.output_head) if previews else None,
        )

    @staticmethod
    def _log(flow: http.HTTPFlow, record: RequestRecord) -> None:
        # Unmatched requests are named by path, without the query (it may carry a key).
        name = (
            record.endpoint if record.endpoint != UNMATCHED else normalise_path(flow.request.path)
        )
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


def _error_type(flow: http.HTTPFlow, served: Served) -> str | None:
    """Why a request failed, as a short code; None when it did not."""
    answered = flow.metadata.get(ANSWERED)
    if isinstance(answered, ApiError):
        return answered.code or answered.error_type
    if served.error_code:
        return served.error_code
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
