import httpx

from azt.config import Settings
from azt.pool.upstream import make_client, request_headers, response_headers
from support.accounts import make_account

ACCOUNT = make_account(
    "acct/user", email=None, plan=None, chatgpt_user_id="user", access_token="pooled-token"
)


def test_client_credentials_are_replaced_and_codex_headers_kept() -> None:
    incoming = {
        "Authorization": "Bearer client",
        "ChatGPT-Account-ID": "client-account",
        "Cookie": "session=client",
        "session-id": "s1",
        "x-codex-turn-state": "t",
        "x-stainless-os": "Linux",
    }
    headers = request_headers(incoming, ACCOUNT)
    assert headers["authorization"] == "Bearer pooled-token"
    assert headers["chatgpt-account-id"] == "acct"
    assert headers["session-id"] == "s1" and headers["x-codex-turn-state"] == "t"
    assert "Cookie" not in headers and "x-stainless-os" not in headers
    assert headers["originator"] == "azt" and headers["user-agent"].startswith("azt/")


def test_reply_headers_keep_rate_limits_and_ids_only() -> None:
    upstream = httpx.Headers(
        {"x-codex-primary-used-percent": "5", "set-cookie": "a=b", "x-oai-request-id": "r"}
    )
    assert response_headers(upstream) == {
        "x-codex-primary-used-percent": "5",
        "x-oai-request-id": "r",
    }


async def test_cookies_never_travel_between_accounts() -> None:
    seen: list[str | None] = []

    def backend(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(
            200, headers={"set-cookie": "__cf_bm=abc; Path=/; Domain=example.com"}
        )

    client = make_client(Settings())
    client._transport = httpx.MockTransport(backend)  # noqa: SLF001
    async with client:
        await client.get("https://example.com/a")
        await client.get("https://example.com/b")
    assert seen == [None, None]
    assert len(client.cookies.jar) == 0


def test_the_image_tool_is_stripped_for_free_accounts() -> None:
    import json

    from azt.pool.upstream import strip_image_tool

    body = json.dumps(
        {
            "tools": [{"type": "function", "name": "f"}, {"type": "image_generation"}],
            "tool_choice": {"type": "image_generation"},
        }
    ).encode()
    stripped = json.loads(strip_image_tool(body))
    assert stripped["tools"] == [{"type": "function", "name": "f"}]
    assert stripped["tool_choice"] == "auto"
    untouched = b'{"tools":[{"type":"function","name":"f"}]}'
    assert strip_image_tool(untouched) is untouched
    assert strip_image_tool(b"not json image_generation") == b"not json image_generation"
