"""Codex routes (`/codex/v1/...`): check the model, then hand the request to the local pool.

The body is left as the Codex client wrote it, except that a missing `instructions` becomes ""
(the backend refuses requests without one).
"""

import json

from mitmproxy import http

from azt.addons.flowstate import claim, fail_closed, respond_error
from azt.addons.handoff import PoolLink, affinity_key
from azt.catalog import CatalogHolder
from azt.errors import ApiError
from azt.exchange import Exchange
from azt.routes import Handler


class CodexRoute:
    HANDLES = Handler.CODEX

    def __init__(self, catalog: CatalogHolder, pool: PoolLink) -> None:
        self._catalog = catalog
        self._pool = pool

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        exchange = claim(flow, Handler.CODEX)
        if exchange is None or exchange.route is None:
            return
        body = exchange.body
        if exchange.route.json_body:
            if body is None:
                raise RuntimeError("a JSON route reached routing without a parsed body")
            error = await self._check_model(body, exchange)
            if error is not None:
                respond_error(flow, error)
                return
            if not isinstance(body.get("instructions"), str):
                body["instructions"] = ""
                flow.request.content = json.dumps(body, ensure_ascii=False).encode()
        owner = (body or {}).get("previous_response_id")
        exchange.owner = owner if isinstance(owner, str) else None
        exchange.affinity = affinity_key(body, flow.request.headers)
        self._pool.hand_over(flow, exchange, exchange.route.pool_path or "/")

    async def _check_model(self, body: dict[str, object], exchange: Exchange) -> ApiError | None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return ApiError(
                400, "The request names no `model`.", code="missing_model", param="model"
            )
        exchange.model_requested = model
        catalog = await self._catalog.current()
        exchange.model_known = catalog.knows(model)
        if not exchange.model_known:
            return ApiError(
                404,
                f"The model `{model}` does not exist or is not available to your accounts. "
                "`azt models` lists the known ones (`azt models --refresh` updates the list).",
                code="model_not_found",
                param="model",
            )
        return None
