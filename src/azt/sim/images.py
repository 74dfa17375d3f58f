"""The simulator's image generation: tool options, plan gating, prompts, usage and real PNGs.

Pure like `azt.sim.stream` (which builds the events from these pieces): no I/O, no clock.

- `image_tool_rejection(tools)`: the 400 the backend gives for bad `image_generation` options;
- `images_allowed(plan)` / `strip_image_tools(body)`: free plans lose the tool silently;
- `asks_for_image(text)`: whether a user text asks for a picture (see `_ASKS`);
- `read_image_request(tool, prompt, references)`: the options of one generation;
- `revised_prompt(request)`, `image_gen_usage(request, revised)`: the item's prompt and the
  `tool_usage.image_gen` counts;
- `encode_png(...)`, `sim_png(...)`: a valid PNG written with zlib and struct only, coloured by
  the prompt's hash, at the requested size scaled down to at most `MAX_EDGE` pixels.
"""

import hashlib
import json
import math
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TOOL_TYPE = "image_generation"
NO_IMAGE_PLANS = frozenset({"free"})

MAX_EDGE = 256  # the simulator's images are small; bigger requests keep their aspect ratio
AUTO_EDGE = 64  # the edge of an image whose size is "auto"
REFERENCE_SIZE = (1024, 1024)  # the size the token rates below are for; also "auto"

# Output image tokens of one REFERENCE_SIZE image by quality ("auto" counts as medium).
OUTPUT_IMAGE_TOKENS = {"low": 272, "medium": 1056, "high": 4160}
REFERENCE_IMAGE_TOKENS = 272  # input tokens for each reference image of an edit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PENDING = (200, 200, 200)  # the not-yet-rendered rows of a partial image

RGB = tuple[int, int, int]

# --- options and validation ------------------------------------------------------------------

