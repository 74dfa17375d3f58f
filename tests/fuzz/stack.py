"""The system under fuzz: `azt sim` and `azt start` as real processes, on loopback.

Processes rather than the in-process rig of tests/e2e, because the fuzz suite checks what
only a separate process shows honestly: the gateway's own RSS (from /proc, without the
test runner's heap), its log exactly as an operator sees it on stderr (mitmproxy's "Addon
error" lines, tracebacks from any thread), and whether it is still alive. A case that
blows the gateway's memory up or kills it takes down the gateway, not the suite: a watchdog
kills it past a hard memory cap, the case is reported, and the next case gets a fresh one.

Each gateway gets a fresh AZT_HOME copied from a template holding the simulator's account,
so a restart (after a case left the gateway damaged) starts from the same state.
"""

import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AZT = Path(sys.executable).parent / "azt"
VOCABULARY = ROOT / ".e2e" / "o200k_base.tiktoken"
ACCOUNT = "fuzz@example.com"
STARTUP_TIMEOUT = 60.0

# Body limits of the gateway under fuzz: small, so that a gateway holding one whole body at
# its limit (and a decoded copy) stays far below the memory budget; more means it held more.
BODY_LIMIT_MB = 8
COMPACT_BODY_LIMIT_MB = 16
# The gateway's peak resident memory during any case: baseline (about 100 MB) plus a
# generous allowance for bodies at the limit. A watchdog kills it outright past the hard cap,
# to keep a decompression bomb from taking the machine's memory.
RSS_BUDGET_MB = 400
RSS_HARD_CAP_MB = 2048

GATEWAY_SETTINGS = {
    "AZT_PORT": "0",
    "AZT_PROXY": "true",
    "AZT_PROXY_PORT": "0",
    # Nothing may leave loopback: no ChatGPT path goes on to the real host.
    "AZT_INTERCEPT_PASSTHROUGH": "",
    "AZT_BODY_LIMIT_MB": str(BODY_LIMIT_MB),
    "AZT_COMPACT_BODY_LIMIT_MB": str(COMPACT_BODY_LIMIT_MB),
    # One simulated account serves everything; its default in-flight cap would measure the
    # queue instead of the gateway.
    "AZT_ACCOUNT_MAX_CONCURRENCY": "256",
    "AZT_POOL_QUEUE_MAX": "1024",
}

_LOG_PROBLEM = re.compile(r"^(ERROR|CRITICAL)\b|Traceback \(most recent call last\)|Addon error")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZT_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def _wait_for[T](
    what: str, popen: subprocess.Popen[bytes], log: Path, ready: Callable[[], T | None]
) -> T:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{what} exited with {popen.returncode}:\n{tail}")
        value = ready()
        if value is not None:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {STARTUP_TIMEOUT:.0f} s")


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


@dataclass
class Sim:
    popen: subprocess.Popen[bytes]
    url: str
    auth_file: Path
    log: Path

    @classmethod
    def start(cls, workdir: Path) -> "Sim":
        log = workdir / "sim.log"
        auth_dir = workdir / "sim-auth"
        argv = [str(AZT), "sim", "--port", "0", "--auth-dir", str(auth_dir)]
        argv += ["--account", f"{ACCOUNT}:pro", "--event-delay", "0"]
        with log.open("wb") as out:
            popen = subprocess.Popen(
                argv, env=clean_env(), stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )

        def url() -> str | None:
            found = re.search(r"listening on (\S+)", log.read_text(errors="replace"))
            return found.group(1) if found else None

        sim_url = _wait_for("azt sim", popen, log, url)
        return cls(popen, sim_url, auth_dir / ACCOUNT / "auth.json", log)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        _stop(self.popen)


