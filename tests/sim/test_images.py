"""Image generation in the simulator: the tool's events, PNGs, plan gating, validation, usage."""

import base64
import struct
import zlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from azt.sim.faults import Fault
from azt.sim.images import (
    PNG_SIGNATURE,
    ImageRequest,
    asks_for_image,
    encode_png,
    image_dimensions,
    image_gen_usage,
    prompt_colours,
    revised_prompt,
    sim_png,
)
from azt.sim.state import SimState
from azt.sim.stream import Ending, StreamOptions, response_events
from azt.sim.tokens import SimAccount

RESPONSES = "/backend-api/codex/responses"
OPTIONS = StreamOptions(number=3, created_at=1_700_000_000, plan="plus")
IMAGE_TOOL: dict[str, Any] = {"type": "image_generation", "output_format": "png"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {}, "required": []},
}
FORCED = {"type": "image_generation"}
PNG_URL = "data:image/png;base64,iVBORw0KGgo="

Body = Callable[..., dict[str, Any]]
Parse = Callable[[str], list[dict[str, Any]]]


def user(text: str, images: int = 0) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"type": "input_image", "image_url": PNG_URL}] * images
    return {
        "type": "message",
        "role": "user",
        "content": [*parts, {"type": "input_text", "text": text}],
    }


def body(text: str = "Draw a red fox.", images: int = 0, **extra: Any) -> dict[str, Any]:
    request = {"model": "gpt-5.5", "instructions": "", "input": [user(text, images)]}
    return {"tools": [IMAGE_TOOL], **request, **extra}


def events(request: dict[str, Any], options: StreamOptions = OPTIONS) -> list[dict[str, Any]]:
    return list(response_events(request, options))


def types(evs: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in evs]


def image_done(evs: list[dict[str, Any]]) -> dict[str, Any]:
    items = [e["item"] for e in evs if e["type"] == "response.output_item.done"]
    return next(i for i in items if i["type"] == "image_generation_call")


def text_of(evs: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in evs if e["type"] == "response.output_text.delta")


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, raw scanlines), checking every chunk's CRC."""
    assert data[:8] == PNG_SIGNATURE
    chunks: list[tuple[bytes, bytes]] = []
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF
        chunks.append((kind, payload))
        offset += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8
    raw = zlib.decompress(b"".join(p for k, p in chunks if k == b"IDAT"))
    channels = 4 if colour == 6 else 3
    assert len(raw) == height * (1 + width * channels)
    return width, height, colour, raw


def decode_b64(text: str) -> tuple[int, int, int, bytes]:
    return decode_png(base64.b64decode(text, validate=True))


# --- the event lifecycle ---------------------------------------------------------------------

IMAGE_LIFECYCLE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.image_generation_call.in_progress",
    "response.image_generation_call.generating",
    *["response.image_generation_call.partial_image"] * 2,
    "response.image_generation_call.completed",
    "response.output_item.done",
]


def test_image_lifecycle() -> None:
    """The image item streams its whole lifecycle, then a short message, then completed."""
    tool = {**IMAGE_TOOL, "partial_images": 2, "size": "1536x1024", "quality": "high"}
    evs = events(body(tools=[tool]))
    assert types(evs)[: len(IMAGE_LIFECYCLE)] == IMAGE_LIFECYCLE
    assert types(evs)[len(IMAGE_LIFECYCLE)] == "response.output_item.added"  # the message
    assert types(evs)[-1] == "response.completed"
    assert [e["sequence_number"] for e in evs] == list(range(len(evs)))
    added = evs[2]
    assert added["output_index"] == 0
    assert added["item"] == {
        "type": "image_generation_call",
        "id": "ig_sim000003",
        "status": "in_progress",
    }
    for e in evs[3:8]:
        assert e["item_id"] == "ig_sim000003" and e["output_index"] == 0
    partials = [e for e in evs if e["type"].endswith(".partial_image")]
    assert [p["partial_image_index"] for p in partials] == [0, 1]
    for p in partials:
        assert (p["output_format"], p["size"], p["quality"], p["background"]) == (
            "png",
            "1536x1024",
            "high",
            "auto",
        )
    done = image_done(evs)
    assert list(done) == [
        "type",
        "id",
        "status",
        "revised_prompt",
        "result",
        "output_format",
        "size",
        "quality",
        "background",
    ]
    assert done["status"] == "completed" and done["id"] == "ig_sim000003"
    assert done["revised_prompt"] == "A red fox, rendered as a clean, detailed digital image."
    assert decode_b64(done["result"])[:2] == (256, 171)
    assert text_of(evs) == "azt sim generated an image: Draw a red fox."
    assert evs[-2]["output_index"] == 1
    response = evs[-1]["response"]
    assert response["output"] == []
    assert set(response["tool_usage"]) == {"image_gen"}


