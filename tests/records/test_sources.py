"""Naming the client app from its request headers."""

import pytest
from mitmproxy.http import Headers

from azt.records.sources import LABELS, Source, detect_source, label_of

CODEX_UA = "codex_exec/0.169.0 (Linux 6.1; x86_64) xterm-256color (codex_exec; 0.169.0)"
CLAUDE_CODE = {
    "user-agent": "claude-cli/2.1.330 (external, sdk-cli)",
    "x-app": "cli",
    # Claude Code talks through the Anthropic SDK, which adds its own headers.
    "x-stainless-lang": "js",
    "x-stainless-package-version": "0.60.0",
    "x-stainless-runtime": "node",
}

CASES = [
    # (id, headers, codex_route, name, version)
    (
        "codex-exec",
        {"originator": "codex_exec", "user-agent": CODEX_UA},
        False,
        "codex-cli",
        "0.169.0",
    ),
    (
        "codex-cli-rs",
        {"originator": "codex_cli_rs", "user-agent": "codex_cli_rs/0.42.0 (Mac OS 15.1; arm64)"},
        True,
        "codex-cli",
        "0.42.0",
    ),
    ("codex-tui-ua-only", {"user-agent": "codex-tui/0.50.1 (Linux)"}, False, "codex-cli", "0.50.1"),
    ("codex-originator-only", {"originator": "codex_exec"}, True, "codex-cli", None),
    ("codex-empty-ua-on-codex-route", {}, True, "codex-cli", None),
    ("codex-empty-ua-header-on-codex-route", {"user-agent": ""}, True, "codex-cli", None),
    ("empty-ua-elsewhere", {}, False, "other", None),
    (
        "openai-python",
        {
            "user-agent": "OpenAI/Python 1.99.0",
            "x-stainless-lang": "python",
            "x-stainless-package-version": "1.99.0",
            "x-stainless-runtime": "CPython",
        },
        False,
        "openai-sdk-python",
        "1.99.0",
    ),
    (
        "openai-node",
        {
            "user-agent": "OpenAI/JS 6.30.1",
            "x-stainless-lang": "js",
            "x-stainless-package-version": "6.30.1",
        },
        False,
        "openai-sdk-node",
        "6.30.1",
    ),
    # Without x-stainless-package-version the version is read after the language.
    (
        "openai-node-no-package-version",
        {"user-agent": "OpenAI/JS 6.30.1", "x-stainless-lang": "js"},
        False,
        "openai-sdk-node",
        "6.30.1",
    ),
    (
        "openai-python-ua-only",
        {"user-agent": "OpenAI/Python 1.99.0"},
        False,
        "openai-sdk-python",
        "1.99.0",
    ),
    ("openai-js-ua-only", {"user-agent": "OpenAI/JS 6.30.1"}, False, "openai-sdk-node", "6.30.1"),
    (
        "openai-go-stainless",
        {
            "user-agent": "OpenAI/Go 1.12.0",
            "x-stainless-lang": "go",
            "x-stainless-package-version": "1.12.0",
        },
        False,
        "openai-sdk-go",
        "1.12.0",
    ),
    (
        "stainless-without-ua",
        {"x-stainless-lang": "python", "x-stainless-package-version": "1.2.3"},
        False,
        "openai-sdk-python",
        "1.2.3",
    ),
    ("stainless-odd-language", {"x-stainless-lang": "c++!"}, False, "openai-sdk-unknown", None),
    ("claude-code", CLAUDE_CODE, False, "claude-code", "2.1.330"),
    (
        "claude-code-minimal",
        {"user-agent": "claude-cli/2.1.330 (external, cli)"},
        False,
        "claude-code",
        "2.1.330",
    ),
    (
        "anthropic-js",
        {
            "user-agent": "Anthropic/JS 0.60.0",
            "x-stainless-lang": "js",
            "x-stainless-package-version": "0.60.0",
        },
        False,
        "anthropic-sdk",
        "0.60.0",
    ),
    ("anthropic-ua-only", {"user-agent": "Anthropic/JS 0.60.0"}, False, "anthropic-sdk", "0.60.0"),
    (
        "anthropic-python",
        {"user-agent": "Anthropic/Python 0.61.0", "x-stainless-lang": "python"},
        False,
        "anthropic-sdk",
        "0.61.0",
    ),
    ("curl", {"user-agent": "curl/8.5.0", "accept": "*/*"}, False, "curl", "8.5.0"),
    ("curl-on-codex-route", {"user-agent": "curl/8.5.0"}, True, "curl", "8.5.0"),
    ("openclaw", {"user-agent": "openclaw/2026.1.5"}, False, "openclaw", "2026.1.5"),
    (
        "openclaw-over-sdk",
        {"user-agent": "OpenClaw/2026.1.5", "x-stainless-lang": "js"},
        False,
        "openclaw",
        "2026.1.5",
    ),
    (
        "console",
        {
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
            "referer": "http://127.0.0.1:8765/_gateway/console",
        },
        False,
        "console",
        None,
    ),
    (
        "browser-elsewhere",
        {"user-agent": "Mozilla/5.0 (X11; Linux x86_64)", "referer": "https://example.com/"},
        False,
        "other",
        None,
    ),
    ("python-requests", {"user-agent": "python-requests/2.32.3"}, False, "other", None),
    ("unknown-on-codex-route", {"user-agent": "httpx/0.28"}, True, "other", None),
]


@pytest.mark.parametrize(
    ("headers", "codex_route", "name", "version"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_detect_source(
    headers: dict[str, str], codex_route: bool, name: str, version: str | None
) -> None:
    assert detect_source(headers, codex_route=codex_route) == Source(name, version)


@pytest.mark.parametrize(
    ("headers", "codex_route", "name", "version"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_detect_source_from_mitmproxy_headers(
    headers: dict[str, str], codex_route: bool, name: str, version: str | None
) -> None:
    """In production the headers are mitmproxy's, case-insensitive, as the client spelled them."""
    fields = [("-".join(p.capitalize() for p in k.split("-")), v) for k, v in headers.items()]
    real = Headers([(k.encode(), v.encode()) for k, v in fields])
    assert detect_source(real, codex_route=codex_route) == Source(name, version)


def test_version_is_bounded() -> None:
    source = detect_source({"user-agent": "curl/" + "9" * 100})
    assert source.version == "9" * 32


def test_every_detected_name_has_a_label() -> None:
    for case in CASES:
        source = detect_source(case[1], codex_route=case[2])
        assert source.label, source
        if not source.name.startswith("openai-sdk-"):
            assert source.name in LABELS


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("codex-cli", "Codex CLI"),
        ("claude-code", "Claude Code"),
        ("openai-sdk-python", "OpenAI SDK (Python)"),
        ("openai-sdk-node", "OpenAI SDK (Node)"),
        ("openai-sdk-go", "OpenAI SDK (Go)"),
        ("console", "azt console"),
        ("mystery", "mystery"),
    ],
)
def test_label_of(name: str, label: str) -> None:
    assert label_of(name) == label
    assert Source(name).label == label