_SIZE = re.compile(r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$")

CHOICES: dict[str, tuple[str, ...]] = {
    "quality": ("low", "medium", "high", "auto"),
    "background": ("auto", "opaque", "transparent"),
    "output_format": ("png", "jpeg", "webp"),
    "moderation": ("auto", "low"),
    "action": ("generate", "edit", "auto"),
    "input_fidelity": ("low", "high"),
}
RANGES: dict[str, tuple[int, int]] = {"output_compression": (0, 100), "partial_images": (0, 3)}
# The order options are checked in; the first bad one is reported.
CHECKED = (
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "partial_images",
    "moderation",
    "action",
    "input_fidelity",
)


def image_tool_rejection(tools: object) -> dict[str, Any] | None:
    """The 400 body for the first `image_generation` tool option out of range, else None."""
    if not isinstance(tools, list):
        return None
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type") != TOOL_TYPE:
            continue
        for name in CHECKED:
            value = tool.get(name)
            problem = None if value is None else option_problem(name, value)
            if problem is not None:
                return _invalid_value(f"tools[{index}].{name}", problem)
    return None


def option_problem(name: str, value: object) -> str | None:
    """Why `value` is not allowed for the option `name`, or None when it is."""
    if name == "size":
        if isinstance(value, str) and (value == "auto" or _SIZE.match(value)):
            return None
        return (
            f"Invalid value: {_shown(value)}. Supported values are: 'auto' and sizes of the "
            "form 'WxH' (for example '1024x1024')."
        )
    if name in CHOICES:
        allowed = CHOICES[name]
        if isinstance(value, str) and value in allowed:
            return None
        listed = ", ".join(f"'{v}'" for v in allowed[:-1]) + f", and '{allowed[-1]}'"
        if len(allowed) == 2:
            listed = f"'{allowed[0]}' and '{allowed[1]}'"
        return f"Invalid value: {_shown(value)}. Supported values are: {listed}."
    if name in RANGES:
        low, high = RANGES[name]
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return None
        return f"Invalid value: {_shown(value)}. Expected an integer from {low} to {high}."
    return None


def _shown(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def _invalid_value(param: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "param": param,
            "code": "invalid_value",
        }
    }


# --- plan gating and intent ------------------------------------------------------------------


def images_allowed(plan: str | None) -> bool:
    """Whether an account on `plan` may use the tool (None: unknown, allowed)."""
    return plan is None or plan.lower() not in NO_IMAGE_PLANS


def image_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The first `image_generation` tool the request offers."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    return next((t for t in tools if isinstance(t, dict) and t.get("type") == TOOL_TYPE), None)


def strip_image_tools(body: dict[str, Any]) -> dict[str, Any]:
    """The body without its `image_generation` tools, as the backend treats free accounts."""
    tools = body.get("tools")
    if not isinstance(tools, list) or image_tool(body) is None:
        return body
    kept = [t for t in tools if not (isinstance(t, dict) and t.get("type") == TOOL_TYPE)]
    return {**body, "tools": kept}


def forces_image(tool_choice: object) -> bool:
    return isinstance(tool_choice, dict) and tool_choice.get("type") == TOOL_TYPE


_NOUNS = r"(?:image|picture|photo|illustration|drawing|painting|logo|icon|wallpaper)s?"
_ASKS = re.compile(
    rf"\b(?:draw|paint)\b|\b(?:generate|create|make|render|edit)\s+(?:\S+\s+){{0,3}}?{_NOUNS}\b",
    re.IGNORECASE,
)


def asks_for_image(text: str) -> bool:
    """Whether the text says "draw" or "paint", or generate/create/make/render/edit within four
    words of image, picture, photo, illustration, drawing, painting, logo, icon or wallpaper."""
    return _ASKS.search(text) is not None


# --- one generation --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageRequest:
    """What one `image_generation_call` makes, with the options echoed on its events."""

    prompt: str
    references: int = 0  # input_image parts of the last user message
    edit: bool = False
    size: str = "auto"
    quality: str = "auto"
    background: str = "auto"
    output_format: str = "png"
    partial_images: int = 0

    def formats(self) -> dict[str, str]:
        return {
            "output_format": self.output_format,
            "size": self.size,
            "quality": self.quality,
            "background": self.background,
        }


def read_image_request(tool: dict[str, Any], prompt: str, references: int) -> ImageRequest:
    """The generation a tool asks for; out-of-range options fall back to their defaults.

    An edit is `action:"edit"`, or `"auto"`/no action with reference images.
    """
    action = _option(tool, "action", "auto")
    edit = action == "edit" or (action == "auto" and references > 0)
    return ImageRequest(
        prompt=prompt.strip(),
        references=references,
        edit=edit,
        size=_option(tool, "size", "auto"),
        quality=_option(tool, "quality", "auto"),
        background=_option(tool, "background", "auto"),
        output_format=_option(tool, "output_format", "png"),
        partial_images=_option(tool, "partial_images", 0),
    )


def _option(tool: dict[str, Any], name: str, default: Any) -> Any:
    value = tool.get(name)
    if value is None or option_problem(name, value) is not None:
        return default
    return value


_REQUEST_PREFIX = re.compile(
    r"^(?:(?:please|can you|could you|would you)[\s,]+)*"
    r"(?:(?:draw|paint)\s+(?:me\s+)?"
    r"|(?:generate|create|make|render|edit)\s+(?:me\s+)?"
    rf"(?P<noun>(?:(?P<article>an?|the|this|that|my)\s+)?{_NOUNS}\b)\s*"
    r"(?P<of>(?:of|showing)\s+)?)?",
    re.IGNORECASE,
)
SUBJECT_LIMIT = 1000
_EMPTY_SUBJECT = "an abstract composition"


def prompt_subject(prompt: str) -> str:
    """The prompt without its request phrasing.

    "Please draw me a fox." → "a fox"; "Generate an image of a cat" → "a cat"; "Edit this
    photo: add a hat" → "add a hat"; "Create a logo for my shop" → "a logo for my shop".
    """
    text = prompt.strip()
    match = _REQUEST_PREFIX.match(text)
    subject = text[match.end() :] if match else text
    if match and match["noun"] and not match["of"] and not _names_existing(match["article"]):
        subject = f"{match['noun']} {subject}"
    subject = subject.strip().lstrip(":,;- ").rstrip(".!? ").strip()
    return subject[:SUBJECT_LIMIT] or _EMPTY_SUBJECT


def _names_existing(article: str | None) -> bool:
    return article is not None and article.lower() in ("the", "this", "that", "my")


def revised_prompt(request: ImageRequest) -> str:
    """The item's `revised_prompt`, deterministic; an edit names its reference image count."""
    subject = prompt_subject(request.prompt)
    if request.edit:
        noun = "image" if request.references == 1 else "images"
        return f"Edit of {request.references} reference {noun}: {subject}, keeping the rest."
    return f"{subject[:1].upper()}{subject[1:]}, rendered as a clean, detailed digital image."


def image_gen_usage(request: ImageRequest, revised: str) -> dict[str, Any]:
    """`tool_usage.image_gen`: the revised prompt and reference images in, one image out."""
    text_tokens = max(1, (len(revised) + 3) // 4)
    image_tokens = REFERENCE_IMAGE_TOKENS * request.references
    width, height = _requested_pixels(request.size)
    rate = OUTPUT_IMAGE_TOKENS.get(request.quality, OUTPUT_IMAGE_TOKENS["medium"])
    output = math.ceil(rate * width * height / (REFERENCE_SIZE[0] * REFERENCE_SIZE[1]))
    input_tokens = text_tokens + image_tokens
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
        "output_tokens": output,
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
        "total_tokens": input_tokens + output,
    }


def _requested_pixels(size: str) -> tuple[int, int]:
    if _SIZE.match(size):
        width, _, height = size.partition("x")
        return int(width), int(height)
    return REFERENCE_SIZE


# --- PNG -------------------------------------------------------------------------------------


def encode_png(width: int, height: int, rows: Sequence[bytes], *, alpha: bool = False) -> bytes:
    """A PNG of 8-bit RGB (or RGBA) pixels; `rows` holds `height` rows of raw pixel bytes."""
    channels = 4 if alpha else 3
    if width < 1 or height < 1 or len(rows) != height:
        raise ValueError(f"need {height} rows for a {width}x{height} image, got {len(rows)}")
    if any(len(row) != width * channels for row in rows):
        raise ValueError(f"every row must hold {width * channels} bytes")
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 (none) on every row
    return b"".join(
        [
            PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(raw, 9)),
            _png_chunk(b"IEND", b""),
        ]
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


def image_dimensions(size: str) -> tuple[int, int]:
    """Pixels of the simulator's image: `WxH` scaled to fit MAX_EDGE, `auto` AUTO_EDGE square."""
    if not _SIZE.match(size):
        return AUTO_EDGE, AUTO_EDGE
    width, height = _requested_pixels(size)
    scale = min(1.0, MAX_EDGE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def prompt_colours(prompt: str) -> tuple[RGB, RGB]:
    """Top and bottom colours of the gradient, from the SHA-256 of the prompt."""
    digest = hashlib.sha256(prompt.strip().encode()).digest()
    return (digest[0], digest[1], digest[2]), (digest[3], digest[4], digest[5])


def sim_png(
    prompt: str, size: str = "auto", background: str = "auto", progress: float = 1.0
) -> bytes:
    """The image for a prompt: a vertical gradient in the prompt's colours.

    `progress` below 1 gives a partial image: only the top share of the rows is painted, the
    rest is light grey. A transparent background leaves a clear band an eighth of the width
    wide on each side (RGBA); other backgrounds give RGB.
    """
    width, height = image_dimensions(size)
    top, bottom = prompt_colours(prompt)
    painted = height if progress >= 1 else math.ceil(height * max(0.0, progress))
    alpha = background == "transparent"
    rows = [
        _row(width, _blend(top, bottom, y, height) if y < painted else _PENDING, alpha)
        for y in range(height)
    ]
    return encode_png(width, height, rows, alpha=alpha)


def _blend(top: RGB, bottom: RGB, y: int, height: int) -> RGB:
    share = y / (height - 1) if height > 1 else 0.0
    r, g, b = (round(a + (z - a) * share) for a, z in zip(top, bottom, strict=True))
    return r, g, b


def _row(width: int, colour: RGB, alpha: bool) -> bytes:
    if not alpha:
        return bytes(colour) * width
    margin = width // 8
    clear = bytes((*colour, 0))
    solid = bytes((*colour, 255))
    return clear * margin + solid * (width - 2 * margin) + clear * margin