def test_reasoning_comes_first() -> None:
    """With reasoning on, the image item is output 1 and the message output 2."""
    evs = events(body(reasoning={"effort": "medium", "summary": "auto"}, tool_choice=FORCED))
    done = [e for e in evs if e["type"] == "response.output_item.done"]
    assert [(e["output_index"], e["item"]["type"]) for e in done] == [
        (0, "reasoning"),
        (1, "image_generation_call"),
        (2, "message"),
    ]


@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_partial_images(count: int) -> None:
    """partial_images gives that many valid partial PNGs, each differing from the final one."""
    evs = events(body(tools=[{**IMAGE_TOOL, "partial_images": count}]))
    partials = [e for e in evs if e["type"] == "response.image_generation_call.partial_image"]
    assert [p["partial_image_index"] for p in partials] == list(range(count))
    final = image_done(evs)["result"]
    seen = {final}
    for p in partials:
        assert decode_b64(p["partial_image_b64"])[:2] == (64, 64)
        seen.add(p["partial_image_b64"])
    assert len(seen) == count + 1


def test_keepalive_between_image_events() -> None:
    """The keepalive shape adds typed keepalives between partial images and before completion."""
    options = StreamOptions(number=1, created_at=0, plan="plus", keepalive=True)
    evs = events(body(tools=[{**IMAGE_TOOL, "partial_images": 2}]), options)
    start = types(evs).index("response.image_generation_call.generating")
    assert types(evs)[start + 1 : start + 6] == [
        "keepalive",
        "response.image_generation_call.partial_image",
        "keepalive",
        "response.image_generation_call.partial_image",
        "keepalive",
    ]


def test_deterministic() -> None:
    """The same body gives the same events; another prompt another colour."""
    assert events(body()) == events(body())
    red, blue = image_done(events(body())), image_done(events(body("Draw a blue whale.")))
    assert red["result"] != blue["result"]
    assert prompt_colours("a") != prompt_colours("b")


# --- when an image is made -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tools", "tool_choice", "expected"),
    [
        ("Draw a red fox.", [IMAGE_TOOL], "auto", "image"),
        ("Generate an image of a cat", [IMAGE_TOOL], "auto", "image"),
        ("hello", [IMAGE_TOOL], FORCED, "image"),
        ("hello", [IMAGE_TOOL], "required", "image"),
        ("hello", [IMAGE_TOOL], "auto", "message"),
        ("Draw a red fox.", [IMAGE_TOOL], "none", "message"),
        ("Draw a red fox.", [], "auto", "message"),
        ("create a function that resizes an image", [IMAGE_TOOL], "auto", "message"),
        ("Draw a red fox.", [WEATHER, IMAGE_TOOL], "auto", "image"),
        ("hello", [WEATHER, IMAGE_TOOL], FORCED, "image"),
        ("hello", [WEATHER, IMAGE_TOOL], "required", "function_call"),
        (
            "Draw a red fox.",
            [WEATHER, IMAGE_TOOL],
            {"type": "function", "name": "get_weather"},
            "function_call",
        ),
    ],
)
def test_when_an_image_is_made(
    text: str, tools: list[Any], tool_choice: Any, expected: str
) -> None:
    """The tool must be offered; then a forced choice, an image request, or "required" alone."""
    evs = events(body(text, tools=tools, tool_choice=tool_choice))
    kinds = [e["item"]["type"] for e in evs if e["type"] == "response.output_item.done"]
    assert kinds[0] == {"image": "image_generation_call"}.get(expected, expected)
    assert ("tool_usage" in evs[-1]["response"]) == (expected == "image")


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("draw a cat", True),
        ("Please paint me a sunset", True),
        ("make me a cute logo", True),
        ("Edit this photo so the sky is purple", True),
        ("render 3 icons for the toolbar", True),
        ("withdraw the money", False),
        ("create a function that resizes an image", False),
        ("describe this image", False),
        ("hi", False),
    ],
)
def test_asks_for_image(text: str, asks: bool) -> None:
    assert asks_for_image(text) is asks


