"""Valid requests for every route of the route table, as bytes, and the pieces to build more.

`SEEDS` holds one valid request per route (more for the routes that stream or take several
body forms); the fuzz strategies mutate them, and `valid_requests()` sends them all after a
run to check that the gateway still serves.
"""

import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any

from azt.routes import IMAGE_CACHE_ROUTE, ROUTES, USAGE_PATHS
from support.png import make_png

MODEL = "gpt-5.4"
PNG = make_png(4, 4)
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
HOST = b"127.0.0.1"
BOUNDARY = "fuzzboundary7MA4YWxkTrZu0gW"


def user(text: str = "Reply with PONG") -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


@dataclass(frozen=True)
class Seed:
    route: str  # the route's name in azt.routes
    method: str
    path: str  # with its query string
    body: dict[str, Any] | None = None  # a JSON body
    form: list["Part"] | None = None  # a multipart body
    note: str = ""

    def json_body(self) -> dict[str, Any]:
        assert self.body is not None
        return copy.deepcopy(self.body)


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None
    extra_headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def form_body(parts: list[Part], boundary: str = BOUNDARY) -> bytes:
    out = b""
    for part in parts:
        disposition = f'form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode(
            "utf-8", "surrogatepass"
        )
        if part.content_type:
            out += f"Content-Type: {part.content_type}\r\n".encode()
        for name, value in part.extra_headers:
            out += f"{name}: {value}\r\n".encode("utf-8", "surrogatepass")
        out += b"\r\n" + part.data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


_CODEX = {"model": MODEL, "instructions": "", "input": [user()], "store": False, "stream": True}
_CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Reply with PONG"}]}
_RESPONSES = {"model": MODEL, "input": "Reply with PONG"}
_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
_EDIT_FORM = [
    Part("image", PNG, filename="fox.png", content_type="image/png"),
    Part("prompt", b"Make it blue"),
    Part("model", b"gpt-image-1"),
]

SEEDS: list[Seed] = [
    Seed("codex.responses", "POST", "/codex/v1/responses", _CODEX),
    Seed(
        "codex.responses",
        "POST",
        "/codex/v1/responses",
        {**_CODEX, "reasoning": {"effort": "low", "summary": "auto"}, "include": []},
        note="reasoning",
    ),
    Seed(
        "codex.compact",
        "POST",
        "/codex/v1/responses/compact",
        {"model": MODEL, "instructions": "", "input": [user("Summarise this")]},
    ),
    Seed("codex.models", "GET", "/codex/v1/models?client_version=0.169.0"),
    *(Seed("usage.pooled", "GET", path) for path in USAGE_PATHS),
    Seed("models.list", "GET", "/v1/models"),
    Seed("chat.completions", "POST", "/v1/chat/completions", _CHAT),
    Seed(
        "chat.completions",
        "POST",
        "/v1/chat/completions",
        {**_CHAT, "stream": True, "stream_options": {"include_usage": True}},
        note="stream",
    ),
    Seed(
        "chat.completions",
        "POST",
        "/v1/chat/completions",
        {
            "model": MODEL,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is the weather in Paris?"},
                        {"type": "image_url", "image_url": {"url": PNG_URL}},
                    ],
                },
            ],
            "tools": [_TOOL],
            "max_tokens": 50,
            "temperature": 0.2,
            "stop": ["\n\n"],
            "response_format": {"type": "json_object"},
        },
        note="tools, image, limits",
    ),
    Seed("responses.create", "POST", "/v1/responses", _RESPONSES),
    Seed(
        "responses.create",
        "POST",
        "/v1/responses",
        {
            **_RESPONSES,
            "stream": True,
            "instructions": "Be brief.",
            "text": {
                "format": {
                    "type": "json_schema",
                    "name": "answer",
                    "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                }
            },
        },
        note="stream, structured output",
    ),
    Seed(
        "images.generations",
        "POST",
        "/v1/images/generations",
        {"model": "gpt-image-1", "prompt": "Draw a fox", "size": "1024x1024"},
    ),
    Seed(
        "images.edits",
        "POST",
        "/v1/images/edits",
        {"model": "gpt-image-1", "prompt": "Make it blue", "images": [{"image_url": PNG_URL}]},
        note="JSON",
    ),
    Seed("images.edits", "POST", "/v1/images/edits", form=_EDIT_FORM, note="multipart"),
    Seed("admin.usage", "GET", "/_gateway/admin/usage?since=7d"),
    Seed("admin.requests", "GET", "/_gateway/admin/requests?limit=5&errors=false"),
    Seed("admin.metrics", "GET", "/metrics"),
    # A cached image id that does not exist: a 404 in OpenAI shape. `valid_requests` makes a
    # real one first.
    Seed(IMAGE_CACHE_ROUTE.name, "GET", "/_gateway/images/0123456789abcdef.png"),
]

JSON_SEEDS = [seed for seed in SEEDS if seed.body is not None]
GET_SEEDS = [seed for seed in SEEDS if seed.method == "GET"]


def seeded_routes() -> set[str]:
    return {seed.route for seed in SEEDS}


def table_routes() -> set[str]:
    return {route.name for route in ROUTES.values()} | {IMAGE_CACHE_ROUTE.name}


def encode_json(body: Any, *, ascii_only: bool = True) -> bytes:
    """JSON text as clients send it; lone surrogates become `\\ud800` escapes (ascii) or
    the bytes Python's `surrogatepass` makes of them (invalid UTF-8)."""
    text = json.dumps(body, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


def http_request(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    *,
    host: bytes | None = HOST,
    length: bool = True,
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """A request message: the request line, Host, the headers, Content-Length for a body."""
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    for name, value in headers or []:
        lines.append(name + b": " + value)
    if length and (body or method in (b"POST", b"PUT", b"PATCH")):
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def seed_request(
    seed: Seed,
    *,
    body: bytes | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
    target: bytes | None = None,
    host: bytes | None = HOST,
) -> bytes:
    """`seed` as bytes, with its body, headers or target replaced when given."""
    extra = list(headers or [])
    names = {name.lower() for name, _ in extra}
    if body is None:
        if seed.body is not None:
            body = encode_json(seed.body)
        elif seed.form is not None:
            body = form_body(seed.form)
        else:
            body = b""
    if b"content-type" not in names:
        if seed.body is not None:
            extra.insert(0, (b"Content-Type", b"application/json"))
        elif seed.form is not None:
            extra.insert(0, (b"Content-Type", f"multipart/form-data; boundary={BOUNDARY}".encode()))
    return http_request(seed.method.encode(), target or seed.path.encode(), extra, body, host=host)
