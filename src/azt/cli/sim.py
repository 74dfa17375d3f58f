"""`azt sim`: run the Codex backend simulator in the foreground."""

import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from azt import eventloop
from azt.cli.common import EXIT_UNAVAILABLE, fail
from azt.loopback import LoopbackServer
from azt.sim.app import create_app
from azt.sim.state import SimState
from azt.sim.tokens import SimAccount, codex_auth_json

DEFAULT_ACCOUNT = "demo@example.com:plus"


@dataclass(frozen=True)
class AuthFile:
    account: SimAccount
    path: Path


def parse_account(spec: str) -> tuple[str, str]:
    """`EMAIL[:PLAN]` → (email, plan); the plan defaults to plus."""
    email, _, plan = spec.partition(":")
    email, plan = email.strip(), plan.strip() or "plus"
    if "@" not in email:
        raise click.BadParameter(f"{spec!r} is not EMAIL[:PLAN]", param_hint="--account")
    return email, plan


def build_state(specs: list[str], event_delay: float, access_ttl: int) -> SimState:
    state = SimState(event_delay=event_delay, access_ttl=access_ttl)
    for spec in specs or [DEFAULT_ACCOUNT]:
        email, plan = parse_account(spec)
        try:
            state.add_account(email=email, plan=plan)
        except ValueError as e:
            raise click.BadParameter(f"{spec!r}: {e}", param_hint="--account") from e
    return state


def write_auth_files(state: SimState, auth_dir: Path) -> list[AuthFile]:
    """One Codex-style auth.json per account, at `<auth_dir>/<email>/auth.json`, mode 0600."""
    auth_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for account in state.accounts.values():
        folder = auth_dir / account.email
        folder.mkdir(exist_ok=True, mode=0o700)
        path = folder / "auth.json"
        document = codex_auth_json(account, state.issue_tokens(account))
        _write_private(path, json.dumps(document, indent=2) + "\n")
        written.append(AuthFile(account, path))
    return written


def _write_private(path: Path, text: str) -> None:
    # Created 0600 from the start: the file holds live tokens, even if only the sim's.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)


def banner(url: str, files: list[AuthFile]) -> str:
    lines = [
        f"azt sim: Codex backend simulator listening on {url}",
        "",
        "Point azt at it:",
        f"AZT_CODEX_BASE_URL={url}/backend-api/codex",
        f"AZT_CHATGPT_BASE_URL={url}/backend-api",
        f"AZT_AUTH_BASE_URL={url}",
        "",
        "Import the simulated accounts:",
        *(f"azt accounts import {f.path}    # {f.account.email} ({f.account.plan})" for f in files),
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


async def serve(
    state: SimState,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Serve the simulator until `stop` is set (or forever), calling `on_ready(url)` once up."""
    async with LoopbackServer(create_app(state), host, port) as server:
        on_ready(server.url)
        await (stop or asyncio.Event()).wait()


@click.command("sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8790, show_default=True, type=int, help="Port (0: any free).")
@click.option(
    "--account",
    "accounts",
    multiple=True,
    metavar="EMAIL[:PLAN]",
    help=f"A simulated account; repeatable. Default: {DEFAULT_ACCOUNT}.",
)
@click.option(
    "--event-delay", default=0.0, show_default=True, type=float, help="Seconds between events."
)
@click.option(
    "--access-ttl", default=3600, show_default=True, type=int, help="Access token lifetime (s)."
)
@click.option(
    "--image-delay",
    default=0.0,
    show_default=True,
    type=float,
    help="Seconds each generated image takes (the real backend takes 60-120).",
)
@click.option(
    "--auth-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write each account's auth.json. Default: a fresh temporary directory.",
)
def sim_command(
    host: str,
    port: int,
    accounts: tuple[str, ...],
    event_delay: float,
    access_ttl: int,
    image_delay: float,
    auth_dir: Path | None,
) -> None:
    """Run a fake Codex backend and OAuth server, for trying clients offline.

    \b
    Example:
        azt sim --account alice@example.com:pro --account bob@example.com:free
    """
    state = build_state(list(accounts), event_delay, access_ttl)
    state.image_delay = image_delay
    files = write_auth_files(state, auth_dir or Path(tempfile.mkdtemp(prefix="azt-sim-")))
    try:
        eventloop.run(serve(state, host, port, lambda url: click.echo(banner(url, files))))
    except OSError as e:
        fail(f"cannot listen on {host}:{port}: {e.strerror or e}", EXIT_UNAVAILABLE)
    except KeyboardInterrupt:
        click.echo("azt sim: stopped")


COMMANDS: list[click.Command] = [sim_command]