def test_no_image_after_tool_output() -> None:
    """Only a user message can start an image; tool outputs get the usual text."""
    items = [
        user("Draw a red fox."),
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ]
    evs = events(body(input=items, tools=[WEATHER, IMAGE_TOOL]))
    assert "response.image_generation_call.in_progress" not in types(evs)
    assert text_of(evs) == "Tool get_weather returned: sunny"


# --- edits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("images", "action", "revised"),
    [
        (2, None, "Edit of 2 reference images: make the sky purple, keeping the rest."),
        (1, "auto", "Edit of 1 reference image: make the sky purple, keeping the rest."),
        (0, "edit", "Edit of 0 reference images: make the sky purple, keeping the rest."),
        (1, "generate", "Make the sky purple, rendered as a clean, detailed digital image."),
    ],
)
def test_edit_detection(images: int, action: str | None, revised: str) -> None:
    """Reference images (or action "edit") make an edit whose revised prompt counts them."""
    tool = {**IMAGE_TOOL, **({"action": action} if action else {})}
    request = body("Edit this image: make the sky purple.", images, tools=[tool])
    evs = events({**request, "tool_choice": FORCED})
    assert image_done(evs)["revised_prompt"] == revised
    if "Edit of" in revised:
        assert text_of(evs).startswith(f"azt sim edited {images} reference image")


# --- the PNG ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "dimensions"),
    [
        ("auto", (64, 64)),
        ("1024x1024", (256, 256)),
        ("1536x1024", (256, 171)),
        ("1024x1536", (171, 256)),
        ("100x50", (100, 50)),
        ("4000x10", (256, 1)),
    ],
)
def test_png_size(size: str, dimensions: tuple[int, int]) -> None:
    """WxH is kept up to 256 px an edge (aspect ratio kept); auto is 64x64."""
    assert image_dimensions(size) == dimensions
    width, height, colour, raw = decode_png(sim_png("a fox", size))
    assert (width, height, colour) == (*dimensions, 2)
    assert raw[0] == 0  # filter type none


def test_png_pixels() -> None:
    """The image is a vertical gradient from the prompt's first colour to its second."""
    top, bottom = prompt_colours("a fox")
    width, height, _, raw = decode_png(sim_png("a fox", "10x5"))
    stride = 1 + width * 3
    assert tuple(raw[1:4]) == top and tuple(raw[4 * stride + 1 : 4 * stride + 4]) == bottom


def test_partial_png_is_half_painted() -> None:
    """A partial image paints the top share of the rows; the rest is light grey."""
    _, _, _, raw = decode_png(sim_png("a fox", "4x4", progress=0.5))
    stride = 1 + 4 * 3
    assert tuple(raw[1:4]) == prompt_colours("a fox")[0]
    assert tuple(raw[3 * stride + 1 : 3 * stride + 4]) == (200, 200, 200)


def test_transparent_background_is_rgba() -> None:
    """A transparent background gives RGBA with clear side bands."""
    width, _, colour, raw = decode_png(sim_png("a fox", "16x2", background="transparent"))
    assert colour == 6
    alphas = [raw[1 + 4 * x + 3] for x in range(width)]
    assert alphas == [0, 0] + [255] * 12 + [0, 0]


def test_encode_png_checks_rows() -> None:
    assert decode_png(encode_png(1, 1, [b"\x01\x02\x03"]))[:3] == (1, 1, 2)
    with pytest.raises(ValueError):
        encode_png(2, 1, [b"\x01\x02\x03"])
    with pytest.raises(ValueError):
        encode_png(1, 2, [b"\x01\x02\x03"])


# --- usage -----------------------------------------------------------------------------------


