"""Which request is which: the gateway's route table, independent of mitmproxy.

A route names the API its clients speak (its dialect), the addon that handles it, whether a
JSON body is expected, and where on the local account pool it is served. Adding a route is one
entry here plus its handler; `check_handled` refuses to start a gateway whose addons leave a
route without one.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Protocol, runtime_checkable


class Dialect(StrEnum):
    """The API a route's clients speak; records and statistics group requests by it."""

    CODEX = "codex"  # the Codex backend protocol, passed through
    CHAT = "chat"  # OpenAI Chat Completions, translated
    RESPONSES = "responses"  # the OpenAI Responses API, translated
    IMAGES = "images"  # the OpenAI Images API, served by the pool
    MODELS = "models"  # the OpenAI model list
    USAGE = "usage"  # the Codex usage check
    ADMIN = "admin"  # azt's own API


class Handler(StrEnum):
    """The addon that serves a route (each addon names the one it is, as `HANDLES`)."""

    TRANSLATE = "translate"  # planned and translated by the gateway, served by the pool
    CODEX = "codex"  # checked by the gateway, passed to the pool as the client wrote it
    POOL = "pool"  # handed to the pool whole (the pool does the work)
    MODELS = "models"  # answered by the gateway from the catalog
    ADMIN = "admin"  # answered by the gateway, to local clients only
    PREFLIGHT = "preflight"  # a browser's CORS preflight, answered by the gateway


@runtime_checkable
class RouteHandler(Protocol):
    """An addon that serves the routes of one handler."""

    HANDLES: ClassVar[Handler]


@dataclass(frozen=True)
class Route:
    name: str
    dialect: Dialect
    handler: Handler
    json_body: bool = False
    pool_path: str | None = None  # served by the pool at this path
    large_body: bool = False  # gets the compact body limit
    recorded: bool = True  # kept in the request log (the gateway's own admin calls are not)


# Where Codex asks for rate-limit status: `{chatgpt_base_url}/wham/usage`, or `/api/codex/usage`
# when that base lacks `/backend-api`; the `/codex/v1` spellings are for clients that look for it
# under the Codex base URL. The pool answers for the whole pool, never asking one account.
USAGE_PATHS = (
    "/backend-api/wham/usage",
    "/api/codex/usage",
    "/codex/v1/wham/usage",
    "/codex/v1/usage",
)

_USAGE = Route("usage.pooled", Dialect.USAGE, Handler.POOL, pool_path="/usage")

ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/codex/v1/responses"): Route(
        "codex.responses", Dialect.CODEX, Handler.CODEX, json_body=True, pool_path="/responses"
    ),
    ("POST", "/codex/v1/responses/compact"): Route(
        "codex.compact",
        Dialect.CODEX,
        Handler.CODEX,
        json_body=True,
        pool_path="/responses/compact",
        large_body=True,
    ),
    ("GET", "/codex/v1/models"): Route(
        "codex.models", Dialect.CODEX, Handler.CODEX, pool_path="/models"
    ),
    **{("GET", path): _USAGE for path in USAGE_PATHS},
    ("GET", "/v1/models"): Route("models.list", Dialect.MODELS, Handler.MODELS),
    ("POST", "/v1/chat/completions"): Route(
        "chat.completions", Dialect.CHAT, Handler.TRANSLATE, json_body=True, pool_path="/responses"
    ),
    ("POST", "/v1/responses"): Route(
        "responses.create",
        Dialect.RESPONSES,
        Handler.TRANSLATE,
        json_body=True,
        pool_path="/responses",
    ),
    # Image bodies may be JSON or multipart; the pool parses them (it also fans out `n`).
    ("POST", "/v1/images/generations"): Route(
        "images.generations", Dialect.IMAGES, Handler.POOL, pool_path="/images/generations"
    ),
    ("POST", "/v1/images/edits"): Route(
        "images.edits", Dialect.IMAGES, Handler.POOL, pool_path="/images/edits"
    ),
    # The gateway's own observability API.
    ("GET", "/_gateway/admin/usage"): Route(
        "admin.usage", Dialect.ADMIN, Handler.ADMIN, recorded=False
    ),
    ("GET", "/_gateway/admin/requests"): Route(
        "admin.requests", Dialect.ADMIN, Handler.ADMIN, recorded=False
    ),
    ("GET", "/metrics"): Route("admin.metrics", Dialect.ADMIN, Handler.ADMIN, recorded=False),
}

