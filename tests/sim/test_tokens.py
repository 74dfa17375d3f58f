"""Sim accounts, JWTs and the token registry."""

import time

import pytest

from azt.pool.jwt import decode_claims, expiry, identity_from_id_token
from azt.sim.tokens import (
    AUTH_CLAIM,
    PROFILE_CLAIM,
    AccessDenied,
    GrantRejected,
    SimAccount,
    TokenRegistry,
    codex_auth_json,
    default_account_id,
    default_user_id,
    mint_jwt,
    new_pkce_verifier,
    pkce_challenge,
    verify_jwt,
)

SECRET = b"k" * 32
ACCOUNT = SimAccount("acct-1", "user-1", "a@example.com", "pro")


@pytest.fixture
def registry() -> TokenRegistry:
    return TokenRegistry(SECRET, "https://auth.example", "client-1")


def test_jwt_round_trip() -> None:
    """A minted JWT verifies with its secret and carries an HS256 header."""
    token = mint_jwt({"sub": "x", "n": 1}, SECRET)
    assert verify_jwt(token, SECRET) == {"sub": "x", "n": 1}
    assert token.split(".")[0] == "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", mint_jwt({"sub": "x"}, b"other secret"), mint_jwt({}, SECRET) + "x"],
)
def test_jwt_rejects_forgeries(token: str) -> None:
    """Garbage, tampered or foreign tokens do not verify."""
    assert verify_jwt(token, SECRET) is None


def test_ids_derive_from_email() -> None:
    """The same email (in any case) always gives the same ids; another email other ids."""
    assert default_account_id("A@example.com") == default_account_id("a@example.com")
    assert default_user_id("a@example.com") == default_user_id("A@EXAMPLE.COM")
    assert default_account_id("a@example.com") != default_account_id("b@example.com")
    assert default_user_id("a@example.com").startswith("user-")


def test_gateway_reads_the_id_token(registry: TokenRegistry) -> None:
    """azt.pool.jwt finds email, plan, account id and user id in the sim's id_token."""
    tokens = registry.issue(ACCOUNT, 3600)
    identity = identity_from_id_token(tokens["id_token"])
    assert identity.email == "a@example.com"
    assert identity.plan == "pro"
    assert identity.chatgpt_account_id == "acct-1"
    assert identity.chatgpt_user_id == "user-1"
    claims = decode_claims(tokens["id_token"])
    assert claims["iss"] == "https://auth.example"
    assert claims["aud"] == "client-1"
    assert claims["sub"] == "user-1"
    assert claims["exp"] > claims["iat"]


def test_access_token_claims_and_expiry(registry: TokenRegistry) -> None:
    """Access tokens carry exp = iat + ttl, a unique jti and the auth and profile claims."""
    first = registry.issue(ACCOUNT, 600, now=1_000_000)
    second = registry.issue(ACCOUNT, 600, now=1_000_000)
    assert expiry(first["access_token"]) == 1_000_600
    claims = decode_claims(first["access_token"])
    assert claims["iat"] == 1_000_000
    assert claims[AUTH_CLAIM]["chatgpt_account_id"] == "acct-1"
    assert claims[PROFILE_CLAIM]["email"] == "a@example.com"
    assert claims["jti"] != decode_claims(second["access_token"])["jti"]
    assert first["expires_in"] == 600


def test_access_token_checks(registry: TokenRegistry) -> None:
    """A live token maps to its account; expired, unknown and foreign tokens are refused."""
    live = registry.issue(ACCOUNT, 3600)["access_token"]
    assert registry.account_for_access_token(live) == "acct-1"
    expired = registry.issue(ACCOUNT, 0)["access_token"]
    with pytest.raises(AccessDenied) as denied:
        registry.account_for_access_token(expired)
    assert denied.value.reason == "expired"
    other = TokenRegistry(b"z" * 32, "i", "c").issue(ACCOUNT, 3600)["access_token"]
    for token in (other, "garbage", mint_jwt({"exp": time.time() + 99}, SECRET)):
        with pytest.raises(AccessDenied) as denied:
            registry.account_for_access_token(token)
        assert denied.value.reason == "invalid"


def test_refresh_rotates_once(registry: TokenRegistry) -> None:
    """A refresh token redeems once; presenting it again is refresh_token_reused (401)."""
    refresh = registry.issue(ACCOUNT, 3600)["refresh_token"]
    assert registry.redeem_refresh_token(refresh) == "acct-1"
    with pytest.raises(GrantRejected) as rejected:
        registry.redeem_refresh_token(refresh)
    assert rejected.value.status == 401
    assert rejected.value.body == {
        "error": {
            "message": "Your refresh token has already been used to generate a new access "
            "token. Please try signing in again.",
            "type": "invalid_request_error",
            "param": None,
            "code": "refresh_token_reused",
        }
    }


