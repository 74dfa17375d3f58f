"""The processes a benchmark runs against, each on loopback in its own process.

`azt sim` plays the Codex backend, `azt start` the gateway and, when it is installed, the
LiteLLM proxy a peer doing the same work. Separate processes keep the load generator's CPU out
of the gateway's, and let a run read each one's CPU time and RSS from `/proc`.
"""

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import httpx

from litellm_peer import litellm_command

ROOT = Path(__file__).resolve().parent.parent
AZT = Path(sys.executable).parent / "azt"
MITMDUMP = Path(sys.executable).parent / "mitmdump"
# `make bench-deps` installs LiteLLM here, in its own virtualenv: its pins must not touch azt's.
LITELLM = ROOT / ".bench" / "litellm" / "bin" / "litellm"
ACCOUNT = "bench@example.com"
MODEL = "gpt-5.4"
STARTUP_TIMEOUT = 60.0
# One simulated account carries every load; its in-flight cap (6 by default, as a real
# account's) would measure the queue, not the gateway.
UNLIMITED = {"account_max_concurrency": "4096", "pool_queue_max": "4096"}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose CPU time and memory a benchmark reads while it runs."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self._log = log.open("wb")
        self.popen = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.log_path = log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def check(self) -> None:
        if self.popen.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    def cpu_seconds(self) -> float:
        """User plus system CPU time so far, all threads."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def rss_mb(self) -> float:
        return self._status_kb("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return self._status_kb("VmHWM") / 1024

    def reset_peak_rss(self) -> None:
        """Start the high-water mark again from the current RSS (Linux: clear_refs 5)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def _status_kb(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {key} for {self.name}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()


@dataclass
class Sim:
    process: Process
    url: str
    auth_file: Path
    access_token: str
    account_id: str

    @property
    def responses_url(self) -> str:
        return f"{self.url}/backend-api/codex/responses"

    @property
    def headers(self) -> dict[str, str]:
        """What azt itself sends upstream: the account's token and id."""
        return {
            "authorization": f"Bearer {self.access_token}",
            "chatgpt-account-id": self.account_id,
        }


@dataclass
class Gateway:
    process: Process
    base_url: str
    proxy_url: str | None
    ca_file: Path
    home: Path | None = None
    env: dict[str, str] | None = None


@dataclass
class Peer:
    process: Process
    base_url: str


def _wait_for[T](what: str, process: Process, ready: Callable[[], T | None]) -> T:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        process.check()
        with contextlib.suppress(OSError, ValueError, KeyError, httpx.HTTPError):
            if (value := ready()) is not None:
                return value
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {STARTUP_TIMEOUT:.0f} s")


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZT_", "LITELLM_"))}
    env.update(extra)
    return env


class Stack(contextlib.ExitStack):
    """Starts processes in a scratch directory and stops them all on exit."""

    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="azt-bench-"))
        self.callback(shutil.rmtree, self.workdir, True)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        process = Process(name, argv, env, self.workdir / f"{name}.log")
        self.callback(process.stop)
        return process

    def sim(self, name: str = "sim", event_delay: float = 0.0) -> Sim:
        auth_dir = self.workdir / f"{name}-auth"
        argv = [str(AZT), "sim", "--port", "0", "--auth-dir", str(auth_dir)]
        argv += ["--account", f"{ACCOUNT}:pro", "--event-delay", str(event_delay)]
        process = self._spawn(name, argv, _clean_env())

        def url() -> str | None:
            found = re.search(r"listening on (\S+)", process.log_path.read_text())
            return found.group(1) if found else None

        sim_url = _wait_for("azt sim", process, url)
        auth_file = auth_dir / ACCOUNT / "auth.json"
        tokens = json.loads(auth_file.read_text())["tokens"]
        return Sim(process, sim_url, auth_file, tokens["access_token"], tokens["account_id"])

    def gateway(
        self, sim: Sim, name: str = "azt", *, proxy: bool = False, **settings: str
    ) -> Gateway:
        home = self.workdir / name
        home.mkdir()
        env = _clean_env(
            AZT_HOME=str(home),
            AZT_PORT="0",
            AZT_PROXY="true" if proxy else "false",
            AZT_PROXY_PORT="0",
            AZT_CODEX_BASE_URL=f"{sim.url}/backend-api/codex",
            AZT_CHATGPT_BASE_URL=f"{sim.url}/backend-api",
            AZT_AUTH_BASE_URL=sim.url,
            **{f"AZT_{key.upper()}": value for key, value in settings.items()},
        )
        subprocess.run(
            [str(AZT), "accounts", "import", str(sim.auth_file)],
            env=env,
            check=True,
            capture_output=True,
        )
        return self._start_gateway(name, home, env)

    def restart(self, gateway: Gateway, name: str) -> Gateway:
        """`azt start` again on a gateway's home (after it stopped or was killed)."""
        assert gateway.home is not None and gateway.env is not None
        # A killed gateway leaves its runtime file behind; wait for the new one's.
        (gateway.home / "runtime.json").unlink(missing_ok=True)
        return self._start_gateway(name, gateway.home, gateway.env)

    def _start_gateway(self, name: str, home: Path, env: dict[str, str]) -> Gateway:
        process = self._spawn(name, [str(AZT), "start"], env)
        runtime = home / "runtime.json"
        info: dict[str, str] = _wait_for(
            "azt start", process, lambda: json.loads(runtime.read_text())
        )
        ca_file = home / "certs" / "mitmproxy-ca-cert.pem"
        return Gateway(process, info["base_url"], info["proxy_url"], ca_file, home, env)

    def mitmdump(self, sim: Sim, name: str = "mitmdump") -> Peer:
        """A bare mitmproxy reverse proxy to `sim`: what any mitmproxy-based gateway costs."""
        port = free_port()
        argv = [str(MITMDUMP), "--quiet", "--mode", f"reverse:{sim.url}@127.0.0.1:{port}"]
        argv += ["--set", "connection_strategy=lazy", "--set", f"confdir={self.workdir / name}"]
        process = self._spawn(name, argv, _clean_env())
        base_url = f"http://127.0.0.1:{port}"
        _wait_for("mitmdump", process, lambda: httpx.get(base_url, timeout=1) and True)
        return Peer(process, base_url)

    def litellm(self, sim: Sim, name: str = "litellm") -> Peer | None:
        """The LiteLLM proxy against `sim`, or None when `make bench-deps` has not run."""
        if not LITELLM.exists():
            return None
        port = free_port()
        workdir = self.workdir / name
        workdir.mkdir()
        argv, env = litellm_command(LITELLM, workdir, sim.url, sim.auth_file, port)
        process = self._spawn(name, argv, env)
        base_url = f"http://127.0.0.1:{port}"

        def live() -> bool | None:
            return httpx.get(f"{base_url}/health/liveliness", timeout=1).is_success or None

        _wait_for("LiteLLM", process, live)
        return Peer(process, base_url)


def machine() -> dict[str, object]:
    """What the numbers were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {"python": platform.python_version()}
    for package in ("azt", "mitmproxy", "uvicorn", "httpx", "litellm"):
        versions[package] = _version(package)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "kernel": platform.release(),
        "versions": versions,
    }


def _version(package: str) -> str | None:
    if package == "litellm":
        # It lives in its own virtualenv; ask that interpreter.
        python = LITELLM.parent / "python"
        if not python.exists():
            return None
        code = "import importlib.metadata as m; print(m.version('litellm'))"
        done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
        return done.stdout.strip() or None
    try:
        return version(package)
    except PackageNotFoundError:
        return None
