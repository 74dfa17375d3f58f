"""Which web pages may use the API: Host names, browser origins and CORS, without mitmproxy.

A web page can make the browser send requests to the gateway in two ways, and both are
refused unless the user's own machine or settings vouch for it:

- **DNS rebinding.** A page on `attacker.example` re-points its name at 127.0.0.1 and then
  talks to the gateway as its own origin; the only trace is the `Host` header naming the
  attacker's domain. The reverse listener therefore answers only Host names it is known by:
  loopback names and addresses, and (when it listens beyond loopback) this machine's
  addresses and host name, plus the `allowed_hosts` setting. An IP literal cannot be rebound.
- **Cross-site requests.** Any page can send a "simple" POST (`text/plain`,
  `multipart/form-data`) to any address without a preflight. A request whose `Origin` is
  another site is refused unless the origin is on this machine (loopback), is the gateway's
  own origin, or is listed in `allowed_origins`; a request from another site that carries no
  `Origin` (`Sec-Fetch-Site: cross-site`, as for an `<img>`) is judged by its `Referer`.
  Origins that are not web sites (`app://`, `tauri://`, `file://`, `chrome-extension://`) come
  from software installed on the client machine, which could call the API directly anyway;
  the opaque origin `null` can be produced by any page (a sandboxed frame) and is refused.

Clients that are not browsers send neither `Origin` nor `Sec-Fetch-Site` and are unaffected.
Allowed origins get CORS answers: preflights, and `Access-Control-Allow-Origin` on replies.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from azt.netaddr import IPAddress, canonical, is_localhost_name, parse_ip

WEB_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Request headers an allowed page may send (the preflight's Access-Control-Allow-Headers):
# the OpenAI and Anthropic SDKs' own, and the conversation headers azt reads.
ALLOWED_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "openai-organization",
    "openai-project",
    "openai-beta",
    "idempotency-key",
    "x-api-key",
    "api-key",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "session-id",
    "session_id",
    "conversation_id",
    "thread-id",
    "thread_id",
)
# The OpenAI and Anthropic SDKs (Stainless) send a family of these; each one asked for is allowed.
ALLOWED_REQUEST_HEADER_PREFIX = "x-stainless-"
# Reply headers a page may read.
EXPOSED_HEADERS = (
    "retry-after",
    "retry-after-ms",
    "x-request-id",
    "x-azt-ignored-params",
)
PREFLIGHT_MAX_AGE = "600"


def host_name(authority: str) -> str:
    """The name or address in a Host header (or `:authority`), lower case, without the port,
    brackets or a trailing dot."""
    text = authority.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        return text[1:end] if end > 0 else text
    if text.count(":") == 1:
        text = text.rsplit(":", 1)[0]
    return text.rstrip(".")


def _port_of(authority: str) -> int | None:
    text = authority.strip()
    if text.startswith("["):
        text = text[text.find("]") + 1 :] if "]" in text else ""
    elif text.count(":") != 1:
        return None
    _, colon, port = text.rpartition(":")
    return int(port) if colon and port.isdigit() else None


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str  # lower case, without brackets
    port: int | None  # None: the scheme's default (or a scheme without ports)

    @property
    def effective_port(self) -> int | None:
        return self.port if self.port is not None else _DEFAULT_PORTS.get(self.scheme)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port is None or self.port == _DEFAULT_PORTS.get(self.scheme):
            return f"{self.scheme}://{host}"
        return f"{self.scheme}://{host}:{self.port}"


def parse_origin(text: str) -> Origin | None:
    """An origin (`scheme://host[:port]`, as browsers send it), or None if it is not one
    (`null`, a URL with a path, garbage)."""
    text = text.strip()
    if not text or text == "null" or "://" not in text:
        return None
    scheme, _, rest = text.partition("://")
    if "/" in rest.rstrip("/") or "?" in rest or "#" in rest or "@" in rest:
        return None
    return origin_of_url(f"{scheme}://{rest.rstrip('/')}")


def origin_of_url(url: str) -> Origin | None:
    """The origin of a URL, or None if it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not scheme or (scheme in WEB_SCHEMES and not host):
        return None
    return Origin(scheme, host, port)


def normalise_origin(text: str) -> str:
    """An `allowed_origins` entry as browsers would send it; ValueError if it is not one."""
    origin = parse_origin(text)
    if origin is None:
        raise ValueError(f"{text!r} is not an origin (scheme://host[:port], without a path)")
    return str(origin)


@dataclass(frozen=True)
class SitePolicy:
    """What one gateway accepts; built from its settings and the addresses it listens on."""

    listen_addresses: tuple[IPAddress, ...] = ()  # the reverse listener's bound addresses
    machine_names: frozenset[str] = frozenset()  # this machine's host name(s), lower case
    allowed_hosts: frozenset[str] = frozenset()
    allowed_origins: frozenset[str] = frozenset()

    @classmethod
    def build(
        cls,
        listen_addresses: Iterable[IPAddress],
        *,
        machine_names: Iterable[str] = (),
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
    ) -> "SitePolicy":
        return cls(
            listen_addresses=tuple(canonical(ip) for ip in listen_addresses),
            machine_names=frozenset(n.lower().rstrip(".") for n in machine_names if n),
            allowed_hosts=frozenset(host_name(h) for h in allowed_hosts if h.strip()),
            allowed_origins=frozenset(normalise_origin(o) for o in allowed_origins),
        )

    @property
    def loopback_only(self) -> bool:
        """Listening on loopback only (also when the addresses are not known yet)."""
        return all(ip.is_loopback for ip in self.listen_addresses)


