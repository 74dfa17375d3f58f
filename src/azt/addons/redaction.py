"""Redacted copies of flows, for the flow file and the inspector.

A copy keeps what helps debugging (method, URL, status, timings, header names, which route and
account served) and never a credential: client keys, cookies, azt's internal `x-azt-*`
headers (the pool secret among them) and key-like query parameters are replaced by a marker.
Bodies hold prompts and outputs, so they are replaced by a note of their size unless the user
asked to keep them. The live flow's messages are never touched: it may still be on its way
somewhere.
"""

from dataclasses import dataclass

from mitmproxy import http
from mitmproxy.coretypes.serializable import Serializable
from mitmproxy.net import encoding
from mitmproxy.websocket import WebSocketData

from azt.addons.flowstate import exchange_of
from azt.dialects.common.params import IGNORED_HEADER

REDACTED = "[redacted]"

CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "chatgpt-account-id",
    }
)
INTERNAL_HEADER_PREFIX = "x-azt-"
# azt tells every client which parameters it ignored; the names of parameters are no secret.
PUBLIC_INTERNAL_HEADERS = frozenset({IGNORED_HEADER})
SECRET_QUERY_PARAMS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "code",
        "secret",
        "client_secret",
        "password",
        "sig",
        "signature",
    }
)
# Parts of header and parameter names that mark a credential under any spelling.
_SECRET_NAME_PARTS = ("api-key", "api_key", "apikey", "secret", "password", "authorization")
_SECRET_NAME_SUFFIXES = ("-token", "_token", "-key", "_key", "cookie")

BODIES_FLAG = "--flow-bodies"
REDACTED_METADATA = "azt.redacted"
# The request line as the client sent it (without the query): routed flows are rewritten onto
# the pool's paths, and a saved flow should still say what the client asked for.
CLIENT_REQUEST = "azt.client_request"


def body_note(size: int) -> bytes:
    return f"[body omitted: {size} bytes; start azt with {BODIES_FLAG} to keep bodies]".encode()


def _looks_secret(name: str) -> bool:
    return any(part in name for part in _SECRET_NAME_PARTS) or name.endswith(_SECRET_NAME_SUFFIXES)


def is_secret_header(name: str) -> bool:
    name = name.lower()
    if name.startswith(INTERNAL_HEADER_PREFIX):
        return name not in PUBLIC_INTERNAL_HEADERS
    return name in CREDENTIAL_HEADERS or _looks_secret(name)


def is_secret_query_param(name: str) -> bool:
    name = name.lower()
    return name in SECRET_QUERY_PARAMS or _looks_secret(name)


def _clone[T: Serializable](obj: T) -> T:
    # Serializable.copy() would give connections a new id; a record keeps the originals.
    return type(obj).from_state(obj.get_state())


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _redact_headers(headers: http.Headers, secrets: tuple[str, ...]) -> None:
    for name in list(headers.keys()):
        values = headers.get_all(name)
        if is_secret_header(name):
            headers.set_all(name, [REDACTED] * len(values))
        elif any(secret in value for value in values for secret in secrets):
            headers.set_all(name, [_scrub(value, secrets) for value in values])


def _redact_query(request: http.Request, secrets: tuple[str, ...]) -> None:
    query = request.query
    secret_names = [name for name in query.keys() if is_secret_query_param(name)]
    for name in secret_names:
        query.set_all(name, [REDACTED] * len(query.get_all(name)))
    if any(secret in request.path for secret in secrets):
        request.path = _scrub(request.path, secrets)


def _replace_body(message: http.Message, body: bytes) -> None:
    """Put `body` in place of the message's, leaving the headers as they were sent."""
    try:
        message.raw_content = encoding.encode(
            body, message.headers.get("content-encoding") or "identity"
        )
    except ValueError:  # an encoding mitmproxy cannot produce: store it plain
        message.raw_content = body


