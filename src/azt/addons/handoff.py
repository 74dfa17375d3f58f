"""Rewrite a flow onto the local account pool.

The client's credentials never travel further: they are dropped here, and the pool adds the
chosen account's. The pool's reply is streamed through as is, so it must arrive uncompressed.
"""

from mitmproxy import http

from azt.addons.flowstate import INTERCEPTED, ROUTED
from azt.pool.dispatch import AFFINITY_HEADER, NEEDS_HEADER, OWNER_HEADER
from azt.pool.server import SECRET_HEADER, WHOLE_REPLY_HEADER
from azt.records.served import REQUEST_ID_HEADER

# Request headers that must not reach the pool (credentials, encodings already undone).
_DROPPED_HEADERS = (
    "authorization",
    "chatgpt-account-id",
    "cookie",
    "proxy-authorization",
    "x-api-key",
    "api-key",
    "content-encoding",
    "content-length",
)


def _query(path: str) -> str:
    _, sep, query = path.partition("?")
    return sep + query


PUBLIC_BASE_HEADER = "x-azt-public-base"

# Conversation ids clients send as headers; the first found keeps a conversation on one account.
_SESSION_HEADERS = ("session-id", "session_id", "conversation_id", "thread-id", "thread_id")


def affinity_key(body: dict[str, object] | None, headers: http.Headers) -> str | None:
    """What ties requests of one conversation together: the prompt cache key or session id.

    Keeping them on one account keeps the upstream prompt cache warm.
    """
    key = (body or {}).get("prompt_cache_key")
    if isinstance(key, str) and key:
        return key
    return next((headers[name] for name in _SESSION_HEADERS if headers.get(name)), None)


def public_base(flow: http.HTTPFlow) -> str:
    """Where the client reached azt, for links it can follow back (image URLs).

    The reverse listener has already pointed the Host header at the pool, so the address is
    the listener's own; an intercepted request names the OpenAI host it was for.
    """
    if flow.metadata.get(INTERCEPTED):
        return f"https://{flow.metadata[INTERCEPTED]}"
    host, port = flow.client_conn.sockname[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def hand_to_pool(
    flow: http.HTTPFlow,
    pool_path: str,
    pool_port: int,
    secret: str,
    *,
    affinity: str | None = None,
    owner: str | None = None,
    needs: str | None = None,
    whole_reply: bool = False,
) -> None:
    """Send the flow to the pool; `affinity`, `owner` and `needs` steer which account serves.

    `whole_reply` tells the pool that the reply is read only once complete (a non-streaming
    client), so it may send it in one piece.
    """
    request = flow.request
    for name in (
        *_DROPPED_HEADERS,
        AFFINITY_HEADER,
        OWNER_HEADER,
        NEEDS_HEADER,
        PUBLIC_BASE_HEADER,
        REQUEST_ID_HEADER,
        WHOLE_REPLY_HEADER,
    ):
        request.headers.pop(name, None)
    request.headers[REQUEST_ID_HEADER] = flow.id  # the pool reports what it did under this id
    request.headers[PUBLIC_BASE_HEADER] = public_base(flow)
    if needs:
        request.headers[NEEDS_HEADER] = needs
    if affinity:
        request.headers[AFFINITY_HEADER] = affinity
    if owner:
        request.headers[OWNER_HEADER] = owner
    if whole_reply:
        request.headers[WHOLE_REPLY_HEADER] = "1"
    if request.raw_content:
        request.headers["content-length"] = str(len(request.raw_content))
    request.scheme = "http"
    request.host = "127.0.0.1"
    request.port = pool_port
    request.path = pool_path + _query(request.path)
    request.headers[SECRET_HEADER] = secret
    request.headers["accept-encoding"] = "identity"
    flow.metadata[ROUTED] = True