def _stop(popen: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(grace)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


class Gateway:
    """One `azt start` process on a fresh copy of the template home."""

    def __init__(self, home: Path, env: dict[str, str], log: Path) -> None:
        self.home = home
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                [str(AZT), "start"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        runtime = home / "runtime.json"

        def info() -> dict[str, str] | None:
            try:
                value: dict[str, str] = json.loads(runtime.read_text())
            except (OSError, ValueError):
                return None
            return value

        found = _wait_for("azt start", self.popen, log, info)
        self.base_url = found["base_url"]
        self.reverse = _address(found["base_url"])
        proxy_url = found["proxy_url"]
        assert proxy_url, "the gateway runs without its proxy listener"
        self.proxy = _address(proxy_url)
        self.ca_file = home / "certs" / "mitmproxy-ca-cert.pem"
        self.killed_for_memory: float | None = None  # the RSS (MB) the watchdog saw
        self._stop_watch = threading.Event()
        self._watch = threading.Thread(target=self._watchdog, name="rss watchdog", daemon=True)
        self._watch.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_mb(self) -> float:
        try:
            return _status_kb(self.pid, "VmRSS") / 1024
        except OSError:
            return 0.0

    def peak_rss_mb(self) -> float:
        try:
            return _status_kb(self.pid, "VmHWM") / 1024
        except OSError:
            return 0.0

    def reset_peak(self) -> None:
        """Start a new high-water mark for the RSS (Linux: 5 > /proc/PID/clear_refs)."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            pass

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _watchdog(self) -> None:
        while not self._stop_watch.wait(0.05):
            if not self.alive():
                return
            rss = self.rss_mb()
            if rss > RSS_HARD_CAP_MB:
                self.killed_for_memory = rss
                self.popen.kill()
                return

    def stop(self) -> None:
        self._stop_watch.set()
        _stop(self.popen)
        self._watch.join(5)

    def kill(self) -> None:
        self._stop_watch.set()
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


def log_problems(text: str) -> list[str]:
    """The lines of a gateway log that must never appear: errors, tracebacks, addon errors."""
    return [line for line in text.splitlines() if _LOG_PROBLEM.search(line)]


def _address(url: str) -> tuple[str, int]:
    host, _, port = url.removeprefix("http://").rstrip("/").rpartition(":")
    return host.strip("[]"), int(port)


class Sink:
    """A loopback HTTP server standing in for "some other host" behind the proxy listener:
    requests for hosts azt does not intercept must reach it untouched."""

    MARK = "x-fuzz-sink"

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self._drain()  # the whole body, as a real host would read it
                self.send_response(200)
                self.send_header(Sink.MARK, "1")
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def _drain(self) -> None:
                if "chunked" in self.headers.get("transfer-encoding", "").lower():
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        self._skip(size)
                        self.rfile.readline()
                    while self.rfile.readline().strip():  # trailers, then the blank line
                        pass
                else:
                    self._skip(int(self.headers.get("content-length") or 0))

            def _skip(self, size: int) -> None:
                while size > 0:
                    got = self.rfile.read(min(size, 1 << 20))
                    if not got:
                        return
                    size -= len(got)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Stack:
    """The simulator, a template home, the current gateway, and the sink."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="azt-fuzz-"))
        self.sim = Sim.start(self.workdir)
        self.sink = Sink()
        self.template = self.workdir / "template"
        env = self._env(self.template)
        subprocess.run(
            [str(AZT), "accounts", "import", str(self.sim.auth_file)],
            env=env,
            check=True,
            capture_output=True,
        )
        self.generation = 0
        self.restarts = 0
        self.gateway = self._start_gateway()
        # The first gateway made the CA; later homes copy it instead of making their own.
        shutil.copytree(self.gateway.home / "certs", self.template / "certs")
        self.damaged: str | None = None  # why the current gateway must be replaced

    def _env(self, home: Path) -> dict[str, str]:
        url = self.sim.url
        return clean_env(
            AZT_HOME=str(home),
            AZT_CODEX_BASE_URL=f"{url}/backend-api/codex",
            AZT_CHATGPT_BASE_URL=f"{url}/backend-api",
            AZT_AUTH_BASE_URL=url,
            AZT_TOKENIZER_FILE=str(VOCABULARY),
            **GATEWAY_SETTINGS,
        )

    def _start_gateway(self) -> Gateway:
        self.generation += 1
        home = self.workdir / f"home-{self.generation}"
        shutil.copytree(self.template, home)
        return Gateway(home, self._env(home), self.workdir / f"gateway-{self.generation}.log")

    def restart(self) -> None:
        """A fresh gateway on a fresh copy of the template (the damaged one is killed: how
        it stops is not what is being tested, and a stalled one would take its grace time)."""
        self.gateway.kill()
        shutil.rmtree(self.gateway.home, ignore_errors=True)  # its log stays, for reading
        if not self.sim.alive():
            raise RuntimeError(f"the simulator died:\n{self.sim.log.read_text()[-3000:]}")
        self.restarts += 1
        self.gateway = self._start_gateway()
        self.damaged = None

    def ensure_fresh(self) -> None:
        if self.damaged is not None or not self.gateway.alive():
            self.restart()

    def close(self) -> None:
        self.gateway.stop()
        self.sim.stop()
        self.sink.stop()
        if not os.environ.get("AZT_FUZZ_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
