"""`azt env` and `azt run`: point an app at the HTTP proxy, with the CA it must trust.

The proxy URL comes from the running gateway's runtime file when there is one (it knows the
port actually bound), else from the settings. Each client family reads different variables
(docs/proxy.md), so all of them are set: the combined bundle for clients whose CA variable
replaces their roots, the bare CA for Node's and Codex's additive ones.
"""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import click

from azt.certs import ensure_bundle, ensure_ca
from azt.cli.common import EXIT_UNAVAILABLE, fail, print_json
from azt.config import Settings, data_dir, load_settings
from azt.runtime_file import RuntimeInfo, read_runtime

# Loopback must bypass the proxy: Codex proxies even an http://127.0.0.1 base URL otherwise.
NO_PROXY = "127.0.0.1,localhost,::1"
SHELLS = ("bash", "fish", "powershell")
EXIT_NOT_EXECUTABLE = 126  # the shells' convention for "found but cannot run"
EXIT_NOT_FOUND = 127  # ... and for "no such program"
START_HINT = "start the gateway with `azt start`"


def proxy_env(proxy_url: str, ca_cert: Path, bundle: Path) -> dict[str, str]:
    """The variables an app needs to send its traffic through azt and trust its CA."""
    return {
        "HTTPS_PROXY": proxy_url,
        "HTTP_PROXY": proxy_url,
        "https_proxy": proxy_url,
        "http_proxy": proxy_url,
        "NO_PROXY": NO_PROXY,
        "no_proxy": NO_PROXY,
        "SSL_CERT_FILE": str(bundle),
        "REQUESTS_CA_BUNDLE": str(bundle),
        "CURL_CA_BUNDLE": str(bundle),
        "NODE_EXTRA_CA_CERTS": str(ca_cert),
        "CODEX_CA_CERTIFICATE": str(ca_cert),
        "NODE_USE_ENV_PROXY": "1",
    }


# A wildcard bind address accepts loopback connections, but clients cannot all dial it.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def _proxy_url(host: str, port: int) -> str:
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def settings_proxy_url(settings: Settings) -> str:
    """Where the proxy listener will be, as a client must write it."""
    return _proxy_url(settings.host, settings.proxy_port)


def proxy_address(proxy_url: str) -> tuple[str, int]:
    parts = urlsplit(proxy_url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"not a proxy URL with a host and a port: {proxy_url!r}")
    return parts.hostname, parts.port


def dialable(proxy_url: str) -> str:
    """The runtime file's proxy URL, with a wildcard bind address made a loopback one."""
    try:
        host, port = proxy_address(proxy_url)
    except ValueError:
        return proxy_url  # a damaged runtime file: `azt run` reports it, `azt env` shows it
    return _proxy_url(host, port) if host in _WILDCARDS else proxy_url


def resolve_proxy_url(runtime: RuntimeInfo | None) -> str:
    if runtime is not None and runtime.proxy_url:
        return dialable(runtime.proxy_url)
    if runtime is not None:
        click.secho(
            "azt: the running gateway has no HTTP proxy listener (started with --no-proxy); "
            "using the configured address",
            fg="yellow",
            err=True,
        )
    return settings_proxy_url(load_settings())


def current_env(runtime: RuntimeInfo | None) -> dict[str, str]:
    files = ensure_ca()
    return proxy_env(resolve_proxy_url(runtime), files.cert_pem, ensure_bundle())


def quote_bash(value: str) -> str:
    # Inside single quotes nothing is special; a quote is closed, escaped, and reopened.
    return "'" + value.replace("'", "'\\''") + "'"


def quote_fish(value: str) -> str:
    # fish single quotes honour exactly two escapes: \\ and \'.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# PowerShell treats the typographic single quotes as quote characters too.
_POWERSHELL_QUOTES = "'\u2018\u2019\u201a\u201b"


def quote_powershell(value: str) -> str:
    return "'" + "".join(c * 2 if c in _POWERSHELL_QUOTES else c for c in value) + "'"


