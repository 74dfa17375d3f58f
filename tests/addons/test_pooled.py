"""Routes the pool serves whole are handed over without the client's credentials."""

from mitmproxy.test import taddons

from azt.addons.flowstate import ROUTED
from azt.addons.ingress import Ingress
from azt.addons.pooled import PooledRoutes
from azt.config import Settings
from azt.pool.server import SECRET_HEADER


def run(settings: Settings, flow) -> None:
    ingress, usage = Ingress(settings), PooledRoutes(4242, "s3cret")
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
    """A Codex turn is not this addon's business."""
    flow = make_flow()
    run(settings, flow)
    assert ROUTED not in flow.metadata
    assert flow.request.path == "/codex/v1/responses"


def test_image_work_is_marked_as_needing_a_paid_plan(settings, make_flow) -> None:
    flow = make_flow(path="/v1/images/generations", body=b'{"prompt":"x"}')
    run(settings, flow)
    assert flow.request.path == "/images/generations"
    assert flow.request.headers["x-azt-needs"] == "paid"


def test_cached_images_keep_their_name_and_need_no_plan(settings, make_flow) -> None:
    flow = make_flow(method="GET", path="/_gateway/images/abcdefghijklmnopqrst.png", body=b"")
    run(settings, flow)
    assert flow.request.path == "/images/cache/abcdefghijklmnopqrst.png"
    assert "x-azt-needs" not in flow.request.headers
