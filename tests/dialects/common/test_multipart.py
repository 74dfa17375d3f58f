"""multipart/form-data bodies, built the way the OpenAI SDKs build them, → parts and JSON."""

import base64
from typing import Any

import httpx
import httpx2
import openai
import pytest

from azt.dialects.common.multipart import FormPart, header_params, parse_form
from azt.dialects.images import parse_multipart, plan_image_request
from azt.errors import ApiError
from support.png import make_png

PNG = make_png()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
URL = "http://gateway.test/v1/images/edits"


class ForceMultipart(dict[str, Any]):
    """A truthy empty `files`: how the SDK makes httpx send a form without files as multipart."""

    def __bool__(self) -> bool:
        return True


def encoded(files: Any = None, data: dict[str, Any] | None = None) -> tuple[str, bytes]:
    """(content type, body) exactly as httpx (the Python SDK's transport) encodes a form."""
    request = httpx.Request("POST", URL, files=files or ForceMultipart(), data=data)
    return request.headers["content-type"], request.read()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def rejected(content_type: str, body: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_multipart(content_type, body)
    assert caught.value.status == 400
    return caught.value


# --- the form parser ------------------------------------------------------------------------


def test_parts_in_order() -> None:
    """Text fields and files come back with names, file names, types and exact bytes."""
    content_type, body = encoded(
        files=[("image", ("a.png", PNG, "image/png"))], data={"prompt": "hi", "n": "2"}
    )
    assert parse_form(content_type, body) == [
        FormPart("prompt", b"hi"),
        FormPart("n", b"2"),
        FormPart("image", PNG, "a.png", "image/png"),
    ]


def test_binary_with_crlf_and_dashes() -> None:
    """File bytes holding CRLFs and dashes survive intact."""
    tricky = b"\r\n--\r\n\r\n--x--\r\n"
    content_type, body = encoded(files=[("f", ("f.bin", tricky, "application/octet-stream"))])
    assert parse_form(content_type, body)[0].data == tricky


def test_hand_written_form() -> None:
    """A quoted boundary, a preamble, transport padding, an epilogue and an RFC 5987 name."""
    body = (
        b"preamble\r\n--b:1 \t\r\n"
        b'Content-Disposition: form-data; name="prompt"\r\n\r\nx\r\n'
        b'--b:1\r\ncontent-disposition: form-data; name="image"; filename="a.png"; '
        b"filename*=utf-8''%C3%A9.png\r\nContent-Type: image/png\r\n\r\n" + PNG + b"\r\n"
        b"--b:1--\r\nepilogue"
    )
    parts = parse_form('multipart/form-data; boundary="b:1"', body)
    assert parts == [FormPart("prompt", b"x"), FormPart("image", PNG, "\u00e9.png", "image/png")]


def test_part_without_headers_is_refused() -> None:
    """A part with no Content-Disposition has no name: 400."""
    body = b"--b\r\n\r\nvalue\r\n--b--\r\n"
    with pytest.raises(ApiError, match="Content-Disposition"):
        parse_form("multipart/form-data; boundary=b", body)


def test_empty_form() -> None:
    """Only the closing delimiter: no parts."""
    assert parse_form("multipart/form-data; boundary=b", b"--b--\r\n") == []


def test_header_params() -> None:
    """Quoted values are unquoted with escapes undone; keys are lower-cased."""
    assert header_params('form-data; Name="a\\"b"; filename=x.png') == (
        "form-data",
        {"name": 'a"b', "filename": "x.png"},
    )


@pytest.mark.parametrize(
    ("content_type", "body", "fragment"),
    [
        ("application/json", b"{}", "Expected a multipart/form-data body"),
        ("", b"", "no content type"),
        ("multipart/form-data", b"--b--", "no valid `boundary`"),
        ("multipart/form-data; boundary=é", b"--b--", "ASCII"),
        ("multipart/form-data; boundary=b", b"nothing here", "does not contain its boundary"),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data",
            "ends before",
        ),
        ("multipart/form-data; boundary=b", b"--bjunk\r\n", "not followed by a line break"),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nvalue",
            "ends before",
        ),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=x\r\nvalue\r\n--b--",
            "no blank line",
        ),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition form-data\r\n\r\nv\r\n--b--",
            "Malformed multipart part header",
        ),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: attachment; name=x\r\n\r\nv\r\n--b--",
            "form-data",
        ),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--",
            "with a `name`",
        ),
    ],
)
def test_malformed_forms(content_type: str, body: bytes, fragment: str) -> None:
    """Each malformed body gets a 400 saying what is wrong."""
    with pytest.raises(ApiError) as caught:
        parse_form(content_type, body)
    assert caught.value.status == 400
    assert caught.value.code == "invalid_multipart"
    assert fragment in caught.value.message