def host_allowed(authority: str, policy: SitePolicy, arrived_on: IPAddress | None) -> bool:
    """Whether a request naming `authority` as its Host is for this gateway.

    `arrived_on` is the local address the connection was accepted on. A request without a
    Host (HTTP/1.0) is not from a browser and is accepted.
    """
    name = host_name(authority)
    if not authority.strip():
        return True
    if is_localhost_name(name) or name in policy.allowed_hosts:
        return True
    ip = parse_ip(name)
    if ip is not None:
        if ip.is_loopback or ip in policy.listen_addresses:
            return True
        if not policy.loopback_only and arrived_on is not None and ip == canonical(arrived_on):
            return True
        return False
    return not policy.loopback_only and name in policy.machine_names


def is_local_origin(origin: Origin) -> bool:
    """An origin on the user's own machine: a loopback web origin, or one that is not a web
    site at all (an app's own scheme)."""
    if origin.scheme not in WEB_SCHEMES:
        return True
    if is_localhost_name(origin.host):
        return True
    ip = parse_ip(origin.host)
    return ip is not None and ip.is_loopback


def same_origin(origin: Origin, authority: str, scheme: str) -> bool:
    """Whether `origin` is the origin a request for `authority` over `scheme` was sent to."""
    if origin.scheme != scheme or origin.host != host_name(authority):
        return False
    port = _port_of(authority)
    return origin.effective_port == (port if port is not None else _DEFAULT_PORTS.get(scheme))


def origin_allowed(origin: Origin, policy: SitePolicy, authority: str, scheme: str) -> bool:
    return (
        is_local_origin(origin)
        or str(origin) in policy.allowed_origins
        or same_origin(origin, authority, scheme)
    )


@dataclass(frozen=True)
class BrowserCheck:
    """The verdict on a request's browser context: refused, or allowed with the origin that
    CORS headers should name (None: not a cross-origin browser request)."""

    refused: str | None = None  # what the request came from, for the error message
    cors_origin: str | None = None


def check_browser(
    headers: Mapping[str, str], policy: SitePolicy, authority: str, scheme: str = "http"
) -> BrowserCheck:
    """Judge a request by the browser headers it carries (`headers` keys are case-insensitive:
    mitmproxy's Headers, or a dict with lower-case keys)."""
    raw_origin = headers.get("origin")
    if raw_origin is not None:
        origin = parse_origin(raw_origin)
        if origin is None:
            return BrowserCheck(refused=f"the origin {raw_origin.strip() or '(empty)'!r}")
        if not origin_allowed(origin, policy, authority, scheme):
            return BrowserCheck(refused=f"the origin {str(origin)!r}")
        return BrowserCheck(cors_origin=raw_origin.strip())
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        referrer = origin_of_url(headers.get("referer", ""))
        if referrer is None:
            return BrowserCheck(refused="a page on another site")
        if not origin_allowed(referrer, policy, authority, scheme):
            return BrowserCheck(refused=f"a page on {str(referrer)!r}")
    return BrowserCheck()


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`."""
    return (
        method.upper() == "OPTIONS"
        and "origin" in headers
        and "access-control-request-method" in headers
    )


def _add_vary(existing: str, *names: str) -> str:
    present = {part.strip().lower() for part in existing.split(",") if part.strip()}
    added = [name for name in names if name.lower() not in present]
    return ", ".join(part for part in [existing.strip(), *added] if part)


def preflight_headers(
    origin: str, methods: Iterable[str], request_headers: Mapping[str, str]
) -> dict[str, str]:
    """The answer to an allowed origin's preflight: what the API lets it send."""
    asked = request_headers.get("access-control-request-headers", "")
    allowed = list(ALLOWED_REQUEST_HEADERS)
    for name in (part.strip().lower() for part in asked.split(",")):
        if name.startswith(ALLOWED_REQUEST_HEADER_PREFIX) and name not in allowed:
            allowed.append(name)
    headers = {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": ", ".join(sorted({*methods, "OPTIONS"})),
        "access-control-allow-headers": ", ".join(allowed),
        "access-control-max-age": PREFLIGHT_MAX_AGE,
        "vary": _add_vary(
            "", "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"
        ),
    }
    if request_headers.get("access-control-request-private-network", "").lower() == "true":
        # Chrome's Private Network Access: a listed public origin may reach this local API.
        headers["access-control-allow-private-network"] = "true"
    return headers


def reply_headers(origin: str, existing_vary: str = "") -> dict[str, str]:
    """Headers that let an allowed origin read a reply."""
    return {
        "access-control-allow-origin": origin,
        "access-control-expose-headers": ", ".join(EXPOSED_HEADERS),
        "vary": _add_vary(existing_vary, "Origin"),
    }
