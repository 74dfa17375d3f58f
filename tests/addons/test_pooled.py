"""Routes the pool serves whole are handed over without the client's credentials."""

from mitmproxy.test import taddons, tutils

from azt.addons.flowstate import exchange_of
from azt.addons.handoff import PoolLink
from azt.addons.ingress import Ingress
from azt.addons.pooled import PooledRoutes
from azt.config import Settings
from azt.pool.hop import EXCHANGE_HEADER, SECRET_HEADER


async def run(settings: Settings, pool: PoolLink, flow) -> None:
    ingress, pooled = Ingress(settings), PooledRoutes(pool)
    with taddons.context(ingress, pooled):
        ingress.requestheaders(flow)
        await ingress.request(flow)
        pooled.request(flow)


async def test_hands_the_usage_check_to_the_pool(settings, pool, make_flow) -> None:
    """`/backend-api/wham/usage` goes to the pool's `/usage`, credentials dropped."""
    flow = make_flow(
        method="GET",
        path="/backend-api/wham/usage",
        body=b"",
        headers={"authorization": "Bearer codex-own", "chatgpt-account-id": "codex-account"},
    )
    await run(settings, pool, flow)
    exchange = exchange_of(flow)
    assert flow.response is None and exchange.handed_over
    request = flow.request
    assert (request.host, request.port, request.path) == ("127.0.0.1", 4242, "/usage")
    assert request.headers[SECRET_HEADER] == "s3cret"
    assert pool.exchanges.find(request.headers[EXCHANGE_HEADER]) is exchange
    assert "authorization" not in request.headers
    assert "chatgpt-account-id" not in request.headers


async def test_leaves_other_routes_alone(settings, pool, make_flow) -> None:
    """A Codex turn is not this addon's business."""
    flow = make_flow()
    await run(settings, pool, flow)
    assert not exchange_of(flow).handed_over
    assert flow.request.path == "/codex/v1/responses"


async def test_images_go_to_the_pool_with_their_route(settings, pool, make_flow) -> None:
    """Image work is the pool's (it asks for a paid plan itself)."""
    flow = make_flow(path="/v1/images/generations", body=b'{"prompt":"x"}')
    await run(settings, pool, flow)
    assert flow.request.path == "/images/generations"
    assert [name for name in flow.request.headers if name.startswith("x-azt-")] == [
        SECRET_HEADER,
        EXCHANGE_HEADER,
    ]


async def test_cached_images_keep_their_name(settings, pool, make_flow) -> None:
    flow = make_flow(method="GET", path="/_gateway/images/abcdefghijklmnopqrst.png", body=b"")
    await run(settings, pool, flow)
    assert flow.request.path == "/images/cache/abcdefghijklmnopqrst.png"


async def test_the_parameters_the_pool_dropped_are_named_to_the_client(
    settings, pool, make_flow
) -> None:
    flow = make_flow(path="/v1/images/generations", body=b'{"prompt":"x","style":"vivid"}')
    await run(settings, pool, flow)
    exchange_of(flow).ignored = ("style",)  # as the pool's image planning says
    flow.response = tutils.tresp(headers=[(b"content-type", b"application/json")])
    PooledRoutes(pool).responseheaders(flow)
    assert flow.response.headers["x-azt-ignored-params"] == "style"
