"""`azt login` against the simulator: browser callback, pasted URL, device code, the CLI."""

import asyncio
import re
import socket
import webbrowser
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from click.testing import CliRunner

from azt.cli.common import open_stores
from azt.cli.login import browser_login, callback_app, device_login, save_login
from azt.cli.main import cli
from azt.loopback import LoopbackServer
from azt.pool import oauth
from azt.pool.accounts import Account
from azt.pool.oauth import LoginError

URL = re.compile(r"(http\S+/oauth/authorize\?\S+)")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as c:
        yield c


def pooled() -> list[Account]:
    with open_stores() as stores:
        return stores.accounts.list()


class Printed:
    """What the login prints (pass `echo`), and the authorize URL once it has printed it."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._url: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def echo(self, line: str) -> None:
        self.lines.append(line)
        if not self._url.done() and (found := URL.search(line)):
            self._url.set_result(found.group(1))

    async def url(self) -> str:
        return await asyncio.shield(self._url)


async def redirect_target(url: str) -> str:
    """What a browser on another machine would show in its address bar after signing in."""
    async with httpx.AsyncClient(trust_env=False) as browser:
        reply = await browser.get(url)
    assert reply.status_code in (302, 303), reply.text
    return reply.headers["location"]


def with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"state": state}
    return urlunsplit(parts._replace(query=urlencode(query)))


def assert_alice(account: Account, sim: Any) -> None:
    sim_account = sim.state.account_by_email("alice@example.com")
    assert (account.email, account.plan) == ("alice@example.com", "pro")
    assert account.chatgpt_account_id == sim_account.account_id
    assert account.chatgpt_user_id == sim_account.user_id


async def test_browser_login_end_to_end(sim: Any, client: httpx.AsyncClient) -> None:
    """The browser signs in at the sim, is redirected to azt's callback server, and the account
    lands in the store with its identity from the id_token."""
    sim.state.add_account(email="alice@example.com", plan="pro")
    pages: list[tuple[int, str, str]] = []

    def open_browser(url: str) -> None:  # called in a thread, like webbrowser.open
        with httpx.Client(follow_redirects=True, trust_env=False) as browser:
            page = browser.get(url)
        pages.append((page.status_code, page.url.path, page.text))

    out = Printed()
    tokens = await browser_login(
        sim.settings,
        client,
        open_browser=open_browser,
        lines=None,
        timeout=10,
        ports=(0,),
        echo=out.echo,
    )
    saved = save_login(tokens)

    assert saved.created and saved.account.is_default
    assert_alice(saved.account, sim)
    assert [a.key for a in pooled()] == [saved.account.key]
    [(status, path, text)] = pages
    assert (status, path) == (200, "/success") and "Signed in" in text
    authorize = urlsplit(await out.url())
    redirect = parse_qs(authorize.query)["redirect_uri"][0]
    assert re.fullmatch(r"http://localhost:\d+/auth/callback", redirect)


async def test_pasted_redirect_url(sim: Any, client: httpx.AsyncClient) -> None:
    """On a remote machine the user pastes the address the browser ended on; a paste from
    another login attempt is refused first, with a clear message, and the right one wins."""
    sim.state.add_account(email="alice@example.com", plan="pro")
    out = Printed()

    async def typed() -> AsyncIterator[str]:
        target = await redirect_target(await out.url())
        yield "\n"
        yield with_state(target, "someone-elses-state") + "\n"
        yield target + "\n"

    tokens = await browser_login(
        sim.settings,
        client,
        open_browser=None,
        lines=typed(),
        timeout=10,
        ports=(0,),
        echo=out.echo,
    )
    assert_alice(save_login(tokens).account, sim)
    assert any("state mismatch" in line for line in out.lines)


async def test_only_a_foreign_paste_times_out(sim: Any, client: httpx.AsyncClient) -> None:
    """A paste with the wrong state is never accepted: the login times out instead."""
    sim.state.add_account(email="alice@example.com", plan="pro")
    out = Printed()

    async def typed() -> AsyncIterator[str]:
        target = await redirect_target(await out.url())
        yield with_state(target, "stale")

    with pytest.raises(LoginError, match="no sign-in arrived within 0.5 seconds"):
        await browser_login(
            sim.settings,
            client,
            open_browser=None,
            lines=typed(),
            timeout=0.5,
            ports=(0,),
            echo=out.echo,
        )
    assert pooled() == []


async def test_busy_ports_warn_and_paste_still_works(sim: Any, client: httpx.AsyncClient) -> None:
    """When every callback port is taken the login says so loudly and relies on pasting."""
    sim.state.add_account(email="alice@example.com", plan="pro")
    out = Printed()

    async def typed() -> AsyncIterator[str]:
        yield await redirect_target(await out.url())

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        tokens = await browser_login(
            sim.settings,
            client,
            open_browser=None,
            lines=typed(),
            timeout=10,
            ports=(busy,),
            echo=out.echo,
        )
    assert_alice(save_login(tokens).account, sim)
    assert any(f"port {busy} is busy" in line for line in out.lines)
    redirect = parse_qs(urlsplit(await out.url()).query)["redirect_uri"][0]
    assert redirect == "http://localhost:1455/auth/callback"


async def test_device_code_login(sim: Any, client: httpx.AsyncClient) -> None:
    """Device-code login shows the code, polls past "pending", and pools the account."""
    sim.state.add_account(email="alice@example.com", plan="pro")
    sim.state.device_interval = "0"
    sim.state.device_pending_polls = 1
    out = Printed()
    tokens = await device_login(sim.settings, client, timeout=5, echo=out.echo)
    saved = save_login(tokens)
    assert_alice(saved.account, sim)
    assert any(f"{sim.url}/codex/device" in line for line in out.lines)


async def test_callback_server_pages() -> None:
    """The callback refuses foreign states and code-less calls, accepts the right one, serves
    /success, and answers 404 elsewhere."""
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with (
        LoopbackServer(callback_app("ST", outcome)) as server,
        httpx.AsyncClient(base_url=server.url, trust_env=False) as browser,
    ):
        assert (await browser.get("/auth/callback?code=C&state=OTHER")).status_code == 400
        assert (await browser.get("/auth/callback?state=ST")).status_code == 400
        assert (await browser.get("/elsewhere")).status_code == 404
        assert not outcome.done()
        reply = await browser.get("/auth/callback?code=C&state=ST")
        assert (reply.status_code, reply.headers["location"]) == (302, "/success")
        assert (await browser.get("/success")).status_code == 200
    assert outcome.result() == "C"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/auth/callback?state=ST&error=access_denied&error_description=%3Cb%3Enope%3C%2Fb%3E",
            "<b>nope</b>",
        ),
        ("/cancel", "cancelled"),
    ],
)
async def test_callback_errors_end_the_login(path: str, message: str) -> None:
    """An error redirect or /cancel ends the login with a LoginError; pages escape the text."""
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with (
        LoopbackServer(callback_app("ST", outcome)) as server,
        httpx.AsyncClient(base_url=server.url, trust_env=False) as browser,
    ):
        page = await browser.get(path)
    assert "<b>" not in page.text
    with pytest.raises(LoginError, match=message):
        outcome.result()


def test_cli_browser_login(threaded_sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`azt login` opens the browser, takes the callback and reports the account, no tokens."""
    threaded_sim.state.add_account(email="alice@example.com", plan="pro")

    def fake_browser(url: str) -> bool:
        with httpx.Client(follow_redirects=True, trust_env=False) as browser:
            return browser.get(url).status_code == 200

    monkeypatch.setattr(webbrowser, "open", fake_browser)
    monkeypatch.setattr(oauth, "CALLBACK_PORTS", (0,))
    result = CliRunner().invoke(cli, ["login", "--timeout", "10"])
    assert result.exit_code == 0, result.output
    [account] = pooled()
    assert "Added alice@example.com (plan: pro)" in result.output
    assert f"account key: {account.key}" in result.output
    assert "default:     yes" in result.output
    for secret in (account.access_token, account.refresh_token, account.id_token):
        assert secret not in result.output


def test_cli_device_login_twice_renews(threaded_sim: Any) -> None:
    """`azt login --device` adds the account; a second login renews it instead of duplicating."""
    threaded_sim.state.add_account(email="alice@example.com", plan="pro")
    threaded_sim.state.device_interval = "0"
    first = CliRunner().invoke(cli, ["login", "--device", "--timeout", "5"])
    assert first.exit_code == 0, first.output
    assert "enter the code" in first.output
    second = CliRunner().invoke(cli, ["login", "--device", "--timeout", "5"])
    assert second.exit_code == 0, second.output
    assert "Renewed the login of alice@example.com" in second.output
    assert len(pooled()) == 1


def test_cli_login_failure_exits_1(threaded_sim: Any) -> None:
    """A device code nobody approves in time fails with exit code 1 and a reason."""
    threaded_sim.state.add_account(email="alice@example.com", plan="pro")
    threaded_sim.state.device_interval = "0.2"
    threaded_sim.state.device_pending_polls = 1000
    result = CliRunner().invoke(cli, ["login", "--device", "--timeout", "1"])
    assert result.exit_code == 1
    assert "not approved within 1 seconds" in result.output
    assert pooled() == []
