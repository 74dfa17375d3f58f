"""Images API requests → one Codex `/responses` body with a forced `image_generation` tool.

`plan_image_request` validates a `POST /v1/images/generations` or `/v1/images/edits` body (JSON,
or the dict `parse_multipart` makes of a multipart upload) as OpenAI does, and returns an
`ImagePlan`: the upstream body that makes ONE image (the caller sends it `n` times) plus what
the reply side needs. Every parameter has one treatment, listed in `PARAMETERS` and explained
in docs/images.md; a parameter sent as `null` counts as absent.

Pure: no I/O, no clock.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Literal

from azt.dialects.common.intake import invalid, is_int, unsupported
from azt.dialects.common.multipart import FormPart, parse_form
from azt.dialects.common.params import Treatment, ignored_names

PARAMETERS: dict[str, Treatment] = {
    "prompt": "accept",
    "n": "accept",
    "stream": "accept",
    "response_format": "accept",
    "model": "translate",
    "size": "translate",
    "quality": "translate",
    "background": "translate",
    "output_format": "translate",
    "output_compression": "translate",
    "moderation": "translate",
    "partial_images": "translate",
    "images": "translate",  # edits only
    "image": "translate",  # edits only
    "mask": "translate",  # edits only
    "input_fidelity": "translate",  # edits only
    "style": "ignore",
    "user": "ignore",
    "safety_identifier": "ignore",
    "complexity": "ignore",
    "svg": "reject",
    "markup": "reject",
    "frame_count": "reject",
    "frame_duration_ms": "reject",
}
EDIT_ONLY = ("images", "image", "mask", "input_fidelity")

DEFAULT_IMAGE_MODEL = "gpt-image-2"
GENERATE_INSTRUCTIONS = (
    "Call the image_generation tool exactly once to make the image the user describes. Follow "
    "the prompt faithfully and do not answer in text."
)
EDIT_INSTRUCTIONS = (
    "Call the image_generation tool exactly once to edit the attached image(s) as the user "
    "describes. Follow the prompt faithfully and do not answer in text."
)
MAX_PROMPT = 32000
MAX_N = 10
MAX_PARTIAL_IMAGES = 3
MAX_EDIT_IMAGES = 16
MAX_IMAGE_BYTES = 50 * 1024 * 1024
OUTPUT_FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("auto", "opaque", "transparent")
MODERATIONS = ("auto", "low")
RESPONSE_FORMATS = ("b64_json", "url")
FIDELITIES = ("low", "high")
QUALITIES = ("low", "medium", "high", "auto")
QUALITY_ALIASES = {"standard": "auto", "hd": "high"}  # DALL·E vocabulary
NEWER_QUALITIES = ("xhigh", "max")  # gpt-image-2.5 and later only
LEGACY_SIZES = ("1024x1024", "1536x1024", "1024x1536")
DALL_E_SMALL_SIZES = ("256x256", "512x512")  # become 1024x1024 for dall-e-* requests
# gpt-image-2 size limits (codex-backend.md §16.1).
SIZE_STEP = 16
MAX_EDGE = 3840
MAX_RATIO = 3
MIN_PIXELS = 655_360
MAX_PIXELS = 8_294_400

Family = Literal["legacy", "v2", "newer"]
_SIZE = re.compile(r"^([1-9][0-9]{0,5})x([1-9][0-9]{0,5})$")
_DATED_V2 = re.compile(r"^gpt-image-2-\d{4}-\d{2}-\d{2}$")
_DATA_URL = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*),(.*)$", re.DOTALL | re.IGNORECASE)
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
MIME_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}


@dataclass(frozen=True)
class ImagePlan:
    """What to send upstream (once per image), and how to shape the reply."""

    upstream: dict[str, Any]  # ONE Codex /responses body that produces ONE image
    n: int  # 1..10, fanned out by the caller
    stream: bool  # the client asked for streamed partial images
    partial_images: int  # 0..3
    response_format: str  # "b64_json" | "url"
    output_format: str  # "png" | "jpeg" | "webp"
    edit: bool
    ignored: tuple[str, ...]  # dropped parameters, sorted (x-azt-ignored-params)
    image_model: str = DEFAULT_IMAGE_MODEL

    @property
    def tool(self) -> dict[str, Any]:
        """The `image_generation` tool of the upstream body."""
        tool: dict[str, Any] = self.upstream["tools"][0]
        return tool


def plan_image_request(body: dict[str, Any], *, edit: bool, host_model: str) -> ImagePlan:
    """Validate an Images API body and build the Codex `/responses` body for one image.

    `edit` selects `/v1/images/edits`; `host_model` is the chat model that calls the tool.
    Raises `ApiError` (400) naming the offending `param`.
    """
    if not isinstance(body, dict):
        raise invalid(None, "The request body must be a JSON object.", code="invalid_type")
    _reject_unsupported(body)
    model, dall_e = image_model(body.get("model"))
    family = model_family(model)
    prompt = _prompt(body.get("prompt"))
    n = _int_in(body, "n", 1, MAX_N, default=1)
    stream = _bool(body, "stream")
    if stream and n > 1:
        raise unsupported("n", "Streamed image requests make one image; send `n: 1`.")
    partial_images = _int_in(body, "partial_images", 0, MAX_PARTIAL_IMAGES, default=0)
    output_format = _choice(body, "output_format", OUTPUT_FORMATS) or "png"
    tool = _tool(body, model, family, dall_e, output_format, edit=edit)
    if stream:
        tool["partial_images"] = partial_images
    content: list[dict[str, Any]] = [{"type": "input_text", "text": prompt}]
    if edit:
        content += [{"type": "input_image", "image_url": url} for url in _references(body)]
        mask = _mask(body.get("mask"))
        if mask is not None:
            tool["input_image_mask"] = {"image_url": mask}
    response_format = _choice(body, "response_format", RESPONSE_FORMATS) or "b64_json"
    return ImagePlan(
        upstream=_upstream(host_model, content, tool, edit=edit),
        n=n,
        stream=stream,
        partial_images=partial_images if stream else 0,
        response_format="b64_json" if stream else response_format,
        output_format=output_format,
        edit=edit,
        ignored=_ignored(body, edit=edit, stream=stream),
        image_model=model,
    )


def _upstream(
    host_model: str, content: list[dict[str, Any]], tool: dict[str, Any], *, edit: bool
) -> dict[str, Any]:
    return {
        "model": host_model,
        "instructions": EDIT_INSTRUCTIONS if edit else GENERATE_INSTRUCTIONS,
        "input": [{"type": "message", "role": "user", "content": content}],
        "tools": [tool],
        "tool_choice": {"type": "image_generation"},
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
    }


def _tool(
    body: dict[str, Any],
    model: str,
    family: Family,
    dall_e: bool,
    output_format: str,
    *,
    edit: bool,
) -> dict[str, Any]:
    tool: dict[str, Any] = {
        "type": "image_generation",
        "model": model,
        "action": "edit" if edit else "generate",
    }
    options = {
        "size": _size(body.get("size"), family, dall_e),
        "quality": _quality(body.get("quality"), family),
        "background": _background(body.get("background"), family, output_format),
        "output_format": output_format,
        "output_compression": _compression(body, output_format),
        "moderation": _choice(body, "moderation", MODERATIONS),
    }
    if edit:
        options["input_fidelity"] = _fidelity(body.get("input_fidelity"), family)
    tool.update({key: value for key, value in options.items() if value is not None})
    return tool


def _ignored(body: dict[str, Any], *, edit: bool, stream: bool) -> tuple[str, ...]:
    names = ignored_names(body, PARAMETERS)
    if not edit:
        names |= {name for name in EDIT_ONLY if body.get(name) is not None}
    if not stream and body.get("partial_images") is not None:
        names.add("partial_images")
    if stream and body.get("response_format") == "url":
        names.add("response_format")
    return tuple(sorted(names))


def _reject_unsupported(body: dict[str, Any]) -> None:
    reasons = {
        "svg": "SVG output is not available through the Codex image tool.",
        "markup": "`markup` is not supported by the Codex image tool; use `mask` instead.",
        "frame_count": "GIF output is not available through the Codex image tool.",
        "frame_duration_ms": "GIF output is not available through the Codex image tool.",
    }
    for name, reason in reasons.items():
        if body.get(name) is not None:
            raise unsupported(name, reason)
    output_format = body.get("output_format")
    if output_format in ("gif", "svg"):
        raise unsupported(
            "output_format",
            f"`{output_format}` output is not available through the Codex image tool; "
            "use png, jpeg or webp.",
        )


# --- model ----------------------------------------------------------------------------------

# Image models azt knows by name; another gpt-image-* name is sent on as asked, and counted in
# statistics under its name only once it has made an image.
KNOWN_IMAGE_MODELS = frozenset({"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2"})


def image_model(value: object) -> tuple[str, bool]:
    """The image model for the tool, and whether the client named a retired DALL·E model."""
    if value is None:
        return DEFAULT_IMAGE_MODEL, False
    if not isinstance(value, str):
        raise invalid("model", "`model` must be a string.", code="invalid_type")
    name = value.strip().lower()
    if name.startswith("dall-e"):
        return DEFAULT_IMAGE_MODEL, True
    if name == "chatgpt-image-latest":
        return DEFAULT_IMAGE_MODEL, False
    if name.startswith("gpt-image-") and len(name) > len("gpt-image-"):
        return name, False
    raise invalid(
        "model",
        f"Unknown image model {value!r}: use a GPT image model such as gpt-image-2, "
        "gpt-image-1.5 or gpt-image-1-mini (dall-e-* names are served by gpt-image-2).",
        code="model_not_found",
    )


def model_family(model: str) -> Family:
    """`legacy` (gpt-image-1, -1-mini, -1.5): fixed sizes; `v2` (gpt-image-2 and its
    snapshots): flexible sizes, no transparency; `newer` (2.5 and later): flexible sizes."""
    if model.startswith("gpt-image-1"):
        return "legacy"
    if model == "gpt-image-2" or _DATED_V2.match(model):
        return "v2"
    return "newer"


# --- scalar parameters ----------------------------------------------------------------------


def _prompt(value: object) -> str:
    if value is None:
        raise invalid("prompt", "`prompt` is required.", code="missing_required_parameter")
    if not isinstance(value, str):
        raise invalid("prompt", "`prompt` must be a string.", code="invalid_type")
    if not value.strip():
        raise invalid("prompt", "`prompt` must not be empty.")
    if len(value) > MAX_PROMPT:
        raise invalid(
            "prompt", f"`prompt` is {len(value)} characters long; the maximum is {MAX_PROMPT}."
        )
    return value


def _int_in(body: dict[str, Any], name: str, low: int, high: int, *, default: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if not is_int(value):
        raise invalid(name, f"`{name}` must be an integer.", code="invalid_type")
    if not low <= value <= high:
        raise invalid(name, f"`{name}` must be between {low} and {high}; got {value}.")
    return int(value)


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(name, f"`{name}` must be a boolean.", code="invalid_type")
    return value


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(name, f"`{name}` must be a string.", code="invalid_type")
    if value not in allowed:
        raise invalid(name, f"`{name}` must be one of: {', '.join(allowed)}; got {value!r}.")
    return value


def _size(value: object, family: Family, dall_e: bool) -> str | None:
    if value is None or value == "auto":
        return value
    if not isinstance(value, str):
        raise invalid("size", "`size` must be a string.", code="invalid_type")
    if dall_e and value in DALL_E_SMALL_SIZES:
        return "1024x1024"
    if family == "legacy":
        if value not in LEGACY_SIZES:
            choices = ", ".join((*LEGACY_SIZES, "auto"))
            raise invalid(
                "size", f"`size` must be one of: {choices} for this model; got {value!r}."
            )
        return value
    match = _SIZE.match(value)
    if match is None:
        raise invalid(
            "size", f"`size` must be `auto` or `WIDTHxHEIGHT` (e.g. 1536x864); got {value!r}."
        )
    check_flexible_size(int(match.group(1)), int(match.group(2)))
    return value


def check_flexible_size(width: int, height: int) -> None:
    """gpt-image-2 size rules: edges multiples of 16 up to 3840, ratio ≤ 3:1, pixel bounds."""
    size = f"{width}x{height}"
    if width % SIZE_STEP or height % SIZE_STEP:
        raise invalid("size", f"Both edges of `size` must be multiples of {SIZE_STEP}; got {size}.")
    if max(width, height) > MAX_EDGE:
        raise invalid("size", f"The longest edge of `size` may be at most {MAX_EDGE}; got {size}.")
    if max(width, height) > MAX_RATIO * min(width, height):
        raise invalid("size", f"The aspect ratio of `size` may be at most 3:1; got {size}.")
    pixels = width * height
    if not MIN_PIXELS <= pixels <= MAX_PIXELS:
        raise invalid(
            "size",
            f"`size` must have between {MIN_PIXELS:,} and {MAX_PIXELS:,} pixels; "
            f"{size} has {pixels:,}.",
        )


def _quality(value: object, family: Family) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("quality", "`quality` must be a string.", code="invalid_type")
    if value in QUALITY_ALIASES:
        return QUALITY_ALIASES[value]
    if value in NEWER_QUALITIES:
        if family != "newer":
            raise invalid(
                "quality",
                f"`quality: {value}` needs gpt-image-2.5 or later; use low, medium or high.",
            )
        return value
    if value not in QUALITIES:
        allowed = ", ".join((*QUALITIES, *NEWER_QUALITIES))
        raise invalid("quality", f"`quality` must be one of: {allowed}; got {value!r}.")
    return value


def _background(value: object, family: Family, output_format: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("background", "`background` must be a string.", code="invalid_type")
    if value not in BACKGROUNDS:
        allowed = ", ".join(BACKGROUNDS)
        raise invalid("background", f"`background` must be one of: {allowed}; got {value!r}.")
    if value == "transparent" and family == "v2":
        raise invalid(
            "background",
            "gpt-image-2 does not make transparent backgrounds; use `opaque` or `auto`.",
        )
    if value == "transparent" and output_format == "jpeg":
        raise invalid(
            "background", "A transparent background needs `output_format` png or webp, not jpeg."
        )
    return value


def _compression(body: dict[str, Any], output_format: str) -> int | None:
    if body.get("output_compression") is None:
        return None
    value = _int_in(body, "output_compression", 0, 100, default=100)
    if output_format == "png":
        raise invalid(
            "output_compression",
            "`output_compression` only applies to jpeg and webp output; set `output_format`.",
        )
    return value


def _fidelity(value: object, family: Family) -> str | None:
    if value is None:
        return None
    if value not in FIDELITIES:
        raise invalid("input_fidelity", "`input_fidelity` must be `low` or `high`.")
    if family != "legacy":
        raise unsupported(
            "input_fidelity", "`input_fidelity` is only supported by gpt-image-1.5 and earlier."
        )
    return str(value)


# --- reference images -----------------------------------------------------------------------


def _references(body: dict[str, Any]) -> list[str]:
    images, image = body.get("images"), body.get("image")
    if images is not None and image is not None:
        raise invalid("image", "Send the images to edit as `images` or `image`, not both.")
    param = "images" if images is not None else "image"
    given = images if images is not None else image
    if given is None:
        raise invalid(
            "image",
            "An edit needs at least one image: `images` (JSON) or `image` (multipart).",
            code="missing_required_parameter",
        )
    entries = given if isinstance(given, list) else [given]
    if not 1 <= len(entries) <= MAX_EDIT_IMAGES:
        raise invalid(param, f"An edit takes 1 to {MAX_EDIT_IMAGES} images; got {len(entries)}.")
    many = isinstance(given, list)
    return [
        _reference(entry, f"{param}[{i}]" if many else param) for i, entry in enumerate(entries)
    ]


def _mask(value: object) -> str | None:
    if value is None:
        return None
    return _reference(value, "mask", png_only=True)


def _reference(entry: object, param: str, *, png_only: bool = False) -> str:
    if isinstance(entry, dict):
        if entry.get("file_id") is not None:
            raise unsupported(
                f"{param}.file_id", "File ids are not supported; send the image as a data URL."
            )
        entry, param = entry.get("image_url"), f"{param}.image_url"
    if not isinstance(entry, str) or not entry:
        raise invalid(
            param, "An image must be given as an `image_url` string.", code="invalid_type"
        )
    if entry[:8].lower().startswith(("http://", "https://")):
        return entry
    return image_data_url(entry, param, png_only=png_only)


def image_data_url(value: str, param: str, *, png_only: bool = False) -> str:
    """A checked `data:image/...;base64,` URL for `value` (a data URL or bare base64)."""
    match = _DATA_URL.match(value)
    if match is None:
        declared, payload = None, value
    else:
        declared = MIME_ALIASES.get(match.group(1).lower(), match.group(1).lower())
        if "base64" not in match.group(2).lower():
            raise invalid(param, "An image data URL must be base64-encoded (`;base64,`).")
        payload = match.group(3)
    payload = re.sub(r"\s+", "", payload)
    check_size(len(payload) * 3 // 4 - 2, param)  # the least it decodes to: refuse early
    data = _decode(payload, param, bare=match is None)
    kind = sniff_image(data)
    if kind is None:
        raise invalid(
            param, f"`{param}` is not a valid image (PNG, JPEG or WEBP).", "invalid_image"
        )
    mime = MIME_TYPES[kind]
    if declared is not None and declared != mime:
        raise invalid(
            param,
            f"`{param}` is declared as {declared} but holds {kind.upper()} data.",
            "invalid_image",
        )
    check_image(kind, len(data), param, png_only=png_only)
    return f"data:{mime};base64,{payload}"


def _decode(payload: str, param: str, *, bare: bool) -> bytes:
    if not _BASE64.match(payload) or len(payload) % 4 == 1:
        if bare:
            raise invalid(param, f"`{param}` must be an http(s) URL or a data:image/... URL.")
        raise invalid(param, f"The data URL in `{param}` is not valid base64.", "invalid_image")
    try:
        return base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except (binascii.Error, ValueError) as e:
        raise invalid(
            param, f"The data URL in `{param}` is not valid base64.", "invalid_image"
        ) from e


def check_image(kind: str, size: int, param: str, *, png_only: bool = False) -> None:
    if png_only and kind != "png":
        raise invalid(param, f"`{param}` must be a PNG image; got {kind.upper()}.", "invalid_image")
    check_size(size, param)


def check_size(size: int, param: str) -> None:
    if size > MAX_IMAGE_BYTES:
        megabytes = MAX_IMAGE_BYTES // (1024 * 1024)
        raise invalid(param, f"`{param}` is larger than {megabytes} MB.", "image_too_large")


def sniff_image(data: bytes) -> str | None:
    """`png`, `jpeg` or `webp` from the magic bytes, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# --- multipart ------------------------------------------------------------------------------

