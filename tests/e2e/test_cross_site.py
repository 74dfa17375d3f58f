"""Web pages of other sites cannot use the gateway through a browser; local pages can, with
CORS. (Requests are made as a browser would make them: the headers are the browser's.)"""

import json
from collections.abc import Iterator

import pytest

from support.netns import OtherMachine, other_machine, unavailable
from support.png import make_png
from support.rig import Rig

CHAT = {"model": "gpt-5.4", "messages": [{"role": "user", "content": "Reply with PONG only."}]}
LOCAL_PAGE = "http://localhost:5173"


def error_code(response) -> str:
    return response.json()["error"]["code"]


async def test_a_dns_rebinding_page_is_refused(rig: Rig) -> None:
    """The page's own origin, re-pointed at 127.0.0.1: only its Host header gives it away."""
    rig.add_account()
    site = "rebind.attacker.example:8787"
    for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
        response = await rig.client.request(
            method,
            path,
            json=CHAT if method == "POST" else None,
            headers={"host": site, "origin": f"http://{site}", "sec-fetch-site": "same-origin"},
        )
        assert response.status_code == 403 and error_code(response) == "host_not_allowed"
    assert not rig.sim.requests


async def test_a_foreign_page_cannot_spend_the_image_quota(rig: Rig) -> None:
    """`multipart/form-data` and `text/plain` need no preflight: the Origin decides."""
    rig.add_account("paid@example.com", plan="plus")
    foreign = {"origin": "https://attacker.example", "sec-fetch-site": "cross-site"}
    multipart = await rig.client.post(
        "/v1/images/edits",
        headers=foreign,
        data={"prompt": "Make it blue", "model": "gpt-image-2"},
        files={"image": ("a.png", make_png(16, 16), "image/png")},
    )
    plain = await rig.client.post(
        "/v1/images/generations",
        headers={**foreign, "content-type": "text/plain"},
        content=json.dumps({"prompt": "A red square", "model": "gpt-image-2"}),
    )
    for response in (multipart, plain):
        assert response.status_code == 403 and error_code(response) == "origin_not_allowed"
        assert "access-control-allow-origin" not in response.headers
    assert not rig.sim.requests


async def test_a_local_page_gets_its_preflight_and_cors_replies(rig: Rig) -> None:
    rig.add_account()
    preflight = await rig.client.options(
        "/v1/chat/completions",
        headers={
            "origin": LOCAL_PAGE,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type,x-stainless-os,"
            "x-stainless-retry-count",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == LOCAL_PAGE
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed = preflight.headers["access-control-allow-headers"]
    assert "authorization" in allowed and "x-stainless-retry-count" in allowed
    for stream in (False, True):
        response = await rig.client.post(
            "/v1/chat/completions",
            json={**CHAT, "stream": stream},
            headers={"origin": LOCAL_PAGE, "authorization": "Bearer sk-anything"},
        )
        assert response.status_code == 200 and "PONG" in response.text
        assert response.headers["access-control-allow-origin"] == LOCAL_PAGE
        assert "Origin" in response.headers["vary"]


async def test_a_preflight_from_another_site_is_refused(rig: Rig) -> None:
    response = await rig.client.options(
        "/v1/images/generations",
        headers={"origin": "https://attacker.example", "access-control-request-method": "POST"},
    )
    assert response.status_code == 403 and error_code(response) == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers


async def test_clients_that_are_not_browsers_work_as_before(rig: Rig) -> None:
    rig.add_account()
    response = await rig.client.post("/v1/chat/completions", json=CHAT)
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    assert (await rig.client.get("/_gateway/admin/usage")).status_code == 200


@pytest.mark.parametrize(
    "gateway_settings",
    [{"allowed_hosts": ["gateway.lan"], "allowed_origins": ["https://app.example"]}],
)
async def test_listed_hosts_and_origins(rig: Rig) -> None:
    rig.add_account()
    response = await rig.client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"host": "gateway.lan:8787", "origin": "https://app.example"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"


@pytest.fixture
def machine() -> Iterator[OtherMachine]:
    with other_machine() as made:
        yield made


@pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))
@pytest.mark.parametrize("gateway_settings", [{"host": "0.0.0.0"}])
async def test_beyond_loopback_the_machines_address_is_a_name(
    rig: Rig, machine: OtherMachine
) -> None:
    url = f"http://{machine.host_address}:{rig.listeners.reverse[1]}/v1/models"
    code, out, err = await machine.run("curl", "-sS", url)
    assert code == 0 and json.loads(out)["object"] == "list", err
    code, out, err = await machine.run("curl", "-sS", "-H", "Host: attacker.example", url)
    assert json.loads(out)["error"]["code"] == "host_not_allowed", err
