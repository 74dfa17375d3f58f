"""Hypothesis strategies: one family of fuzz cases per surface.

Each strategy draws a `Case`: exact request bytes plus what the oracle may expect of them
(must they be answered, are they for a passthrough host). Values that would be slow to draw
through hypothesis (megabyte strings, decompression bombs, deep nesting) are drawn as a
small choice and built outside it, so examples stay cheap to generate and to shrink.
"""

import functools
import gzip
import json
import zlib
from collections.abc import Callable
from typing import Any

import brotli
import zstandard
from hypothesis import strategies as st

from fuzz.oracle import INJECTED
from fuzz.runner import Case
from fuzz.seeds import (
    BOUNDARY,
    GET_SEEDS,
    HOST,
    JSON_SEEDS,
    PNG,
    SEEDS,
    Part,
    Seed,
    encode_json,
    form_body,
    http_request,
    seed_request,
)
from fuzz.stack import BODY_LIMIT_MB

MiB = 1024 * 1024
Json = Any

# --- JSON values --------------------------------------------------------------------------

SPECIAL_STRINGS = [
    "",
    "\ud800",
    "\udfff",
    "a\ud800b",
    "\udc00\ud800",
    "\x00",
    "\r\n",
    f"x\r\n{INJECTED}: 1",
    "\u2028\u2029",
    "\ufeff",
    "\u202e",
    "💥",
    "%s%n",
    "{{model}}",
    "' OR 1=1 --",
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
    "gpt-5.4\x00",
    "auto",
    "openai/gpt-5.4",
    " gpt-5.4 ",
]
SPECIAL_NUMBERS = [
    0,
    -1,
    1,
    2**31,
    2**63,
    2**64 + 1,
    -(2**63) - 1,
    10**400,
    float("nan"),
    float("inf"),
    float("-inf"),
    -0.0,
    1e308,
    5e-324,
    0.5,
]
HUGE_SIZES = [64 * 1024, MiB, BODY_LIMIT_MB * MiB + 1024]


def text_with_surrogates() -> st.SearchStrategy[str]:
    # `exclude_categories=()` lets lone surrogates (category Cs) in.
    return st.text(st.characters(exclude_categories=()), max_size=12)


def huge_string() -> st.SearchStrategy[str]:
    """A string of about `HUGE_SIZES` bytes once encoded (a non-ASCII character takes up to
    12 bytes as JSON escapes)."""
    return st.builds(
        lambda size, char: char * (size if char == "a" else size // 6),
        st.sampled_from(HUGE_SIZES),
        st.sampled_from("aé\ud800💥"),
    )


def scalars() -> st.SearchStrategy[Json]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(SPECIAL_NUMBERS),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(SPECIAL_STRINGS),
        text_with_surrogates(),
    )


def json_values() -> st.SearchStrategy[Json]:
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(keys(), inner, max_size=4),
        ),
        max_leaves=12,
    )


def keys() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                f"x\r\n{INJECTED}: 1",
                f"\r\n{INJECTED}: yes\r\n",
                "unknown_param",
                "",
                "\ud800",
                "\x00",
                "a" * 300,
                "__proto__",
                "constructor",
                "x-azt-exchange",
                "model ",
                "MODEL",
            ]
        ),
        text_with_surrogates(),
    )


def _paths(value: Json, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _get(doc: Json, path: tuple[Any, ...]) -> Json:
    for step in path:
        doc = doc[step]
    return doc


def _set(doc: Json, path: tuple[Any, ...], value: Json) -> Json:
    if not path:
        return value
    _get(doc, path[:-1])[path[-1]] = value
    return doc


@st.composite
def mutated_json(draw: st.DrawFn, seed: Json) -> tuple[Json, str]:
    """`seed` with up to three edits: a value replaced (wrong types, huge, surrogates),
    a key removed, an unknown key added, a value wrapped."""
    doc = json.loads(json.dumps(seed))
    notes = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "add_key", "delete", "huge", "wrap"]))
        target = _get(doc, path)
        if op == "replace":
            doc = _set(doc, path, draw(json_values()))
        elif op == "add_key" and isinstance(target, dict):
            target[draw(keys())] = draw(json_values())
        elif op == "delete" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif op == "huge":
            doc = _set(doc, path, draw(huge_string()))
        elif op == "wrap":
            doc = _set(doc, path, draw(st.sampled_from([[target], {"value": target}])))
        else:
            continue
        notes.append(f"{op} at {list(path)!r}"[:200])
    return doc, "; ".join(notes)


