"""Replies read whole whose event stream is larger than mitmproxy's body limit: the pool
collapses the events as they arrive, so only the final JSON crosses to the gateway."""

import pytest

from azt.sim.faults import Fault
from support.rig import Rig

MiB = 1024 * 1024
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def gateway_settings() -> dict[str, object]:
    # mitmproxy's body limit is the compact limit plus 1 MiB: 2 MiB here. One text delta of
    # 1 MiB makes an event stream of about 4 MiB (the delta, the done events, the response).
    return {"body_limit_mb": 1, "compact_body_limit_mb": 1}


async def test_a_chat_reply_whose_stream_passes_the_body_limit_is_served_whole(rig: Rig) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("giant_delta", times=1, size=MiB))
    reply = await rig.client.post(
        "/v1/chat/completions", json={"model": "gpt-5.4", "messages": MESSAGES}
    )
    assert reply.status_code == 200, reply.text[:300]
    assert len(reply.json()["choices"][0]["message"]["content"]) == MiB


async def test_a_responses_reply_whose_stream_passes_the_body_limit_is_served_whole(
    rig: Rig,
) -> None:
    account = rig.add_account()
    rig.sim.set_fault(account.chatgpt_account_id, Fault("giant_delta", times=1, size=MiB))
    reply = await rig.client.post("/v1/responses", json={"model": "gpt-5.4", "input": "hi"})
    assert reply.status_code == 200, reply.text[:300]
    assert len(reply.json()["output_text"]) == MiB
