"""Codex routes (`/codex/v1/...`): check the model, then hand the request to the local pool.

The body is left as the Codex client wrote it, except that a missing `instructions` becomes ""
(the backend refuses requests without one).
"""

import json

from mitmproxy import http

from azt.addons.flowstate import BODY, fail_closed, is_ours, respond_error, route_of
from azt.addons.handoff import affinity_key, hand_to_pool
from azt.catalog import CatalogHolder
from azt.errors import ApiError


class CodexRoute:
    def __init__(self, catalog: CatalogHolder, pool_port: int, secret: str) -> None:
        self._catalog = catalog
        self._pool_port = pool_port
        self._secret = secret

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        route = route_of(flow)
        if not is_ours(flow) or route is None or not route.name.startswith("codex."):
            return
        body = flow.metadata.get(BODY)
        if route.json_body:
            if body is None:
                raise RuntimeError("a JSON route reached routing without a parsed body")
            error = await self._check_model(body)
            if error is not None:
                respond_error(flow, error)
                return
            if not isinstance(body.get("instructions"), str):
                body["instructions"] = ""
                flow.request.content = json.dumps(body, ensure_ascii=False).encode()
        owner = (body or {}).get("previous_response_id")
        hand_to_pool(
            flow,
            route.pool_path or "/",
            self._pool_port,
            self._secret,
            affinity=affinity_key(body, flow.request.headers),
            owner=owner if isinstance(owner, str) else None,
        )

    async def _check_model(self, body: dict[str, object]) -> ApiError | None:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return ApiError(
                400, "The request names no `model`.", code="missing_model", param="model"
            )
        catalog = await self._catalog.current()
        if not catalog.knows(model):
            return ApiError(
                404,
                f"The model `{model}` does not exist or is not available to your accounts. "
                "`azt models` lists the known ones (`azt models --refresh` updates the list).",
                code="model_not_found",
                param="model",
            )
        return None