@st.composite
def json_value_cases(draw: st.DrawFn) -> Case:
    """A JSON route with a mutated valid body, serialised as ASCII or as raw UTF-8."""
    seed = draw(st.sampled_from(JSON_SEEDS))
    doc, note = draw(mutated_json(seed.json_body()))
    ascii_only = draw(st.booleans())
    body = encode_json(doc, ascii_only=ascii_only)
    return Case(seed.route, seed_request(seed, body=body), note=f"{seed.note} {note}".strip())


# --- JSON text ----------------------------------------------------------------------------

DEPTHS = [32, 512, 5000, 100_000]


def _deep(kind: str, depth: int) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


TEXT_EDITS: dict[str, Callable[[bytes, Any], bytes]] = {
    "extra literal": lambda body, arg: body[:-1] + b", " + arg + b"}",
    "bare literal": lambda body, arg: arg,
    "truncate": lambda body, arg: body[: len(body) * arg // 8],
    "bom": lambda body, arg: b"\xef\xbb\xbf" + body,
    "trailing garbage": lambda body, arg: body + arg,
    "invalid utf-8 in a string": lambda body, arg: body.replace(b"gpt-", b"gpt-" + arg, 1),
    "lone surrogate escape": lambda body, arg: body.replace(b'"gpt-', b'"' + arg + b"gpt-", 1),
    "deep nesting": lambda body, arg: body[:-1] + b', "deep": ' + arg + b"}",
    "nul bytes": lambda body, arg: body.replace(b":", b":\x00", 1),
    "single quotes": lambda body, arg: body.replace(b'"', b"'"),
    "comment": lambda body, arg: b"/* c */" + body,
    "trailing comma": lambda body, arg: body[:-1] + b",}",
}
_LITERAL_KEYS = [
    b"temperature",
    b"top_p",
    b"n",
    b"max_tokens",
    b"max_output_tokens",
    b"model",
    b"stream",
    b"unknown",
    b"size",
    b"input",
    b"messages",
]
_LITERALS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999",
    b"-1e999",
    b"1E400",
    b"-0",
    b"123456789012345678901234567890",
    b"9" * 5000,
    b"0.1e-400",
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b'"\\u0000"',
    b"[NaN]",
    b'{"x": Infinity}',
]
_TEXT_ARGS: dict[str, st.SearchStrategy[Any]] = {
    "extra literal": st.builds(
        lambda key, literal: b'"' + key + b'": ' + literal,
        st.sampled_from(_LITERAL_KEYS),
        st.sampled_from(_LITERALS),
    ),
    "bare literal": st.sampled_from(
        [
            b"[]",
            b'"str"',
            b"1",
            b"null",
            b"true",
            b"NaN",
            b"Infinity",
            b"-Infinity",
            b"1e999",
            b"",
            b" ",
            b"{}",
            b"[{}]",
            b"9" * 5000,
            b"{" * 3,
            b"\xff\xfe",
        ]
    ),
    "truncate": st.integers(0, 7),
    "trailing garbage": st.sampled_from([b"x", b"\x00", b"}", b"{}", b"\r\n\r\nGET / HTTP/1.1"]),
    "invalid utf-8 in a string": st.sampled_from(
        [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\x80"]
    ),
    "lone surrogate escape": st.sampled_from(
        [b"\\ud800", b"\\udfff", b"\\udc00\\ud800", b"\\ud83d", b"\\u0000", b"\\uZZZZ"]
    ),
    "deep nesting": st.builds(_deep, st.sampled_from(["list", "dict"]), st.sampled_from(DEPTHS)),
}


@st.composite
def json_text_cases(draw: st.DrawFn) -> Case:
    """A JSON route whose body text is edited below the JSON level: NaN and Infinity,
    lone surrogates, invalid UTF-8, deep nesting, truncation, literals that are not objects."""
    seed = draw(st.sampled_from(JSON_SEEDS))
    edit = draw(st.sampled_from(sorted(TEXT_EDITS)))
    arg = draw(_TEXT_ARGS.get(edit, st.none()))
    body = TEXT_EDITS[edit](encode_json(seed.json_body()), arg)
    note = f"{edit}" + (f" ({arg!r:.60})" if arg is not None else "")
    return Case(seed.route, seed_request(seed, body=body), note=note)


# --- content encodings --------------------------------------------------------------------


def _deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate-raw": _deflate_raw,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
    "br": brotli.compress,
}
LABELS = {"deflate-raw": "deflate"}


