from ipaddress import ip_address

import pytest

from azt.sites import (
    SitePolicy,
    check_browser,
    host_allowed,
    host_name,
    is_preflight,
    normalise_origin,
    parse_origin,
    preflight_headers,
    reply_headers,
)

ON_LOOPBACK = SitePolicy.build([ip_address("127.0.0.1")], machine_names=["devbox"])
EVERYWHERE = SitePolicy.build(
    [ip_address("0.0.0.0"), ip_address("::")],
    machine_names=["devbox"],
    allowed_hosts=["gateway.lan", "Proxy.Example."],
    allowed_origins=["https://app.example", "http://192.168.1.20:3000"],
)
LAN = ip_address("192.168.1.5")  # the address a LAN client connected to


@pytest.mark.parametrize(
    ("authority", "expected"),
    [
        ("localhost:8787", "localhost"),
        ("LOCALHOST.:8787", "localhost"),
        ("[::1]:8787", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("Example.COM", "example.com"),
    ],
)
def test_host_name(authority: str, expected: str) -> None:
    assert host_name(authority) == expected


@pytest.mark.parametrize(
    ("authority", "policy", "arrived_on", "expected"),
    [
        # Bound to loopback: loopback names and addresses, and listed names.
        ("127.0.0.1:8787", ON_LOOPBACK, None, True),
        ("localhost:8787", ON_LOOPBACK, None, True),
        ("LocalHost.:8787", ON_LOOPBACK, None, True),
        ("app.localhost:8787", ON_LOOPBACK, None, True),
        ("[::1]:8787", ON_LOOPBACK, None, True),
        ("[::ffff:127.0.0.1]:8787", ON_LOOPBACK, None, True),
        ("127.0.0.2:8787", ON_LOOPBACK, None, True),
        ("", ON_LOOPBACK, None, True),  # no Host at all: not a browser
        ("attacker.example:8787", ON_LOOPBACK, None, False),  # DNS rebinding
        ("attacker.example", ON_LOOPBACK, None, False),
        ("localhost.attacker.example", ON_LOOPBACK, None, False),
        ("devbox:8787", ON_LOOPBACK, None, False),  # the host name only beyond loopback
        ("192.168.1.5:8787", ON_LOOPBACK, LAN, False),
        ("2130706433:8787", ON_LOOPBACK, None, False),  # not a name browsers send
        # Beyond loopback: also this machine's addresses, its host name, listed names.
        ("192.168.1.5:8787", EVERYWHERE, LAN, True),
        ("[::ffff:192.168.1.5]:8787", EVERYWHERE, LAN, True),
        ("192.168.1.99:8787", EVERYWHERE, LAN, False),  # not where the client connected
        ("0.0.0.0:8787", EVERYWHERE, LAN, True),
        ("devbox:8787", EVERYWHERE, LAN, True),
        ("DEVBOX.", EVERYWHERE, LAN, True),
        ("gateway.lan:8787", EVERYWHERE, LAN, True),
        ("proxy.example", EVERYWHERE, LAN, True),
        ("localhost:8787", EVERYWHERE, None, True),
        ("attacker.example:8787", EVERYWHERE, LAN, False),
    ],
)
def test_host_allowed(authority, policy, arrived_on, expected) -> None:
    assert host_allowed(authority, policy, arrived_on) is expected


def test_a_bound_address_is_its_own_name() -> None:
    policy = SitePolicy.build([ip_address("192.168.1.5")])
    assert host_allowed("192.168.1.5:8787", policy, LAN)
    assert not host_allowed("devbox", policy, LAN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://App.Example", "https://app.example"),
        ("https://app.example:443", "https://app.example"),
        ("http://localhost:5173/", "http://localhost:5173"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("tauri://localhost", "tauri://localhost"),
    ],
)
def test_normalise_origin(text: str, expected: str) -> None:
    assert normalise_origin(text) == expected


@pytest.mark.parametrize(
    "text", ["null", "", "app.example", "https://app.example/path", "https://"]
)
def test_not_origins(text: str) -> None:
    assert parse_origin(text) is None
    with pytest.raises(ValueError):
        normalise_origin(text)


H = "127.0.0.1:8787"


@pytest.mark.parametrize(
    ("headers", "policy", "authority", "refused", "cors"),
    [
        # Not a browser, or a browser on the gateway's own page: nothing to check.
        ({}, ON_LOOPBACK, H, False, None),
        ({"sec-fetch-site": "same-origin"}, ON_LOOPBACK, H, False, None),
        ({"sec-fetch-site": "none"}, ON_LOOPBACK, H, False, None),
        # Pages on this machine.
        ({"origin": "http://localhost:5173"}, ON_LOOPBACK, H, False, "http://localhost:5173"),
        ({"origin": "http://127.0.0.1:3000"}, ON_LOOPBACK, H, False, "http://127.0.0.1:3000"),
        ({"origin": "http://[::1]:8080"}, ON_LOOPBACK, H, False, "http://[::1]:8080"),
        ({"origin": "https://localhost"}, ON_LOOPBACK, H, False, "https://localhost"),
        ({"origin": "http://ui.localhost:5173"}, ON_LOOPBACK, H, False, "http://ui.localhost:5173"),
        ({"origin": "http://127.0.0.1:8787"}, ON_LOOPBACK, H, False, "http://127.0.0.1:8787"),
        # Apps' own schemes are not web sites.
        ({"origin": "tauri://localhost"}, ON_LOOPBACK, H, False, "tauri://localhost"),
        ({"origin": "app://codex"}, ON_LOOPBACK, H, False, "app://codex"),
        ({"origin": "file://"}, ON_LOOPBACK, H, False, "file://"),
        # Other sites.
        ({"origin": "https://attacker.example"}, ON_LOOPBACK, H, True, None),
        ({"origin": "http://localhost.attacker.example"}, ON_LOOPBACK, H, True, None),
        ({"origin": "http://192.168.1.20:3000"}, ON_LOOPBACK, H, True, None),
        ({"origin": "null"}, ON_LOOPBACK, H, True, None),  # a sandboxed frame of any site
        ({"origin": ""}, ON_LOOPBACK, H, True, None),
        (
            {"origin": "https://attacker.example", "sec-fetch-site": "same-origin"},
            ON_LOOPBACK,
            H,
            True,
            None,
        ),
        ({"sec-fetch-site": "cross-site"}, ON_LOOPBACK, H, True, None),
        (
            {"sec-fetch-site": "cross-site", "referer": "https://attacker.example/x"},
            ON_LOOPBACK,
            H,
            True,
            None,
        ),
        (
            {"sec-fetch-site": "cross-site", "referer": "http://localhost:5173/gallery"},
            ON_LOOPBACK,
            H,
            False,
            None,
        ),
        # Listed origins, and the gateway's own origin when it is known by another name.
        ({"origin": "https://app.example"}, EVERYWHERE, H, False, "https://app.example"),
        ({"origin": "https://app.example:443"}, EVERYWHERE, H, False, "https://app.example:443"),
        ({"origin": "http://app.example"}, EVERYWHERE, H, True, None),
        ({"origin": "http://192.168.1.20:3000"}, EVERYWHERE, H, False, "http://192.168.1.20:3000"),
        ({"origin": "http://192.168.1.20:3001"}, EVERYWHERE, H, True, None),
        (
            {"origin": "http://gateway.lan:8787"},
            EVERYWHERE,
            "gateway.lan:8787",
            False,
            "http://gateway.lan:8787",
        ),
        ({"origin": "http://gateway.lan:3000"}, EVERYWHERE, "gateway.lan:8787", True, None),
    ],
)
def test_check_browser(headers, policy, authority, refused: bool, cors: str | None) -> None:
    verdict = check_browser(headers, policy, authority)
    assert (verdict.refused is not None, verdict.cors_origin) == (refused, cors)


def test_the_intercepted_hosts_own_pages_are_the_same_site() -> None:
    same = check_browser({"origin": "https://chatgpt.com"}, ON_LOOPBACK, "chatgpt.com", "https")
    assert same.refused is None
    other = check_browser({"origin": "https://evil.example"}, ON_LOOPBACK, "chatgpt.com", "https")
    assert other.refused is not None


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("OPTIONS", {"origin": "x", "access-control-request-method": "POST"}, True),
        ("options", {"origin": "x", "access-control-request-method": "POST"}, True),
        ("OPTIONS", {"access-control-request-method": "POST"}, False),
        ("OPTIONS", {"origin": "x"}, False),
        ("POST", {"origin": "x", "access-control-request-method": "POST"}, False),
    ],
)
def test_is_preflight(method: str, headers: dict[str, str], expected: bool) -> None:
    assert is_preflight(method, headers) is expected


