"""The inspector: redacted copies of flows, shown live by a mitmweb helper process."""

import io
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from mitmproxy import http
from mitmproxy.addons.view import View
from mitmproxy.io import tnetstring
from mitmproxy.test import tflow, tutils

from azt.addons.inspector import FlowFeed, Inspector, InspectorError, read_states
from azt.addons.redaction import REDACTED, Redactor
from azt.pool.hop import SECRET_HEADER
from support.mitmweb import flow_updates
from support.ports import port_is_free

POOL_SECRET = "pool-secret-8e2a71"
BEARER = "sk-planted-bearer-inspector"


def ui_address(url: str) -> tuple[str, str]:
    """The UI's base URL and its access token, from the URL the inspector announces."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}", parse_qs(parts.query)["token"][0]


async def shown_flows(base: str, token: str) -> list[dict[str, Any]]:
    """mitmweb's flow list."""
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        reply = await client.get("/flows", headers={"authorization": f"Bearer {token}"})
    reply.raise_for_status()
    return reply.json()


def state_of(flow: http.HTTPFlow) -> dict[str, Any]:
    return Redactor().copy(flow).get_state()


@pytest.fixture
async def inspector() -> AsyncIterator[Inspector]:
    inspector = Inspector(0, Redactor(known_secrets=(POOL_SECRET,)))
    await inspector.start()
    try:
        yield inspector
    finally:
        await inspector.done()


async def test_flows_appear_redacted_and_are_updated_in_place(
    inspector: Inspector, make_flow
) -> None:
    assert inspector.url is not None
    base, token = ui_address(inspector.url)
    flow = make_flow(
        body=b'{"input":"planted prompt text 987"}',
        headers={"authorization": f"Bearer {BEARER}", SECRET_HEADER: POOL_SECRET},
    )
    # Updates cross a pipe and a thread: follow them as mitmweb announces them to its UI.
    async with flow_updates(base, token) as updates:
        inspector.request(flow)
        await updates.until(lambda shown: shown["id"] == flow.id)
        flow.response = tutils.tresp(status_code=201, content=b'{"output":"planted output"}')
        inspector.response(flow)
        await updates.until(lambda shown: shown["id"] == flow.id and "response" in shown)
    (shown,) = await shown_flows(base, token)  # updated in place, not shown twice

    assert shown["id"] == flow.id and shown["response"]["status_code"] == 201
    headers = dict(shown["request"]["headers"])
    assert headers["authorization"] == REDACTED and headers[SECRET_HEADER] == REDACTED
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        auth = {"authorization": f"Bearer {token}"}
        body = await client.get(f"/flows/{flow.id}/request/content.data", headers=auth)
        assert body.content.startswith(b"[body omitted: ")
    async with httpx.AsyncClient(base_url=base, timeout=5) as stranger:  # no auth cookie
        assert (await stranger.get("/flows")).status_code == 403
        assert (await stranger.get(f"/flows?token={token}x")).status_code == 403
    # The live flow keeps what it needs for its way on.
    assert flow.request.headers[SECRET_HEADER] == POOL_SECRET


async def test_the_port_is_released_when_the_inspector_stops(make_flow) -> None:
    inspector = Inspector(0, Redactor())
    url = await inspector.start()
    port = urlsplit(url).port
    assert port and not port_is_free(port)
    inspector.response(make_flow())
    await inspector.done()
    assert port_is_free(port)
    inspector.response(make_flow())  # after stopping: quietly nothing
    await inspector.done()


async def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        inspector = Inspector(busy.getsockname()[1], Redactor())
        with pytest.raises(InspectorError, match="cannot serve the inspector"):
            await inspector.start()


def test_the_feed_adds_updates_and_forgets_the_oldest() -> None:
    view = View()
    feed = FlowFeed(view, limit=2)
    first, second, third = tflow.tflow(), tflow.tflow(), tflow.tflow()
    feed.show(state_of(first))
    first.response = tutils.tresp(status_code=418)
    feed.show(state_of(first))
    assert view.store_count() == 1
    shown = view.get_by_id(first.id)
    assert shown is not None and shown.response is not None
    assert shown.response.status_code == 418

    feed.show(state_of(second))
    feed.show(state_of(third))
    assert view.store_count() == 2 and view.get_by_id(first.id) is None


def test_a_broken_state_is_skipped() -> None:
    view = View()
    FlowFeed(view).show({"id": "nope"})
    assert view.store_count() == 0


def test_states_are_read_until_the_pipe_closes() -> None:
    flows = [tflow.tflow(), tflow.tflow(resp=True)]
    source = io.BytesIO(b"".join(tnetstring.dumps(state_of(f)) for f in flows))
    delivered: list[dict[str, Any]] = []
    finished: list[bool] = []
    read_states(source, delivered.append, lambda: finished.append(True))
    assert [state["id"] for state in delivered] == [f.id for f in flows]
    assert finished == [True]