_LINE: dict[str, Callable[[str, str], str]] = {
    "bash": lambda name, value: f"export {name}={quote_bash(value)}",
    "fish": lambda name, value: f"set -gx {name} {quote_fish(value)}",
    "powershell": lambda name, value: f"$env:{name} = {quote_powershell(value)}",
}


def render(env: dict[str, str], shell: str) -> str:
    """Lines that set `env` in `shell`; names are fixed identifiers, values are quoted."""
    line = _LINE[shell]
    return "\n".join(line(name, value) for name, value in env.items())


@click.command()
@click.option(
    "--shell",
    type=click.Choice(SHELLS),
    default="powershell" if sys.platform == "win32" else "bash",
    show_default="bash; powershell on Windows",
    help="Syntax of the lines printed.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the variables as a JSON object.")
def env(shell: str, as_json: bool) -> None:
    """Print the proxy and CA variables an app needs.

    They send the app's traffic through the HTTP proxy and make it trust the azt CA.

    \b
    Examples:
      eval "$(azt env)"                      # bash, zsh
      azt env --shell fish | source          # fish
      azt env --shell powershell | Invoke-Expression
    """
    variables = current_env(read_runtime(data_dir()))
    if as_json:
        print_json(variables)
    else:
        click.echo(render(variables, shell))


def check_gateway(runtime: RuntimeInfo | None) -> None:
    """Exit 4 unless a gateway is running with a proxy listener that accepts connections."""
    if runtime is None:
        fail(f"the gateway is not running: {START_HINT}", EXIT_UNAVAILABLE)
    if not runtime.proxy_url:
        fail(
            "the running gateway has no HTTP proxy listener: restart it without --no-proxy",
            EXIT_UNAVAILABLE,
        )
    try:
        with socket.create_connection(proxy_address(dialable(runtime.proxy_url)), timeout=2):
            pass
    except (OSError, ValueError) as e:
        # A crashed gateway leaves its runtime file behind; the port tells the truth.
        fail(
            f"the gateway's proxy at {runtime.proxy_url} does not answer ({e}): {START_HINT}",
            EXIT_UNAVAILABLE,
        )


_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


@contextmanager
def forwarding_signals(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """While the child runs: let Ctrl-C reach it alone, and pass termination on to it.

    The terminal delivers Ctrl-C to the whole foreground group, child included, so azt
    ignores SIGINT rather than dying first or sending a second one. SIGTERM and SIGHUP,
    usually sent to azt's pid only, are relayed.
    """

    def relay(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    wanted: dict[signal.Signals, _Handler] = {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: relay}
    if hasattr(signal, "SIGHUP"):
        wanted[signal.SIGHUP] = relay
    previous = {signum: signal.signal(signum, handler) for signum, handler in wanted.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_program(argv: list[str], variables: dict[str, str]) -> int:
    """Run `argv` with `variables` added to this environment; its exit status, shell-style."""
    # Handlers are installed after the spawn: an ignored SIGINT would be inherited by the child.
    process = subprocess.Popen(argv, env={**os.environ, **variables})
    with forwarding_signals(process):
        returncode = process.wait()
    return 128 - returncode if returncode < 0 else returncode


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--no-check", is_flag=True, help="Run even if the gateway does not answer.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(no_check: bool, command: tuple[str, ...]) -> None:
    """Run a program through the proxy, trusting the azt CA.

    The program gets the variables `azt env` prints; azt exits with its exit code.

    \b
    Example: azt run -- codex exec "Reply with PONG"
    """
    runtime = read_runtime(data_dir())
    if not no_check:
        check_gateway(runtime)
    variables = current_env(runtime)
    try:
        code = run_program(list(command), variables)
    except FileNotFoundError:
        fail(f"cannot run {command[0]!r}: no such program", EXIT_NOT_FOUND)
    except OSError as e:  # not executable, bad format, ...
        fail(f"cannot run {command[0]!r}: {e.strerror or e}", EXIT_NOT_EXECUTABLE)
    sys.exit(code)


COMMANDS = [env, run]
