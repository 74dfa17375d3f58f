"""The OAuth client: PKCE, the authorize URL, code exchange, refresh and its failure classes."""

import base64
import hashlib
import json
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from azt.config import Settings
from azt.pool import oauth
from azt.pool.oauth import DeviceCode, LoginError, RefreshError

SETTINGS = Settings(auth_base_url="https://auth.test", oauth_client_id="app_test")

type Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def test_pkce_pair_is_s256() -> None:
    """The verifier is 64 random bytes in base64url and the challenge its SHA-256."""
    verifier, challenge = oauth.pkce_pair()
    assert len(verifier) == 86 and "=" not in verifier
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    assert challenge == digest.rstrip(b"=").decode()
    assert oauth.pkce_pair()[0] != verifier


def test_new_state_is_32_random_bytes() -> None:
    """A state is 32 bytes of base64url, different every time."""
    assert len(oauth.new_state()) == 43
    assert oauth.new_state() != oauth.new_state()


def test_authorize_url_matches_codex_cli() -> None:
    """The authorize URL carries the Codex CLI's parameters in the Codex CLI's order."""
    url = oauth.build_authorize_url(
        SETTINGS, redirect_uri=oauth.redirect_uri(1455), challenge="CH", state="ST"
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://auth.test/oauth/authorize"
    assert parse_qsl(parts.query) == [
        ("response_type", "code"),
        ("client_id", "app_test"),
        ("redirect_uri", "http://localhost:1455/auth/callback"),
        ("scope", "openid profile email offline_access api.connectors.read api.connectors.invoke"),
        ("code_challenge", "CH"),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", "ST"),
        ("originator", "codex_cli_rs"),
    ]


async def test_exchange_code_posts_a_form() -> None:
    """The code exchange is a form POST with the verifier and the same redirect_uri."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        tokens = {"id_token": "i", "access_token": "a", "refresh_token": "r", "expires_in": 60}
        return httpx.Response(200, json=tokens)

    async with client(handler) as c:
        tokens = await oauth.exchange_code(
            c, SETTINGS, code="C", verifier="V", redirect_uri="http://localhost:1455/auth/callback"
        )
    assert tokens == oauth.TokenSet("i", "a", "r", 60)
    request = seen[0]
    assert str(request.url) == "https://auth.test/oauth/token"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(request.content.decode()) == [
        ("grant_type", "authorization_code"),
        ("code", "C"),
        ("redirect_uri", "http://localhost:1455/auth/callback"),
        ("client_id", "app_test"),
        ("code_verifier", "V"),
    ]


async def test_exchange_code_refusal_is_a_login_error() -> None:
    """A refused code becomes a LoginError naming the status and error code."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_grant"})

    async with client(handler) as c:
        with pytest.raises(LoginError, match=r"HTTP 400, invalid_grant"):
            await oauth.exchange_code(c, SETTINGS, code="C", verifier="V", redirect_uri="r")


async def test_exchange_code_requires_both_tokens() -> None:
    """A reply without a refresh token cannot make an account."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": "a"})

    async with client(handler) as c:
        with pytest.raises(LoginError, match="lacks"):
            await oauth.exchange_code(c, SETTINGS, code="C", verifier="V", redirect_uri="r")


async def test_refresh_posts_json_and_keeps_missing_fields_none() -> None:
    """Refresh sends the Codex CLI's JSON body; fields absent from the reply stay None."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "a2"})

    async with client(handler) as c:
        tokens = await oauth.refresh_tokens(c, SETTINGS, "rt-old")
    assert tokens == oauth.TokenSet(None, "a2", None, None)
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].content) == {
        "client_id": "app_test",
        "grant_type": "refresh_token",
        "refresh_token": "rt-old",
    }


