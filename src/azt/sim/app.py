"""The simulator as a Starlette app: Codex backend routes, OAuth routes and `/_sim` admin.

`create_app(state)` wires the routes; every handler reads the shared `SimState` from
`request.app.state.sim`. Event content comes from `azt.sim.stream`; this module adds what
needs the network: authentication, body decoding, status-code faults, pacing and framing.
"""

import base64
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from azt.dialects.common.intake import strict_json
from azt.encodings import DECODERS, BadEncoding, BodyTooLarge, decode_body, encodings_of
from azt.errors import ApiError
from azt.sim import admin, oauth
from azt.sim.catalog import SLUGS, models_etag, models_payload
from azt.sim.faults import Fault
from azt.sim.faults import Route as FaultRoute
from azt.sim.images import image_tool_rejection
from azt.sim.limits import exhausted, rate_limit_headers, usage_payload
from azt.sim.state import RecordedRequest, SimState
from azt.sim.stream import (
    IMAGE_EVENT,
    Ending,
    StreamOptions,
    compact_response,
    failure_message,
    response_events,
)
from azt.sim.tokens import AccessDenied, SimAccount

# Fields the real backend refuses on /responses, checked in this order.
UNSUPPORTED_PARAMETERS = (
    "max_output_tokens",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "metadata",
    "user",
    "truncation",
    "safety_identifier",
    "prompt_cache_retention",
    "stream_options",
    "previous_response_id",
    "n",
    "stop",
    "logprobs",
)

CLOUDFLARE_PAGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow"></head><body>
<div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">chatgpt.com</h1>
<h2 class="h2" id="challenge-running">Checking if the site connection is secure</h2>
<noscript><div class="h2">Enable JavaScript and cookies to continue</div></noscript>
</div></div><!-- azt sim: Cloudflare-style challenge --></body></html>
"""


IMAGE_COMPLETED = f"{IMAGE_EVENT}.completed"


class SimulatedDrop(Exception):
    """Raised inside a streaming body so the server cuts the connection mid-response."""


def sim(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


def detail(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


# --- request intake --------------------------------------------------------------------------


class BodyError(ValueError):
    """A request body that cannot be decoded; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# The largest decoded body the simulator takes; the real backend's limit is not published.
BODY_LIMIT = 256 * 1024 * 1024


def decode_content(raw: bytes, content_encoding: str | None) -> bytes:
    """Undo `Content-Encoding` (zstd, gzip, deflate, br; several are applied in order)."""
    header = content_encoding or ""
    unknown = [coding for coding in encodings_of(header) if coding not in DECODERS]
    if unknown:
        raise BodyError(415, f"Unsupported Content-Encoding: {unknown[0]}")
    try:
        return decode_body(raw, header, BODY_LIMIT)
    except BodyTooLarge as e:
        raise BodyError(413, f"The request body is too large: {e}") from e
    except BadEncoding as e:
        raise BodyError(400, f"Could not decode the {header.strip()} request body: {e}") from e


def parse_json(data: bytes) -> Any:
    """The body as strict JSON: the backend refuses what is not (NaN, lone surrogates, ...)."""
    try:
        return strict_json(data)
    except ApiError as e:
        raise BodyError(400, f"Could not parse the request body as JSON: {e.message}") from e


@dataclass(frozen=True)
class Incoming:
    account: SimAccount
    body: Any


def _unauthorized(expired: bool = False) -> JSONResponse:
    headers = {}
    if expired:
        # The backend explains 401s in a base64 JSON header; clients log it.
        error = {"error": {"code": "token_expired", "message": "Access token expired"}}
        headers["x-error-json"] = base64.b64encode(json.dumps(error).encode()).decode()
    return detail(401, "Unauthorized", headers)


def authenticate(state: SimState, request: Request) -> SimAccount | JSONResponse:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized()
    try:
        account_id = state.tokens.account_for_access_token(token.strip())
    except AccessDenied as e:
        return _unauthorized(expired=e.reason == "expired")
    claimed = request.headers.get("chatgpt-account-id")
    if claimed is not None and claimed != account_id:
        return _unauthorized()
    return state.accounts[account_id]


async def intake(request: Request, *, with_body: bool) -> Incoming | Response:
    """Authenticate, decode and record a backend request."""
    state = sim(request)
    who = authenticate(state, request)
    body: Any = None
    problem: BodyError | None = None
    if with_body:
        try:
            raw = decode_content(await request.body(), request.headers.get("content-encoding"))
            body = parse_json(raw)
        except BodyError as e:
            problem = e
    state.requests.append(
        RecordedRequest(
            method=request.method,
            path=request.url.path,
            headers={name: value for name, value in request.headers.items()},
            body=body,
            account_id=who.account_id if isinstance(who, SimAccount) else None,
            at=state.clock(),
            query=request.url.query,
        )
    )
    if not isinstance(who, SimAccount):
        return who
    if problem is not None:
        return detail(problem.status, str(problem))
    return Incoming(who, body)