def test_too_many_parts() -> None:
    """More than MAX_PARTS parts are refused."""
    content_type, body = encoded(data={f"f{i}": "v" for i in range(201)})
    with pytest.raises(ApiError, match="more than 200 parts"):
        parse_form(content_type, body)


# --- Images multipart → JSON ----------------------------------------------------------------


def test_single_image_edit() -> None:
    """`image` file → images[0] data URL; plain fields typed as the JSON API has them."""
    content_type, body = encoded(
        files=[("image", ("a.png", PNG, "image/png"))],
        data={
            "prompt": "add a hat",
            "n": "2",
            "partial_images": "1",
            "output_compression": "50",
            "output_format": "webp",
            "stream": "false",
            "size": "1024x1024",
        },
    )
    assert parse_multipart(content_type, body) == {
        "prompt": "add a hat",
        "n": 2,
        "partial_images": 1,
        "output_compression": 50,
        "output_format": "webp",
        "stream": False,
        "size": "1024x1024",
        "images": [{"image_url": data_url(PNG)}],
    }


def test_several_images_and_a_mask() -> None:
    """`image[]` files keep their order; `mask` becomes {"image_url"}; types come from bytes."""
    content_type, body = encoded(
        files=[
            ("image[]", ("a.png", PNG, "image/png")),
            ("image[]", ("b.jpg", JPEG, "application/octet-stream")),
            ("mask", ("m.png", PNG, "image/png")),
        ],
        data={"prompt": "p", "stream": "true"},
    )
    assert parse_multipart(content_type, body) == {
        "prompt": "p",
        "stream": True,
        "images": [{"image_url": data_url(PNG)}, {"image_url": data_url(JPEG, "image/jpeg")}],
        "mask": {"image_url": data_url(PNG)},
    }


def test_nested_and_list_fields() -> None:
    """`svg[model]` nests into a dict; `tags[]` collects into a list; an image URL field."""
    content_type, body = encoded(
        data={"svg[model]": "m", "tags[]": ["a", "b"], "image": "https://x.test/a.png"}
    )
    assert parse_multipart(content_type, body) == {
        "svg": {"model": "m"},
        "tags": ["a", "b"],
        "images": [{"image_url": "https://x.test/a.png"}],
    }


def test_empty_typed_values_are_absent() -> None:
    """An empty `n` or `stream` counts as not sent."""
    content_type, body = encoded(data={"n": "", "stream": " ", "prompt": "p"})
    assert parse_multipart(content_type, body) == {"prompt": "p"}


def test_unknown_file_field_kept_as_data_url() -> None:
    """A file under another name is kept (as a data URL) so the plan can name it ignored."""
    content_type, body = encoded(files=[("extra", ("x.txt", b"hello", "text/plain"))])
    assert parse_multipart(content_type, body) == {"extra": data_url(b"hello", "text/plain")}


