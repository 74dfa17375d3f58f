"""The usage addon hands Codex usage checks to the pool, without the client's credentials."""

from mitmproxy.test import taddons

from azt.addons.flowstate import ROUTED
from azt.addons.ingress import Ingress
from azt.addons.usage import UsageRoute
from azt.config import Settings
from azt.pool.server import SECRET_HEADER


def run(settings: Settings, flow) -> None:
    ingress, usage = Ingress(settings), UsageRoute(4242, "s3cret")
    with taddons.context(ingress, usage):
        ingress.requestheaders(flow)
        ingress.request(flow)
        usage.request(flow)


def test_hands_the_usage_check_to_the_pool(settings, make_flow) -> None:
    """`/backend-api/wham/usage` goes to the pool's `/usage`, credentials dropped."""
    flow = make_flow(
        method="GET",
        path="/backend-api/wham/usage",
        body=b"",
        headers={"authorization": "Bearer codex-own", "chatgpt-account-id": "codex-account"},
    )
    run(settings, flow)
    assert flow.response is None and flow.metadata[ROUTED]
    request = flow.request
    assert (request.host, request.port, request.path) == ("127.0.0.1", 4242, "/usage")
    assert request.headers[SECRET_HEADER] == "s3cret"
    assert "authorization" not in request.headers
    assert "chatgpt-account-id" not in request.headers


def test_leaves_other_routes_alone(settings, make_flow) -> None:
    """A Codex turn is not the usage addon's business."""
    flow = make_flow()
    run(settings, flow)
    assert ROUTED not in flow.metadata
    assert flow.request.path == "/codex/v1/responses"
