"""Images API requests → one Codex `/responses` body with a forced image tool (`ImagePlan`)."""

import base64
from typing import Any

import pytest

from azt.dialects.images import PARAMETERS, ImagePlan, plan_image_request
from azt.dialects.images import request as images_request
from azt.dialects.images.request import (
    EDIT_INSTRUCTIONS,
    GENERATE_INSTRUCTIONS,
    MAX_IMAGE_BYTES,
    sniff_image,
)
from azt.errors import ApiError
from azt.sim.images import image_tool_rejection
from support.png import make_png

HOST = "gpt-5.4-mini"
PNG = make_png()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def plan(body: dict[str, Any], *, edit: bool = False) -> ImagePlan:
    return plan_image_request(body, edit=edit, host_model=HOST)


def edit_body(**fields: Any) -> dict[str, Any]:
    return {"prompt": "add a hat", "images": [{"image_url": data_url(PNG)}], **fields}


def rejected(body: dict[str, Any], *, edit: bool = False) -> ApiError:
    with pytest.raises(ApiError) as caught:
        plan(body, edit=edit)
    assert caught.value.status == 400
    assert caught.value.error_type == "invalid_request_error"
    return caught.value


# --- upstream body --------------------------------------------------------------------------


def test_generation_body() -> None:
    """A generation becomes one user message and a forced generate tool, in §16.2's shape."""
    result = plan({"prompt": "a red fox", "size": "1536x864", "quality": "high", "n": 3})
    assert result.upstream == {
        "model": HOST,
        "instructions": GENERATE_INSTRUCTIONS,
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "a red fox"}],
            }
        ],
        "tools": [
            {
                "type": "image_generation",
                "model": "gpt-image-2",
                "action": "generate",
                "size": "1536x864",
                "quality": "high",
                "output_format": "png",
            }
        ],
        "tool_choice": {"type": "image_generation"},
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
    }
    assert (result.n, result.stream, result.partial_images) == (3, False, 0)
    assert (result.response_format, result.output_format, result.edit) == ("b64_json", "png", False)
    assert result.ignored == ()
    assert result.image_model == "gpt-image-2"


def test_every_tool_option_is_copied() -> None:
    """size, quality, background, format, compression and moderation reach the tool."""
    body = {
        "prompt": "p",
        "model": "gpt-image-1.5",
        "size": "1024x1536",
        "quality": "low",
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 40,
        "moderation": "low",
    }
    assert plan(body).tool == {
        "type": "image_generation",
        "model": "gpt-image-1.5",
        "action": "generate",
        "size": "1024x1536",
        "quality": "low",
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 40,
        "moderation": "low",
    }


def test_edit_body() -> None:
    """An edit sends each reference as an input_image part, the mask as input_image_mask."""
    first, second, mask = data_url(PNG), data_url(JPEG, "image/jpeg"), data_url(PNG)
    body = {
        "prompt": "merge them",
        "images": [{"image_url": first}, {"image_url": second}],
        "mask": {"image_url": mask},
        "input_fidelity": "high",
        "model": "gpt-image-1",
    }
    result = plan(body, edit=True)
    assert result.upstream["instructions"] == EDIT_INSTRUCTIONS
    assert result.upstream["input"][0]["content"] == [
        {"type": "input_text", "text": "merge them"},
        {"type": "input_image", "image_url": first},
        {"type": "input_image", "image_url": second},
    ]
    assert result.tool == {
        "type": "image_generation",
        "model": "gpt-image-1",
        "action": "edit",
        "output_format": "png",
        "input_fidelity": "high",
        "input_image_mask": {"image_url": mask},
    }
    assert result.edit


