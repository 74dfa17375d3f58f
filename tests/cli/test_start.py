"""`azt start` as a user runs it: a real process, a real request, Ctrl-C."""

import logging
import os
import re
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from azt.cli.start import is_loopback, raise_open_file_limit
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


@pytest.fixture
def open_file_limit() -> Iterator[tuple[int, int]]:
    """The current limits, put back after the test."""
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    setrlimit = resource.setrlimit  # a test may replace it
    try:
        yield limits
    finally:
        setrlimit(resource.RLIMIT_NOFILE, limits)


def test_the_open_file_limit_is_raised_to_the_hard_limit(
    open_file_limit: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    _, hard = open_file_limit
    low = 256
    if hard != resource.RLIM_INFINITY and hard <= low:
        pytest.skip(f"the hard limit ({hard}) leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    with caplog.at_level(logging.INFO, logger="azt"):
        raise_open_file_limit()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft > low
    if hard != resource.RLIM_INFINITY:
        assert soft == hard
    assert f"raised the open-file limit from {low} to {soft}" in caplog.text


def test_a_limit_that_cannot_be_raised_is_logged_not_fatal(
    open_file_limit: tuple[int, int],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    soft, hard = open_file_limit
    if soft == resource.RLIM_INFINITY or (hard != resource.RLIM_INFINITY and soft >= hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        soft = 256

    def refuse(*_: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(resource, "setrlimit", refuse)
    with caplog.at_level(logging.INFO, logger="azt"):
        raise_open_file_limit()
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft
    assert f"open-file limit stays at {soft}" in caplog.text


def test_start_raises_its_open_file_limit(azt_home: Path) -> None:
    limits = Path("/proc/self/limits")
    if not limits.exists():
        pytest.skip("reads the limits of the child from /proc")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip(f"needs a finite hard limit above 256 (is {hard})")
    env = {**os.environ, "AZT_HOME": str(azt_home), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "azt", "start", "-v", "--demo", "--port", "0", "--no-proxy"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # the child starts with a low soft limit, as under many login shells
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
    )
    try:
        read_banner(process)
        child = Path(f"/proc/{process.pid}/limits").read_text()
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    soft_in_child = re.search(r"Max open files\s+(\d+)\s+(\d+)", child)
    assert soft_in_child is not None, child
    assert int(soft_in_child.group(1)) == hard
    assert f"raised the open-file limit from 256 to {hard}" in stderr
