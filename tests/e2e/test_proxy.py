"""The proxy listener: OpenAI hosts intercepted and served by the pool, others untouched."""

import asyncio
import json
import logging
import os
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from mitmproxy import certs

from support.rig import Rig

CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "Reply with PONG only."}]}


@pytest.fixture
def ca(certs_dir: Path) -> Path:
    return certs_dir / "mitmproxy-ca-cert.pem"


def proxy_client(rig: Rig, ca: Path) -> httpx.AsyncClient:
    assert rig.listeners.proxy_url is not None
    return httpx.AsyncClient(proxy=rig.listeners.proxy_url, verify=str(ca), timeout=20)


async def run(*command: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(  # noqa: TID251
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_curl_reaches_api_openai_com_through_the_proxy(rig: Rig, ca: Path) -> None:
    rig.add_account()
    code, out, err = await run(
        "curl",
        "-sS",
        "--proxy",
        str(rig.listeners.proxy_url),
        "--cacert",
        str(ca),
        "https://api.openai.com/v1/chat/completions",
        "-H",
        "content-type: application/json",
        "-H",
        "authorization: Bearer sk-anything",
        "-d",
        json.dumps(CHAT),
        env={},
    )
    assert code == 0, err
    assert json.loads(out)["choices"][0]["message"]["content"] == "PONG"
    assert rig.sim.requests[-1].headers["authorization"] != "Bearer sk-anything"


async def test_python_sdk_with_its_default_base_url(rig: Rig, ca: Path) -> None:
    rig.add_account()
    script = (
        "from openai import OpenAI\n"
        "client = OpenAI(api_key='sk-anything', max_retries=0)\n"
        "reply = client.chat.completions.create(model='gpt-5.4', messages=["
        "{'role': 'user', 'content': 'Reply with PONG only.'}])\n"
        "print(reply.choices[0].message.content)\n"
    )
    code, out, err = await run(
        sys.executable,
        "-c",
        script,
        env={"HTTPS_PROXY": str(rig.listeners.proxy_url), "SSL_CERT_FILE": str(ca)},
    )
    assert code == 0, err
    assert out.strip() == "PONG"


async def test_codex_backend_paths_on_chatgpt_com_are_served_by_the_pool(
    rig: Rig, ca: Path
) -> None:
    account = rig.add_account()
    body = {
        "model": "gpt-5.4",
        "instructions": "",
        "input": "Reply with PONG",
        "store": False,
        "stream": True,
    }
    async with proxy_client(rig, ca) as client:
        response = await client.post(
            "https://chatgpt.com/backend-api/codex/responses",
            json=body,
            headers={"authorization": "Bearer codex-own-login", "chatgpt-account-id": "own"},
        )
        usage = await client.get("https://chatgpt.com/backend-api/wham/usage")
    assert response.status_code == 200 and '"delta":"PONG"' in response.text
    upstream = rig.sim.requests[-1]
    assert upstream.headers["authorization"] == f"Bearer {account.access_token}"
    assert usage.status_code == 200 and usage.json()["rate_limit"]["allowed"] is True


async def test_unknown_paths_on_an_intercepted_host_never_leave(rig: Rig, ca: Path) -> None:
    rig.add_account()
    async with proxy_client(rig, ca) as client:
        response = await client.get("https://api.openai.com/v1/files")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_route"
    assert not rig.sim.requests


@pytest.fixture
async def origin(tmp_path: Path) -> AsyncIterator[tuple[int, Path]]:
    """An HTTPS server for `localhost` with a certificate from its own, separate CA."""
    certs.CertStore.create_store(tmp_path / "origin", "origin", 2048, cn="origin CA")
    store = certs.CertStore.from_store(tmp_path / "origin", "origin", 2048)
    entry = store.get_cert("localhost", ["localhost"])
    (tmp_path / "leaf.pem").write_bytes(entry.cert.to_pem() + store.default_ca.to_pem())
    (tmp_path / "leaf.key").write_bytes(
        entry.privatekey.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\norigin")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, tmp_path / "origin" / "origin-ca-cert.pem"
    finally:
        server.close()
        await server.wait_closed()


async def test_other_https_hosts_are_not_intercepted(
    rig: Rig, ca: Path, origin: tuple[int, Path]
) -> None:
    port, origin_ca = origin
    # Trusting only the origin's own CA: this works only if the proxy passed TLS through.
    async with httpx.AsyncClient(
        proxy=rig.listeners.proxy_url, verify=str(origin_ca), timeout=10
    ) as client:
        response = await client.get(f"https://localhost:{port}/")
    assert (response.status_code, response.text) == (200, "origin")
    # And trusting only azt's CA fails: the client saw the origin's certificate, not azt's.
    async with httpx.AsyncClient(proxy=rig.listeners.proxy_url, verify=str(ca)) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"https://localhost:{port}/")


class FirstRecord(logging.Handler):
    """Resolves `message` with the first log message that contains `fragment`."""

    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment
        self.loop = asyncio.get_running_loop()
        self.message: asyncio.Future[str] = self.loop.create_future()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if self.fragment in text:
            self.loop.call_soon_threadsafe(self._resolve, text)

    def _resolve(self, text: str) -> None:
        if not self.message.done():
            self.message.set_result(text)


async def test_a_client_rejecting_the_certificate_is_told_how_to_fix_it(rig: Rig, caplog) -> None:
    advice = FirstRecord("rejected azt's certificate")
    gateway_log = logging.getLogger("azt.gateway")
    gateway_log.addHandler(advice)
    try:
        with caplog.at_level("WARNING", logger="azt.gateway"):
            async with httpx.AsyncClient(proxy=rig.listeners.proxy_url, verify=True) as client:
                with pytest.raises(httpx.ConnectError):
                    await client.get("https://api.openai.com/v1/models")
            # The proxy sees the client's alert after the client has given up: wait for it.
            message = await advice.message
    finally:
        gateway_log.removeHandler(advice)
    assert "api.openai.com" in message and "SSL_CERT_FILE" in message


NODE_MODULES = Path(__file__).resolve().parents[2] / ".e2e" / "node_modules"


@pytest.mark.skipif(
    not (NODE_MODULES / "undici").exists(), reason="Node SDK not installed (make e2e-deps)"
)
async def test_node_sdk_with_its_default_base_url(rig: Rig, ca: Path) -> None:
    rig.add_account()
    script = Path(__file__).parent / "node" / "proxy_check.mjs"
    code, out, err = await run(
        "node",
        str(script),
        str(NODE_MODULES),
        env={"HTTPS_PROXY": str(rig.listeners.proxy_url), "NODE_EXTRA_CA_CERTS": str(ca)},
    )
    assert code == 0, err
    assert out.strip() == "PONG"


@pytest.mark.parametrize("gateway_settings", [{"socks_port": 0}])
async def test_socks5_listener_intercepts_the_same_way(rig: Rig, ca: Path) -> None:
    rig.add_account()
    assert rig.listeners.socks_url is not None
    code, out, err = await run(
        "curl",
        "-sS",
        "--proxy",
        rig.listeners.socks_url,
        "--cacert",
        str(ca),
        "https://api.openai.com/v1/chat/completions",
        "-H",
        "content-type: application/json",
        "-d",
        json.dumps(CHAT),
        env={},
    )
    assert code == 0, err
    assert json.loads(out)["choices"][0]["message"]["content"] == "PONG"
