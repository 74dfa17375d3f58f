"""`azt login`: sign in to a ChatGPT account in a browser (or with a device code) and pool it.

The browser flow listens for the OAuth redirect on 127.0.0.1:1455 (1457 when taken) and, at
the same time, reads stdin, so on a remote machine the user can paste the address the browser
ended on. Whichever brings a code first wins.
"""

import asyncio
import html
import logging
import sys
import threading
import webbrowser
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import click
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from azt.cli.common import fail, open_stores
from azt.config import Settings, load_settings
from azt.loopback import LoopbackServer
from azt.pool import oauth
from azt.pool.accounts import Account, account_from_tokens
from azt.pool.oauth import LoginError, TokenSet
from azt.tasks import spawn

log = logging.getLogger(__name__)

type Echo = Callable[[str], None]
type OpenBrowser = Callable[[str], object]


# --- the callback server ---------------------------------------------------------------------


def _page(title: str, message: str, status: int = 200) -> HTMLResponse:
    body = (
        f"<!doctype html><meta charset=utf-8><title>azt: {html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
    )
    return HTMLResponse(body, status_code=status)


def callback_app(state: str, outcome: asyncio.Future[str]) -> Starlette:
    """The local pages the browser is sent back to; a valid callback resolves `outcome`."""

    def settle(error: LoginError | None = None, code: str | None = None) -> None:
        if outcome.done():
            return
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(code or "")

    async def callback(request: Request) -> Response:
        params = request.query_params
        if params.get("state") != state:
            # Possibly an old tab from an earlier attempt: refuse it but keep waiting.
            return _page("Sign-in not accepted", "This page belongs to another login.", 400)
        if "error" in params:
            reason = params.get("error_description") or params["error"]
            settle(LoginError(f"the sign-in failed in the browser: {reason}"))
            return _page("Sign-in failed", reason, 400)
        code = params.get("code")
        if not code:
            return _page("Sign-in not accepted", "The address carries no code.", 400)
        settle(code=code)
        return RedirectResponse("/success", status_code=302)

    async def success(request: Request) -> Response:
        return _page("Signed in", "azt has your sign-in. You can close this tab.")

    async def cancel(request: Request) -> Response:
        settle(LoginError("the sign-in was cancelled in the browser"))
        return _page("Sign-in cancelled", "You can close this tab.")

    return Starlette(
        routes=[
            Route(oauth.CALLBACK_PATH, callback),
            Route("/success", success),
            Route("/cancel", cancel),
        ]
    )


def _bind(app: Starlette, ports: Sequence[int]) -> LoopbackServer | None:
    for port in ports:
        try:
            return LoopbackServer(app, host="127.0.0.1", port=port)
        except OSError:
            continue
    return None


@asynccontextmanager
async def _callback_server(
    app: Starlette, ports: Sequence[int], echo: Echo
) -> AsyncIterator[int | None]:
    """Serve `app` on the first free port; yield that port, or None when all are taken."""
    server = _bind(app, ports)
    if server is None:
        busy = " and ".join(str(p) for p in ports)
        echo(
            click.style(
                f"WARNING: port {busy} is busy (another login running?), so the browser cannot "
                "hand the sign-in back to azt. After signing in, copy the address of the page "
                "the browser ends on (it will fail to load) and paste it here.",
                fg="yellow",
                bold=True,
            )
        )
        yield None
        return
    async with server:
        yield server.port


# --- the pasted-URL source -------------------------------------------------------------------


