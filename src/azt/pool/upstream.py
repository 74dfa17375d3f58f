"""Talking to the Codex backend: the shared client and which headers cross the boundary."""

import json
from collections.abc import Mapping
from http.cookiejar import CookieJar, CookiePolicy
from urllib.request import Request

import httpx

from azt import __version__
from azt.config import Settings
from azt.pool.accounts import Account

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


def make_client(settings: Settings) -> httpx.AsyncClient:
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
    )


def join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")
