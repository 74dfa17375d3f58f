"""The azt certificate authority: the CA the proxy listener signs intercepted hosts with.

It lives in `<data dir>/certs` under mitmproxy's file names (basename "mitmproxy"), so
mitmproxy's TlsConfig loads it as its own; only the subject says "azt". `mitmproxy-ca.pem`
holds the key and the certificate and is the source of truth: every other file is derived
from it and rewritten when it no longer matches.

Clients that replace their trust store (Python's httpx and requests, OpenSSL's
`SSL_CERT_FILE`) get a combined bundle: certifi's roots plus the azt CA, so hosts the proxy
passes through still verify.
"""

import hashlib
import os
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from mitmproxy.certs import CertStore

from azt.config import data_dir

# mitmproxy's TlsConfig looks for `<confdir>/mitmproxy-ca.pem`; the basename must stay.
BASENAME = "mitmproxy"
ORGANIZATION = "azt"
COMMON_NAME = "azt local CA"
KEY_SIZE = 2048  # mitmproxy's own default key_size
BUNDLE_FILE = "azt-bundle.pem"

ExportFormat = Literal["pem", "der", "p12"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("pem", "der", "p12")


@dataclass(frozen=True)
class CaFiles:
    """Where the CA's files are. Only `key_pem` and `key_p12` hold the private key."""

    directory: Path
    key_pem: Path  # private key + certificate; what mitmproxy loads
    key_p12: Path  # private key + certificate, PKCS#12
    cert_pem: Path  # the certificate to hand to clients
    cert_cer: Path  # the same PEM under the name Android and Windows expect
    p12: Path  # the certificate alone, PKCS#12
    bundle: Path  # certifi's roots + the certificate

    @classmethod
    def in_dir(cls, directory: Path) -> "CaFiles":
        return cls(
            directory=directory,
            key_pem=directory / f"{BASENAME}-ca.pem",
            key_p12=directory / f"{BASENAME}-ca.p12",
            cert_pem=directory / f"{BASENAME}-ca-cert.pem",
            cert_cer=directory / f"{BASENAME}-ca-cert.cer",
            p12=directory / f"{BASENAME}-ca-cert.p12",
            bundle=directory / BUNDLE_FILE,
        )


def ca_dir() -> Path:
    """The directory the gateway passes to mitmproxy as `confdir`."""
    return data_dir() / "certs"


def ensure_ca(confdir: Path | None = None) -> CaFiles:
    """The CA's files, creating the CA on first use and repairing derived files."""
    files = CaFiles.in_dir(confdir if confdir is not None else ca_dir())
    files.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not files.key_pem.exists():
        _create(files)
    _sync_derived(files)
    return files


def _create(files: CaFiles) -> None:
    """Generate a CA in a scratch directory and claim `key_pem` with a hard link.

    The link fails if the file exists, so when `azt start` and `azt env` race on first use,
    exactly one CA wins and nobody ever reads a half-written key file.
    """
    scratch = Path(tempfile.mkdtemp(dir=files.directory, prefix=".new-ca-"))
    try:
        CertStore.create_store(
            scratch, BASENAME, KEY_SIZE, organization=ORGANIZATION, cn=COMMON_NAME
        )
        _claim(scratch / files.key_pem.name, files.key_pem)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _claim(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except FileExistsError:
        return  # another process created the CA first; use theirs
    except OSError:
        # Some filesystems have no hard links; fall back to an atomic rename.
        if not target.exists():
            os.replace(source, target)


def _sync_derived(files: CaFiles) -> None:
    """Rewrite the derived files when they are missing or belong to an older CA."""
    cert = _load_certificate(files.key_pem)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if _read(files.cert_pem) == pem and files.cert_cer.exists() and files.p12.exists():
        return
    key = serialization.load_pem_private_key(files.key_pem.read_bytes(), password=None)
    key_p12 = pkcs12.serialize_key_and_certificates(
        name=COMMON_NAME.encode(),
        key=key,  # type: ignore[arg-type]  # always RSA: mitmproxy writes it
        cert=cert,
        cas=None,
        encryption_algorithm=serialization.NoEncryption(),
    )
    write_atomic(files.key_p12, key_p12, mode=0o600)
    write_atomic(files.p12, _cert_p12(cert), mode=0o644)
    write_atomic(files.cert_cer, pem, mode=0o644)
    # Written last: it is the file the check above compares.
    write_atomic(files.cert_pem, pem, mode=0o644)


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _load_certificate(key_pem: Path) -> x509.Certificate:
    # The file holds the key first, then the certificate; only certificate blocks are parsed.
    return x509.load_pem_x509_certificates(key_pem.read_bytes())[0]


def _cert_p12(cert: x509.Certificate) -> bytes:
    return pkcs12.serialize_key_and_certificates(
        name=COMMON_NAME.encode(),
        key=None,
        cert=cert,
        cas=None,
        encryption_algorithm=serialization.NoEncryption(),
    )


def ca_certificate(confdir: Path | None = None) -> x509.Certificate:
    """The azt CA certificate (created if missing)."""
    return _load_certificate(ensure_ca(confdir).key_pem)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER form as colon-separated hex, as browsers and openssl show it."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def export(format: ExportFormat, confdir: Path | None = None) -> bytes:
    """The CA certificate, never the key, as PEM, DER or a key-less PKCS#12."""
    cert = ca_certificate(confdir)
    if format == "pem":
        return cert.public_bytes(serialization.Encoding.PEM)
    if format == "der":
        return cert.public_bytes(serialization.Encoding.DER)
    if format == "p12":
        return _cert_p12(cert)
    raise ValueError(f"unknown certificate format {format!r}; use one of {EXPORT_FORMATS}")


def bundle_bytes(files: CaFiles) -> bytes:
    """certifi's roots followed by the azt CA certificate."""
    roots = Path(certifi.where()).read_bytes()
    if not roots.endswith(b"\n"):
        roots += b"\n"
    header = f"\n# {COMMON_NAME} ({ORGANIZATION})\n".encode()
    return roots + header + files.cert_pem.read_bytes()


def write_bundle(path: Path | None = None, confdir: Path | None = None) -> Path:
    """Write the combined bundle (default `<certs dir>/azt-bundle.pem`) and return its path."""
    files = ensure_ca(confdir)
    target = path if path is not None else files.bundle
    write_atomic(target, bundle_bytes(files), mode=0o644)
    return target


def ensure_bundle(confdir: Path | None = None) -> Path:
    """The default bundle, rewritten only when missing or out of date (new CA, new certifi)."""
    files = ensure_ca(confdir)
    expected = bundle_bytes(files)
    if _read(files.bundle) != expected:
        write_atomic(files.bundle, expected, mode=0o644)
    return files.bundle


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` with `data` in one step: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600 in the target's directory, so the rename is atomic and
    # a key is never readable by others, not even before the chmod.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