INT_FIELDS = ("n", "partial_images", "output_compression", "frame_count", "frame_duration_ms")
BOOL_FIELDS = ("stream",)
_TRUE, _FALSE = ("true", "1"), ("false", "0")


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """A multipart/form-data Images request as the equivalent JSON body.

    `image`, `image[]` (and `image[N]`) files become `images: [{"image_url": dataURL}]`; a
    `mask` file becomes `mask: {"image_url": dataURL}`. Image files must be PNG, JPEG or WEBP
    by content. Text fields keep their names (`svg[model]` nests as `svg: {model}`); `n`,
    `partial_images`, `output_compression` become ints and `stream` a bool; an empty value is
    left out. Raises `ApiError` (400) on malformed input.
    """
    result: dict[str, Any] = {}
    images: list[dict[str, str]] = []
    for part in parse_form(content_type, body):
        base, _, rest = part.name.partition("[")
        if base in ("image", "images"):
            images.append({"image_url": _form_image(part, "image")})
        elif base == "mask":
            result["mask"] = {"image_url": _form_image(part, "mask")}
        elif part.is_file:
            result[part.name] = _file_data_url(part)
        else:
            _set_field(result, base, rest, _form_value(base, _form_text(part)))
    if images:
        result["images"] = images
    return {key: value for key, value in result.items() if value is not None}


