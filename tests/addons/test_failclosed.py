import json

from mitmproxy.test import taddons

from azt.addons.barrier import Barrier
from azt.addons.flowstate import exchange_of, fail_closed
from azt.addons.scope import Scope
from azt.config import Settings


class Exploding:
    @fail_closed
    def request(self, flow) -> None:
        raise KeyError("boom")

    @fail_closed
    async def requestheaders(self, flow) -> None:
        raise ValueError("async boom")


async def test_a_crashing_hook_answers_with_an_error_instead_of_forwarding(make_flow) -> None:
    addon = Exploding()
    with taddons.context(addon):
        flow = make_flow()
        addon.request(flow)
        assert flow.response.status_code == 500
        assert json.loads(flow.response.content)["error"]["code"] == "internal_error"
        flow = make_flow()
        await addon.requestheaders(flow)
        assert flow.response.status_code == 500


def test_barrier_refuses_what_nobody_routed(make_flow) -> None:
    barrier = Barrier()
    with taddons.context(barrier):
        flow = make_flow()
        barrier.request(flow)
        assert flow.response.status_code == 500
        routed = make_flow()
        exchange_of(routed).handed_over = True
        barrier.request(routed)
        assert routed.response is None
        passing = make_flow(taken=False)  # Scope left it alone: not azt's
        barrier.request(passing)
        assert passing.response is None


def test_proxy_listener_flows_pass_through(make_flow) -> None:
    from mitmproxy.proxy.mode_specs import ProxyMode

    scope = Scope(Settings())
    with taddons.context(scope):
        flow = make_flow(taken=False)
        scope.requestheaders(flow)
        assert exchange_of(flow) is not None
        other = make_flow(taken=False)
        other.client_conn.proxy_mode = ProxyMode.parse("regular")
        scope.requestheaders(other)
        assert exchange_of(other) is None
