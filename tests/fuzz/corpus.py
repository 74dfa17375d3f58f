"""Explicit regression examples: the smallest requests known to break a fuzz property,
grouped by the class of defect they show. Each must pass once its defect is fixed; they run
in every `make test` (test_corpus.py) whatever the fuzz size, judged like fuzz cases.

An entry is (defect class, short name, case). Add the minimal example of every new defect
the fuzz finds here, so the fix can be checked against it.
"""

import json

from fuzz.oracle import INJECTED
from fuzz.runner import Case
from fuzz.seeds import http_request
from fuzz.stack import COMPACT_BODY_LIMIT_MB
from fuzz.strategies import BODY_LIMIT_MB, MiB, bomb

JSON = (b"Content-Type", b"application/json")


def _post(route: str, path: bytes, body: bytes, *headers: tuple[bytes, bytes]) -> Case:
    return Case(route, http_request(b"POST", path, [JSON, *headers], body))


def chat(body: bytes, *headers: tuple[bytes, bytes]) -> Case:
    return _post("chat.completions", b"/v1/chat/completions", body, *headers)


def responses(body: bytes, *headers: tuple[bytes, bytes]) -> Case:
    return _post("responses.create", b"/v1/responses", body, *headers)


def codex(body: bytes, *headers: tuple[bytes, bytes]) -> Case:
    return _post("codex.responses", b"/codex/v1/responses", body, *headers)


def images(body: bytes) -> Case:
    return _post("images.generations", b"/v1/images/generations", body)


MESSAGES = b'"messages": [{"role": "user", "content": "hi"}]'
CHAT = b'{"model": "gpt-5.4", ' + MESSAGES + b"}"
CODEX = b'{"model": "gpt-5.4", "instructions": "", "input": [], "store": false, "stream": true}'


def _bombs() -> list[tuple[str, str, Case]]:
    """Small bodies that decode to 256 MiB: the gateway must refuse them past the body limit
    without holding the whole decoded body (bounded memory)."""
    return [
        (
            "decompression bomb",
            f"{encoding} 256 MiB",
            Case(
                route,
                http_request(
                    b"POST",
                    path,
                    [JSON, (b"Content-Encoding", encoding.encode())],
                    bomb(encoding, 256, False),
                ),
                note=f"{encoding} body decoding to 256 MiB of zeros",
            ),
        )
        for encoding, route, path in (
            ("gzip", "chat.completions", b"/v1/chat/completions"),
            ("zstd", "codex.responses", b"/codex/v1/responses"),
            ("br", "responses.create", b"/v1/responses"),
            ("deflate", "codex.compact", b"/codex/v1/responses/compact"),
        )
    ]


