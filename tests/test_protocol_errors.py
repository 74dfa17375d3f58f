"""The answers to requests mitmproxy refuses before any addon runs: OpenAI-shaped JSON."""

import json

from azt.protocol_errors import error_reply


def body_of(reply: bytes) -> dict[str, object]:
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower()
    assert b"connection: close" in head.lower()
    parsed: dict[str, object] = json.loads(body)
    return parsed


def test_framing_errors_say_what_was_wrong() -> None:
    reply = error_reply(400, "Invalid content-length header: b'-1'")
    assert reply.startswith(b"HTTP/1.1 400 ")
    error = body_of(reply)["error"]
    assert isinstance(error, dict) and error["code"] == "invalid_http"
    assert (
        error["message"] == "The request is not valid HTTP: Invalid content-length header: b'-1'."
    )


def test_a_body_over_the_limit_names_the_settings_not_mitmproxy() -> None:
    reply = error_reply(413, "Request body exceeds mitmproxy's body_size_limit.")
    assert reply.startswith(b"HTTP/1.1 413 ")
    error = body_of(reply)["error"]
    assert isinstance(error, dict) and error["code"] == "request_too_large"
    message = str(error["message"])
    assert "body_limit_mb" in message and "mitmproxy" not in message