@pytest.mark.parametrize(
    ("status", "body", "permanent", "code"),
    [
        (
            401,
            {"error": {"code": "refresh_token_reused", "message": "m"}},
            True,
            "refresh_token_reused",
        ),
        (401, {"error": {"code": "refresh_token_invalidated"}}, True, "refresh_token_invalidated"),
        (400, {"error": {"code": "refresh_token_expired"}}, True, "refresh_token_expired"),
        (400, {"error": "invalid_grant", "error_description": "x"}, True, "invalid_grant"),
        (401, {}, True, None),
        (400, {"error": "invalid_request"}, False, "invalid_request"),
        (429, {"error": {"code": "rate_limited"}}, False, "rate_limited"),
        (500, None, False, None),
        (503, None, False, None),
    ],
)
async def test_refresh_failures_are_classified(
    status: int, body: object, permanent: bool, code: str | None
) -> None:
    """Dead refresh tokens are permanent failures; anything else is worth a later retry."""

    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, text="<html>oops</html>")
        return httpx.Response(status, json=body)

    async with client(handler) as c:
        with pytest.raises(RefreshError) as caught:
            await oauth.refresh_tokens(c, SETTINGS, "rt-secret-value")
    assert (caught.value.permanent, caught.value.code, caught.value.status) == (
        permanent,
        code,
        status,
    )
    assert "rt-secret-value" not in str(caught.value)


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
async def test_refresh_network_errors_are_transient(error: Exception) -> None:
    """An unreachable or slow token endpoint says nothing about the token: transient."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    async with client(handler) as c:
        with pytest.raises(RefreshError) as caught:
            await oauth.refresh_tokens(c, SETTINGS, "rt")
    assert not caught.value.permanent
    assert caught.value.status is None


async def test_refresh_non_json_success_is_transient() -> None:
    """A 200 without JSON (a captive portal, say) is not a dead token."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="hello")

    async with client(handler) as c:
        with pytest.raises(RefreshError) as caught:
            await oauth.refresh_tokens(c, SETTINGS, "rt")
    assert not caught.value.permanent


async def test_request_device_code() -> None:
    """The user code (or its `usercode` alias) and the string interval are read."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/accounts/deviceauth/usercode"
        assert json.loads(request.content) == {"client_id": "app_test"}
        return httpx.Response(
            200, json={"device_auth_id": "D", "usercode": "AB-12", "interval": "3"}
        )

    async with client(handler) as c:
        device = await oauth.request_device_code(c, SETTINGS)
    assert device == DeviceCode("D", "AB-12", 3.0, "https://auth.test/codex/device")


async def test_request_device_code_disabled() -> None:
    """A 404 means device login is off for the account, and the message says where to enable it."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    async with client(handler) as c:
        with pytest.raises(LoginError, match="Settings > Security"):
            await oauth.request_device_code(c, SETTINGS)


async def test_poll_device_code_waits_while_pending() -> None:
    """403 and 404 mean "not yet"; the 200 reply yields the code and the verifier."""
    replies = [httpx.Response(403), httpx.Response(404)]

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {"device_auth_id": "D", "user_code": "U"}
        if replies:
            return replies.pop(0)
        approved = {"authorization_code": "AC", "code_challenge": "x", "code_verifier": "CV"}
        return httpx.Response(200, json=approved)

    async with client(handler) as c:
        result = await oauth.poll_device_code(
            c, SETTINGS, DeviceCode("D", "U", 0.0, "u"), timeout=5
        )
    assert result == ("AC", "CV")


async def test_poll_device_code_times_out() -> None:
    """A code nobody approves ends in a LoginError once the timeout passes."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403)

    async with client(handler) as c:
        with pytest.raises(LoginError, match="not approved within"):
            await oauth.poll_device_code(c, SETTINGS, DeviceCode("D", "U", 0.01, "u"), timeout=0.05)


async def test_poll_device_code_fails_on_other_status() -> None:
    """An unexpected status stops polling at once."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    async with client(handler) as c:
        with pytest.raises(LoginError, match="HTTP 500"):
            await oauth.poll_device_code(c, SETTINGS, DeviceCode("D", "U", 0.0, "u"), timeout=5)


@pytest.mark.parametrize(
    "pasted",
    [
        "http://localhost:1455/auth/callback?code=THE_CODE&state=ST",
        "  http://localhost:1455/auth/callback?state=ST&code=THE_CODE&scope=x \n",
        "?code=THE_CODE&state=ST",
        "code=THE_CODE&state=ST",
        "THE_CODE#ST",
        "THE_CODE",
        "http://localhost:1455/auth/callback?code=THE_CODE",
    ],
)
def test_parse_callback_input_accepts_every_shape(pasted: str) -> None:
    """A redirect URL, its query, `code#state` or a bare code all give the code."""
    assert oauth.parse_callback_input(pasted, "ST") == "THE_CODE"


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        ("http://localhost:1455/auth/callback?code=C&state=OTHER", "state mismatch"),
        ("C#OTHER", "state mismatch"),
        ("", "nothing was pasted"),
        ("http://localhost:1455/auth/callback?state=ST", "no authorization code"),
        ("http://localhost:1455/auth/callback?error=access_denied&state=ST", "access_denied"),
        ("?error=x&error_description=User+said+no", "User said no"),
    ],
)
def test_parse_callback_input_rejects(pasted: str, message: str) -> None:
    """A foreign state, an empty paste or an error redirect is refused with a clear reason."""
    with pytest.raises(ValueError, match=message):
        oauth.parse_callback_input(pasted, "ST")