async def stdin_lines() -> AsyncIterator[str]:
    """Lines typed on stdin, read by a daemon thread so a pending read never blocks exit."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            while line := sys.stdin.readline():
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except (RuntimeError, OSError, ValueError, AttributeError):
            return  # the loop closed or stdin went away: nobody is listening any more

    threading.Thread(target=pump, name="azt-login-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def _paste_into(
    outcome: asyncio.Future[str], lines: AsyncIterable[str], state: str, echo: Echo
) -> None:
    async for line in lines:
        if not line.strip():
            continue
        try:
            code = oauth.parse_callback_input(line, state)
        except ValueError as e:
            echo(click.style(f"Not accepted: {e}. Try again.", fg="red"))
            continue
        if not outcome.done():
            outcome.set_result(code)
        return


# --- the flows -------------------------------------------------------------------------------


def _open_in_thread(open_browser: OpenBrowser, url: str, echo: Echo) -> None:
    try:
        opened = open_browser(url)
    except Exception as e:  # a browser launcher's failure must not end the login
        log.warning("could not open a browser: %r", e)
        opened = False
    if opened is False:
        echo("Could not open a browser: open the address above yourself.")


async def browser_login(
    settings: Settings,
    client: httpx.AsyncClient,
    *,
    open_browser: OpenBrowser | None,
    lines: AsyncIterable[str] | None,
    timeout: float,
    ports: Sequence[int] | None = None,
    echo: Echo = click.echo,
) -> TokenSet:
    """PKCE browser login; returns the tokens once the callback or a pasted URL brings a code."""
    verifier, challenge = oauth.pkce_pair()
    state = oauth.new_state()
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    app = callback_app(state, outcome)
    ports = oauth.CALLBACK_PORTS if ports is None else ports
    async with _callback_server(app, ports, echo) as port:
        redirect = oauth.redirect_uri(port if port is not None else oauth.CALLBACK_PORTS[0])
        url = oauth.build_authorize_url(
            settings, redirect_uri=redirect, challenge=challenge, state=state
        )
        echo(f"Sign in to ChatGPT at:\n\n  {url}\n")
        echo("Waiting for the browser. On another machine? Paste the address it ends on here.")
        browser = None
        if open_browser is not None:
            # In a thread: a launcher may block, and the callback is served on this loop.
            browser = spawn(
                asyncio.to_thread(_open_in_thread, open_browser, url, echo), name="open browser"
            )
        code = await _wait_for_code(outcome, lines, state, timeout, echo)
        if browser is not None:
            # Let the browser fetch its success page before the server goes away.
            await asyncio.wait({browser}, timeout=2)
    return await oauth.exchange_code(
        client, settings, code=code, verifier=verifier, redirect_uri=redirect
    )


async def _wait_for_code(
    outcome: asyncio.Future[str],
    lines: AsyncIterable[str] | None,
    state: str,
    timeout: float,
    echo: Echo,
) -> str:
    paste = None
    if lines is not None:
        paste = spawn(_paste_into(outcome, lines, state, echo), name="read pasted sign-in")
    try:
        async with asyncio.timeout(timeout):
            return await outcome
    except TimeoutError:
        raise LoginError(
            f"no sign-in arrived within {timeout:g} seconds; run `azt login` again"
        ) from None
    finally:
        if paste is not None:
            paste.cancel()


async def device_login(
    settings: Settings, client: httpx.AsyncClient, *, timeout: float, echo: Echo = click.echo
) -> TokenSet:
    """Device-code login: the user enters a short code on any device's browser."""
    device = await oauth.request_device_code(client, settings)
    echo(f"Open {device.verification_url} and enter the code:\n\n  {device.user_code}\n")
    echo(f"Waiting up to {timeout:g} seconds for approval...")
    code, verifier = await oauth.poll_device_code(client, settings, device, timeout=timeout)
    return await oauth.exchange_code(
        client,
        settings,
        code=code,
        verifier=verifier,
        redirect_uri=oauth.device_redirect_uri(settings),
    )


# --- storing and reporting -------------------------------------------------------------------


@dataclass(frozen=True)
class SavedLogin:
    account: Account
    created: bool


def save_login(tokens: TokenSet) -> SavedLogin:
    """Add the signed-in account to the pool, or renew the tokens of the one already there."""
    if not tokens.access_token or not tokens.refresh_token:
        raise LoginError("the sign-in returned no access or refresh token")
    try:
        account = account_from_tokens(
            id_token=tokens.id_token or "",
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
        )
    except ValueError as e:
        raise LoginError(f"the sign-in's tokens are unusable: {e}") from e
    with open_stores() as stores:
        created = stores.accounts.get(account.key) is None
        stored = stores.accounts.upsert(account)
    return SavedLogin(stored, created)


def report(saved: SavedLogin, echo: Echo = click.echo) -> None:
    account = saved.account
    verb = "Added" if saved.created else "Renewed the login of"
    echo(f"{verb} {account.email or 'an account without email'} (plan: {account.plan or '?'}).")
    echo(f"  account key: {account.key}")
    echo(f"  default:     {'yes' if account.is_default else 'no (see `azt accounts use`)'}")


async def _login(settings: Settings, *, no_browser: bool, device: bool, timeout: float) -> TokenSet:
    limits = httpx.Timeout(30.0, connect=settings.upstream_connect_timeout)
    async with httpx.AsyncClient(timeout=limits) as client:
        if device:
            return await device_login(settings, client, timeout=timeout)
        return await browser_login(
            settings,
            client,
            open_browser=None if no_browser else webbrowser.open,
            lines=stdin_lines(),
            timeout=timeout,
        )


@click.command("login")
@click.option(
    "--no-browser", is_flag=True, help="Print the sign-in address instead of opening a browser."
)
@click.option("--device", is_flag=True, help="Sign in with a device code instead of a redirect.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300,
    show_default=True,
    help="Seconds to wait for the sign-in.",
)
def login(no_browser: bool, device: bool, timeout: float) -> None:
    """Sign in to a ChatGPT account and add it to the pool.

    \b
    On this machine:    azt login
    Over SSH:           azt login --no-browser   (then paste the final address)
    Without a redirect: azt login --device
    """
    settings = load_settings()
    try:
        tokens = asyncio.run(
            _login(settings, no_browser=no_browser, device=device, timeout=timeout)
        )
        saved = save_login(tokens)
    except LoginError as e:
        fail(str(e))
    report(saved)


COMMANDS: list[click.Command] = [login]
