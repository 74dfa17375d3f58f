"""`azt start` as a user runs it: a real process, a real request, Ctrl-C."""

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from azt.cli.start import is_loopback
from support.ports import port_is_free
from support.process import read_banner


def launch(*args: str, env_home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "AZT_HOME": str(env_home), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "azt", "start", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_demo_answers_curl_and_stops_cleanly_on_ctrl_c(azt_home: Path) -> None:
    process = launch("--demo", "--port", "0", "--proxy-port", "0", env_home=azt_home)
    try:
        banner = read_banner(process)
        base = re.search(r"OpenAI base URL\s+(http://\S+)/v1", banner)
        proxy = re.search(r"HTTP proxy\s+http://127\.0\.0\.1:(\d+)", banner)
        assert base and proxy, banner
        assert "Accounts         1 (default: demo@example.com)" in banner
        response = httpx.post(
            f"{base.group(1)}/codex/v1/responses",
            json={
                "model": "gpt-5.4",
                "instructions": "",
                "input": "Reply with PONG",
                "store": False,
                "stream": True,
            },
            timeout=20,
        )
        assert response.status_code == 200
        assert '"delta":"PONG"' in response.text
        assert '"type":"response.completed"' in response.text
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    port = int(base.group(1).rsplit(":", 1)[1])
    assert port_is_free(port) and port_is_free(int(proxy.group(1)))
    assert "Traceback" not in stderr


def test_port_in_use_is_a_clear_error(azt_home: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        process = launch("--port", str(busy), "--no-proxy", env_home=azt_home)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 4
    assert "cannot open the listeners" in stderr and "Traceback" not in stderr


def test_non_loopback_host_warns_loudly(azt_home: Path) -> None:
    process = launch(
        "--host", "0.0.0.0", "--port", "0", "--proxy-port", "0", "--demo", env_home=azt_home
    )
    try:
        read_banner(process)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert "WARNING: binding 0.0.0.0" in stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.2", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
