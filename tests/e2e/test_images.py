"""The Images API through the official SDK, both listeners, and plan-aware routing."""

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from support.png import make_png, png_size
from support.rig import Rig


@pytest.fixture
async def sdk(rig: Rig) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=f"{rig.base_url}/v1", api_key="sk-anything", max_retries=0)
    async with client:
        yield client


def image_requests(rig: Rig) -> list:
    return [
        r
        for r in rig.sim.requests
        if r.path.endswith("/responses")
        and any(t.get("type") == "image_generation" for t in (r.body or {}).get("tools", []))
    ]


async def test_generate_returns_a_valid_png(sdk: AsyncOpenAI, rig: Rig) -> None:
    rig.add_account("paid@example.com", plan="plus")
    result = await sdk.images.generate(
        model="gpt-image-2", prompt="A red square", size="1024x1024", quality="low"
    )
    image = result.data[0]
    assert png_size(base64.b64decode(image.b64_json))[0] > 0
    assert image.revised_prompt
    assert result.usage is not None and result.usage.total_tokens > 0
    (upstream,) = image_requests(rig)
    tool = upstream.body["tools"][0]
    assert (tool["size"], tool["quality"], tool["action"]) == ("1024x1024", "low", "generate")
    assert upstream.body["tool_choice"] == {"type": "image_generation"}


async def test_edit_with_a_multipart_png(sdk: AsyncOpenAI, rig: Rig, tmp_path: Path) -> None:
    rig.add_account("paid@example.com", plan="pro")
    source = tmp_path / "source.png"
    source.write_bytes(make_png(16, 16))
    with source.open("rb") as image:
        result = await sdk.images.edit(model="gpt-image-2", image=image, prompt="Make it blue")
    assert png_size(base64.b64decode(result.data[0].b64_json))[0] > 0
    (upstream,) = image_requests(rig)
    parts = upstream.body["input"][0]["content"]
    assert [p["type"] for p in parts] == ["input_text", "input_image"]
    assert parts[1]["image_url"].startswith("data:image/png;base64,")
    assert upstream.body["tools"][0]["action"] == "edit"


async def test_url_replies_are_served_from_the_local_cache(sdk: AsyncOpenAI, rig: Rig) -> None:
    rig.add_account("paid@example.com", plan="plus")
    result = await sdk.images.generate(model="gpt-image-2", prompt="cat", response_format="url")
    url = result.data[0].url
    assert url and url.startswith(f"{rig.base_url}/_gateway/images/")
    fetched = await rig.client.get(url)
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/png"
    assert png_size(fetched.content)[0] > 0
    missing = await rig.client.get("/_gateway/images/not-a-real-image-name.png")
    assert missing.status_code == 404


async def test_n_fans_out_across_paid_accounts(sdk: AsyncOpenAI, rig: Rig) -> None:
    rig.add_account("p1@example.com", plan="plus")
    rig.add_account("p2@example.com", plan="pro")
    result = await sdk.images.generate(model="gpt-image-2", prompt="two dogs", n=2)
    assert len(result.data) == 2
    assert len({r.account_id for r in image_requests(rig)}) == 2


async def test_image_work_skips_free_accounts(sdk: AsyncOpenAI, rig: Rig) -> None:
    free = rig.add_account("free@example.com", plan="free")  # the default account
    paid = rig.add_account("paid@example.com", plan="plus")
    await sdk.images.generate(model="gpt-image-2", prompt="a boat")
    (upstream,) = image_requests(rig)
    assert upstream.account_id == paid.chatgpt_account_id != free.chatgpt_account_id


async def test_only_free_accounts_is_a_clear_error(sdk: AsyncOpenAI, rig: Rig) -> None:
    rig.add_account("free@example.com", plan="free")
    with pytest.raises(openai.PermissionDeniedError) as info:
        await sdk.images.generate(model="gpt-image-2", prompt="a boat")
    assert info.value.code == "paid_plan_required"
    assert "paid" in info.value.message
    assert not rig.sim.requests


async def test_codex_turns_on_a_free_account_lose_the_image_tool(rig: Rig) -> None:
    rig.add_account("free@example.com", plan="free")
    body = {
        "model": "gpt-5.4",
        "instructions": "",
        "input": "Reply with PONG",
        "store": False,
        "stream": True,
        "tools": [{"type": "image_generation", "output_format": "png"}],
    }
    response = await rig.client.post("/codex/v1/responses", json=body)
    assert response.status_code == 200 and '"delta":"PONG"' in response.text
    assert rig.sim.requests[-1].body["tools"] == []


async def test_invalid_requests_get_openai_errors(sdk: AsyncOpenAI, rig: Rig) -> None:
    rig.add_account("paid@example.com", plan="plus")
    with pytest.raises(openai.BadRequestError) as info:
        await sdk.images.generate(model="gpt-image-2", prompt="x", size="17x17")
    assert info.value.param == "size"
    with pytest.raises(openai.BadRequestError):
        await sdk.images.edit(model="gpt-image-2", image=("a.png", b"not an image"), prompt="x")
    assert not rig.sim.requests


async def test_streamed_partial_images(sdk: AsyncOpenAI, rig: Rig) -> None:
    rig.add_account("paid@example.com", plan="plus")
    stream = await sdk.images.generate(
        model="gpt-image-2", prompt="a lighthouse", stream=True, partial_images=2
    )
    kinds = [event.type async for event in stream]
    assert kinds == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]


async def test_through_the_proxy_listener(rig: Rig, certs_dir: Path) -> None:
    """The SDK with its default base URL (api.openai.com), through the proxy listener."""
    rig.add_account("paid@example.com", plan="plus")
    http_client = httpx.AsyncClient(
        proxy=rig.listeners.proxy_url, verify=str(certs_dir / "mitmproxy-ca-cert.pem")
    )
    async with AsyncOpenAI(api_key="sk-x", http_client=http_client, max_retries=0) as client:
        generated = await client.images.generate(model="gpt-image-2", prompt="a kite")
        edited = await client.images.edit(
            model="gpt-image-2",
            image=("kite.png", make_png(12, 12), "image/png"),
            prompt="add a tail",
            response_format="url",
        )
    assert png_size(base64.b64decode(generated.data[0].b64_json))[0] > 0
    url = edited.data[0].url
    assert url and url.startswith("https://api.openai.com/_gateway/images/")
    http_client = httpx.AsyncClient(
        proxy=rig.listeners.proxy_url, verify=str(certs_dir / "mitmproxy-ca-cert.pem")
    )
    async with http_client:
        fetched = await http_client.get(url)  # the link works through the proxy too
    assert png_size(fetched.content)[0] > 0