def test_stream_sends_partial_images() -> None:
    """partial_images goes upstream only when streaming (0 when not given)."""
    assert plan({"prompt": "p", "stream": True, "partial_images": 2}).tool["partial_images"] == 2
    assert plan({"prompt": "p", "stream": True}).tool["partial_images"] == 0
    quiet = plan({"prompt": "p", "partial_images": 2})
    assert "partial_images" not in quiet.tool
    assert quiet.partial_images == 0
    assert quiet.ignored == ("partial_images",)


def test_streamed_plan() -> None:
    """A streamed plan keeps its partial image count and always answers in base64."""
    result = plan({"prompt": "p", "stream": True, "partial_images": 3, "response_format": "url"})
    assert (result.stream, result.partial_images, result.response_format) == (True, 3, "b64_json")
    assert result.ignored == ("response_format",)


def test_response_format_url() -> None:
    """`response_format: url` is kept for the reply side (served from the image cache)."""
    assert plan({"prompt": "p", "response_format": "url"}).response_format == "url"


def test_ignored_parameters() -> None:
    """style, user, safety_identifier, complexity and unknown keys are dropped and named."""
    body = {
        "prompt": "p",
        "style": "vivid",
        "user": "u1",
        "safety_identifier": "s",
        "complexity": "high",
        "seed": 4,
        "model": "dall-e-3",
        "mask": None,
    }
    result = plan(body)
    assert result.ignored == ("complexity", "safety_identifier", "seed", "style", "user")
    assert "style" not in result.tool and "user" not in result.upstream


def test_edit_fields_are_ignored_on_generations() -> None:
    """images, mask and input_fidelity mean nothing to a generation: named, not sent."""
    result = plan({"prompt": "p", "images": [], "mask": "x", "input_fidelity": "low"})
    assert result.ignored == ("images", "input_fidelity", "mask")
    assert result.upstream["input"][0]["content"] == [{"type": "input_text", "text": "p"}]


def test_every_parameter_has_a_known_treatment() -> None:
    """The table in docs/images.md lists exactly these treatments."""
    assert set(PARAMETERS.values()) <= {"accept", "translate", "ignore", "reject"}


# --- models ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (None, "gpt-image-2"),
        ("gpt-image-2", "gpt-image-2"),
        ("gpt-image-1.5", "gpt-image-1.5"),
        ("gpt-image-1-mini", "gpt-image-1-mini"),
        ("GPT-Image-1", "gpt-image-1"),
        ("gpt-image-2.5-flare", "gpt-image-2.5-flare"),
        ("dall-e-2", "gpt-image-2"),
        ("dall-e-3", "gpt-image-2"),
        ("chatgpt-image-latest", "gpt-image-2"),
    ],
)
def test_image_model(model: str | None, expected: str) -> None:
    """gpt-image-* names pass; DALL·E and chatgpt-image-latest are served by gpt-image-2."""
    result = plan({"prompt": "p", "model": model})
    assert result.tool["model"] == expected == result.image_model
    assert result.upstream["model"] == HOST


def test_dall_e_request_works_unchanged() -> None:
    """A typical DALL·E 3 request (hd, vivid, 1792x1024, url) is served, not refused."""
    body = {
        "prompt": "p",
        "model": "dall-e-3",
        "size": "1792x1024",
        "quality": "hd",
        "style": "vivid",
        "response_format": "url",
    }
    result = plan(body)
    assert (result.tool["size"], result.tool["quality"]) == ("1792x1024", "high")
    assert result.response_format == "url"
    assert result.ignored == ("style",)


@pytest.mark.parametrize("size", ["256x256", "512x512"])
def test_dall_e_small_sizes_grow(size: str) -> None:
    """DALL·E 2's small sizes, below gpt-image-2's minimum, become 1024x1024."""
    assert plan({"prompt": "p", "model": "dall-e-2", "size": size}).tool["size"] == "1024x1024"


@pytest.mark.parametrize(("quality", "expected"), [("standard", "auto"), ("hd", "high")])
def test_quality_aliases(quality: str, expected: str) -> None:
    """DALL·E quality words map onto the tool's: standard → auto, hd → high."""
    assert plan({"prompt": "p", "quality": quality}).tool["quality"] == expected


