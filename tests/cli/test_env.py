"""`azt env`: which variables, which proxy URL, and quoting each shell reads back exactly."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from azt.cli.env import quote_fish, quote_powershell, render, settings_proxy_url
from azt.cli.main import cli
from azt.config import Settings, data_dir
from azt.runtime_file import RuntimeInfo, write_runtime

TRICKY = 'it\'s a $HOME `x` \\ "q" \u2019 tab\there'


def azt(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def variables(*args: str) -> dict[str, str]:
    result = azt("env", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def fake_runtime(proxy_url: str | None) -> None:
    info = RuntimeInfo(1, "http://127.0.0.1:1", "secret", "http://127.0.0.1:2", proxy_url, 0)
    write_runtime(data_dir(), info)


def test_variables_without_a_gateway(azt_home: Path) -> None:
    """Every proxy and CA variable is set; the proxy comes from the settings' defaults."""
    env = variables()
    certs = azt_home / "certs"
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        assert env[name] == "http://127.0.0.1:8788"
    assert env["NO_PROXY"] == env["no_proxy"] == "127.0.0.1,localhost,::1"
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        assert env[name] == str(certs / "azt-bundle.pem")
    assert env["NODE_EXTRA_CA_CERTS"] == env["CODEX_CA_CERTIFICATE"]
    assert env["CODEX_CA_CERTIFICATE"] == str(certs / "mitmproxy-ca-cert.pem")
    assert env["NODE_USE_ENV_PROXY"] == "1"
    assert (certs / "azt-bundle.pem").exists()


def test_settings_port_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """AZT_PROXY_PORT moves the proxy URL when no gateway runs."""
    monkeypatch.setenv("AZT_PROXY_PORT", "9999")
    assert variables()["HTTPS_PROXY"] == "http://127.0.0.1:9999"


def test_running_gateway_url_is_preferred(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime file's proxy URL (the port really bound) wins over the settings."""
    monkeypatch.setenv("AZT_PROXY_PORT", "9999")
    fake_runtime("http://127.0.0.1:43210")
    assert variables()["HTTPS_PROXY"] == "http://127.0.0.1:43210"


def test_wildcard_bind_in_runtime_file_becomes_loopback() -> None:
    """A gateway bound to 0.0.0.0 is reached through 127.0.0.1."""
    fake_runtime("http://0.0.0.0:43210")
    assert variables()["HTTPS_PROXY"] == "http://127.0.0.1:43210"


def test_gateway_without_proxy_listener_warns() -> None:
    """A gateway started with --no-proxy falls back to the settings, with a warning."""
    fake_runtime(None)
    result = azt("env", "--json")
    assert json.loads(result.stdout)["HTTPS_PROXY"] == "http://127.0.0.1:8788"
    assert "no HTTP proxy listener" in result.stderr


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8788"),
        ("0.0.0.0", "http://127.0.0.1:8788"),
        ("::", "http://[::1]:8788"),
        ("::1", "http://[::1]:8788"),
        ("localhost", "http://localhost:8788"),
    ],
)
def test_settings_proxy_url(host: str, url: str) -> None:
    """Wildcard binds become loopback addresses; IPv6 hosts get brackets."""
    assert settings_proxy_url(Settings(host=host)) == url


def test_bash_lines() -> None:
    """bash: `export NAME='value'`, a single quote closed, escaped and reopened."""
    assert render({"A": "x", "B": "it's"}, "bash") == "export A='x'\nexport B='it'\\''s'"


def test_fish_lines() -> None:
    """fish: `set -gx NAME 'value'` with \\ and ' escaped."""
    assert render({"A": "x"}, "fish") == "set -gx A 'x'"
    assert quote_fish("a\\b'c") == "'a\\\\b\\'c'"


def test_powershell_lines() -> None:
    """PowerShell: `$env:NAME = 'value'`, every kind of single quote doubled."""
    assert render({"A": "x"}, "powershell") == "$env:A = 'x'"
    assert quote_powershell("it's \u2019$x") == "'it''s \u2019\u2019$x'"


def test_shell_option_changes_syntax() -> None:
    """--shell picks the syntax of the printed lines."""
    assert azt("env", "--shell", "fish").output.startswith("set -gx HTTPS_PROXY ")
    assert azt("env", "--shell", "powershell").output.startswith("$env:HTTPS_PROXY = ")
    assert azt("env", "--shell", "bash").output.startswith("export HTTPS_PROXY=")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_reads_back_tricky_values() -> None:
    """Values with quotes, $, backticks, backslashes and tabs survive `eval` unchanged."""
    script = render({"AZT_T1": TRICKY, "AZT_T2": "plain"}, "bash")
    out = subprocess.run(
        ["bash", "-c", f'{script}\nprintf "%s\\n%s" "$AZT_T1" "$AZT_T2"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == f"{TRICKY}\nplain"


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish")
def test_fish_reads_back_tricky_values() -> None:
    """fish reads back the same tricky value it was given."""
    script = render({"AZT_T1": TRICKY}, "fish")
    out = subprocess.run(
        ["fish", "-c", f'{script}; printf "%s" "$AZT_T1"'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == TRICKY


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_eval_in_bash_with_a_quote_in_the_home(tmp_path: Path) -> None:
    """`eval "$(azt env)"` works when the data directory's path contains a quote."""
    home = tmp_path / "it's $here"
    env = {**os.environ, "AZT_HOME": str(home)}
    azt_env = f"{sys.executable} -m azt env"
    out = subprocess.run(
        ["bash", "-c", f'eval "$({azt_env})" && printf %s "$SSL_CERT_FILE"'],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=30,
    ).stdout
    assert out == str(home / "certs" / "azt-bundle.pem")