@pytest.mark.parametrize(
    ("files", "data", "param", "fragment"),
    [
        ([("image", ("a.gif", b"GIF89a...", "image/gif"))], {}, "image", "not a valid image"),
        ([("image[]", ("a.png", b"", "image/png"))], {}, "image", "not a valid image"),
        ([("mask", ("m.txt", b"text", "text/plain"))], {}, "mask", "not a valid image"),
        (None, {"n": "two"}, "n", "must be an integer"),
        (None, {"output_compression": "1.5"}, "output_compression", "must be an integer"),
        (None, {"stream": "yes"}, "stream", "true or false"),
    ],
)
def test_multipart_rejections(files: Any, data: dict[str, str], param: str, fragment: str) -> None:
    """Non-image uploads and badly typed fields get a 400 naming the field."""
    content_type, body = encoded(files=files, data=data or {"prompt": "p"})
    error = rejected(content_type, body)
    assert error.param == param
    assert fragment in error.message


def test_field_not_utf8() -> None:
    """A text field that is not UTF-8 is refused."""
    body = b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\n\xff\xfe\r\n--b--\r\n'
    assert rejected("multipart/form-data; boundary=b", body).param == "prompt"


def test_mask_must_be_png_after_parsing() -> None:
    """A JPEG mask parses, then the plan refuses it: masks must be PNG."""
    content_type, body = encoded(
        files=[("image", ("a.png", PNG, "image/png")), ("mask", ("m.jpg", JPEG, "image/jpeg"))],
        data={"prompt": "p"},
    )
    with pytest.raises(ApiError, match="must be a PNG"):
        plan_image_request(parse_multipart(content_type, body), edit=True, host_model="h")


# --- what the real Python SDK sends ---------------------------------------------------------


def sdk_edit_request(**kwargs: Any) -> tuple[str, bytes]:
    """Run `client.images.edit(...)` against a fake server; return what it sent."""
    seen: dict[str, Any] = {}

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen["content_type"] = request.headers["content-type"]
        seen["body"] = request.read()
        return httpx2.Response(200, json={"created": 1, "data": [{"b64_json": "AA=="}]})

    http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = openai.OpenAI(api_key="k", base_url="http://gateway.test/v1", http_client=http_client)
    client.images.edit(**kwargs)
    http_client.close()
    return seen["content_type"], seen["body"]


def test_sdk_edit_with_several_images() -> None:
    """The SDK's `image=[...]`, `mask=` and plain fields become the JSON edit body."""
    content_type, body = sdk_edit_request(
        image=[("a.png", PNG, "image/png"), ("b.jpg", JPEG, "image/jpeg")],
        mask=("m.png", PNG, "image/png"),
        prompt="put them together",
        model="gpt-image-1.5",
        n=2,
        size="1536x1024",
        quality="high",
        input_fidelity="high",
        output_format="jpeg",
        output_compression=80,
        user="end-user-1",
    )
    parsed = parse_multipart(content_type, body)
    assert parsed == {
        "prompt": "put them together",
        "input_fidelity": "high",
        "model": "gpt-image-1.5",
        "n": 2,
        "output_compression": 80,
        "output_format": "jpeg",
        "quality": "high",
        "size": "1536x1024",
        "user": "end-user-1",
        "images": [{"image_url": data_url(PNG)}, {"image_url": data_url(JPEG, "image/jpeg")}],
        "mask": {"image_url": data_url(PNG)},
    }
    plan = plan_image_request(parsed, edit=True, host_model="gpt-5.4-mini")
    assert plan.n == 2 and plan.ignored == ("user",)
    assert plan.tool["input_image_mask"] == {"image_url": data_url(PNG)}
    assert len(plan.upstream["input"][0]["content"]) == 3


def test_sdk_streamed_edit_with_one_raw_file() -> None:
    """A single file given as bytes (no name) and `stream=True` as the SDK sends them."""
    content_type, body = sdk_edit_request(image=PNG, prompt="p", stream=True, partial_images=2)
    parsed = parse_multipart(content_type, body)
    assert parsed == {
        "prompt": "p",
        "partial_images": 2,
        "stream": True,
        "images": [{"image_url": data_url(PNG)}],
    }
    plan = plan_image_request(parsed, edit=True, host_model="h")
    assert plan.stream and plan.tool["partial_images"] == 2