@functools.cache
def bomb(encoding: str, decoded_mib: int, json_like: bool) -> bytes:
    """A small body that decodes to `decoded_mib` MiB (zeros, or a JSON string of spaces)."""
    chunk = b"\0" * MiB if not json_like else b" " * MiB
    head = b'{"model": "gpt-5.4", "input": "' if json_like else b""
    tail = b'"}' if json_like else b""
    if encoding == "zstd":
        compressor = zstandard.ZstdCompressor(level=3)
        writer = compressor.compressobj()
        out = writer.compress(head)
        for _ in range(decoded_mib):
            out += writer.compress(chunk)
        return out + writer.compress(tail) + writer.flush()
    if encoding == "br":
        br = brotli.Compressor(quality=5)
        out = br.process(head)
        for _ in range(decoded_mib):
            out += br.process(chunk)
        return out + br.process(tail) + br.finish()
    wbits = {"gzip": 31, "deflate": 15, "deflate-raw": -15}[encoding]
    z = zlib.compressobj(6, zlib.DEFLATED, wbits)
    out = z.compress(head)
    for _ in range(decoded_mib):
        out += z.compress(chunk)
    return out + z.compress(tail) + z.flush()


BOMB_SIZES = [BODY_LIMIT_MB + 1, 64, 256]


@st.composite
def compressed_cases(draw: st.DrawFn) -> Case:
    """A JSON route with a compressed body: valid, mislabelled, corrupt, stacked, unknown,
    or a small body that decodes huge."""
    seed = draw(st.sampled_from(JSON_SEEDS))
    encoding = draw(st.sampled_from(sorted(ENCODERS)))
    label = LABELS.get(encoding, encoding).encode()
    plain = encode_json(seed.json_body())
    flavour = draw(
        st.sampled_from(
            [
                "valid",
                "valid",
                "mutated",
                "corrupt",
                "truncated",
                "mislabelled",
                "stacked",
                "label spelling",
                "unknown",
                "empty",
                "bomb",
            ]
        )
    )
    note = f"{encoding} {flavour}"
    if flavour == "mutated":
        doc, edits = draw(mutated_json(seed.json_body()))
        plain = encode_json(doc, ascii_only=draw(st.booleans()))
        note += f": {edits}"
    body = ENCODERS[encoding](plain)
    if flavour == "corrupt":
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([body[at] ^ 0xFF]) + body[at + 1 :]
    elif flavour == "truncated":
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif flavour == "mislabelled":
        other = draw(st.sampled_from(sorted(set(ENCODERS) - {encoding})))
        label = LABELS.get(other, other).encode()
        note += f" labelled {other}"
    elif flavour == "stacked":
        outer = draw(st.sampled_from(sorted(ENCODERS)))
        body = ENCODERS[outer](body)
        label = label + b", " + LABELS.get(outer, outer).encode()
    elif flavour == "label spelling":
        label = draw(
            st.sampled_from(
                [label.upper(), b" " + label + b" ", label + b";q=1", b"identity, " + label]
            )
        )
    elif flavour == "unknown":
        label = draw(
            st.sampled_from([b"compress", b"x-gzip", b"x-unknown", b"\xff", b"*", b"chunked"])
        )
    elif flavour == "empty":
        body = b""
    elif flavour == "bomb":
        size = draw(st.sampled_from(BOMB_SIZES))
        json_like = draw(st.booleans())
        body = bomb(encoding, size, json_like)
        note += f" decoding to {size} MiB"
    headers = [(b"Content-Type", b"application/json"), (b"Content-Encoding", label)]
    return Case(seed.route, seed_request(seed, body=body, headers=headers), note=note)


# --- multipart image edits ----------------------------------------------------------------

_FORM_NAMES = [
    "image",
    "image[]",
    "images",
    "image[0]",
    "mask",
    "prompt",
    "n",
    "size",
    "model",
    "response_format",
    "stream",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "partial_images",
    "input_fidelity",
    "svg[model]",
    "user",
    "unknown",
    f"x\r\n{INJECTED}: 1",
    'qu"ote',
    "",
    "\ud800",
    "a[b][c][d]",
    "n[]",
]
_FORM_VALUES = [
    b"1",
    b"10",
    b"11",
    b"0",
    b"-1",
    b"abc",
    b"1e9",
    b"99999999999999999999",
    b"",
    b" ",
    b"true",
    b"maybe",
    b"1024x1024",
    b"9999x9999",
    b"auto",
    b"url",
    b"b64_json",
    b"gpt-image-1",
    b"dall-e-3",
    b"gpt-image-",
    b"\xff\xfe",
    b"\xed\xa0\x80",
    b"Draw a fox",
    "é".encode(),
    b"\x00",
]
_FILES = {
    "png": PNG,
    "truncated png": PNG[:20],
    "not an image": b"hello",
    "empty": b"",
    "png header only": b"\x89PNG\r\n\x1a\n",
    "jpeg magic": b"\xff\xd8\xff\xe0" + b"\0" * 16,
    "webp magic": b"RIFF\0\0\0\0WEBPVP8 ",
    "big": PNG + b"\0" * (2 * MiB),
}


