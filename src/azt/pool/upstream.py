"""Talking to the Codex backend: the shared client, the headers that cross, and its errors.

This is azt's one boundary with httpx for backend calls: `Upstream.send` and the reply it
returns turn every httpx exception into an `UpstreamError`, so the pool reasons about
failures in its own terms:

    UpstreamError          the backend could not be reached, or its reply broke off
    ├── UpstreamTimeout    no reply, or no data for the idle timeout
    └── UpstreamBroken     the connection failed, was refused, or broke

The client takes an httpx transport, so the failover core runs in tests against
`httpx.MockTransport` handlers, without sockets.
"""

import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, CookiePolicy
from urllib.request import Request

import httpx

from azt import __version__
from azt.config import Settings
from azt.pool.accounts import Account
from azt.pool.scheduler import PAID_PLANS_EXCLUDED


class UpstreamError(Exception):
    """The Codex backend could not be reached, or its reply broke off."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UpstreamTimeout(UpstreamError):
    """No reply within the connect timeout, or no data for the idle timeout."""


class UpstreamBroken(UpstreamError):
    """The connection failed, was refused or reset, or the reply was closed under the reader."""


def _mapped(error: Exception) -> UpstreamError:
    """The azt error for an httpx exception (chained by the caller)."""
    if isinstance(error, httpx.TimeoutException):
        return UpstreamTimeout("timed out")
    name = type(error).__name__
    text = str(error) or name
    return UpstreamBroken(f"{name}: {text}" if text != name else text)


_HTTPX_ERRORS = (httpx.HTTPError, httpx.StreamError)


@dataclass(frozen=True)
class UpstreamCall:
    method: str
    path: str  # relative to the Codex base URL, e.g. "/responses"
    headers: Mapping[str, str]
    body: bytes | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False  # an SSE reply: hold it until content arrives, then stream

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name), None)


class UpstreamReply:
    """A backend reply whose headers have arrived; its body is read through `chunks`."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._closed = False
        self.status_code = response.status_code
        self.headers = response.headers
        self.chunks: AsyncIterator[bytes] = self._body()  # one pass over the body

    async def _body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_bytes():
                yield chunk
                if self._closed:  # closed while the reader was away (a drain, say)
                    raise UpstreamBroken("the reply was closed")
        except _HTTPX_ERRORS as e:
            raise _mapped(e) from e

    async def read_capped(self, limit: int) -> bytes:
        """Up to `limit` bytes of the body (an error body, say); then the reply is closed."""
        body = b""
        try:
            async for chunk in self.chunks:
                body += chunk
                if len(body) >= limit:
                    break
        except UpstreamError:
            pass
        finally:
            await self.aclose()
        return body[:limit]

    async def aclose(self) -> None:
        """Close the reply; a reader of `chunks` (a relay) then gets UpstreamBroken."""
        self._closed = True
        await self._response.aclose()


# Client headers the Codex backend understands. Everything else (the client's own
# Authorization above all) stays on this side.
FORWARDED_REQUEST_HEADERS = frozenset(
    {
        "accept",
        "content-type",
        "originator",
        "user-agent",
        "version",
        "openai-beta",
        "session-id",
        "session_id",
        "thread-id",
        "thread_id",
        "conversation_id",
        "x-client-request-id",
        "x-codex-window-id",
        "x-codex-turn-metadata",
        "x-codex-beta-features",
        "x-codex-turn-state",
        "x-codex-parent-thread-id",
        "x-codex-installation-id",
        "x-codex-inference-call-id",
        "x-openai-subagent",
        "x-openai-memgen-request",
        "x-openai-internal-codex-responses-lite",
        "x-openai-internal-codex-residency",
        "x-oai-attestation",
        "traceparent",
        "tracestate",
    }
)

# Backend reply headers clients read (rate limits, turn state, model etag, request ids).
FORWARDED_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "etag",
        "x-models-etag",
        "openai-model",
        "x-reasoning-included",
        "x-request-id",
        "x-oai-request-id",
        "cf-ray",
        "retry-after",
    }
)


