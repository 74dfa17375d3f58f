"""Hostile input through the reverse listener: each class is refused in JSON, and nothing it
does reaches the upstream, breaks another client's requests, records or metrics."""

import asyncio
import gzip
import json
from typing import Any

import pytest
import zstandard

from support.rig import Rig

CHAT = "/v1/chat/completions"
MESSAGES = [{"role": "user", "content": "hi"}]
VALID = {"model": "gpt-5.4", "messages": MESSAGES}
MiB = 1024 * 1024


def upstream_calls(rig: Rig) -> int:
    return len([r for r in rig.sim.requests if r.path.endswith("/responses")])


def error_of(reply: Any) -> tuple[int, str]:
    body = reply.json()
    assert body["detail"] == body["error"]["message"]
    return reply.status_code, body["error"]["code"]


async def raw_exchange(
    rig: Rig, head: bytes, body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are to the reverse listener; the status, headers and body back."""
    host, port = rig.listeners.reverse
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head + body)
        await writer.drain()
        data = await reader.read()  # every request here asks for `connection: close`
    finally:
        writer.close()
        await writer.wait_closed()
    head_bytes, _, rest = data.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, rest


async def test_a_decompression_bomb_is_a_413_and_the_gateway_keeps_serving(rig: Rig) -> None:
    """Small bodies that inflate past the limit are refused, whatever their coding."""
    rig.add_account()
    zeros = bytes(200 * MiB)  # over the 128 MiB default body limit once decoded
    bombs = {
        "zstd": zstandard.ZstdCompressor(level=3).compress(zeros),
        "gzip": gzip.compress(zeros, compresslevel=1),
    }
    del zeros
    for coding, bomb in bombs.items():
        assert len(bomb) < 1 * MiB
        refused, models = await asyncio.gather(
            rig.client.post(
                CHAT,
                content=bomb,
                headers={"content-type": "application/json", "content-encoding": coding},
            ),
            rig.client.get("/v1/models"),
        )
        assert error_of(refused) == (413, "request_too_large"), coding
        assert models.status_code == 200
    assert upstream_calls(rig) == 0
    assert (await rig.client.post(CHAT, json=VALID)).status_code == 200


async def test_compressed_image_bodies_are_decoded_too(rig: Rig) -> None:
    rig.add_account(plan="plus")
    body = gzip.compress(json.dumps({"prompt": "a red square"}).encode())
    reply = await rig.client.post(
        "/v1/images/generations",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert reply.status_code == 200 and reply.json()["data"][0]["b64_json"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"model":"gpt-5.4","messages":[{"role":"user","content":"\\ud800"}]}',
        b'{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}],"\\udfff":1}',
        b'{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}],"temperature":NaN}',
        b'{"model":"gpt-5.4","messages":[{"role":"user","content":"hi"}],"top_p":Infinity}',
        b'{"model":"gpt-5.4","messages":[{"role":"user","content":"\xff\xfe"}]}',
    ],
    ids=["lone-surrogate", "surrogate-key", "nan", "infinity", "invalid-utf8"],
)
async def test_strings_that_are_not_unicode_are_a_400_and_break_nothing(
    rig: Rig, body: bytes
) -> None:
    rig.add_account()
    reply = await rig.client.post(CHAT, content=body, headers={"content-type": "application/json"})
    assert error_of(reply) == (400, "invalid_json")
    assert upstream_calls(rig) == 0  # never forwarded, so never retried elsewhere either
    # Another client's request, the metrics and the records are untouched.
    assert (await rig.client.post(CHAT, json=VALID)).status_code == 200
    assert (await rig.client.get("/metrics")).status_code == 200
    records = (await rig.client.get("/_gateway/admin/requests?limit=10")).json()["data"]
    assert [r["status"] for r in records] == [200, 400]


async def test_bytes_that_are_not_utf8_in_the_request_head_are_a_400(rig: Rig) -> None:
    for head in (
        b"GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: x\xff\xfe\r\n"
        b"connection: close\r\n\r\n",
        b"GET /_gateway/admin/requests?model=\xff HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"connection: close\r\n\r\n",
    ):
        status, headers, body = await raw_exchange(rig, head)
        assert status == 400 and headers["content-type"] == "application/json"
        assert json.loads(body)["error"]["code"] == "invalid_encoding"
    assert (await rig.client.get("/metrics")).status_code == 200


async def test_client_keys_never_reach_a_header_unescaped(rig: Rig) -> None:
    """Unknown keys are named in x-azt-ignored-params percent-encoded, on every route."""
    rig.add_account(plan="plus")
    evil = "x\r\nset-cookie: stolen=1\r\n\r\nHTTP/1.1 200 OK"
    chat = await rig.client.post(CHAT, json={**VALID, evil: 1})
    image = await rig.client.post("/v1/images/generations", json={"prompt": "a fox", evil: 1})
    for reply in (chat, image):
        assert reply.status_code == 200
        assert "set-cookie" not in reply.headers
        ignored = reply.headers["x-azt-ignored-params"]
        assert "\r" not in ignored and "\n" not in ignored
        assert "x%0D%0Aset-cookie" in ignored


DEEP = b"[" * 1500 + b"]" * 1500


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        (CHAT, b'{"model":"gpt-5.4","messages":[],"metadata":' + DEEP + b"}"),
        ("/v1/responses", b'{"model":"gpt-5.4","input":[{"role":["user"],"content":"hi"}]}'),
        ("/v1/images/generations", b'{"prompt":"x","size":' + DEEP + b"}"),
        (
            "/v1/images/generations",
            b'{"prompt":"x","n":' + b'{"a":' * 200 + b"1" + b"}" * 200 + b"}",
        ),
    ],
    ids=["deep-chat", "role-list", "deep-images", "deep-objects"],
)
async def test_deep_nesting_and_wrong_types_are_a_400(rig: Rig, path: str, raw: bytes) -> None:
    rig.add_account(plan="plus")
    reply = await rig.client.post(path, content=raw, headers={"content-type": "application/json"})
    status, _ = error_of(reply)
    assert status == 400
    assert upstream_calls(rig) == 0


async def test_a_chunked_request_body_is_served(rig: Rig) -> None:
    """Transfer-Encoding: chunked is valid HTTP/1.1: the request is served like any other."""
    rig.add_account()
    body = json.dumps(VALID).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"content-type: application/json\r\ntransfer-encoding: chunked\r\n"
        b"connection: close\r\n\r\n"
    )
    status, _, reply = await raw_exchange(rig, head, chunks + b"0\r\n\r\n")
    assert status == 200
    assert b"chat.completion" in reply


async def test_junk_names_cannot_grow_the_statistics(rig: Rig) -> None:
    """Models and SDK languages a client makes up are counted under one bucket each."""
    rig.add_account()
    for n in range(40):
        await rig.client.post(
            CHAT,
            json={"model": f"junk-model-{n}", "messages": MESSAGES},
            headers={"x-stainless-lang": f"lang{n}"},
        )
        await rig.client.post(
            "/codex/v1/responses", json={"model": f"junk-codex-{n}", "input": "hi"}
        )
    assert rig.gateway is not None
    await rig.gateway.recorder.flush()  # the rollups are written on the recorder's thread
    conn_rows = rig.runtime.conn.execute(
        "SELECT dimension, key FROM usage_rollup WHERE dimension IN ('model', 'source')"
    ).fetchall()
    keys = {(dimension, key) for dimension, key in conn_rows}
    assert keys == {("model", "unknown"), ("source", "openai-sdk-unknown"), ("source", "other")}


@pytest.mark.parametrize(
    "head",
    [
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n"
        b"content-length: 6\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: -5\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n"
        b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\nbad name: 1\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ],
    ids=["two-lengths", "negative-length", "length-and-chunked", "bad-header-name", "no-http"],
)
async def test_requests_that_are_not_http_get_a_json_400(rig: Rig, head: bytes) -> None:
    status, headers, body = await raw_exchange(rig, head)
    assert status == 400 and headers["content-type"] == "application/json"
    assert "server" not in headers
    assert json.loads(body)["error"]["code"] == "invalid_http"
    assert (await rig.client.get("/v1/models")).status_code == 200


async def test_a_chunked_body_with_trailers_is_a_json_400_not_a_hang(rig: Rig) -> None:
    body = json.dumps(VALID).encode()
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        b"content-type: application/json\r\ntransfer-encoding: chunked\r\n"
        b"connection: close\r\n\r\n"
    )
    chunked = b"%x\r\n%s\r\n0\r\nx-trailer: 1\r\n\r\n" % (len(body), body)
    status, headers, reply = await raw_exchange(rig, head, chunked)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(reply)["error"]["code"] == "invalid_http"


@pytest.mark.parametrize("gateway_settings", [{"compact_body_limit_mb": 8, "body_limit_mb": 4}])
async def test_a_reply_larger_than_the_body_limit_still_reaches_the_client(rig: Rig) -> None:
    """Limits are on what clients send; a large reply (a compaction of 8 MB) streams through."""
    rig.add_account()
    big = {"model": "gpt-5.4", "instructions": "", "input": "a" * 8_000_000}
    reply = await rig.client.post("/codex/v1/responses/compact", json=big)
    assert reply.status_code == 200
    assert len(reply.content) > 9 * MiB  # past mitmproxy's body limit (the largest one + 1 MiB)
    assert reply.json()["object"] == "response.compaction"