# --- validation ------------------------------------------------------------------------------


def rejection(body: Any) -> dict[str, Any] | None:
    """The 400 body the real backend gives this /responses body, or None if it is accepted."""
    if not isinstance(body, dict):
        return {"detail": "Request body must be a JSON object"}
    if body.get("store") is not False:
        return {"detail": "Store must be set to false"}
    if body.get("stream") is not True:
        return {"detail": "Stream must be set to true"}
    if not isinstance(body.get("instructions"), str):
        return {"detail": "Instructions are required"}
    for name in UNSUPPORTED_PARAMETERS:
        if name in body:
            return {"detail": f"Unsupported parameter: {name}"}
    return (
        tool_rejection(body.get("tools"))
        or image_tool_rejection(body.get("tools"))
        or model_rejection(body.get("model"))
        or image_rejection(body.get("input"))
    )


def tool_rejection(tools: object) -> dict[str, Any] | None:
    if not isinstance(tools, list):
        return None
    for index, tool in enumerate(tools):
        # A Chat Completions tool nests its name under "function"; Responses wants it flat.
        if isinstance(tool, dict) and tool.get("type") == "function" and "name" not in tool:
            param = f"tools[{index}].name"
            return {
                "error": {
                    "message": f"Missing required parameter: '{param}'.",
                    "type": "invalid_request_error",
                    "param": param,
                    "code": "missing_required_parameter",
                }
            }
    return None


def model_rejection(model: object) -> dict[str, Any] | None:
    if model in SLUGS:
        return None
    return {
        "detail": f"The '{model}' model is not supported when using Codex with a ChatGPT account."
    }


_IMAGE_URL = re.compile(r"^(?:https?://|data:image/[\w.+-]+;base64,)", re.IGNORECASE)


def image_rejection(items: object) -> dict[str, Any] | None:
    """A 400 for an `input_image` whose `image_url` is neither http(s) nor a base64 image."""
    if not isinstance(items, list):
        return None
    for where, part in _input_parts(items):
        if part.get("type") != "input_image" or "image_url" not in part:
            continue
        url = part["image_url"]
        if not isinstance(url, str) or not _IMAGE_URL.match(url):
            return {
                "detail": f"Invalid image URL at {where}.image_url: expected an http(s) URL or "
                "a base64 data URL of an image (data:image/<type>;base64,...)."
            }
    return None