@st.composite
def form_parts(draw: st.DrawFn) -> list[Part]:
    parts = [
        Part("image", PNG, filename="fox.png", content_type="image/png"),
        Part("prompt", b"Make it blue"),
    ]
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(_FORM_NAMES))
        if draw(st.booleans()):
            kind = draw(st.sampled_from(sorted(_FILES)))
            filename = draw(
                st.sampled_from(
                    ["a.png", "", 'q"uote.png', "a\r\nb.png", "é.png", "\ud800.png", "../../x"]
                )
            )
            ctype = draw(
                st.sampled_from([None, "image/png", "text/plain", "", "image/png\r\nX: y"])
            )
            parts.append(Part(name, _FILES[kind], filename=filename, content_type=ctype))
        else:
            parts.append(Part(name, draw(st.sampled_from(_FORM_VALUES))))
    if draw(st.booleans()):
        parts = draw(st.permutations(parts))
    drop = draw(st.sampled_from([None, 0, 1]))
    if drop is not None and len(parts) > drop:
        parts = parts[:drop] + parts[drop + 1 :]
    return parts


FRAME_EDITS = [
    "none",
    "none",
    "no boundary param",
    "wrong boundary",
    "quoted boundary",
    "no final boundary",
    "LF line ends",
    "preamble and epilogue",
    "no disposition",
    "many parts",
    "huge boundary",
    "empty body",
    "boundary in data",
    "nested multipart",
]


@st.composite
def multipart_cases(draw: st.DrawFn) -> Case:
    """Image routes with multipart bodies: odd fields and files, odd framing."""
    route, path = draw(
        st.sampled_from(
            [
                ("images.edits", b"/v1/images/edits"),
                ("images.generations", b"/v1/images/generations"),
            ]
        )
    )
    parts = draw(form_parts())
    if route == "images.generations":
        parts = [p for p in parts if p.name != "image"]
    edit = draw(st.sampled_from(FRAME_EDITS))
    boundary = BOUNDARY
    content_type = f"multipart/form-data; boundary={boundary}".encode()
    body = form_body(parts, boundary)
    if edit == "no boundary param":
        content_type = b"multipart/form-data"
    elif edit == "wrong boundary":
        content_type = b"multipart/form-data; boundary=other"
    elif edit == "quoted boundary":
        content_type = f'multipart/form-data; boundary="{boundary}"; charset=utf-8'.encode()
    elif edit == "no final boundary":
        body = body.rsplit(f"--{boundary}--".encode(), 1)[0]
    elif edit == "LF line ends":
        body = body.replace(b"\r\n", b"\n")
    elif edit == "preamble and epilogue":
        body = b"preamble\r\n" + body + b"epilogue"
    elif edit == "no disposition":
        body = body.replace(b"Content-Disposition: form-data; ", b"X: ", 1)
    elif edit == "many parts":
        body = form_body(parts + [Part("user", b"x")] * 300, boundary)
    elif edit == "huge boundary":
        boundary = "b" * 5000
        content_type = f"multipart/form-data; boundary={boundary}".encode()
        body = form_body(parts, boundary)
    elif edit == "empty body":
        body = b""
    elif edit == "boundary in data":
        body = form_body([*parts, Part("prompt", f"--{boundary}\r\n".encode())], boundary)
    elif edit == "nested multipart":
        inner = form_body(parts, "inner")
        body = form_body(
            [Part("image", inner, filename="x", content_type="multipart/mixed; boundary=inner")],
            boundary,
        )
    headers = [(b"Content-Type", content_type)]
    return Case(route, http_request(b"POST", path, headers, body), note=edit)


# --- query strings on GET routes ------------------------------------------------------------

