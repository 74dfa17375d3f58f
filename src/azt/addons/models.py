"""`GET /v1/models`: the catalog in OpenAI's list shape, answered by the gateway itself."""

import json

from mitmproxy import http

from azt.addons.flowstate import answer_locally, claim, fail_closed
from azt.catalog import CatalogHolder
from azt.routes import Handler


class ModelList:
    HANDLES = Handler.MODELS

    def __init__(self, catalog: CatalogHolder) -> None:
        self._catalog = catalog

    @fail_closed
    async def request(self, flow: http.HTTPFlow) -> None:
        if claim(flow, Handler.MODELS) is None:
            return
        catalog = await self._catalog.current()
        body = json.dumps(catalog.openai_list()).encode()
        answer_locally(flow, http.Response.make(200, body, {"content-type": "application/json"}))
