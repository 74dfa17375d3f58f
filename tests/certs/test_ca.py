"""The azt CA on disk: created once, under mitmproxy's names, exported without its key."""

import stat
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from mitmproxy.certs import CertStore

from azt.certs import (
    COMMON_NAME,
    ca_certificate,
    ca_dir,
    ensure_bundle,
    ensure_ca,
    export,
    fingerprint,
    write_bundle,
)
from azt.certs.ca import BASENAME, KEY_SIZE, CaFiles, _create


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def certificates(data: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(data)


def test_ca_dir_is_under_azt_home(azt_home: Path) -> None:
    """The CA lives in <AZT_HOME>/certs, the confdir `azt start` gives mitmproxy."""
    assert ca_dir() == azt_home / "certs"


def test_creates_the_ca_named_azt(tmp_path: Path) -> None:
    """A fresh directory gets a CA whose subject says azt, under mitmproxy's file names."""
    files = ensure_ca(tmp_path / "certs")
    cert = x509.load_pem_x509_certificate(files.cert_pem.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == COMMON_NAME
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "azt"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert files.key_pem.name == "mitmproxy-ca.pem"
    for path in (files.key_pem, files.key_p12, files.cert_pem, files.cert_cer, files.p12):
        assert path.exists(), path


def test_mitmproxy_loads_the_same_ca(tmp_path: Path) -> None:
    """mitmproxy's own loader (what TlsConfig calls) finds the azt CA instead of making one."""
    files = ensure_ca(tmp_path)
    store = CertStore.from_store(tmp_path, BASENAME, KEY_SIZE)
    assert store.default_ca.cn == COMMON_NAME
    assert store.default_ca.to_pem() == files.cert_pem.read_bytes()


def test_is_idempotent(tmp_path: Path) -> None:
    """A second call keeps the existing CA and its files untouched."""
    first = ensure_ca(tmp_path)
    key = first.key_pem.read_bytes()
    stamp = first.cert_pem.stat().st_mtime_ns
    second = ensure_ca(tmp_path)
    assert second == first
    assert second.key_pem.read_bytes() == key
    assert second.cert_pem.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_keys_are_private_and_certificates_public(tmp_path: Path) -> None:
    """Files holding the key are 0600, the directory 0700, the certificate files 0644."""
    files = ensure_ca(tmp_path / "certs")
    assert mode(files.directory) == 0o700
    assert mode(files.key_pem) == 0o600
    assert mode(files.key_p12) == 0o600
    for public in (files.cert_pem, files.cert_cer, files.p12):
        assert mode(public) == 0o644


def test_keeps_an_existing_mitmproxy_ca(tmp_path: Path) -> None:
    """A confdir mitmproxy already populated keeps its CA (clients may already trust it)."""
    CertStore.create_store(tmp_path, BASENAME, KEY_SIZE)
    before = (tmp_path / "mitmproxy-ca-cert.pem").read_bytes()
    ensure_ca(tmp_path)
    assert (tmp_path / "mitmproxy-ca-cert.pem").read_bytes() == before


def test_repairs_derived_files_from_the_key_file(tmp_path: Path) -> None:
    """Missing or stale certificate files are rewritten from mitmproxy-ca.pem."""
    files = ensure_ca(tmp_path)
    good = files.cert_pem.read_bytes()
    files.cert_cer.unlink()
    files.cert_pem.write_bytes(b"stale")
    ensure_ca(tmp_path)
    assert files.cert_pem.read_bytes() == good
    assert files.cert_cer.read_bytes() == good


def test_lost_race_keeps_the_winner(tmp_path: Path) -> None:
    """If another process created the CA first, its CA is used and nothing is overwritten."""
    files = CaFiles.in_dir(tmp_path)
    CertStore.create_store(tmp_path, BASENAME, KEY_SIZE, organization="azt", cn="winner")
    winner = files.key_pem.read_bytes()
    _create(files)  # the loser generates a CA, then finds the key file taken
    assert files.key_pem.read_bytes() == winner


def test_fingerprint_is_sha256_colon_hex(tmp_path: Path) -> None:
    """The fingerprint is the SHA-256 of the DER certificate, as openssl prints it."""
    ensure_ca(tmp_path)
    cert = ca_certificate(tmp_path)
    expected = cert.fingerprint(hashes.SHA256())
    value = fingerprint(cert)
    assert value == ":".join(f"{b:02X}" for b in expected)
    assert len(value.split(":")) == 32


@pytest.mark.parametrize("fmt", ["pem", "der", "p12"])
def test_exports_parse_back_to_the_ca_without_key(tmp_path: Path, fmt: str) -> None:
    """Every export format holds the CA certificate and never the private key."""
    ensure_ca(tmp_path)
    data = export(fmt, tmp_path)  # type: ignore[arg-type]
    expected = ca_certificate(tmp_path)
    if fmt == "pem":
        assert certificates(data) == [expected]
    elif fmt == "der":
        assert x509.load_der_x509_certificate(data) == expected
    else:
        key, cert, extra = pkcs12.load_key_and_certificates(data, None)
        assert key is None
        assert [c for c in (cert, *extra) if c is not None] == [expected]
    assert b"PRIVATE KEY" not in data
    key_der = serialization.load_pem_private_key(
        (tmp_path / "mitmproxy-ca.pem").read_bytes(), None
    ).private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert key_der[-64:] not in data


def test_export_rejects_an_unknown_format(tmp_path: Path) -> None:
    """A format outside pem/der/p12 is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="pem"):
        export("jks", tmp_path)  # type: ignore[arg-type]


def test_bundle_is_certifi_roots_plus_the_ca(tmp_path: Path) -> None:
    """The default bundle holds every certifi root, then the azt CA last."""
    path = write_bundle(confdir=tmp_path)
    assert path == tmp_path / "azt-bundle.pem"
    roots = Path(certifi.where()).read_bytes()
    bundled = path.read_bytes()
    # Compared as text: parsing certifi's roots warns about one legacy serial number.
    assert bundled.startswith(roots)
    assert bundled.endswith(export("pem", tmp_path))
    assert bundled.count(b"BEGIN CERTIFICATE") == roots.count(b"BEGIN CERTIFICATE") + 1
    assert b"PRIVATE KEY" not in bundled


def test_bundle_to_another_path(tmp_path: Path) -> None:
    """An explicit path is written, with parents created, and returned."""
    target = tmp_path / "out" / "ca.pem"
    assert write_bundle(target, confdir=tmp_path / "certs") == target
    assert target.read_bytes().endswith(export("pem", tmp_path / "certs"))


def test_ensure_bundle_refreshes_a_stale_bundle(tmp_path: Path) -> None:
    """ensure_bundle leaves a current bundle alone and rewrites an outdated one."""
    path = ensure_bundle(tmp_path)
    stamp = path.stat().st_mtime_ns
    assert ensure_bundle(tmp_path).stat().st_mtime_ns == stamp
    path.write_bytes(b"old")
    ensure_bundle(tmp_path)
    assert path.read_bytes().endswith(export("pem", tmp_path))
