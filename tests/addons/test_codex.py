import json

from mitmproxy.test import taddons

from azt.addons.codex import CodexRoute
from azt.addons.flowstate import exchange_of
from azt.addons.handoff import PoolLink
from azt.addons.ingress import Ingress
from azt.catalog import CatalogHolder
from azt.config import Settings
from azt.exchange import Exchanges
from azt.pool.hop import EXCHANGE_HEADER, SECRET_HEADER


async def run(settings: Settings, catalog: CatalogHolder, flow) -> None:
    pool = PoolLink(4242, "s3cret", Exchanges())
    ingress, codex = Ingress(settings), CodexRoute(catalog, pool)
    with taddons.context(ingress, codex):
        ingress.requestheaders(flow)
        await ingress.request(flow)
        await codex.request(flow)


async def test_hands_the_request_to_the_pool(settings, catalog, make_flow) -> None:
    flow = make_flow(
        path="/codex/v1/responses?x=1",
        headers={
            "authorization": "Bearer client-key",
            "chatgpt-account-id": "client-account",
            "session-id": "abc",
        },
    )
    await run(settings, catalog, flow)
    assert flow.response is None and exchange_of(flow).handed_over
    request = flow.request
    assert (request.scheme, request.host, request.port) == ("http", "127.0.0.1", 4242)
    assert request.path == "/responses?x=1"
    assert "authorization" not in request.headers
    assert "chatgpt-account-id" not in request.headers
    assert request.headers[SECRET_HEADER] == "s3cret"
    assert request.headers[EXCHANGE_HEADER] == flow.id
    assert request.headers["accept-encoding"] == "identity"
    assert request.headers["session-id"] == "abc"
    body = json.loads(request.content)
    assert body["instructions"] == ""
    assert request.headers["content-length"] == str(len(request.raw_content))


async def test_instructions_are_kept_when_given(settings, catalog, make_flow) -> None:
    flow = make_flow(body=b'{"model":"gpt-5.4","instructions":"be brief","input":"hi"}')
    await run(settings, catalog, flow)
    assert json.loads(flow.request.content)["instructions"] == "be brief"


async def test_unknown_model_is_a_404_model_not_found(settings, catalog, make_flow) -> None:
    flow = make_flow(body=b'{"model":"gpt-0","input":"hi"}')
    await run(settings, catalog, flow)
    assert flow.response.status_code == 404
    error = json.loads(flow.response.content)["error"]
    assert (error["code"], error["param"]) == ("model_not_found", "model")
    assert flow.request.host != "127.0.0.1" or flow.request.port != 4242


async def test_missing_model_is_a_400(settings, catalog, make_flow) -> None:
    flow = make_flow(body=b'{"input":"hi"}')
    await run(settings, catalog, flow)
    assert flow.response.status_code == 400
    assert json.loads(flow.response.content)["error"]["code"] == "missing_model"


async def test_models_route_keeps_its_query(settings, catalog, make_flow) -> None:
    flow = make_flow(method="GET", path="/codex/v1/models?client_version=0.169.0", body=b"")
    await run(settings, catalog, flow)
    assert flow.request.path == "/models?client_version=0.169.0"


async def test_conversation_hints_for_the_pool(settings, catalog, make_flow) -> None:
    """Affinity and ownership go on the exchange; headers a client sends cannot forge them."""
    flow = make_flow(
        body=b'{"model":"gpt-5.4","input":"hi","prompt_cache_key":"pck",'
        b'"previous_response_id":"resp_9"}',
        headers={"session-id": "s1", "x-azt-owner": "forged", "x-azt-exchange": "forged"},
    )
    await run(settings, catalog, flow)
    exchange = exchange_of(flow)
    assert (exchange.affinity, exchange.owner) == ("pck", "resp_9")
    assert flow.request.headers[EXCHANGE_HEADER] == flow.id
    assert "x-azt-owner" not in flow.request.headers  # no header of azt's comes from a client
    flow = make_flow(headers={"session-id": "s1", "x-azt-affinity": "forged"})
    await run(settings, catalog, flow)
    exchange = exchange_of(flow)
    assert (exchange.affinity, exchange.owner) == ("s1", None)


async def test_the_query_and_folded_headers_reach_the_pool_in_a_form_it_reads(
    settings, catalog, make_flow
) -> None:
    """Characters the pool's server refuses are re-encoded; a folded header is one line."""
    flow = make_flow(method="GET", path="/codex/v1/models?client_version=0.1|x&a=%7B", body=b"")
    flow.request.headers["x-codex-turn-metadata"] = "a\r\n b"
    await run(settings, catalog, flow)
    assert flow.request.path == "/models?client_version=0.1%7Cx&a=%7B"
    assert flow.request.headers["x-codex-turn-metadata"] == "a b"