def request_headers(incoming: Mapping[str, str], account: Account) -> dict[str, str]:
    """The headers to send upstream for `account`: forwarded client headers plus its auth."""
    headers = {k: v for k, v in incoming.items() if k.lower() in FORWARDED_REQUEST_HEADERS}
    lowered = {k.lower() for k in headers}
    if "originator" not in lowered:
        headers["originator"] = "azt"
    if "user-agent" not in lowered:
        headers["user-agent"] = f"azt/{__version__}"
    headers["authorization"] = f"Bearer {account.access_token}"
    headers["chatgpt-account-id"] = account.chatgpt_account_id
    return headers


def strip_image_tool(body: bytes) -> bytes:
    """The body without the `image_generation` tool, for accounts whose plan lacks it.

    The Codex CLI offers that tool on every turn; a free account would otherwise refuse or
    misbehave on ordinary text turns. A `tool_choice` that forced the tool becomes "auto".
    """
    if b"image_generation" not in body:
        return body
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    tools = payload.get("tools") if isinstance(payload, dict) else None
    if not isinstance(tools, list):
        return body
    kept = [t for t in tools if not (isinstance(t, dict) and t.get("type") == "image_generation")]
    if len(kept) == len(tools):
        return body
    payload["tools"] = kept
    choice = payload.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "image_generation":
        payload["tool_choice"] = "auto"
    return json.dumps(payload, ensure_ascii=False).encode()


def response_headers(upstream: httpx.Headers) -> dict[str, str]:
    return {
        k: v
        for k, v in upstream.items()
        if k.lower() in FORWARDED_RESPONSE_HEADERS or k.lower().startswith("x-codex-")
    }


class _RefuseCookies(CookiePolicy):
    """One client serves every account: a cookie set for one must never reach another."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: object, request: Request) -> bool:
        return False

    def return_ok(self, cookie: object, request: Request) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Request) -> bool:
        return False

    def path_return_ok(self, path: str, request: Request) -> bool:
        return False


def make_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The one upstream client: HTTP/2 and keep-alive shared by every request azt serves."""
    timeout = httpx.Timeout(
        connect=settings.upstream_connect_timeout,
        read=settings.upstream_idle_timeout,
        write=settings.upstream_idle_timeout,
        pool=settings.upstream_connect_timeout,
    )
    # No cap on open connections: the pool's slots (accounts x account_max_concurrency, plus
    # the queue) already bound requests in flight, and a second, lower cap here would turn
    # long streams over HTTP/1.1 (a simulator, a plain-HTTP upstream) into pool timeouts.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    return httpx.AsyncClient(
        http2=True,
        timeout=timeout,
        limits=limits,
        follow_redirects=False,
        cookies=CookieJar(policy=_RefuseCookies()),
        transport=transport,
    )


class Upstream:
    """Sends pool calls to the Codex backend for an account."""

    def __init__(
        self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        # Also used for token refreshes (azt.pool.oauth maps its own errors).
        self.client = make_client(settings, transport)

    async def send(self, account: Account, call: UpstreamCall, deadline: float) -> UpstreamReply:
        """The reply's headers; raises `UpstreamError` when none arrive."""
        settings = self._settings
        # Waiting for the reply's headers counts against the request's shared deadline.
        remaining = max(0.1, deadline - time.monotonic())
        timeout = httpx.Timeout(
            connect=min(settings.upstream_connect_timeout, remaining),
            read=min(settings.upstream_idle_timeout, remaining),
            write=settings.upstream_idle_timeout,
            pool=min(settings.upstream_connect_timeout, remaining),
        )
        body = call.body
        if body and account.plan in PAID_PLANS_EXCLUDED:
            body = strip_image_tool(body)
        request = self.client.build_request(
            call.method,
            join(settings.codex_base_url, call.path),
            # The pool's server read header bytes as Latin-1: encoding them back sends the
            # client's bytes as they were (a UTF-8 User-Agent, say), which ASCII would refuse.
            headers=httpx.Headers(request_headers(call.headers, account), encoding="latin-1"),
            content=body,
            params=dict(call.params) or None,
            timeout=timeout,
        )
        try:
            response = await self.client.send(request, stream=True)
        except _HTTPX_ERRORS as e:
            raise _mapped(e) from e
        # Past the headers only the idle timeout applies: a long answer may stream for long.
        return UpstreamReply(response)

    async def aclose(self) -> None:
        await self.client.aclose()


def join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")
