from types import SimpleNamespace

from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons

from azt.addons.flowstate import exchange_of
from azt.addons.scope import Scope, parse_passthrough
from azt.config import Settings

REGULAR = ProxyMode.parse("regular")
REVERSE = ProxyMode.parse("reverse:http://127.0.0.1:9@8787")


def hello(sni: str | None, mode=REGULAR) -> SimpleNamespace:
    return SimpleNamespace(
        context=SimpleNamespace(client=SimpleNamespace(proxy_mode=mode)),
        client_hello=SimpleNamespace(sni=sni),
        ignore_connection=False,
    )


def test_tls_is_intercepted_only_for_openai_hosts_on_the_proxy_listener() -> None:
    scope = Scope(Settings())
    for sni, ignored in (
        ("api.openai.com", False),
        ("chatgpt.com", False),
        ("API.OpenAI.com", False),
        ("example.com", True),
        (None, True),
        ("openai.com", True),
        ("evil-api.openai.com", True),
    ):
        data = hello(sni)
        scope.tls_clienthello(data)  # type: ignore[arg-type]
        assert data.ignore_connection is ignored, sni
    reverse = hello("example.com", REVERSE)
    scope.tls_clienthello(reverse)  # type: ignore[arg-type]
    assert reverse.ignore_connection is False


def test_requests_on_intercepted_hosts_enter_the_pipeline(make_flow) -> None:
    scope = Scope(Settings())
    with taddons.context(scope):
        flow = make_flow(path="/v1/chat/completions", taken=False)
        flow.client_conn.proxy_mode = REGULAR
        flow.request.host = "api.openai.com"
        scope.requestheaders(flow)
        exchange = exchange_of(flow)
        assert exchange.intercepted_host == "api.openai.com"
        assert exchange.client.ingress == "proxy"


def test_other_hosts_and_allowed_paths_pass_through(make_flow) -> None:
    scope = Scope(Settings())
    with taddons.context(scope):
        other = make_flow(path="/anything", taken=False)
        other.client_conn.proxy_mode = REGULAR
        other.request.host = "example.com"
        scope.requestheaders(other)
        assert exchange_of(other) is None
        check = make_flow(
            method="GET", path="/backend-api/wham/accounts/check", body=b"", taken=False
        )
        check.client_conn.proxy_mode = REGULAR
        check.request.host = "chatgpt.com"
        scope.requestheaders(check)
        assert exchange_of(check) is None


def test_what_passes_through_is_streamed_both_ways_whatever_its_size(make_flow) -> None:
    """mitmproxy's body limit is sized for the API: another host's upload must not meet it."""
    from mitmproxy.test import tutils

    scope = Scope(Settings())
    with taddons.context(scope):
        for host, streamed in (("example.com", True), ("api.openai.com", False)):
            flow = make_flow(path="/v1/chat/completions", taken=False)
            flow.client_conn.proxy_mode = REGULAR
            flow.request.host = host
            scope.requestheaders(flow)
            flow.response = tutils.tresp()
            scope.responseheaders(flow)
            assert bool(flow.request.stream) is streamed, host
            assert bool(flow.response.stream) is streamed, host


def test_the_intercepted_host_list_is_a_setting() -> None:
    scope = Scope(Settings(intercept_hosts=["gateway.example"]))
    assert scope.intercepts("gateway.example") and not scope.intercepts("api.openai.com")


def test_parse_passthrough() -> None:
    assert parse_passthrough(["chatgpt.com/backend-api/ps/", "API.example.com", " "]) == [
        ("chatgpt.com", "/backend-api/ps/"),
        ("api.example.com", "/"),
    ]