def test_preflight_answer_lets_the_sdks_send_their_headers() -> None:
    headers = preflight_headers(
        "http://localhost:5173",
        ["POST"],
        {
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, "
            "x-stainless-os, X-Stainless-Retry-Count, x-unknown",
        },
    )
    assert headers["access-control-allow-origin"] == "http://localhost:5173"
    assert headers["access-control-allow-methods"] == "OPTIONS, POST"
    allowed = headers["access-control-allow-headers"].split(", ")
    for name in (
        "authorization",
        "content-type",
        "x-api-key",
        "anthropic-version",
        "x-stainless-os",
        "x-stainless-retry-count",
    ):
        assert name in allowed
    assert "x-unknown" not in allowed
    assert "Origin" in headers["vary"]
    assert "access-control-allow-private-network" not in headers
    network = preflight_headers(
        "https://app.example", ["GET"], {"access-control-request-private-network": "true"}
    )
    assert network["access-control-allow-private-network"] == "true"


def test_reply_headers_add_to_vary() -> None:
    assert reply_headers("http://localhost:5173")["vary"] == "Origin"
    assert reply_headers("http://localhost:5173", "Accept-Encoding")["vary"] == (
        "Accept-Encoding, Origin"
    )
    assert reply_headers("http://localhost:5173", "origin")["vary"] == "origin"
