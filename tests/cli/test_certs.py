"""`azt certs ...` through click's CliRunner, with AZT_HOME private."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from azt.certs import trust as trust_module
from azt.cli.common import EXIT_USAGE
from azt.cli.main import cli


def azt(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_path_creates_the_ca_and_prints_the_certificate(azt_home: Path) -> None:
    """`certs path` prints <AZT_HOME>/certs/mitmproxy-ca-cert.pem, which now exists."""
    result = azt("certs", "path")
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path == azt_home / "certs" / "mitmproxy-ca-cert.pem"
    assert x509.load_pem_x509_certificate(path.read_bytes())


def test_show_json(azt_home: Path) -> None:
    """`certs show --json` gives subject, fingerprint, validity and the file paths."""
    info = json.loads(azt("certs", "show", "--json").output)
    assert "CN=azt local CA" in info["subject"]
    assert len(info["sha256"].split(":")) == 32
    assert info["not_before"] < info["not_after"]
    assert info["cert_pem"] == str(azt_home / "certs" / "mitmproxy-ca-cert.pem")
    assert info["bundle"] == str(azt_home / "certs" / "azt-bundle.pem")


def test_show_text_matches_json() -> None:
    """The text form shows the same fingerprint as the JSON form."""
    info = json.loads(azt("certs", "show", "--json").output)
    text = azt("certs", "show").output
    assert info["sha256"] in text
    assert "azt local CA" in text


def test_export_pem_to_stdout() -> None:
    """With no -o, PEM goes to stdout: one certificate and no key."""
    result = azt("certs", "export")
    assert result.exit_code == 0
    assert len(x509.load_pem_x509_certificates(result.output.encode())) == 1
    assert "PRIVATE KEY" not in result.output


@pytest.mark.parametrize("fmt", ["der", "p12"])
def test_binary_export_needs_a_file(fmt: str) -> None:
    """Binary formats are refused on stdout with exit 2."""
    result = azt("certs", "export", "--format", fmt)
    assert result.exit_code == EXIT_USAGE
    assert "-o" in result.output


def test_export_der_and_p12_to_files(tmp_path: Path) -> None:
    """-o writes the file and prints its path; both parse back to the same certificate."""
    pem = x509.load_pem_x509_certificate(azt("certs", "export").output.encode())
    der_file, p12_file = tmp_path / "ca.der", tmp_path / "ca.p12"
    assert azt("certs", "export", "--format", "der", "-o", str(der_file)).output.strip() == str(
        der_file
    )
    azt("certs", "export", "--format", "p12", "-o", str(p12_file))
    assert x509.load_der_x509_certificate(der_file.read_bytes()) == pem
    key, cert, extra = pkcs12.load_key_and_certificates(p12_file.read_bytes(), None)
    assert key is None
    assert pem in (cert, *extra)


def test_bundle_default_and_explicit_path(azt_home: Path, tmp_path: Path) -> None:
    """`certs bundle` prints where it wrote; -o picks the place."""
    assert azt("certs", "bundle").output.strip() == str(azt_home / "certs" / "azt-bundle.pem")
    target = tmp_path / "mine.pem"
    assert azt("certs", "bundle", "-o", str(target)).output.strip() == str(target)
    assert target.read_bytes().count(b"BEGIN CERTIFICATE") > 100


def test_trust_prints_steps_for_the_named_system(azt_home: Path) -> None:
    """`certs trust --os macos` prints the keychain command for this CA."""
    result = azt("certs", "trust", "--os", "macos")
    assert result.exit_code == 0
    assert "security add-trusted-cert" in result.output
    assert str(azt_home / "certs" / "mitmproxy-ca-cert.pem") in result.output


def test_trust_install_refused_for_non_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """--install as a normal user exits 2 and says root is needed."""
    monkeypatch.setattr(trust_module.shutil, "which", lambda name: "/bin/true")
    monkeypatch.setattr(trust_module.os, "geteuid", lambda: 1000)
    monkeypatch.delenv("SUDO_USER", raising=False)
    result = azt("certs", "trust", "--install")
    assert result.exit_code == EXIT_USAGE
    assert "needs root" in result.output


def test_trust_install_refused_on_other_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    """--install where update-ca-certificates is missing exits 2 and points at the steps."""
    monkeypatch.setattr(trust_module.shutil, "which", lambda name: None)
    monkeypatch.delenv("SUDO_USER", raising=False)
    result = azt("certs", "trust", "--install")
    assert result.exit_code == EXIT_USAGE
    assert "not a Debian-like system" in result.output


def test_trust_install_under_sudo_asks_for_the_users_cert(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under sudo without AZT_HOME or --cert, azt refuses to install root's own CA."""
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.delenv("AZT_HOME")
    result = azt("certs", "trust", "--install")
    assert result.exit_code == EXIT_USAGE
    assert '--cert "$(azt certs path)"' in result.output


def test_trust_install_with_a_fake_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, azt_home: Path
) -> None:
    """As root on a Debian-like system the certificate is installed and the path printed."""
    anchors = tmp_path / "share" / "ca-certificates"
    anchors.parent.mkdir()
    monkeypatch.setattr(trust_module, "DEBIAN_ANCHORS", anchors)
    monkeypatch.setattr(trust_module.shutil, "which", lambda name: "/bin/true")
    monkeypatch.setattr(trust_module.os, "geteuid", lambda: 0)
    result = azt("certs", "trust", "--install")
    assert result.exit_code == 0, result.output
    assert str(anchors / "azt-local-ca.crt") in result.output
    cert = azt_home / "certs" / "mitmproxy-ca-cert.pem"
    assert (anchors / "azt-local-ca.crt").read_bytes() == cert.read_bytes()