def test_newer_models_take_xhigh() -> None:
    """xhigh and max pass for gpt-image-2.5 and later."""
    body = {"prompt": "p", "model": "gpt-image-2.5-sunburst", "quality": "max"}
    assert plan(body).tool["quality"] == "max"


@pytest.mark.parametrize(
    "size", ["auto", "1024x1024", "1536x864", "3840x2160", "2160x3840", "1024x640", "2048x2048"]
)
def test_flexible_sizes_accepted(size: str) -> None:
    """gpt-image-2 takes any WxH within its edge, ratio and pixel limits."""
    assert plan({"prompt": "p", "size": size}).tool["size"] == size


@pytest.mark.parametrize("size", ["auto", "1024x1024", "1536x1024", "1024x1536"])
def test_legacy_sizes_accepted(size: str) -> None:
    """The gpt-image-1 family takes its fixed sizes."""
    assert plan({"prompt": "p", "model": "gpt-image-1-mini", "size": size}).tool["size"] == size


# --- validation -----------------------------------------------------------------------------

ROWS: list[tuple[dict[str, Any], str | None, str]] = [
    ({}, "prompt", "required"),
    ({"prompt": 3}, "prompt", "must be a string"),
    ({"prompt": "  "}, "prompt", "must not be empty"),
    ({"prompt": "x" * 32001}, "prompt", "maximum is 32000"),
    ({"prompt": "p", "n": 0}, "n", "between 1 and 10"),
    ({"prompt": "p", "n": 11}, "n", "between 1 and 10"),
    ({"prompt": "p", "n": "2"}, "n", "integer"),
    ({"prompt": "p", "n": True}, "n", "integer"),
    ({"prompt": "p", "n": 2, "stream": True}, "n", "one image"),
    ({"prompt": "p", "stream": "yes"}, "stream", "boolean"),
    ({"prompt": "p", "model": "gpt-5.4"}, "model", "Unknown image model"),
    ({"prompt": "p", "model": 5}, "model", "string"),
    ({"prompt": "p", "size": "big"}, "size", "WIDTHxHEIGHT"),
    ({"prompt": "p", "size": "1024X1024"}, "size", "WIDTHxHEIGHT"),
    ({"prompt": "p", "size": 1024}, "size", "string"),
    ({"prompt": "p", "size": "1000x1000"}, "size", "multiples of 16"),
    ({"prompt": "p", "size": "4096x1024"}, "size", "at most 3840"),
    ({"prompt": "p", "size": "3200x1056"}, "size", "3:1"),
    ({"prompt": "p", "size": "512x512"}, "size", "655,360"),
    ({"prompt": "p", "size": "3840x2176"}, "size", "8,294,400"),
    ({"prompt": "p", "model": "gpt-image-1", "size": "1536x864"}, "size", "1024x1024"),
    ({"prompt": "p", "model": "gpt-image-1", "size": "256x256"}, "size", "for this model"),
    ({"prompt": "p", "quality": "ultra"}, "quality", "must be one of"),
    ({"prompt": "p", "quality": "xhigh"}, "quality", "gpt-image-2.5"),
    ({"prompt": "p", "quality": 1}, "quality", "string"),
    ({"prompt": "p", "background": "clear"}, "background", "must be one of"),
    ({"prompt": "p", "background": "transparent"}, "background", "gpt-image-2 does not"),
    (
        {"prompt": "p", "model": "gpt-image-2-2026-04-21", "background": "transparent"},
        "background",
        "gpt-image-2 does not",
    ),
    (
        {
            "prompt": "p",
            "model": "gpt-image-1",
            "background": "transparent",
            "output_format": "jpeg",
        },
        "background",
        "png or webp",
    ),
    ({"prompt": "p", "output_format": "bmp"}, "output_format", "png, jpeg, webp"),
    ({"prompt": "p", "output_format": "jpg"}, "output_format", "png, jpeg, webp"),
    ({"prompt": "p", "output_format": "gif"}, "output_format", "not available"),
    ({"prompt": "p", "output_format": "svg"}, "output_format", "not available"),
    ({"prompt": "p", "output_compression": 50}, "output_compression", "jpeg and webp"),
    (
        {"prompt": "p", "output_format": "jpeg", "output_compression": 101},
        "output_compression",
        "between 0 and 100",
    ),
    (
        {"prompt": "p", "output_format": "jpeg", "output_compression": -1},
        "output_compression",
        "between 0 and 100",
    ),
    ({"prompt": "p", "moderation": "high"}, "moderation", "auto, low"),
    ({"prompt": "p", "partial_images": 4}, "partial_images", "between 0 and 3"),
    ({"prompt": "p", "partial_images": -1}, "partial_images", "between 0 and 3"),
    ({"prompt": "p", "response_format": "png"}, "response_format", "b64_json, url"),
    ({"prompt": "p", "svg": {"model": "x"}}, "svg", "SVG"),
    ({"prompt": "p", "frame_count": 4}, "frame_count", "GIF"),
    ({"prompt": "p", "frame_duration_ms": 40}, "frame_duration_ms", "GIF"),
]