# Images kept for `response_format: "url"` replies: /_gateway/images/<id>.<ext>.
IMAGE_CACHE_PREFIX = "/_gateway/images/"
IMAGE_CACHE_ROUTE = Route("images.cached", Dialect.IMAGES, Handler.POOL, pool_path="/images/cache/")

# Other spellings of the API roots: Auxot-style `/api/openai`, and the Codex backend's own
# paths (`chatgpt.com/backend-api/codex/...`, as intercepted on the proxy listener).
PATH_ALIASES = (
    ("/api/openai/v1/", "/v1/"),
    ("/api/openai/", "/v1/"),
    ("/backend-api/codex/", "/codex/v1/"),
)

# The Codex CLI opens a WebSocket here first; a 426 makes it fall back to HTTP at once.
WEBSOCKET_PATHS = frozenset({"/codex/v1/responses"})

# A browser's CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) for a path of the
# table; answered by the gateway for the origins it allows, never recorded.
PREFLIGHT_ROUTE = Route("cors.preflight", Dialect.ADMIN, Handler.PREFLIGHT, recorded=False)

_KNOWN_PATHS = {path for _, path in ROUTES}


class RouteNotFound(LookupError):
    pass


class MethodNotAllowed(LookupError):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


class UnhandledRoutes(RuntimeError):
    """The gateway was assembled without an addon for some routes."""


def all_routes() -> list[Route]:
    """Every route the table can resolve to, each once."""
    every = [*ROUTES.values(), IMAGE_CACHE_ROUTE, PREFLIGHT_ROUTE]
    return list({id(route): route for route in every}.values())


def check_handled(addons: Iterable[object]) -> None:
    """Refuse a set of addons that leaves some route without its handler."""
    present = {addon.HANDLES for addon in addons if isinstance(addon, RouteHandler)}
    missing = sorted({route.name for route in all_routes() if route.handler not in present})
    if missing:
        raise UnhandledRoutes(f"no addon handles these routes: {', '.join(missing)}")


def normalise_path(path: str) -> str:
    """Drop the query string and a trailing slash, and map path aliases to `/v1/...`."""
    bare = path.split("?", 1)[0].rstrip("/") or "/"
    for alias, canonical in PATH_ALIASES:
        if bare.startswith(alias):
            return canonical + bare.removeprefix(alias)
    return bare


def methods_for(path: str) -> list[str]:
    """The methods a path accepts (empty for a path the table does not know)."""
    bare = normalise_path(path)
    if bare.startswith(IMAGE_CACHE_PREFIX) and len(bare) > len(IMAGE_CACHE_PREFIX):
        return ["GET"]
    return sorted(m for m, p in ROUTES if p == bare)


def preflight(path: str) -> Route:
    """The preflight route for a path of the table; `RouteNotFound` for any other path."""
    if not methods_for(path):
        raise RouteNotFound(normalise_path(path))
    return PREFLIGHT_ROUTE


def resolve(method: str, path: str) -> Route:
    bare = normalise_path(path)
    route = ROUTES.get((method.upper(), bare))
    if route is not None:
        return route
    if bare.startswith(IMAGE_CACHE_PREFIX) and len(bare) > len(IMAGE_CACHE_PREFIX):
        if method.upper() != "GET":
            raise MethodNotAllowed(["GET"])
        return IMAGE_CACHE_ROUTE
    if bare in _KNOWN_PATHS:
        raise MethodNotAllowed(sorted(m for m, p in ROUTES if p == bare))
    raise RouteNotFound(bare)
