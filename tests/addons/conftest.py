import pytest
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import tflow, tutils

from azt.addons.flowstate import open_exchange
from azt.addons.handoff import PoolLink
from azt.catalog import CatalogHolder
from azt.config import Settings
from azt.exchange import Exchanges

REVERSE = ProxyMode.parse("reverse:http://127.0.0.1:9@127.0.0.1:8787")


def _make_flow(
    method: str = "POST",
    path: str = "/codex/v1/responses",
    body: bytes = b'{"model":"gpt-5.4","input":"hi"}',
    headers: dict[str, str] | None = None,
    taken: bool = True,
):
    """A reverse-listener flow; `taken` (as Scope would) gives it an exchange."""
    merged = {"content-type": "application/json", "host": "127.0.0.1:8787"}
    merged.update(headers or {})
    request = tutils.treq(
        method=method.encode(),
        path=path.encode(),
        content=body,
        headers=[(k.encode(), v.encode()) for k, v in merged.items()],
    )
    request.headers["content-length"] = str(len(body))
    flow = tflow.tflow(req=request)
    flow.client_conn.proxy_mode = REVERSE
    if taken:
        open_exchange(flow)
    return flow


@pytest.fixture
def settings() -> Settings:
    return Settings(body_limit_mb=1, compact_body_limit_mb=2)


@pytest.fixture
def catalog() -> CatalogHolder:
    async def nothing_stored() -> None:
        return None

    return CatalogHolder(nothing_stored)


@pytest.fixture
def make_flow():
    return _make_flow


@pytest.fixture
def pool() -> PoolLink:
    """The pool as the routing addons see it (nothing listens: tests look at the flow)."""
    return PoolLink(4242, "s3cret", Exchanges())