_QUERY_KEYS = [
    b"limit",
    b"since",
    b"before_seq",
    b"after_seq",
    b"endpoint",
    b"model",
    b"account",
    b"source",
    b"status",
    b"errors",
    b"client_version",
    b"x",
    b"",
    b"limit[]",
    b"%00",
    b"a%0d%0ab",
    b"\xff",
]
_QUERY_VALUES = [
    b"5",
    b"0",
    b"-1",
    b"1001",
    b"1e3",
    b"0x10",
    b" 5",
    b"%20",
    b"99999999999999999999999",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"nan",
    b"inf",
    b"1e309",
    b"7d",
    b"30d",
    b"0d",
    b"-7d",
    b"99999999d",
    b"2026-13-45",
    b"today",
    b"true",
    b"yes",
    b"%00",
    b"%ff",
    b"%ed%a0%80",
    b"%ud800",
    b"\xed\xa0\x80",
    b"%0d%0a" + INJECTED.encode() + b":%201",
    b"a" * 5000,
    b"chat.completions",
    b"gpt-5.4",
    b"\xd9\xa3",
    b"%",
    b"%zz",
    b"=",
    b"&&",
]


@st.composite
def query_cases(draw: st.DrawFn) -> Case:
    """Every GET route with odd query strings (and sometimes a body it does not expect)."""
    seed = draw(st.sampled_from(GET_SEEDS))
    path = seed.path.split("?", 1)[0].encode()
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(_QUERY_KEYS), st.sampled_from(_QUERY_VALUES)), max_size=5
        )
    )
    query = b"&".join(k + b"=" + v for k, v in pairs)
    if draw(st.booleans()) and b"?" in seed.path.encode():
        query = seed.path.encode().split(b"?", 1)[1] + (b"&" + query if query else b"")
    target = path + (b"?" + query if query else b"")
    headers: list[tuple[bytes, bytes]] = []
    body = b""
    if draw(st.integers(0, 5)) == 0:
        body = b'{"a": 1}'
        headers.append((b"Content-Type", b"application/json"))
    raw = http_request(b"GET", target, headers, body)
    well_formed = all(32 < byte < 127 for byte in target)
    return Case(seed.route, raw, well_formed=well_formed, note=f"{len(pairs)} params")


# --- headers ------------------------------------------------------------------------------

_HEADER_NAMES = [
    b"Authorization",
    b"Content-Type",
    b"User-Agent",
    b"Accept",
    b"Accept-Encoding",
    b"x-stainless-lang",
    b"x-stainless-package-version",
    b"originator",
    b"session_id",
    b"session-id",
    b"conversation_id",
    b"x-codex-turn-state",
    b"chatgpt-account-id",
    b"x-azt-exchange",
    b"x-azt-secret",
    b"x-azt-ignored-params",
    b"Cookie",
    b"Referer",
    b"Origin",
    b"Upgrade",
    b"Connection",
    b"Expect",
    b"Host",
    b"X-Forwarded-For",
    b"X-Forwarded-Host",
    b"Forwarded",
    b"Content-Encoding",
    b"TE",
    b"Proxy-Authorization",
    b"OpenAI-Beta",
    b"X-Unknown",
    b"x" * 200,
]
_HEADER_VALUES = [
    b"",
    b" ",
    b"Bearer sk-test",
    b"Bearer " + b"a" * 10_000,
    b"application/json",
    b"application/json; charset=utf-16",
    b"text/plain",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data",
    b"application/vnd.api+json",
    b"*/*",
    b"gzip, br, zstd",
    b"curl/8.0",
    b"codex_cli_rs/0.169.0",
    b"OpenAI/Python 1.99.0",
    b"js",
    b"\xff\xfe",
    b"\xed\xa0\x80",
    "é".encode(),
    b"\x80abc",
    b"websocket",
    b"Upgrade",
    b"close",
    b"keep-alive",
    b"100-continue",
    b"localhost",
    b"evil.example",
    b"[::1]:1",
    b"127.0.0.1:1",
    b"a" * 70_000,
    b"trailers",
    b"identity",
]


@st.composite
def header_cases(draw: st.DrawFn) -> Case:
    """A valid request for any route, with odd, repeated, huge or unknown headers."""
    seed = draw(st.sampled_from(SEEDS))
    headers = draw(
        st.lists(
            st.tuples(st.sampled_from(_HEADER_NAMES), st.sampled_from(_HEADER_VALUES)),
            min_size=1,
            max_size=6,
        )
    )
    many = draw(st.sampled_from([0, 0, 0, 100, 2000]))
    headers += [(b"X-Many-%d" % i, b"v") for i in range(many)]
    names = {name.lower() for name, _ in headers}
    host = None if b"host" in names else HOST
    raw = seed_request(seed, headers=headers, host=host)
    # obs-text bytes and empty values are legal; an empty Host or a stray Content-Encoding
    # changes the meaning but still makes a well-formed message.
    return Case(seed.route, raw, note=f"{len(headers)} headers")


