"""Which request is which: the gateway's route table, independent of mitmproxy.

A route names the dialect errors are spoken in, whether a JSON body is expected, and where on
the local account pool the request is served.
"""

from dataclasses import dataclass
from enum import StrEnum


class Dialect(StrEnum):
    OPENAI = "openai"


@dataclass(frozen=True)
class Route:
    name: str
    dialect: Dialect
    json_body: bool = False
    pool_path: str | None = None  # served by the pool at this path
    large_body: bool = False  # gets the compact body limit
    recorded: bool = True  # kept in the request log (the gateway's own admin calls are not)
    admin: bool = False  # the gateway's own API: local clients on the reverse listener only

    @property
    def kind(self) -> str:
        """The API surface, for records: codex, chat, responses, images, models, usage, admin."""
        return self.name.split(".", 1)[0]


# Where Codex asks for rate-limit status: `{chatgpt_base_url}/wham/usage`, or `/api/codex/usage`
# when that base lacks `/backend-api`; the `/codex/v1` spellings are for clients that look for it
# under the Codex base URL. The pool answers for the whole pool, never asking one account.
USAGE_PATHS = (
    "/backend-api/wham/usage",
    "/api/codex/usage",
    "/codex/v1/wham/usage",
    "/codex/v1/usage",
)

ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/codex/v1/responses"): Route(
        "codex.responses", Dialect.OPENAI, json_body=True, pool_path="/responses"
    ),
    ("POST", "/codex/v1/responses/compact"): Route(
        "codex.compact",
        Dialect.OPENAI,
        json_body=True,
        pool_path="/responses/compact",
        large_body=True,
    ),
    ("GET", "/codex/v1/models"): Route("codex.models", Dialect.OPENAI, pool_path="/models"),
    **{
        ("GET", path): Route("usage.pooled", Dialect.OPENAI, pool_path="/usage")
        for path in USAGE_PATHS
    },
    ("GET", "/v1/models"): Route("models.list", Dialect.OPENAI),
    ("POST", "/v1/chat/completions"): Route(
        "chat.completions", Dialect.OPENAI, json_body=True, pool_path="/responses"
    ),
    ("POST", "/v1/responses"): Route(
        "responses.create", Dialect.OPENAI, json_body=True, pool_path="/responses"
    ),
    # Image bodies may be JSON or multipart; the pool parses them (it also fans out `n`).
    ("POST", "/v1/images/generations"): Route(
        "images.generations", Dialect.OPENAI, pool_path="/images/generations"
    ),
    ("POST", "/v1/images/edits"): Route("images.edits", Dialect.OPENAI, pool_path="/images/edits"),
    # The gateway's own observability API.
    ("GET", "/_gateway/admin/usage"): Route(
        "admin.usage", Dialect.OPENAI, recorded=False, admin=True
    ),
    ("GET", "/_gateway/admin/requests"): Route(
        "admin.requests", Dialect.OPENAI, recorded=False, admin=True
    ),
    ("GET", "/metrics"): Route("admin.metrics", Dialect.OPENAI, recorded=False, admin=True),
}

# Images kept for `response_format: "url"` replies: /_gateway/images/<id>.<ext>.
IMAGE_CACHE_PREFIX = "/_gateway/images/"
IMAGE_CACHE_ROUTE = Route("images.cached", Dialect.OPENAI, pool_path="/images/cache/")

# Other spellings of the API roots: Auxot-style `/api/openai`, and the Codex backend's own
# paths (`chatgpt.com/backend-api/codex/...`, as intercepted on the proxy listener).
PATH_ALIASES = (
    ("/api/openai/v1/", "/v1/"),
    ("/api/openai/", "/v1/"),
    ("/backend-api/codex/", "/codex/v1/"),
)

# The Codex CLI opens a WebSocket here first; a 426 makes it fall back to HTTP at once.
WEBSOCKET_PATHS = frozenset({"/codex/v1/responses"})

_KNOWN_PATHS = {path for _, path in ROUTES}


class RouteNotFound(LookupError):
    pass


class MethodNotAllowed(LookupError):
    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


def normalise_path(path: str) -> str:
    """Drop the query string and a trailing slash, and map path aliases to `/v1/...`."""
    bare = path.split("?", 1)[0].rstrip("/") or "/"
    for alias, canonical in PATH_ALIASES:
        if bare.startswith(alias):
            return canonical + bare.removeprefix(alias)
    return bare


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