def test_new_grant_supersedes_old_refresh_token(registry: TokenRegistry) -> None:
    """Only the current refresh token works; a superseded one is refresh_token_invalidated."""
    old = registry.issue(ACCOUNT, 3600)["refresh_token"]
    new = registry.issue(ACCOUNT, 3600)["refresh_token"]
    assert registry.current_refresh_token("acct-1") == new
    with pytest.raises(GrantRejected) as rejected:
        registry.redeem_refresh_token(old)
    assert rejected.value.body["error"]["code"] == "refresh_token_invalidated"
    assert registry.redeem_refresh_token(new) == "acct-1"


@pytest.mark.parametrize("code", ["refresh_token_invalidated", "refresh_token_expired"])
def test_revocation(registry: TokenRegistry, code: str) -> None:
    """A revoked refresh token fails with the revocation code."""
    refresh = registry.issue(ACCOUNT, 3600)["refresh_token"]
    registry.revoke("acct-1", code)
    with pytest.raises(GrantRejected) as rejected:
        registry.redeem_refresh_token(refresh)
    assert (rejected.value.status, rejected.value.body["error"]["code"]) == (401, code)


def test_revocation_errors(registry: TokenRegistry) -> None:
    """Revoking needs a known code and an account that has a refresh token."""
    registry.issue(ACCOUNT, 3600)
    with pytest.raises(ValueError, match="revocation code"):
        registry.revoke("acct-1", "nope")
    with pytest.raises(KeyError):
        registry.revoke("acct-unknown", "refresh_token_expired")


def test_unknown_refresh_token(registry: TokenRegistry) -> None:
    """A refresh token the sim never issued is a 400 invalid_grant."""
    with pytest.raises(GrantRejected) as rejected:
        registry.redeem_refresh_token("rt_nope")
    assert rejected.value.status == 400
    assert rejected.value.body["error"] == "invalid_grant"


def test_pkce_challenge_matches_rfc7636() -> None:
    """S256 of the RFC 7636 appendix B verifier gives the RFC's challenge."""
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert len(new_pkce_verifier()) == 86


def _code(registry: TokenRegistry, redirect: str | None = "http://localhost:1455/cb") -> str:
    return registry.create_code(
        "acct-1", client_id="client-1", redirect_uri=redirect, code_challenge=pkce_challenge("v")
    )


def test_code_redeems_once(registry: TokenRegistry) -> None:
    """A code with the right client, redirect and verifier redeems exactly once."""
    code = _code(registry)
    args = {"client_id": "client-1", "redirect_uri": "http://localhost:1455/cb"}
    assert registry.redeem_code(code, code_verifier="v", **args) == "acct-1"
    with pytest.raises(GrantRejected, match="Invalid authorization code"):
        registry.redeem_code(code, code_verifier="v", **args)


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "verifier", "reason"),
    [
        ("client-2", "http://localhost:1455/cb", "v", "client_id"),
        ("client-1", "http://localhost:1455/other", "v", "redirect_uri"),
        ("client-1", "http://localhost:1455/cb", "wrong", "code_verifier"),
    ],
)
def test_code_mismatches(
    registry: TokenRegistry, client_id: str, redirect_uri: str, verifier: str, reason: str
) -> None:
    """A code is refused when client, redirect or PKCE verifier do not match."""
    with pytest.raises(GrantRejected, match=reason) as rejected:
        registry.redeem_code(
            _code(registry), client_id=client_id, redirect_uri=redirect_uri, code_verifier=verifier
        )
    assert rejected.value.status == 400


def test_device_code_accepts_any_device_callback(registry: TokenRegistry) -> None:
    """A device-code grant redeems with any .../deviceauth/callback redirect, nothing else."""
    args = {"client_id": "client-1", "code_verifier": "v"}
    assert registry.redeem_code(
        _code(registry, None), redirect_uri="http://127.0.0.1:9/deviceauth/callback", **args
    )
    with pytest.raises(GrantRejected):
        registry.redeem_code(_code(registry, None), redirect_uri="http://x/cb", **args)


def test_codex_auth_json() -> None:
    """The auth.json document has the Codex CLI's shape."""
    tokens = {"id_token": "i", "access_token": "a", "refresh_token": "r", "expires_in": 1}
    doc = codex_auth_json(ACCOUNT, tokens, now=0)
    assert doc == {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": "i",
            "access_token": "a",
            "refresh_token": "r",
            "account_id": "acct-1",
        },
        "last_refresh": "1970-01-01T00:00:00.000000Z",
    }