@pytest.mark.parametrize(("body", "param", "fragment"), ROWS)
def test_generation_validation(body: dict[str, Any], param: str | None, fragment: str) -> None:
    """Each invalid parameter gets a 400 naming it."""
    error = rejected(body)
    assert error.param == param
    assert fragment in error.message


def test_not_an_object() -> None:
    """A body that is not a JSON object is refused."""
    with pytest.raises(ApiError) as caught:
        plan_image_request([], edit=False, host_model=HOST)  # type: ignore[arg-type]
    assert caught.value.status == 400


EDIT_ROWS: list[tuple[dict[str, Any], str, str]] = [
    ({"prompt": "p"}, "image", "at least one image"),
    ({"prompt": "p", "images": []}, "images", "1 to 16"),
    ({"prompt": "p", "images": [data_url(PNG)] * 17}, "images", "1 to 16"),
    ({"prompt": "p", "images": [data_url(PNG)], "image": data_url(PNG)}, "image", "not both"),
    ({"prompt": "p", "images": [{"file_id": "file_1"}]}, "images[0].file_id", "File ids"),
    ({"prompt": "p", "images": [{"image_url": 3}]}, "images[0].image_url", "image_url"),
    ({"prompt": "p", "images": [7]}, "images[0]", "image_url"),
    ({"prompt": "p", "images": ["ftp://x/a.png"]}, "images[0]", "http(s) URL or a data"),
    ({"prompt": "p", "images": ["data:image/png,rawbytes"]}, "images[0]", "base64"),
    ({"prompt": "p", "images": ["data:image/png;base64,@@@@"]}, "images[0]", "not valid base64"),
    ({"prompt": "p", "images": ["data:image/png;base64,AAAAA"]}, "images[0]", "not valid base64"),
    (
        {"prompt": "p", "images": [data_url(b"GIF89a" + b"\x00" * 20, "image/gif")]},
        "images[0]",
        "not a valid image",
    ),
    (
        {"prompt": "p", "images": [data_url(b"hello world", "image/png")]},
        "images[0]",
        "not a valid image",
    ),
    ({"prompt": "p", "images": [data_url(JPEG, "image/png")]}, "images[0]", "holds JPEG"),
    ({"prompt": "p", "image": data_url(b"nope")}, "image", "not a valid image"),
    (
        edit_body(mask={"image_url": data_url(JPEG, "image/jpeg")}),
        "mask.image_url",
        "must be a PNG",
    ),
    (edit_body(mask={"file_id": "file_1"}), "mask.file_id", "File ids"),
    (edit_body(input_fidelity="high"), "input_fidelity", "gpt-image-1.5 and earlier"),
    (edit_body(input_fidelity="max", model="gpt-image-1"), "input_fidelity", "low` or `high"),
    (edit_body(markup=data_url(PNG)), "markup", "mask"),
]