# --- methods, paths, versions ---------------------------------------------------------------

_METHODS = [
    b"GET",
    b"POST",
    b"PUT",
    b"DELETE",
    b"PATCH",
    b"HEAD",
    b"OPTIONS",
    b"TRACE",
    b"PROPFIND",
    b"get",
    b"Post",
    b"BREW",
    b"M" * 100,
]
_PREFIXES = [b"", b"/api/openai", b"/api/openai/v1/..", b"/backend-api/codex/..", b"//", b"/./"]
_SUFFIXES = [b"", b"/", b"//", b"?", b"#frag", b"/..", b"%2f", b"/%2e%2e/", b";x=1", b"?a=b#c"]
_PATHS = [seed.path.split("?", 1)[0].encode() for seed in SEEDS] + [
    b"/",
    b"*",
    b"/v1",
    b"/v1/",
    b"/v1/engines",
    b"/v1/files",
    b"/codex/v1",
    b"/_gateway",
    b"/_gateway/admin",
    b"/_gateway/images/",
    b"/_gateway/images/../../azt.db",
    b"/_gateway/images/%2e%2e%2fazt.db",
    b"/%76%31/models",
    b"/V1/MODELS",
    b"/v1/models%00",
    b"/v1/\xff\xfe",
    b"/v1/\xed\xa0\x80",
    "/v1/é".encode(),
    b"/" + b"a" * 70_000,
    b"http://127.0.0.1/v1/models",
    b"http://[::1]/v1/models",
    b"//evil.example/v1/models",
]
_VERSIONS = [
    b"HTTP/1.1",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"HTTP/0.9",
    b"HTTP/9.9",
    b"HTTP/1.1 x",
    b"",
]


@st.composite
def path_cases(draw: st.DrawFn) -> Case:
    """Any method on any path (route paths and their spellings), with odd HTTP versions."""
    method = draw(st.sampled_from(_METHODS))
    path = (
        draw(st.sampled_from(_PREFIXES))
        + draw(st.sampled_from(_PATHS))
        + draw(st.sampled_from(_SUFFIXES))
    )
    version = draw(st.sampled_from(_VERSIONS))
    with_body = draw(st.booleans())
    body = encode_json({"model": "gpt-5.4", "input": "Reply with PONG"}) if with_body else b""
    headers = [(b"Content-Type", b"application/json")] if with_body else []
    raw = http_request(method, path, headers, body, version=version)
    well_formed = (
        version in (b"HTTP/1.1", b"HTTP/1.0")
        and method.isalpha()
        and method.isupper()
        and all(32 < byte < 127 for byte in path)
        and (path.startswith((b"/", b"http://")) or path == b"*")
    )
    return Case("paths", raw, well_formed=well_formed, note=f"{method!r} {path[:80]!r} {version!r}")


# --- framing: Content-Length and Transfer-Encoding --------------------------------------------


def _chunked(
    body: bytes, sizes: list[int], *, extension: bytes = b"", upper: bool = False
) -> bytes:
    out, at = b"", 0
    for size in sizes:
        piece = body[at : at + size]
        at += size
        if not piece:
            break
        hexsize = f"{len(piece):x}".encode()
        out += (hexsize.upper() if upper else hexsize) + extension + b"\r\n" + piece + b"\r\n"
    if at < len(body):
        rest = body[at:]
        out += f"{len(rest):x}".encode() + b"\r\n" + rest + b"\r\n"
    return out + b"0\r\n\r\n"


def _head(seed: Seed, lines: list[bytes]) -> bytes:
    start = seed.method.encode() + b" " + seed.path.encode() + b" HTTP/1.1"
    return (
        b"\r\n".join([start, b"Host: " + HOST, b"Content-Type: application/json", *lines])
        + b"\r\n\r\n"
    )


