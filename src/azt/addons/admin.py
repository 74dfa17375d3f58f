"""The gateway's own read-only API: usage summary, request log, and Prometheus metrics.

Answered only on the reverse listener, to clients on this machine, and only for a local
Host name: another machine, a web page using DNS rebinding, or an app going through the
proxy listener gets nothing.
"""

import ipaddress
import json
import math
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from mitmproxy import http

from azt.addons.flowstate import answer_locally, claim, exchange_of, fail_closed, respond_error
from azt.errors import ApiError
from azt.metrics import CONTENT_TYPE, Metrics, PoolSnapshot
from azt.records.periods import parse_since
from azt.records.recorder import Recorder
from azt.routes import Handler
from azt.store.requests import RequestFilter

_MAX_INT = 2**63 - 1
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def refusal(flow: http.HTTPFlow) -> ApiError | None:
    """Why this client may not use the admin API, or None when it may."""
    exchange = exchange_of(flow)
    if exchange is not None and exchange.intercepted_host:
        path = flow.request.path.split("?", 1)[0]
        return ApiError(404, f"Unknown route: {flow.request.method} {path}", code="unknown_route")
    peer = flow.client_conn.peername[0] if flow.client_conn.peername else ""
    if not _is_loopback(str(peer)):
        return ApiError(
            403, "The admin API answers clients on this machine only.", code="forbidden"
        )
    host = _host_name(flow.request.headers.get("host", ""))
    if host and host not in _LOCAL_HOSTS and not _is_loopback(host):
        return ApiError(403, "The admin API answers only to a local Host name.", code="forbidden")
    return None


def _int_param(query: Any, name: str, default: int | None = None) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"`{name}` must be an integer.", param=name) from None
    if not 0 <= value <= _MAX_INT:  # what SQLite can compare with
        raise ApiError(400, f"`{name}` must be between 0 and {_MAX_INT}.", param=name)
    return value


def request_filter(query: Any) -> RequestFilter:
    limit = _int_param(query, "limit", 50)
    assert limit is not None
    if not 1 <= limit <= 1000:
        raise ApiError(400, "`limit` must be between 1 and 1000.", param="limit")
    since = query.get("since")
    since_ts: float | None = None
    if since:
        try:
            since_ts = float(since)
        except ValueError:
            day = since_day(since)
            since_ts = datetime(day.year, day.month, day.day).timestamp()
        if not math.isfinite(since_ts):
            raise ApiError(400, "`since` must be a finite time.", param="since")
    errors = (query.get("errors") or "").lower()
    if errors not in ("", "0", "1", "true", "false"):
        raise ApiError(400, "`errors` must be true or false.", param="errors")
    return RequestFilter(
        after_seq=_int_param(query, "after_seq"),
        before_seq=_int_param(query, "before_seq"),
        since=since_ts,
        endpoint=query.get("endpoint") or None,
        model=query.get("model") or None,
        account=query.get("account") or None,
        source=query.get("source") or None,
        status=_int_param(query, "status"),
        errors_only=errors in ("1", "true"),
        limit=limit,
    )


def since_day(text: str) -> date:
    """The first day `since` covers; a 400 naming the parameter when it cannot be read."""
    try:
        return parse_since(text)
    except ValueError as e:
        raise ApiError(400, str(e), param="since") from None


class AdminApi:
    HANDLES = Handler.ADMIN

    def __init__(
        self,
        recorder: Recorder,
        metrics: Metrics,
        pool: Callable[[], Awaitable[PoolSnapshot]],
    ) -> None:
        self._recorder = recorder
        self._metrics = metrics
        self._pool = pool

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        exchange = claim(flow, Handler.ADMIN)
        if exchange is None or exchange.route is None:
            return
        route = exchange.route
        denied = refusal(flow)
        if denied is not None:
            respond_error(flow, denied)
            return
        try:
            if route.name == "admin.metrics":
                text = self._metrics.render(await self._pool())
                reply = http.Response.make(200, text, {"content-type": CONTENT_TYPE})
            elif route.name == "admin.usage":
                since = flow.request.query.get("since")
                day = since_day(since) if since else None
                reply = _json(await self._recorder.summary(day))
            else:
                reply = _json(await self._recorder.requests(request_filter(flow.request.query)))
        except ApiError as e:
            respond_error(flow, e)
            return
        answer_locally(flow, reply)


def _json(body: dict[str, Any]) -> http.Response:
    headers = {"content-type": "application/json", "cache-control": "no-store"}
    return http.Response.make(200, json.dumps(body).encode(), headers)