def test_usage() -> None:
    """tool_usage.image_gen: revised prompt text and reference images in, image tokens out."""
    request = ImageRequest(prompt="make it purple", references=2, edit=True, quality="high")
    revised = revised_prompt(request)
    text_tokens = (len(revised) + 3) // 4
    assert image_gen_usage(request, revised) == {
        "input_tokens": text_tokens + 544,
        "input_tokens_details": {"image_tokens": 544, "text_tokens": text_tokens},
        "output_tokens": 4160,
        "output_tokens_details": {"image_tokens": 4160, "text_tokens": 0},
        "total_tokens": text_tokens + 544 + 4160,
    }
    wide = ImageRequest(prompt="x", size="1536x1024", quality="low")
    assert image_gen_usage(wide, "X")["output_tokens"] == 408  # 272 * 1.5
    assert image_gen_usage(ImageRequest(prompt="x"), "X")["output_tokens"] == 1056  # auto


def test_usage_in_completed() -> None:
    """response.completed carries tool_usage.image_gen next to the host model's usage."""
    evs = events(body(tools=[{**IMAGE_TOOL, "quality": "low"}]))
    response = evs[-1]["response"]
    done = image_done(evs)
    request = ImageRequest(prompt="Draw a red fox.", quality="low")
    assert response["tool_usage"]["image_gen"] == image_gen_usage(request, done["revised_prompt"])
    assert response["usage"]["total_tokens"] > 0


# --- plan gating -----------------------------------------------------------------------------


def test_free_plan_strips_the_tool() -> None:
    """On a free plan the tool is silently gone: a text answer, and the echo lacks the tool."""
    free = StreamOptions(number=1, created_at=0, plan="free")
    evs = events(body(tools=[WEATHER, IMAGE_TOOL], tool_choice=FORCED), free)
    assert not any(t.startswith("response.image_generation_call") for t in types(evs))
    assert text_of(evs) == "azt sim heard: Draw a red fox."
    assert evs[0]["response"]["tools"] == [WEATHER]
    assert "tool_usage" not in evs[-1]["response"]
    # Without a forced choice a free turn is an ordinary turn: the function tool is called.
    evs = events(body(tools=[WEATHER, IMAGE_TOOL]), free)
    assert [e["item"]["type"] for e in evs if e["type"] == "response.output_item.done"] == [
        "function_call"
    ]


async def test_free_account_over_http(
    client: httpx.AsyncClient, state: SimState, request_body: Body, parse_sse: Parse
) -> None:
    """The app passes the account's plan: a free account gets text, a plus account an image."""
    tool = {**IMAGE_TOOL, "partial_images": 1}
    for email, plan in (("free@example.com", "free"), ("plus@example.com", "plus")):
        account = state.add_account(email=email, plan=plan)
        headers = {"authorization": f"Bearer {state.issue_tokens(account)['access_token']}"}
        request = request_body(input="Draw a red fox.", tools=[tool], tool_choice=FORCED)
        reply = await client.post(RESPONSES, json=request, headers=headers)
        assert reply.status_code == 200
        evs = parse_sse(reply.text)
        made = "response.image_generation_call.completed" in types(evs)
        assert made is (plan == "plus")
        if plan == "free":
            assert text_of(evs) == "azt sim heard: Draw a red fox."


# --- validation ------------------------------------------------------------------------------