FRAMINGS = [
    "chunked",
    "chunked one byte a chunk",
    "chunked with extensions",
    "chunked upper hex",
    "chunked with trailers",
    "chunked leading zeros",
    "Chunked spelling",
    "TE gzip, chunked",
    "CL and TE",
    "TE twice",
    "duplicate CL same",
    "duplicate CL differ",
    "CL list",
    "CL plus",
    "CL negative",
    "CL hex",
    "CL huge",
    "CL unicode digit",
    "CL short (pipelined rest)",
    "CL long (half close)",
    "bad chunk size",
    "chunk size overflow",
    "chunk missing CRLF",
    "chunk longer than size",
    "no final chunk (half close)",
    "bare LF",
    "obs-fold",
    "space before colon",
    "NUL in header",
    "pipelined",
    "expect 100-continue",
    "TE identity",
    "CL and chunked body",
]
WELL_FORMED = {
    "chunked",
    "chunked one byte a chunk",
    "chunked with extensions",
    "chunked upper hex",
    "chunked with trailers",
    "chunked leading zeros",
    "Chunked spelling",
    "pipelined",
    "expect 100-continue",
    "duplicate CL same",
}


@st.composite
def framing_cases(draw: st.DrawFn) -> Case:
    """JSON routes whose message framing is odd: chunked bodies (valid ones too),
    Content-Length and Transfer-Encoding together, bad lengths, pipelining, bare LFs."""
    seed = draw(st.sampled_from(JSON_SEEDS))
    body = encode_json(seed.json_body())
    n = len(body)
    kind = draw(st.sampled_from(FRAMINGS))
    half_close = all_replies = False
    cl = b"Content-Length: %d" % n
    te = b"Transfer-Encoding: chunked"
    if kind == "chunked":
        raw = _head(seed, [te]) + _chunked(body, [draw(st.integers(1, n))])
    elif kind == "chunked one byte a chunk":
        raw = _head(seed, [te]) + _chunked(body, [1] * n)
    elif kind == "chunked with extensions":
        raw = _head(seed, [te]) + _chunked(body, [n // 2], extension=b";name=value;x")
    elif kind == "chunked upper hex":
        raw = _head(seed, [te]) + _chunked(body, [n], upper=True)
    elif kind == "chunked with trailers":
        raw = _head(seed, [te]) + _chunked(body, [n])[:-2] + b"X-Trailer: 1\r\n\r\n"
    elif kind == "chunked leading zeros":
        raw = _head(seed, [te]) + b"%08x\r\n" % n + body + b"\r\n0000\r\n\r\n"
    elif kind == "Chunked spelling":
        raw = _head(seed, [b"Transfer-Encoding: Chunked "]) + _chunked(body, [n])
    elif kind == "TE gzip, chunked":
        packed = gzip.compress(body)
        raw = _head(seed, [b"Transfer-Encoding: gzip, chunked"]) + _chunked(packed, [len(packed)])
    elif kind == "CL and TE":
        raw = _head(seed, [cl, te]) + _chunked(body, [n])
    elif kind == "TE twice":
        raw = _head(seed, [te, b"Transfer-Encoding: identity"]) + _chunked(body, [n])
    elif kind == "duplicate CL same":
        raw = _head(seed, [cl, cl]) + body
    elif kind == "duplicate CL differ":
        raw = _head(seed, [cl, b"Content-Length: %d" % (n + 5)]) + body
        half_close = True
    elif kind == "CL list":
        raw = _head(seed, [b"Content-Length: %d, %d" % (n, n)]) + body
    elif kind == "CL plus":
        raw = _head(seed, [b"Content-Length: +%d" % n]) + body
    elif kind == "CL negative":
        raw = _head(seed, [b"Content-Length: -1"]) + body
    elif kind == "CL hex":
        raw = _head(seed, [b"Content-Length: 0x%x" % n]) + body
    elif kind == "CL huge":
        raw = _head(seed, [b"Content-Length: 99999999999999999999999"]) + body
        half_close = True
    elif kind == "CL unicode digit":
        raw = _head(seed, [b"Content-Length: \xd9\xa3"]) + body
    elif kind == "CL short (pipelined rest)":
        cut = draw(st.integers(0, n - 1))
        # The rest of the body is read as a second request; end its head so that it is one.
        raw = _head(seed, [b"Content-Length: %d" % cut]) + body + b"\r\n\r\n"
        all_replies = True
    elif kind == "CL long (half close)":
        raw = _head(seed, [b"Content-Length: %d" % (n + draw(st.integers(1, 1000)))]) + body
        half_close = True
    elif kind == "bad chunk size":
        raw = _head(seed, [te]) + b"zz\r\n" + body + b"\r\n0\r\n\r\n"
    elif kind == "chunk size overflow":
        raw = _head(seed, [te]) + b"ffffffffffffffffffff\r\n" + body + b"\r\n0\r\n\r\n"
        half_close = True
    elif kind == "chunk missing CRLF":
        raw = _head(seed, [te]) + b"%x\r\n" % n + body + b"0\r\n\r\n"
        half_close = True
    elif kind == "chunk longer than size":
        raw = _head(seed, [te]) + b"%x\r\n" % (n // 2) + body + b"\r\n0\r\n\r\n"
        half_close = True
    elif kind == "no final chunk (half close)":
        raw = _head(seed, [te]) + b"%x\r\n" % n + body + b"\r\n"
        half_close = True
    elif kind == "bare LF":
        raw = _head(seed, [cl]).replace(b"\r\n", b"\n") + body
    elif kind == "obs-fold":
        raw = _head(seed, [cl, b"X-Folded: a", b" b"]) + body
    elif kind == "space before colon":
        raw = _head(seed, [b"Content-Length : %d" % n]) + body
    elif kind == "NUL in header":
        raw = _head(seed, [cl, b"X-Nul: a\x00b"]) + body
    elif kind == "pipelined":
        one = seed_request(seed)
        raw = one + one + http_request(b"GET", b"/v1/models", [(b"Connection", b"close")])
        all_replies = True
    elif kind == "expect 100-continue":
        raw = _head(seed, [cl, b"Expect: 100-continue"]) + body
    elif kind == "TE identity":
        raw = _head(seed, [b"Transfer-Encoding: identity", cl]) + body
    else:  # "CL and chunked body": the length counts the chunked framing too
        chunked = _chunked(body, [n])
        raw = _head(seed, [b"Content-Length: %d" % len(chunked)]) + chunked
    if half_close:
        all_replies = True
    return Case(
        seed.route,
        raw,
        well_formed=kind in WELL_FORMED,
        half_close=half_close,
        all_replies=all_replies,
        note=kind,
    )


# --- the proxy listener -------------------------------------------------------------------

INTERCEPTED = [
    b"api.openai.com",
    b"API.OpenAI.com",
    b"api.openai.com.",
    b"chatgpt.com",
    b"api.openai.com:80",
    b"chatgpt.com:443",
]
SINK = b"127.0.0.1:SINKPORT"  # the runner puts the sink's port here


@st.composite
def proxy_cases(draw: st.DrawFn) -> Case:
    """The proxy listener: absolute-form requests for intercepted hosts (plain HTTP), the
    same through a CONNECT tunnel with TLS, and requests for another host (the sink),
    which must pass through untouched. Bodies are valid or mutated."""
    seed = draw(st.sampled_from(SEEDS))
    path = seed.path.encode()
    if path.startswith(b"/codex/v1/") and draw(st.booleans()):
        path = b"/backend-api/codex/" + path.removeprefix(b"/codex/v1/")
    body: bytes | None = None
    note = ""
    if seed.body is not None and draw(st.booleans()):
        doc, note = draw(mutated_json(seed.json_body()))
        body = encode_json(doc)
    mode = draw(st.sampled_from(["absolute", "tunnel", "passthrough", "origin-form"]))
    if mode == "absolute":
        host = draw(st.sampled_from(INTERCEPTED))
        raw = seed_request(seed, body=body, target=b"http://" + host + path, host=host)
        return Case(seed.route, raw, listener="proxy", note=f"absolute {note}".strip())
    if mode == "tunnel":
        host = draw(st.sampled_from([b"api.openai.com", b"chatgpt.com"]))
        raw = seed_request(seed, body=body, target=path, host=host)
        return Case(
            seed.route,
            raw,
            listener="proxy",
            tunnel=host.decode() + ":443",
            note=f"tunnel {note}".strip(),
        )
    if mode == "passthrough":
        raw = seed_request(seed, body=body, target=b"http://" + SINK + path, host=SINK)
        return Case("proxy passthrough", raw, listener="proxy", passthrough=True, note=note)
    # Origin-form on the proxy listener: the Host header names the destination.
    host = draw(st.sampled_from([*INTERCEPTED, SINK]))
    raw = seed_request(seed, body=body, host=host)
    if host == SINK:
        return Case(
            "proxy passthrough", raw, listener="proxy", passthrough=True, note="origin-form"
        )
    return Case(seed.route, raw, listener="proxy", note=f"origin-form {note}".strip())


FAMILIES: dict[str, st.SearchStrategy[Case]] = {
    "json_values": json_value_cases(),
    "json_text": json_text_cases(),
    "compressed": compressed_cases(),
    "multipart": multipart_cases(),
    "queries": query_cases(),
    "headers": header_cases(),
    "paths": path_cases(),
    "framing": framing_cases(),
    "proxy": proxy_cases(),
}
