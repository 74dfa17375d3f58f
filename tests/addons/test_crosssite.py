import json
from ipaddress import ip_address

import pytest
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tutils

from azt.addons.crosssite import CrossSite
from azt.addons.flowstate import exchange_of, open_exchange
from azt.addons.ingress import Ingress
from azt.config import Settings


def run(flow, settings: Settings | None = None, listening: str = "127.0.0.1") -> CrossSite:
    """Ingress then CrossSite, as in the chain, for the request and the reply headers."""
    settings = settings or Settings()
    ingress, cross_site = Ingress(settings), CrossSite(settings)
    cross_site.listening([ip_address(listening)])
    with taddons.context(ingress, cross_site):
        ingress.requestheaders(flow)
        cross_site.requestheaders(flow)
        if flow.response is None:  # as if the pool answered
            flow.response = tutils.tresp(headers=((b"content-type", b"application/json"),))
        cross_site.responseheaders(flow)
    return cross_site


def error_code(flow) -> str | None:
    if flow.response is None or flow.response.status_code < 400:
        return None
    return json.loads(flow.response.content)["error"]["code"]


IMAGES = "/v1/images/generations"


@pytest.mark.parametrize("host", ["attacker.example:8787", "attacker.example", "devbox.evil"])
def test_a_foreign_host_is_refused_on_every_path(make_flow, host: str) -> None:
    for path in (IMAGES, "/v1/chat/completions", "/codex/v1/responses", "/nope"):
        flow = make_flow(path=path, headers={"host": host})
        run(flow)
        assert flow.response.status_code == 403 and error_code(flow) == "host_not_allowed"
        assert exchange_of(flow).answered.code == "host_not_allowed"


def test_local_and_listed_hosts_are_served(make_flow) -> None:
    settings = Settings(allowed_hosts=["gateway.lan"])
    for host in ("127.0.0.1:8787", "localhost:8787", "[::1]:8787", "gateway.lan:8787"):
        flow = make_flow(path=IMAGES, headers={"host": host})
        run(flow, settings)
        assert error_code(flow) is None, host


def test_beyond_loopback_this_machines_address_is_a_name(make_flow) -> None:
    flow = make_flow(path=IMAGES, headers={"host": "192.168.1.5:8787"})
    flow.client_conn.sockname = ("192.168.1.5", 8787)
    run(flow, listening="0.0.0.0")
    assert error_code(flow) is None
    on_loopback = make_flow(path=IMAGES, headers={"host": "192.168.1.5:8787"})
    run(on_loopback)
    assert error_code(on_loopback) == "host_not_allowed"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "multipart/form-data; boundary=x", "application/json"]
)
def test_a_page_of_another_site_cannot_spend_the_pool(make_flow, content_type: str) -> None:
    for headers in (
        {"origin": "https://attacker.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site"},
    ):
        flow = make_flow(path=IMAGES, headers={"content-type": content_type, **headers})
        run(flow)
        assert flow.response.status_code == 403 and error_code(flow) == "origin_not_allowed"
        assert "access-control-allow-origin" not in flow.response.headers


def test_local_pages_get_cors_headers_on_every_reply(make_flow) -> None:
    flow = make_flow(path=IMAGES, headers={"origin": "http://localhost:5173"})
    run(flow)
    assert error_code(flow) is None
    assert flow.response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert flow.response.headers["vary"] == "Origin"
    missing = make_flow(path="/v1/files", headers={"origin": "http://localhost:5173"})
    run(missing)  # the page can read the 404 too
    assert error_code(missing) == "unknown_route"
    assert missing.response.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_listed_origins_are_served(make_flow) -> None:
    settings = Settings(allowed_origins=["https://app.example"])
    flow = make_flow(path=IMAGES, headers={"origin": "https://app.example"})
    run(flow, settings)
    assert flow.response.headers["access-control-allow-origin"] == "https://app.example"


def test_clients_that_are_not_browsers_are_unaffected(make_flow) -> None:
    flow = make_flow(path=IMAGES)
    run(flow)
    assert error_code(flow) is None
    assert "access-control-allow-origin" not in flow.response.headers


def preflight(make_flow, origin: str, path: str = IMAGES, **extra: str):
    headers = {"origin": origin, "access-control-request-method": "POST", **extra}
    return make_flow(method="OPTIONS", path=path, body=b"", headers=headers)


def test_preflights_from_allowed_origins_are_answered(make_flow) -> None:
    flow = preflight(
        make_flow,
        "http://localhost:5173",
        **{"access-control-request-headers": "authorization, content-type, x-stainless-os"},
    )
    run(flow)
    response = flow.response
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert response.headers["access-control-allow-methods"] == "OPTIONS, POST"
    assert "x-stainless-os" in response.headers["access-control-allow-headers"]
    assert exchange_of(flow).local and not exchange_of(flow).route.recorded


def test_preflights_from_other_sites_are_refused(make_flow) -> None:
    flow = preflight(make_flow, "https://attacker.example")
    run(flow)
    assert flow.response.status_code == 403 and error_code(flow) == "origin_not_allowed"


def test_intercepted_hosts_check_the_origin_not_the_host(make_flow) -> None:
    flow = make_flow(path=IMAGES, taken=False, headers={"host": "api.openai.com"})
    flow.client_conn.proxy_mode = ProxyMode.parse("regular")
    flow.request.scheme, flow.request.host, flow.request.port = "https", "api.openai.com", 443
    open_exchange(flow, intercepted_host="api.openai.com")
    run(flow)
    assert error_code(flow) is None
    foreign = make_flow(path=IMAGES, taken=False, headers={"origin": "https://attacker.example"})
    foreign.client_conn.proxy_mode = ProxyMode.parse("regular")
    foreign.request.scheme, foreign.request.host, foreign.request.port = (
        "https",
        "api.openai.com",
        443,
    )
    open_exchange(foreign, intercepted_host="api.openai.com")
    run(foreign)
    assert error_code(foreign) == "origin_not_allowed"