@pytest.mark.parametrize(("body", "param", "fragment"), EDIT_ROWS)
def test_edit_validation(body: dict[str, Any], param: str, fragment: str) -> None:
    """Bad reference images and masks get a 400 naming the exact entry."""
    error = rejected(body, edit=True)
    assert error.param == param
    assert fragment in error.message


@pytest.mark.parametrize("extra", [1, 1000])
def test_oversized_image(monkeypatch: pytest.MonkeyPatch, extra: int) -> None:
    """A reference image over the size limit (50 MB) is refused, huge ones before decoding."""
    monkeypatch.setattr(images_request, "MAX_IMAGE_BYTES", len(PNG))
    error = rejected(edit_body(images=[data_url(PNG + b"\x00" * extra)]), edit=True)
    assert error.code == "image_too_large"
    assert error.param == "images[0]"
    assert images_request.MAX_IMAGE_BYTES < MAX_IMAGE_BYTES


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("https://example.com/cat.png", "https://example.com/cat.png"),
        ("HTTP://example.com/cat", "HTTP://example.com/cat"),
        (data_url(PNG), data_url(PNG)),
        (data_url(JPEG, "image/jpg"), data_url(JPEG, "image/jpeg")),
        (data_url(WEBP, "image/webp"), data_url(WEBP, "image/webp")),
        (base64.b64encode(PNG).decode(), data_url(PNG)),
        ({"image_url": data_url(PNG)}, data_url(PNG)),
    ],
)
def test_reference_forms(reference: object, expected: str) -> None:
    """URLs pass as they are; data URLs and bare base64 become checked data URLs."""
    result = plan({"prompt": "p", "image": reference}, edit=True)
    assert result.upstream["input"][0]["content"][1] == {
        "type": "input_image",
        "image_url": expected,
    }


def test_data_url_with_line_breaks() -> None:
    """Whitespace inside the base64 of a data URL is tolerated and removed."""
    encoded = base64.b64encode(PNG).decode()
    wrapped = "\n".join(encoded[i : i + 20] for i in range(0, len(encoded), 20))
    result = plan({"prompt": "p", "images": [f"data:image/png;base64,{wrapped}"]}, edit=True)
    assert result.upstream["input"][0]["content"][1]["image_url"] == data_url(PNG)


def test_mask_url_kept() -> None:
    """A mask given by URL is passed on."""
    result = plan(edit_body(mask="https://example.com/m.png"), edit=True)
    assert result.tool["input_image_mask"] == {"image_url": "https://example.com/m.png"}


def test_edit_accepts_moderation() -> None:
    """The tool's moderation option is offered on edits too."""
    assert plan(edit_body(moderation="low"), edit=True).tool["moderation"] == "low"


@pytest.mark.parametrize(
    ("data", "kind"),
    [(PNG, "png"), (JPEG, "jpeg"), (WEBP, "webp"), (b"GIF89a", None), (b"", None)],
)
def test_sniff_image(data: bytes, kind: str | None) -> None:
    """Image type by magic bytes."""
    assert sniff_image(data) == kind


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "p"},
        {"prompt": "p", "size": "1536x864", "quality": "hd", "stream": True, "partial_images": 3},
        {"prompt": "p", "output_format": "jpeg", "output_compression": 0, "moderation": "low"},
        {"prompt": "p", "model": "gpt-image-1", "background": "transparent"},
    ],
)
def test_simulator_accepts_the_tool(body: dict[str, Any]) -> None:
    """The simulator, which checks tool options as the backend does, takes every body."""
    assert image_tool_rejection(plan(body).upstream["tools"]) is None
