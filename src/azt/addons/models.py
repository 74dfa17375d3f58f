"""`GET /v1/models`: the catalog in OpenAI's list shape, answered by the gateway itself."""

import json

from mitmproxy import http

from azt.addons.flowstate import ANSWERED, fail_closed, is_ours, respond_json, route_of
from azt.catalog import CatalogHolder


class ModelList:
    def __init__(self, catalog: CatalogHolder) -> None:
        self._catalog = catalog

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        route = route_of(flow)
        if not is_ours(flow) or route is None or route.name != "models.list":
            return
        catalog = await self._catalog.current()
        respond_json(flow, 200, json.dumps(catalog.openai_list()).encode(), {})
        flow.metadata[ANSWERED] = "local"
