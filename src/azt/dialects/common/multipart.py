"""A `multipart/form-data` body (RFC 7578) split into its parts.

What the OpenAI SDKs, curl and browsers send: a boundary given in the `Content-Type`, parts
separated by `--boundary` lines (CRLF line ends), each with a `Content-Disposition: form-data;
name="..."` header, a `filename` for files and optionally a `Content-Type`. Anything malformed
is refused with an OpenAI-shaped 400, naming what is wrong.

Pure: no I/O.
"""

import re
from dataclasses import dataclass
from urllib.parse import unquote

from azt.errors import ApiError

MAX_PARTS = 200
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass(frozen=True)
class FormPart:
    """One form field: a text value (`filename` None) or an uploaded file."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def is_file(self) -> bool:
        return self.filename is not None


def malformed(message: str) -> ApiError:
    return ApiError(400, message, code="invalid_multipart", type="invalid_request_error")


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """A header value split into its main token and its `; key=value` parameters.

    Keys are lower-cased; quoted values are unquoted (backslash escapes undone). An RFC 5987
    `key*=utf-8''...` value is decoded and stands in for `key`.
    """
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(";" + rest):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if key.endswith("*"):
            key, raw = key[:-1], _extended_value(raw)
        params[key] = raw
    return main.strip().lower(), params


def _extended_value(raw: str) -> str:
    charset, _, rest = raw.partition("'")
    _, _, encoded = rest.partition("'")
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="strict")
    except (LookupError, UnicodeDecodeError):
        return unquote(encoded)


def boundary_of(content_type: str) -> bytes:
    """The boundary of a `multipart/form-data` content type; 400 when absent or not multipart."""
    kind, params = header_params(content_type)
    if kind != "multipart/form-data":
        raise malformed(f"Expected a multipart/form-data body, got {kind or 'no content type'!r}.")
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > 200:
        raise malformed("The multipart/form-data content type has no valid `boundary`.")
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError as e:
        raise malformed("The multipart boundary must be ASCII.") from e


def parse_form(content_type: str, body: bytes) -> list[FormPart]:
    """All parts of a multipart/form-data body, in order."""
    delimiter = b"--" + boundary_of(content_type)
    position = _first_delimiter(body, delimiter)
    parts: list[FormPart] = []
    while True:
        position += len(delimiter)
        if body.startswith(b"--", position):
            return parts  # the closing delimiter; anything after it is an epilogue
        position = _skip_line_end(body, position)
        end = body.find(b"\r\n" + delimiter, position)
        if end == -1:
            raise malformed("The multipart body ends before its closing boundary.")
        if len(parts) == MAX_PARTS:
            raise malformed(f"The multipart body has more than {MAX_PARTS} parts.")
        parts.append(_part(body[position:end]))
        position = end + 2


def _first_delimiter(body: bytes, delimiter: bytes) -> int:
    if body.startswith(delimiter):
        return 0
    found = body.find(b"\r\n" + delimiter)
    if found == -1:
        raise malformed("The multipart body does not contain its boundary.")
    return found + 2


def _skip_line_end(body: bytes, position: int) -> int:
    while body[position : position + 1] in (b" ", b"\t"):
        position += 1  # transport padding
    if not body.startswith(b"\r\n", position):
        raise malformed("A multipart boundary line is not followed by a line break.")
    return position + 2


def _part(raw: bytes) -> FormPart:
    if raw.startswith(b"\r\n"):
        head, data = b"", raw[2:]
    else:
        head, separator, data = raw.partition(b"\r\n\r\n")
        if not separator:
            raise malformed("A multipart part has no blank line after its headers.")
    headers = _headers(head)
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise malformed("A multipart part has no Content-Disposition header.")
    kind, params = header_params(disposition)
    name = params.get("name")
    if kind != "form-data" or not name:
        raise malformed("A multipart part is not `form-data` with a `name`.")
    content_type = headers.get("content-type")
    return FormPart(name, data, params.get("filename"), content_type)


def _headers(head: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in head.decode("utf-8", errors="replace").split("\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise malformed(f"Malformed multipart part header line {line[:80]!r}.")
        headers[name.strip().lower()] = value.strip()
    return headers
