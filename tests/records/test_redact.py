"""Opt-in previews: secrets blanked, whitespace collapsed, cut short; the user's last text."""

import pytest

from azt.records.redact import PREVIEW_CHARS, REDACTED, last_user_text, preview, redact

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-proj-abcdefgh12345 here", f"key {REDACTED} here"),
        ("sk-ant-api03-abcdefghij", REDACTED),
        ("rk-live_1234567890", REDACTED),
        ("sess-abcdefghijkl", REDACTED),
        ("Authorization: Bearer abc.def-ghi_jkl", f"Authorization: {REDACTED}"),
        ("use bearer abcdefgh1234 please", f"use {REDACTED} please"),
        (f"token {JWT} end", f"token {REDACTED} end"),
        ("password=hunter2", f"password={REDACTED}"),
        ("PASSWD: hunter2 ok", f"PASSWD: {REDACTED} ok"),
        ("api_key = abc123 rest", f"api_key = {REDACTED} rest"),
        ("api-key:abc", f"api-key:{REDACTED}"),
        ("apikey=abc", f"apikey={REDACTED}"),
        ("secret: s3cr3t", f"secret: {REDACTED}"),
        ("token=abc", f"token={REDACTED}"),
        # Keys with a prefix are credentials all the same.
        ("access_token=abc123", f"access_token={REDACTED}"),
        ("refresh_token: rt-1", f"refresh_token: {REDACTED}"),
        ("client_secret=xyz", f"client_secret={REDACTED}"),
        ("OPENAI_API_KEY=abc123", f"OPENAI_API_KEY={REDACTED}"),
        ("x-api-key: abc", f"x-api-key: {REDACTED}"),
        ("db_password=hunter2", f"db_password={REDACTED}"),
        # JSON and dict literals: the quoted value goes, the rest stays.
        ('{"password": "hunter 2", "user": "bob"}', f'{{"password": {REDACTED}, "user": "bob"}}'),
        ("{'token': 'abc'}", f"{{'token': {REDACTED}}}"),
        ("id 0123456789abcdef0123456789ABCDEF", f"id {REDACTED}"),
        ("blob " + "Zq9x" * 10 + "==", f"blob {REDACTED}"),
        ("blob " + "A1b2" * 10 + " end", f"blob {REDACTED} end"),  # hex
        ("blob " + "x" * 40, f"blob {REDACTED}"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "How many tokens: 500 or more?",
        "set max_tokens: 500",
        "input_tokens=12",
        "my password is long",  # no value after a separator
        "secret=",
        "short hex deadbeef and sk-short",
        "x" * 39,
        "commit 0123456789abcdef0123456789abcde",  # 31 hex digits
        "the tokenizer: o200k",
    ],
)
def test_redact_leaves_ordinary_text(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-abcdefgh12345678",
        "Bearer abcdefgh12345678",
        JWT,
        "0123456789abcdef0123456789abcdef",
        "A" * 64,
    ],
)
def test_redact_never_leaves_the_secret(secret: str) -> None:
    for text in (secret, f"x {secret} y", f"({secret})", f"{secret}\n{secret}"):
        assert secret not in redact(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("   \n\t ", None),
        ("hello", "hello"),
        ("  hello \n\n  world\t! ", "hello world !"),
        ("key: sk-abcdefghijkl", f"key: {REDACTED}"),
    ],
)
def test_preview(text: str | None, expected: str | None) -> None:
    assert preview(text) == expected


def test_preview_cuts_to_the_limit() -> None:
    assert preview("x " * 100, limit=10) == "x x x x x…"
    assert len(preview("word " * 1000) or "") == PREVIEW_CHARS
    exact = "yz " * (PREVIEW_CHARS // 3) + "y" * (PREVIEW_CHARS % 3)
    assert len(exact) == PREVIEW_CHARS
    assert preview(exact) == exact  # a text of exactly the limit is not cut
    assert preview(exact + "z") == exact[:-1] + "…"


def test_preview_redacts_before_cutting() -> None:
    """A secret straddling the cut is still recognised, so no part of it survives."""
    secret = "sk-abcdefghijklmnopqrstuvwx"
    text = "a " * 75 + secret + " and more" * 10  # the secret starts at character 150
    shown = preview(text)
    assert shown is not None
    assert "sk-" not in shown and "abcdefgh" not in shown
    assert shown.endswith("…") and len(shown) == PREVIEW_CHARS


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (None, None),
        ({}, None),
        (
            {
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "first"},
                    {"role": "assistant", "content": "reply"},
                    {"role": "user", "content": "second"},
                ]
            },
            "second",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "earlier"},
                    {"role": "tool", "content": "result"},
                ]
            },
            "earlier",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "look at"},
                            {"type": "image_url", "image_url": {"url": "data:..."}},
                            {"type": "text", "text": "this"},
                        ],
                    }
                ]
            },
            "look at this",
        ),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, None),
        ({"messages": [{"role": "assistant", "content": "only me"}]}, None),
        ({"messages": [{"role": "user", "content": None}]}, None),
        ({"messages": ["junk", 3, {"role": "user", "content": "kept"}, None]}, "kept"),
        ({"input": "a responses prompt"}, "a responses prompt"),
        (
            {
                "instructions": "system text",
                "input": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "q1"}],
                    },
                    {"type": "function_call_output", "call_id": "c1", "output": "42"},
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "q2"}],
                    },
                    {"type": "message", "role": "assistant", "content": "a2"},
                ],
            },
            "q2",
        ),
        ({"prompt": "an image prompt"}, "an image prompt"),
        ({"prompt": ["not", "text"]}, None),
        ({"messages": "not a list", "input": "fallback"}, "fallback"),
        ({"input": {"odd": True}, "prompt": "p"}, "p"),
    ],
)
def test_last_user_text(body: dict[str, object] | None, expected: str | None) -> None:
    assert last_user_text(body) == expected
