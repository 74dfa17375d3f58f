"""Trust steps per system and client, and the Debian install against a fake system store."""

import os
import stat
from pathlib import Path

import pytest

from azt.certs import TrustInstallError, TrustUnavailableError, ensure_ca, trust_steps
from azt.certs import trust as trust_module
from azt.certs.ca import CaFiles
from azt.certs.trust import detect_os, install_trust_debian


@pytest.fixture
def files(tmp_path: Path) -> CaFiles:
    return CaFiles.in_dir(tmp_path / "certs")


@pytest.mark.parametrize(
    ("os_name", "expected"),
    [
        ("debian", "update-ca-certificates"),
        ("ubuntu", "update-ca-certificates"),
        ("fedora", "update-ca-trust"),
        ("rhel", "/etc/pki/ca-trust/source/anchors"),
        ("arch", "trust anchor --store"),
        ("macos", "security add-trusted-cert"),
        ("darwin", "System.keychain"),
        ("windows", "certutil -user -addstore Root"),
    ],
)
def test_steps_per_system(files: CaFiles, os_name: str, expected: str) -> None:
    """Each system family gets its own tool, pointed at this CA's certificate file."""
    text = "\n".join(trust_steps(os_name, files))
    assert expected in text
    certificate = files.cert_cer if os_name == "windows" else files.cert_pem
    assert str(certificate) in text
    assert "Undo" in text


def test_unknown_system_gets_generic_steps(files: CaFiles) -> None:
    """An unknown system still gets the certificate path and the client notes."""
    steps = trust_steps("plan9", files)
    assert str(files.cert_pem) in steps[1]
    assert any("NODE_EXTRA_CA_CERTS" in line for line in steps)


@pytest.mark.parametrize("os_name", ["debian", "fedora", "arch", "macos", "windows"])
def test_client_notes_follow_every_system(files: CaFiles, os_name: str) -> None:
    """Python gets the bundle, Node the additive CA variable, Codex either of its two."""
    text = "\n".join(trust_steps(os_name, files))
    assert f"SSL_CERT_FILE={files.bundle}" in text
    assert f"REQUESTS_CA_BUNDLE={files.bundle}" in text
    assert f"NODE_EXTRA_CA_CERTS={files.cert_pem}" in text
    assert f"CODEX_CA_CERTIFICATE={files.cert_pem}" in text
    assert "NO_PROXY" in text


def test_steps_default_to_the_azt_ca_dir(azt_home: Path) -> None:
    """Without explicit files the steps name <AZT_HOME>/certs."""
    assert str(azt_home / "certs" / "mitmproxy-ca-cert.pem") in "\n".join(trust_steps("debian"))


def test_detect_os_reads_os_release_families(monkeypatch: pytest.MonkeyPatch) -> None:
    """ID_LIKE maps derivatives (Mint, Rocky, Manjaro) onto the family's steps."""
    monkeypatch.setattr(trust_module.sys, "platform", "linux")
    for release, family in [
        ({"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, "debian"),
        ({"ID": "rocky", "ID_LIKE": "rhel centos fedora"}, "fedora"),
        ({"ID": "manjaro", "ID_LIKE": "arch"}, "arch"),
        ({"ID": "gentoo"}, "linux"),
    ]:
        monkeypatch.setattr(trust_module.platform, "freedesktop_os_release", lambda r=release: r)
        assert detect_os() == family


@pytest.fixture
def fake_debian(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private anchors directory and an update-ca-certificates that logs its run."""
    anchors = tmp_path / "usr-local-share" / "ca-certificates"
    anchors.parent.mkdir()
    monkeypatch.setattr(trust_module, "DEBIAN_ANCHORS", anchors)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "update-ca-certificates"
    tool.write_text(f'#!/bin/sh\necho ran > "{tmp_path}/ran"\n')
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(trust_module.os, "geteuid", lambda: 0)
    return anchors


def test_install_copies_the_certificate_and_updates(fake_debian: Path, tmp_path: Path) -> None:
    """As root on Debian: the certificate lands as azt-local-ca.crt and the tool runs."""
    files = ensure_ca(tmp_path / "certs")
    target = install_trust_debian(files.cert_pem)
    assert target == fake_debian / "azt-local-ca.crt"
    assert target.read_bytes() == files.cert_pem.read_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert (tmp_path / "ran").exists()


def test_install_never_copies_a_key(fake_debian: Path, tmp_path: Path) -> None:
    """Given the key+certificate file by mistake, only the certificate is installed."""
    files = ensure_ca(tmp_path / "certs")
    target = install_trust_debian(files.key_pem)
    assert b"PRIVATE KEY" not in target.read_bytes()
    assert target.read_bytes() == files.cert_pem.read_bytes()


def test_install_rejects_a_non_certificate(fake_debian: Path, tmp_path: Path) -> None:
    """A file without a PEM certificate is refused before anything is copied."""
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    with pytest.raises(TrustInstallError, match="not a PEM certificate"):
        install_trust_debian(junk)
    assert not fake_debian.exists()


def test_install_needs_root(
    fake_debian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A normal user gets TrustUnavailableError telling them to use sudo."""
    monkeypatch.setattr(trust_module.os, "geteuid", lambda: 1000)
    with pytest.raises(TrustUnavailableError, match="needs root"):
        install_trust_debian(ensure_ca(tmp_path / "certs").cert_pem)
    assert not (tmp_path / "ran").exists()


def test_install_needs_a_debian_like_system(
    fake_debian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without update-ca-certificates on PATH the install is refused as unsupported."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TrustUnavailableError, match="not a Debian-like system"):
        install_trust_debian(ensure_ca(tmp_path / "certs").cert_pem)


def test_install_reports_a_failing_update(
    fake_debian: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing update-ca-certificates becomes a TrustInstallError with its output."""
    tool = tmp_path / "bin" / "update-ca-certificates"
    tool.write_text("#!/bin/sh\necho 'no space left' >&2\nexit 3\n")
    with pytest.raises(TrustInstallError, match="no space left") as caught:
        install_trust_debian(ensure_ca(tmp_path / "certs").cert_pem)
    assert not isinstance(caught.value, TrustUnavailableError)