def safe_metadata(flow: http.HTTPFlow, keep_bodies: bool) -> dict[str, str | bool]:
    """What azt knows about the flow, reduced to plain facts that hold no secret."""
    facts: dict[str, str | bool] = {REDACTED_METADATA: True, "azt.bodies_kept": keep_bodies}
    exchange = exchange_of(flow)
    if exchange is None:  # not azt's, so not rewritten either
        facts[CLIENT_REQUEST] = f"{flow.request.method} {flow.request.path.split('?', 1)[0]}"
        facts["azt.passthrough"] = True
        return facts
    facts[CLIENT_REQUEST] = f"{exchange.method} {exchange.path}"
    if exchange.route is not None:
        facts["azt.route"] = exchange.route.name
    if exchange.handed_over:
        facts["azt.routed"] = True
    if exchange.accounts:
        facts["azt.account"] = exchange.accounts[0]
    if exchange.attempts:
        facts["azt.attempts"] = str(exchange.attempts)
    if exchange.intercepted_host:
        facts["azt.intercepted"] = exchange.intercepted_host
    if exchange.answered is not None:
        answered = exchange.answered
        facts["azt.answered"] = f"{answered.status} {answered.code or answered.error_type}"
    elif exchange.local:
        facts["azt.answered"] = "local"
    return facts


def _routing_note(flow: http.HTTPFlow) -> str:
    exchange = exchange_of(flow)
    if exchange is None or not exchange.handed_over:
        return ""
    return f"client request: {exchange.method} {exchange.path}; azt handed it to its account pool"


@dataclass(frozen=True)
class Redactor:
    """Makes the redacted copies; `known_secrets` are scrubbed wherever they appear."""

    keep_bodies: bool = False
    known_secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # An empty "secret" would match everywhere.
        object.__setattr__(self, "known_secrets", tuple(s for s in self.known_secrets if s))

    def copy(self, flow: http.HTTPFlow) -> http.HTTPFlow:
        copy = http.HTTPFlow(_clone(flow.client_conn), _clone(flow.server_conn))
        copy.id = flow.id
        copy.timestamp_created = flow.timestamp_created
        copy.marked = flow.marked
        copy.comment = flow.comment or _routing_note(flow)
        copy.is_replay = flow.is_replay
        copy.metadata = safe_metadata(flow, self.keep_bodies)
        copy.request = self._message(flow.request)
        copy.response = self._message(flow.response) if flow.response else None
        if flow.error is not None:
            copy.error = _clone(flow.error)
            copy.error.msg = _scrub(copy.error.msg, self.known_secrets)
        if flow.websocket is not None:
            copy.websocket = self._websocket(flow.websocket)
        return copy

    def _message[M: (http.Request, http.Response)](self, message: M) -> M:
        copy = _clone(message)
        _redact_headers(copy.headers, self.known_secrets)
        if copy.trailers is not None:
            _redact_headers(copy.trailers, self.known_secrets)
        if isinstance(copy, http.Request):
            _redact_query(copy, self.known_secrets)
        if not copy.raw_content:
            return copy  # nothing sent, or a streamed body mitmproxy did not keep
        if not self.keep_bodies:
            _replace_body(copy, body_note(len(copy.raw_content)))
            return copy
        content = copy.get_content(strict=False) or b""
        if any(secret.encode() in content for secret in self.known_secrets):
            scrubbed = content
            for secret in self.known_secrets:
                scrubbed = scrubbed.replace(secret.encode(), REDACTED.encode())
            _replace_body(copy, scrubbed)
        return copy

    def _websocket(self, websocket: WebSocketData) -> WebSocketData:
        copy = _clone(websocket)
        for message in copy.messages:
            if not self.keep_bodies:
                message.content = body_note(len(message.content))
            else:
                for secret in self.known_secrets:
                    message.content = message.content.replace(secret.encode(), REDACTED.encode())
        return copy