def _input_parts(items: list[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, part) for every content part of messages and tool outputs."""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        parts = item.get("content") if "content" in item else item.get("output")
        if not isinstance(parts, list):
            continue
        field = "content" if "content" in item else "output"
        for position, part in enumerate(parts):
            if isinstance(part, dict):
                yield f"input[{index}].{field}[{position}]", part


def compact_rejection(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return {"detail": "Request body must be a JSON object"}
    return (
        tool_rejection(body.get("tools"))
        or image_tool_rejection(body.get("tools"))
        or model_rejection(body.get("model"))
    )


# --- headers and status faults ---------------------------------------------------------------


def limit_headers(state: SimState, account: SimAccount) -> dict[str, str]:
    primary, secondary = state.windows(account.account_id)
    return rate_limit_headers(account.plan, primary, secondary, state.usage[account.account_id])


def backend_headers(state: SimState, account: SimAccount) -> dict[str, str]:
    """Headers on every /responses and /responses/compact reply past authentication."""
    return {
        **limit_headers(state, account),
        "x-oai-request-id": f"req_sim{len(state.requests):06d}",
    }


def _openai_error(
    status: int, message: str, kind: str, code: str, headers: dict[str, str]
) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def fault_reply(state: SimState, account: SimAccount, fault: Fault | None) -> Response | None:
    """The non-200 answer a status-code fault calls for, or None for stream faults."""
    if fault is None:
        return None
    params = fault.params
    headers = backend_headers(state, account)
    match fault.kind:
        case "usage_limit":
            return usage_limit_reply(state, account, int(params["resets_in_seconds"]), params)
        case "usage_not_included":
            error = {
                "type": "usage_not_included",
                "message": failure_message("usage_not_included"),
                "plan_type": account.plan,
            }
            return JSONResponse({"error": error}, status_code=429, headers=headers)
        case "rate_limited":
            wait = params["retry_after"]
            headers["retry-after"] = str(wait)
            message = f"Rate limit reached for requests. Please try again in {wait}s."
            return _openai_error(429, message, "requests", "rate_limit_exceeded", headers)
        case "unauthorized":
            return detail(401, "Unauthorized")
        case "server_error":
            message = failure_message("server_error")
            status = int(params["status"])
            return _openai_error(status, message, "server_error", "server_error", headers)
        case "overloaded":
            code = str(params["code"])
            message = failure_message(code)
            return _openai_error(503, message, "service_unavailable_error", code, headers)
        case "html_403":
            # Cloudflare answers before the backend: none of the backend's headers.
            cf = {"server": "cloudflare", "cf-mitigated": "challenge", "cf-ray": "8f0000-SIM"}
            return HTMLResponse(CLOUDFLARE_PAGE, status_code=403, headers=cf)
    return None


def usage_limit_reply(
    state: SimState, account: SimAccount, resets_in: int, params: dict[str, Any]
) -> JSONResponse:
    now = time.time()
    primary, secondary = state.windows(account.account_id, now)
    primary = exhausted(primary, resets_in, now)
    headers = rate_limit_headers(account.plan, primary, secondary, state.usage[account.account_id])
    headers["x-codex-active-limit"] = "codex"
    headers["x-oai-request-id"] = f"req_sim{len(state.requests):06d}"
    error = {
        "type": "usage_limit_reached",
        "message": "The usage limit has been reached",
        "plan_type": params.get("plan_type") or account.plan,
        "resets_at": primary.reset_at,
        "resets_in_seconds": resets_in,
    }
    return JSONResponse({"error": error}, status_code=429, headers=headers)


async def take_fault(state: SimState, account: SimAccount, route: FaultRoute) -> Fault | None:
    fault = state.faults.take(account.account_id, route)
    if fault is not None and fault.kind == "slow_headers":
        await state.sleep(float(fault.params["seconds"]))
        return None
    return fault


# --- streaming -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pacing:
    """What the stream does on the wire, beyond its events."""

    drop_after: int | None = None
    stall: float = 0.0
    content_type: bool = True


def stream_plan(fault: Fault | None, number: int, created_at: int) -> tuple[StreamOptions, Pacing]:
    """Turn a stream fault into event options (pure shapes) and pacing (wire behaviour)."""
    options = StreamOptions(number=number, created_at=created_at)
    p = fault.params if fault is not None else {}
    match fault.kind if fault is not None else None:
        case "overloaded_in_stream":
            ending = Ending("failed", "server_is_overloaded", early=True)
            return replace(options, ending=ending), Pacing()
        case "failed_in_stream":
            return replace(options, ending=Ending("failed", p["code"], p["message"])), Pacing()
        case "incomplete":
            return replace(options, ending=Ending("incomplete", reason=p["reason"])), Pacing()
        case "image_failed":
            ending = Ending("failed", p["code"], p["message"], in_image=True)
            return replace(options, ending=ending), Pacing()
        case "error_event":
            return replace(options, ending=Ending("error", p["code"], p["message"])), Pacing()
        case "giant_delta":
            return replace(options, giant_delta=int(p["size"])), Pacing()
        case "text_only_in_done":
            return replace(options, text_only_in_done=True), Pacing()
        case "keepalive":
            return replace(options, keepalive=True), Pacing()
        case "no_usage":
            return replace(options, no_usage=True), Pacing()
        case "drop_mid_stream":
            return options, Pacing(drop_after=int(p["after_events"]))
        case "stall":
            return options, Pacing(stall=float(p["seconds"]))
        case "no_content_type":
            return options, Pacing(content_type=False)
    return options, Pacing()


def sse_frame(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


async def sse_body(
    state: SimState, response_id: str, events: Iterator[dict[str, Any]], pacing: Pacing
) -> AsyncIterator[bytes]:
    # Events keep a fixed schedule: a late event (a busy machine) does not push back every
    # event after it, so a benchmark can compare arrival times with the schedule.
    clock = state.clock
    due = clock()
    for index, event in enumerate(events):
        if pacing.drop_after is not None and index >= pacing.drop_after:
            raise SimulatedDrop(f"azt sim: dropping {response_id} after {index} events")
        if index:
            due += state.event_delay
            if event["type"] == IMAGE_COMPLETED:
                # The image takes its time from now, however late the event before it was.
                due = max(due, clock()) + state.image_delay
            await state.sleep(max(0.0, due - clock()))
        state.produced.append((response_id, event["type"], clock()))
        yield sse_frame(event)
        if pacing.stall and event["type"] == "response.created":
            await state.sleep(pacing.stall)
            due += pacing.stall


def stream_reply(
    state: SimState, request: Request, incoming: Incoming, fault: Fault | None
) -> StreamingResponse:
    number = state.next_response_number()
    options, pacing = stream_plan(fault, number, int(time.time()))
    options = replace(options, plan=incoming.account.plan)
    body = incoming.body
    headers = {
        **backend_headers(state, incoming.account),
        "x-codex-turn-state": turn_state(request, number),
        "x-models-etag": models_etag(),
        "openai-model": str(body.get("model")),
        "cache-control": "no-cache",
    }
    events = response_events(body, options)
    response_id = f"resp_sim{number:06d}"
    return StreamingResponse(
        sse_body(state, response_id, events, pacing),
        headers=headers,
        media_type="text/event-stream" if pacing.content_type else None,
    )


def turn_state(request: Request, number: int) -> str:
    # Within a turn the client echoes the token back; keep it, as sticky routing would.
    return request.headers.get("x-codex-turn-state") or f"ts_sim{number:06d}"


# --- backend routes --------------------------------------------------------------------------


async def responses(request: Request) -> Response:
    incoming = await intake(request, with_body=True)
    if isinstance(incoming, Response):
        return incoming
    state = sim(request)
    problem = rejection(incoming.body)
    if problem is not None:
        return JSONResponse(
            problem, status_code=400, headers=backend_headers(state, incoming.account)
        )
    fault = await take_fault(state, incoming.account, "responses")
    return fault_reply(state, incoming.account, fault) or stream_reply(
        state, request, incoming, fault
    )


async def compact(request: Request) -> Response:
    incoming = await intake(request, with_body=True)
    if isinstance(incoming, Response):
        return incoming
    state = sim(request)
    headers = backend_headers(state, incoming.account)
    problem = compact_rejection(incoming.body)
    if problem is not None:
        return JSONResponse(problem, status_code=400, headers=headers)
    fault = await take_fault(state, incoming.account, "compact")
    reply = fault_reply(state, incoming.account, fault)
    if reply is not None:
        return reply
    number = state.next_response_number()
    headers["x-codex-turn-state"] = turn_state(request, number)
    return JSONResponse(compact_response(incoming.body, number), headers=headers)


async def models(request: Request) -> Response:
    incoming = await intake(request, with_body=False)
    if isinstance(incoming, Response):
        return incoming
    return JSONResponse(models_payload(), headers={"etag": models_etag()})


async def usage(request: Request) -> Response:
    incoming = await intake(request, with_body=False)
    if isinstance(incoming, Response):
        return incoming
    state = sim(request)
    account = incoming.account
    now = time.time()
    primary, secondary = state.windows(account.account_id, now)
    limit = next(
        (f for f in state.faults.peek(account.account_id) if f.kind == "usage_limit"), None
    )
    if limit is not None:
        # An armed usage-limit fault means the account is out; say so here too.
        primary = exhausted(primary, int(limit.params["resets_in_seconds"]), now)
    payload = usage_payload(
        email=account.email,
        account_id=account.account_id,
        user_id=account.user_id,
        plan=account.plan,
        primary=primary,
        secondary=secondary,
        usage=state.usage[account.account_id],
    )
    return JSONResponse(payload)


async def responses_websocket(websocket: WebSocket) -> None:
    """Refuse the WebSocket transport with 426, which makes the Codex CLI use HTTP at once.

    The real backend speaks WebSocket; the simulator does not, and any other refusal would
    cost the CLI several backed-off retries before it falls back.
    """
    refusal = detail(426, "The azt simulator serves /responses over HTTP only.")
    try:
        await websocket.send_denial_response(refusal)
    except RuntimeError:  # the server lacks the denial-response extension
        await websocket.close(code=1008)


# --- the app ---------------------------------------------------------------------------------


async def http_error(request: Request, exc: Exception) -> Response:
    # FastAPI-style {"detail": ...} bodies, like the real backend's 404s and 405s.
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


class _DropFilter(logging.Filter):
    """Keep deliberate mid-stream drops out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        while error is not None:
            if isinstance(error, SimulatedDrop):
                return False
            if isinstance(error, BaseExceptionGroup):
                return not any(isinstance(e, SimulatedDrop) for e in _leaves(error))
            error = error.__cause__ or error.__context__
        return True


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterator[BaseException]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error


def _quiet_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


ROUTES = [
    Route("/backend-api/codex/responses", responses, methods=["POST"]),
    WebSocketRoute("/backend-api/codex/responses", responses_websocket),
    Route("/backend-api/codex/responses/compact", compact, methods=["POST"]),
    Route("/backend-api/codex/models", models, methods=["GET"]),
    Route("/backend-api/wham/usage", usage, methods=["GET"]),
    Route("/api/codex/usage", usage, methods=["GET"]),
    *oauth.ROUTES,
    *admin.ROUTES,
]


def create_app(state: SimState) -> Starlette:
    """The simulator app serving `state`."""
    _quiet_drops()
    app = Starlette(routes=ROUTES, exception_handlers={HTTPException: http_error})
    app.state.sim = state
    return app