INVALID = [
    ("size", "huge"),
    ("size", "1024*1024"),
    ("size", "0x10"),
    ("size", 1024),
    ("quality", "ultra"),
    ("background", "white"),
    ("output_format", "gif"),
    ("output_compression", 101),
    ("output_compression", -1),
    ("output_compression", "50"),
    ("partial_images", 4),
    ("partial_images", True),
    ("moderation", "high"),
    ("action", "variation"),
    ("input_fidelity", "medium"),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
async def test_invalid_options(
    client: httpx.AsyncClient,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    field: str,
    value: Any,
) -> None:
    """An option out of range is a 400 invalid_value naming tools[i].<field>."""
    tool = {**IMAGE_TOOL, field: value}
    reply = await client.post(
        RESPONSES, json=request_body(tools=[WEATHER, tool]), headers=auth_headers
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_value"
    assert error["param"] == f"tools[1].{field}"
    assert error["message"].startswith("Invalid value: ")


async def test_enum_message(
    client: httpx.AsyncClient, account: SimAccount, auth_headers: dict[str, str], request_body: Body
) -> None:
    tool = {**IMAGE_TOOL, "quality": "ultra"}
    reply = await client.post(RESPONSES, json=request_body(tools=[tool]), headers=auth_headers)
    assert reply.json()["error"]["message"] == (
        "Invalid value: 'ultra'. Supported values are: 'low', 'medium', 'high', and 'auto'."
    )


async def test_valid_options(
    client: httpx.AsyncClient,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Parse,
) -> None:
    """Every option at an allowed value is accepted and echoed on the item."""
    tool = {
        "type": "image_generation",
        "model": "gpt-image-2",
        "size": "1024x1536",
        "quality": "medium",
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 100,
        "moderation": "low",
        "partial_images": 3,
        "action": "generate",
        "input_fidelity": "high",
    }
    request = request_body(input="Draw a red fox.", tools=[tool])
    reply = await client.post(RESPONSES, json=request, headers=auth_headers)
    assert reply.status_code == 200
    done = image_done(parse_sse(reply.text))
    assert (done["size"], done["quality"], done["background"], done["output_format"]) == (
        "1024x1536",
        "medium",
        "transparent",
        "webp",
    )
    assert decode_b64(done["result"])[:3] == (171, 256, 6)  # PNG bytes whatever the format


async def test_compact_validates_too(
    client: httpx.AsyncClient, account: SimAccount, auth_headers: dict[str, str], request_body: Body
) -> None:
    tool = {**IMAGE_TOOL, "partial_images": 9}
    reply = await client.post(
        RESPONSES + "/compact", json=request_body(tools=[tool]), headers=auth_headers
    )
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "tools[0].partial_images"


# --- failure and latency ---------------------------------------------------------------------


def test_image_failed_stream() -> None:
    """An in-image failure comes after .generating; a turn without an image fails at once."""
    failing = StreamOptions(
        number=1, created_at=0, plan="plus", ending=Ending("failed", "server_error", in_image=True)
    )
    evs = events(body(tools=[{**IMAGE_TOOL, "partial_images": 2}]), failing)
    assert types(evs) == [*IMAGE_LIFECYCLE[:5], "response.failed"]
    assert evs[-1]["response"]["error"]["code"] == "server_error"
    plain = events(body("hello"), failing)
    assert types(plain) == ["response.created", "response.in_progress", "response.failed"]


async def test_image_failed_fault(
    client: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
    parse_sse: Parse,
) -> None:
    """The image_failed fault fails the turn inside the image with the chosen code."""
    state.set_fault(account.account_id, Fault("image_failed", times=1, code="moderation_blocked"))
    request = request_body(input="Draw a red fox.", tools=[IMAGE_TOOL])
    evs = parse_sse((await client.post(RESPONSES, json=request, headers=auth_headers)).text)
    assert types(evs)[-2:] == ["response.image_generation_call.generating", "response.failed"]
    error = evs[-1]["response"]["error"]
    assert error["code"] == "moderation_blocked"
    assert "safety system" in error["message"]
    again = parse_sse((await client.post(RESPONSES, json=request, headers=auth_headers)).text)
    assert types(again)[-1] == "response.completed"


async def test_image_delay(
    live: httpx.AsyncClient,
    state: SimState,
    account: SimAccount,
    auth_headers: dict[str, str],
    request_body: Body,
) -> None:
    """image_delay holds back the image's completion; other events are not delayed."""
    state.image_delay = 0.2
    request = request_body(input="Draw a red fox.", tools=[IMAGE_TOOL])
    reply = await live.post(RESPONSES, json=request, headers=auth_headers)
    assert reply.status_code == 200
    at = {kind: when for _, kind, when in state.produced}
    generating = at["response.image_generation_call.generating"]
    assert at["response.image_generation_call.completed"] - generating >= 0.2
    assert generating - at["response.created"] < 0.2
    assert state.snapshot()["image_delay"] == 0.2