def _form_image(part: FormPart, param: str) -> str:
    if not part.is_file:
        return _form_text(part)  # a URL given as a plain field
    kind = sniff_image(part.data)
    if kind is None:
        raise invalid(
            param,
            f"The uploaded file {part.filename!r} in `{param}` is not a valid image "
            "(PNG, JPEG or WEBP).",
            "invalid_image",
        )
    check_image(kind, len(part.data), param)
    return f"data:{MIME_TYPES[kind]};base64,{base64.b64encode(part.data).decode('ascii')}"


def _file_data_url(part: FormPart) -> str:
    kind = sniff_image(part.data)
    mime = MIME_TYPES[kind] if kind else (part.content_type or "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(part.data).decode('ascii')}"


def _form_text(part: FormPart) -> str:
    try:
        return part.data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise invalid(part.name, f"The form field `{part.name}` is not valid UTF-8.") from e


def _form_value(name: str, text: str) -> Any:
    if name in INT_FIELDS:
        if not text.strip():
            return None
        try:
            return int(text.strip())
        except ValueError as e:
            raise invalid(
                name, f"`{name}` must be an integer; got {text!r}.", "invalid_type"
            ) from e
    if name in BOOL_FIELDS:
        lowered = text.strip().lower()
        if not lowered:
            return None
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise invalid(name, f"`{name}` must be true or false; got {text!r}.", "invalid_type")
    return text


def _set_field(result: dict[str, Any], base: str, rest: str, value: Any) -> None:
    """Store a text field: `x[]` fields collect into a list, `svg[model]` nests as a dict."""
    if rest == "]":
        existing = result.get(base)
        result[base] = [*existing, value] if isinstance(existing, list) else [value]
        return
    keys = [base, *(key.rstrip("]") for key in rest.split("["))] if rest else [base]
    target = result
    for key in keys[:-1]:
        nested = target.get(key)
        if not isinstance(nested, dict):
            nested = target[key] = {}
        target = nested
    target[keys[-1]] = value