def entries() -> list[tuple[str, str, Case]]:
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(CHAT), CHAT)
    return [
        *_bombs(),
        # A lone surrogate (valid JSON: the escape \ud800) reaches str handling that
        # encodes to UTF-8: the error reply itself, the request record, the metrics labels.
        ("lone surrogate", "chat model", chat(b'{"model": "\\ud800", ' + MESSAGES + b"}")),
        (
            "lone surrogate",
            "chat content",
            chat(b'{"model": "gpt-5.4", "messages": [{"role": "user", "content": "\\ud800"}]}'),
        ),
        ("lone surrogate", "codex model", codex(CODEX.replace(b"gpt-5.4", b"\\ud800"))),
        ("lone surrogate", "responses model", responses(b'{"model": "\\ud800", "input": "hi"}')),
        ("lone surrogate", "image prompt", images(b'{"prompt": "\\ud800"}')),
        # Bytes that are not UTF-8 in the request target (mitmproxy keeps them as surrogates).
        (
            "invalid UTF-8 in the path",
            "path",
            Case("paths", b"GET /v1/\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", well_formed=False),
        ),
        (
            "invalid UTF-8 in the path",
            "query",
            Case(
                "models.list",
                b"GET /codex/v1/models?client_version=\xff HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                well_formed=False,
            ),
        ),
        # An unknown key is named in x-azt-ignored-params verbatim: CR LF in it splits the
        # header and plants another one.
        (
            "CRLF header injection",
            "unknown chat key",
            chat(CHAT[:-1] + b', "x\\r\\n' + INJECTED.encode() + b': 1": 1}'),
        ),
        (
            "CRLF header injection",
            "unknown responses key",
            responses(
                b'{"model": "gpt-5.4", "input": "hi", "a\\r\\n%s: 1": 1}' % INJECTED.encode()
            ),
        ),
        (
            "CRLF header injection",
            "a key that starts with CR LF ends the reply head",
            chat(CHAT[:-1] + b', "\\r\\n%s: 1\\r\\n": 1}' % INJECTED.encode()),
        ),
        (
            "lone surrogate",
            "unknown key named in x-azt-ignored-params",
            chat(CHAT[:-1] + b', "\\ud800": 1}'),
        ),
        # A Content-Encoding that is not ASCII escapes the 400 for unknown encodings.
        (
            "non-ASCII Content-Encoding",
            "\\xff",
            chat(CHAT, (b"Content-Encoding", b"\xff")),
        ),
        # json.loads raises RecursionError (not ValueError) past the recursion limit.
        (
            "deep nesting",
            "chat 100k lists",
            chat(CHAT[:-1] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        ),
        (
            "deep nesting",
            "codex 100k objects",
            codex(CODEX[:-1] + b', "x": ' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"}"),
        ),
        (
            "deep nesting",
            "image body 5,000 lists",
            images(b'{"prompt": "x", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        ),
        # Integers past SQLite's 64 bits in the request log's filters.
        (
            "out-of-range values",
            "after_seq",
            Case(
                "admin.requests",
                http_request(b"GET", b"/_gateway/admin/requests?after_seq=99999999999999999999"),
            ),
        ),
        (
            "lone surrogate",
            "request log filter",
            Case("admin.requests", http_request(b"GET", b"/_gateway/admin/requests?model=%ff")),
        ),
        # A header value that is not ASCII reaches httpx upstream, which refuses to encode it.
        (
            "non-ASCII header forwarded",
            "User-Agent on the Codex model list",
            Case(
                "codex.models",
                http_request(
                    b"GET",
                    b"/codex/v1/models?client_version=0.169.0",
                    [(b"User-Agent", "é".encode())],
                ),
            ),
        ),
        (
            "non-ASCII header forwarded",
            "session_id on a chat",
            chat(CHAT, (b"session_id", b"\xc3\xa9")),
        ),
        # Bodies and replies over mitmproxy's own body_size_limit get its HTML page.
        (
            "HTML/text framing errors",
            "body over body_size_limit",
            chat(b'{"model": "' + b"a" * 18_000_000 + b'"}'),
        ),
        (
            "HTML/text framing errors",
            "compaction reply over body_size_limit",
            _post(
                "codex.compact",
                b"/codex/v1/responses/compact",
                b'{"model": "gpt-5.4", "instructions": "", "input": "' + b"a" * 8_000_000 + b'"}',
            ),
        ),
        # mitmproxy raises NotImplementedError on request trailers: no reply, ever.
        (
            "chunked request body",
            "trailers",
            Case(
                "chat.completions",
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + chunked[:-2]
                + b"X-Trailer: 1\r\n\r\n",
            ),
        ),
        # Many header lines: the gateway stalls on them (and every other client with it).
        (
            "unbounded headers",
            "50,000 header lines",
            Case(
                "chat.completions",
                http_request(
                    b"POST",
                    b"/v1/chat/completions",
                    [JSON, *((b"X-%d" % i, b"v") for i in range(50_000))],
                    CHAT,
                ),
            ),
        ),
        # A valid chunked body (no Content-Length): the pool's server refuses it.
        (
            "chunked request body",
            "chat",
            Case(
                "chat.completions",
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked,
            ),
        ),
        # Protocol errors are answered by mitmproxy's HTML page or uvicorn's plain text.
        (
            "HTML/text framing errors",
            "bad request line",
            Case("paths", b"GARBAGE\r\n\r\n", well_formed=False),
        ),
        (
            "HTML/text framing errors",
            "Content-Length and Transfer-Encoding",
            Case(
                "chat.completions",
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n%s" % (len(chunked), chunked),
                well_formed=False,
            ),
        ),
        # A non-streaming tool call whose arguments echo a huge schema: its event stream
        # (the arguments repeat in several events, escaped) passed mitmproxy's body limit,
        # and an echo this long is cut at the model's output limit.
        (
            "reply larger than the body limit",
            "chat tool call",
            chat(json.dumps(_big_tool_call_chat(), ensure_ascii=False).encode()),
        ),
        # A chunked plain-HTTP proxy upload to a host azt does not intercept, larger than
        # mitmproxy's body limit: it was buffered, then refused, instead of relayed.
        (
            "passthrough larger than the body limit",
            "chunked upload to another host",
            Case(
                "proxy passthrough",
                b"POST http://127.0.0.1:SINKPORT/upload HTTP/1.1\r\nHost: 127.0.0.1:SINKPORT\r\n"
                b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                + _chunked(b"x" * MiB, COMPACT_BODY_LIMIT_MB + 2),
                listener="proxy",
                passthrough=True,
            ),
        ),
    ]


def _chunked(piece: bytes, count: int) -> bytes:
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    return chunk * count + b"0\r\n\r\n"


def _big_tool_call_chat() -> dict[str, object]:
    required = "é" * (BODY_LIMIT_MB * MiB // 6)
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {}, "required": [required]},
        },
    }
    question = {"role": "user", "content": "What is the weather in Paris? Use get_weather."}
    return {"model": "gpt-5.4", "messages": [question], "tools": [tool]}
