import gzip
import json

import zstandard
from mitmproxy.test import taddons

from azt.addons.flowstate import exchange_of
from azt.addons.ingress import Ingress
from azt.config import Settings


async def run(settings: Settings, flow) -> None:
    ingress = Ingress(settings)
    with taddons.context(ingress):
        ingress.requestheaders(flow)
        await ingress.request(flow)


def error_of(flow) -> tuple[int, str]:
    assert flow.response is not None
    body = json.loads(flow.response.content)
    assert body["detail"] == body["error"]["message"]
    return flow.response.status_code, body["error"]["code"]


async def test_parses_a_json_body(settings: Settings, make_flow) -> None:
    flow = make_flow()
    await run(settings, flow)
    assert flow.response is None
    assert exchange_of(flow).route.name == "codex.responses"
    assert exchange_of(flow).body == {"model": "gpt-5.4", "input": "hi"}


async def test_decodes_zstd_and_gzip(settings: Settings, make_flow) -> None:
    raw = json.dumps({"model": "gpt-5.4", "input": "zipped"}).encode()
    for encoding, packed in (
        ("zstd", zstandard.ZstdCompressor().compress(raw)),
        ("gzip", gzip.compress(raw)),
    ):
        flow = make_flow(body=packed, headers={"content-encoding": encoding})
        await run(settings, flow)
        assert flow.response is None, encoding
        assert exchange_of(flow).body["input"] == "zipped"
        assert "content-encoding" not in flow.request.headers


async def test_corrupt_compressed_body_is_a_400(settings: Settings, make_flow) -> None:
    flow = make_flow(body=b"definitely not zstd", headers={"content-encoding": "zstd"})
    await run(settings, flow)
    assert error_of(flow) == (400, "invalid_body_encoding")


async def test_unknown_route_is_an_openai_404(settings: Settings, make_flow) -> None:
    flow = make_flow(path="/nope")
    await run(settings, flow)
    assert error_of(flow) == (404, "unknown_route")


async def test_wrong_method_is_a_405_with_allow(settings: Settings, make_flow) -> None:
    flow = make_flow(method="PUT", path="/v1/models")
    await run(settings, flow)
    assert error_of(flow) == (405, "method_not_allowed")
    assert flow.response.headers["allow"] == "GET"


async def test_websocket_upgrade_gets_426(settings: Settings, make_flow) -> None:
    flow = make_flow(
        method="GET", body=b"", headers={"upgrade": "websocket", "connection": "Upgrade"}
    )
    await run(settings, flow)
    assert error_of(flow) == (426, "websocket_unsupported")


async def test_declared_length_over_the_limit_is_a_413(settings: Settings, make_flow) -> None:
    flow = make_flow()
    flow.request.headers["content-length"] = str(5 * 1024 * 1024)
    ingress = Ingress(settings)
    with taddons.context(ingress):
        ingress.requestheaders(flow)
    status, code = error_of(flow)
    assert (status, code) == (413, "request_too_large")
    assert "body_limit_mb" in json.loads(flow.response.content)["detail"]


async def test_compact_gets_the_larger_limit(settings: Settings, make_flow) -> None:
    big = json.dumps({"model": "gpt-5.4", "input": "x" * (1024 * 1024 + 10)}).encode()
    flow = make_flow(path="/codex/v1/responses/compact", body=big)
    await run(settings, flow)
    assert flow.response is None
    flow = make_flow(path="/codex/v1/responses", body=big)
    await run(settings, flow)
    assert error_of(flow)[0] == 413


async def test_a_small_body_that_inflates_past_the_limit_is_a_413(
    settings: Settings, make_flow
) -> None:
    raw = json.dumps({"model": "gpt-5.4", "input": " " * (3 * 1024 * 1024)}).encode()
    packed = zstandard.ZstdCompressor().compress(raw)
    assert len(packed) < 1024 * 1024
    flow = make_flow(body=packed, headers={"content-encoding": "zstd"})
    await run(settings, flow)
    assert error_of(flow)[0] == 413


async def test_wrong_content_type_is_a_415(settings: Settings, make_flow) -> None:
    flow = make_flow(headers={"content-type": "text/plain"})
    await run(settings, flow)
    assert error_of(flow) == (415, "unsupported_media_type")


async def test_json_variants_are_accepted(settings: Settings, make_flow) -> None:
    flow = make_flow(headers={"content-type": "application/vnd.api+json; charset=utf-8"})
    await run(settings, flow)
    assert flow.response is None


async def test_malformed_json_is_a_400(settings: Settings, make_flow) -> None:
    flow = make_flow(body=b'{"model": ')
    await run(settings, flow)
    assert error_of(flow) == (400, "invalid_json")


async def test_non_object_json_is_a_400(settings: Settings, make_flow) -> None:
    flow = make_flow(body=b"[1, 2]")
    await run(settings, flow)
    assert error_of(flow) == (400, "invalid_json")


async def test_get_routes_need_no_body(settings: Settings, make_flow) -> None:
    flow = make_flow(method="GET", path="/v1/models", body=b"", headers={"content-type": ""})
    await run(settings, flow)
    assert flow.response is None and exchange_of(flow).body is None


async def test_a_cors_preflight_gets_the_preflight_route_not_a_405(
    settings: Settings, make_flow
) -> None:
    preflight = {"origin": "http://localhost:5173", "access-control-request-method": "POST"}
    flow = make_flow(method="OPTIONS", path="/v1/images/generations", body=b"", headers=preflight)
    await run(settings, flow)
    assert flow.response is None
    assert exchange_of(flow).route.name == "cors.preflight"
    # Not a preflight (no Access-Control-Request-Method): still the 405 of a wrong method.
    plain = make_flow(method="OPTIONS", path="/v1/images/generations", body=b"")
    await run(settings, plain)
    assert error_of(plain) == (405, "method_not_allowed")
    # A preflight for a path azt does not serve: its 404.
    unknown = make_flow(method="OPTIONS", path="/v1/files", body=b"", headers=preflight)
    await run(settings, unknown)
    assert error_of(unknown) == (404, "unknown_route")
