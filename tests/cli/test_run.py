"""`azt run` as a user runs it: a real process, a fake gateway port, a child that reports."""

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from azt.runtime_file import RuntimeInfo, write_runtime

# The child prints the variables azt run gave it, echoes its stdin, and exits 7.
CHILD = """
import json, os, sys
names = ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE",
         "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "CODEX_CA_CERTIFICATE", "NODE_USE_ENV_PROXY",
         "AZT_TEST_INHERITED"]
print(json.dumps({name: os.environ.get(name) for name in names}))
print(sys.stdin.read().upper())
sys.exit(7)
"""


def azt_run(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AZT_HOME": str(home), "AZT_TEST_INHERITED": "kept"}
    return subprocess.run(
        [sys.executable, "-m", "azt", "run", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port that accepts TCP connections, standing in for the proxy listener."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def fake_gateway(home: Path, proxy_port: int) -> str:
    home.mkdir(parents=True, exist_ok=True)
    proxy_url = f"http://127.0.0.1:{proxy_port}"
    info = RuntimeInfo(1, "http://127.0.0.1:1", "s", "http://127.0.0.1:2", proxy_url, 0)
    write_runtime(home, info)
    return proxy_url


def test_runs_the_program_with_the_proxy_environment(azt_home: Path, listening_port: int) -> None:
    """The child sees the proxy and CA variables and its stdin; azt exits with its code."""
    proxy_url = fake_gateway(azt_home, listening_port)
    result = azt_run(azt_home, "--", sys.executable, "-c", CHILD, stdin="ping")
    assert result.returncode == 7, result.stderr
    first, second = result.stdout.splitlines()[:2]
    seen = json.loads(first)
    certs = azt_home / "certs"
    assert seen["HTTPS_PROXY"] == seen["HTTP_PROXY"] == proxy_url
    assert seen["NO_PROXY"] == "127.0.0.1,localhost,::1"
    assert seen["SSL_CERT_FILE"] == seen["REQUESTS_CA_BUNDLE"] == seen["CURL_CA_BUNDLE"]
    assert seen["SSL_CERT_FILE"] == str(certs / "azt-bundle.pem")
    assert seen["NODE_EXTRA_CA_CERTS"] == seen["CODEX_CA_CERTIFICATE"]
    assert seen["CODEX_CA_CERTIFICATE"] == str(certs / "mitmproxy-ca-cert.pem")
    assert seen["NODE_USE_ENV_PROXY"] == "1"
    assert seen["AZT_TEST_INHERITED"] == "kept"
    assert second == "PING"
    assert (certs / "azt-bundle.pem").exists()


def test_no_gateway_exits_4(azt_home: Path) -> None:
    """Without a runtime file nothing runs and azt says how to start the gateway."""
    result = azt_run(azt_home, "--", sys.executable, "-c", "print('ran')")
    assert result.returncode == 4
    assert "azt start" in result.stderr
    assert "ran" not in result.stdout


def test_dead_gateway_exits_4(azt_home: Path) -> None:
    """A runtime file left by a crashed gateway is caught by the port check."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    fake_gateway(azt_home, closed_port)
    result = azt_run(azt_home, "--", sys.executable, "-c", "print('ran')")
    assert result.returncode == 4
    assert "does not answer" in result.stderr and "azt start" in result.stderr


def test_missing_program_exits_127(azt_home: Path, listening_port: int) -> None:
    """A program that does not exist is exit 127 with its name in the message."""
    fake_gateway(azt_home, listening_port)
    result = azt_run(azt_home, "--", "azt-no-such-program-xyz")
    assert result.returncode == 127
    assert "azt-no-such-program-xyz" in result.stderr and "no such program" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_no_check_and_death_by_signal(azt_home: Path) -> None:
    """--no-check runs without a gateway; a child killed by signal N gives 128+N."""
    kill = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    result = azt_run(azt_home, "--no-check", sys.executable, "-c", kill)
    assert result.returncode == 128 + signal.SIGKILL, result.stderr


# Waits for a signal after saying so; exits 5 on SIGTERM, dies of SIGINT like any Python.
WAITER = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(5))
print("ready", flush=True)
time.sleep(30)
"""


@pytest.fixture
def waiter(azt_home: Path) -> Iterator[subprocess.Popen[str]]:
    """`azt run --no-check` around WAITER, once the program says it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "azt", "run", "--no-check", sys.executable, "-c", WAITER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AZT_HOME": str(azt_home)},
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_is_relayed_to_the_program(waiter: subprocess.Popen[str]) -> None:
    """SIGTERM sent to azt reaches the program, whose exit code azt then returns."""
    waiter.send_signal(signal.SIGTERM)
    assert waiter.wait(timeout=20) == 5


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_the_program_not_azt_first(waiter: subprocess.Popen[str]) -> None:
    """Ctrl-C (SIGINT to the whole group) ends the program; azt reports 130, no traceback."""
    os.killpg(waiter.pid, signal.SIGINT)
    _, stderr = waiter.communicate(timeout=20)
    assert waiter.returncode == 128 + signal.SIGINT
    # The program's own KeyboardInterrupt traceback is fine; azt must not add one.
    assert "azt/cli" not in stderr and "subprocess.py" not in stderr
