"""Getting the azt CA trusted: steps per operating system and per client, and the one install
azt does itself (Debian-like systems, as root).

A system store is not enough on its own: certifi-based Python clients ignore it, and Node and
the Codex CLI have knobs of their own. `azt env` and `azt run` set those knobs; the steps
below say what they do, for people wiring a client by hand.
"""

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from azt.certs.ca import CaFiles, ca_dir, write_atomic

DEBIAN_ANCHORS = Path("/usr/local/share/ca-certificates")
DEBIAN_CERT_NAME = "azt-local-ca.crt"  # update-ca-certificates only picks up *.crt

OS_NAMES = ("debian", "fedora", "arch", "macos", "windows")

# Distributions named by their family: os-release IDs, and aliases people type.
_FAMILIES = {
    "debian": "debian",
    "ubuntu": "debian",
    "fedora": "fedora",
    "rhel": "fedora",
    "centos": "fedora",
    "arch": "arch",
    "macos": "macos",
    "darwin": "macos",
    "windows": "windows",
    "win32": "windows",
}


class TrustInstallError(RuntimeError):
    """Raised when installing the CA into the system store failed; the message says why."""


class TrustUnavailableError(TrustInstallError):
    """Raised when azt cannot even try here: not a Debian-like system, or not root."""


def detect_os() -> str:
    """This machine's family: one of `OS_NAMES`, or "linux"/the platform name if unknown."""
    if sys.platform == "darwin":
        return "macos"
    if sys.platform == "win32":
        return "windows"
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return sys.platform
    ids = [release.get("ID", ""), *release.get("ID_LIKE", "").split()]
    for distribution in ids:
        if distribution in _FAMILIES:
            return _FAMILIES[distribution]
    return "linux"


def trust_steps(os_name: str, files: CaFiles | None = None) -> list[str]:
    """Human steps to trust the CA on `os_name`, then the per-client notes."""
    files = files if files is not None else CaFiles.in_dir(ca_dir())
    family = _FAMILIES.get(os_name.lower(), "")
    system = _SYSTEM_STEPS.get(family, _generic_steps)(files)
    return system + [""] + client_notes(files)


def client_notes(files: CaFiles) -> list[str]:
    return [
        "Clients that do not read the system store (`azt env` / `azt run` set all of these):",
        f"  Python (httpx, openai, requests): SSL_CERT_FILE={files.bundle} and "
        f"REQUESTS_CA_BUNDLE={files.bundle}; the bundle is certifi's roots plus the azt CA, "
        "because these variables replace the trust store (run `azt certs bundle`).",
        f"  Node (Claude Code, OpenClaw, openai-node): NODE_EXTRA_CA_CERTS={files.cert_pem} "
        "(added to Node's roots); Node >= 24 also needs NODE_USE_ENV_PROXY=1 to use HTTPS_PROXY.",
        f"  Codex CLI: SSL_CERT_FILE={files.bundle} or CODEX_CA_CERTIFICATE={files.cert_pem}, "
        "and NO_PROXY=127.0.0.1,localhost so its base-URL traffic is not proxied.",
        f"  curl: --cacert {files.bundle} or CURL_CA_BUNDLE={files.bundle}.",
    ]


def _debian_steps(files: CaFiles) -> list[str]:
    anchor = DEBIAN_ANCHORS / DEBIAN_CERT_NAME
    return [
        "Debian / Ubuntu: add the CA to the system store (as root):",
        f"  sudo cp {files.cert_pem} {anchor}",
        "  sudo update-ca-certificates",
        '  or: sudo azt certs trust --install --cert "$(azt certs path)"',
        f"Undo: sudo rm {anchor} && sudo update-ca-certificates --fresh",
    ]


def _fedora_steps(files: CaFiles) -> list[str]:
    anchor = Path("/etc/pki/ca-trust/source/anchors") / "azt-local-ca.pem"
    return [
        "Fedora / RHEL / CentOS: add the CA to the system store (as root):",
        f"  sudo cp {files.cert_pem} {anchor}",
        "  sudo update-ca-trust",
        f"Undo: sudo rm {anchor} && sudo update-ca-trust",
    ]


def _arch_steps(files: CaFiles) -> list[str]:
    return [
        "Arch Linux: add the CA to the system store (as root):",
        f"  sudo trust anchor --store {files.cert_pem}",
        f"Undo: sudo trust anchor --remove {files.cert_pem}",
    ]


def _macos_steps(files: CaFiles) -> list[str]:
    return [
        "macOS: trust the CA in the System keychain (asks for your password):",
        "  sudo security add-trusted-cert -d -r trustRoot "
        f"-k /Library/Keychains/System.keychain {files.cert_pem}",
        "  (or for your user only: security add-trusted-cert -r trustRoot "
        f"-k ~/Library/Keychains/login.keychain-db {files.cert_pem})",
        f"Undo: sudo security remove-trusted-cert -d {files.cert_pem}",
    ]


def _windows_steps(files: CaFiles) -> list[str]:
    return [
        "Windows: add the CA to your user's Trusted Root store (no administrator needed):",
        f"  certutil -user -addstore Root {files.cert_cer}",
        "  (for every user, from an administrator prompt: "
        f"certutil -addstore Root {files.cert_cer})",
        'Undo: certutil -user -delstore Root "azt local CA"',
    ]


def _generic_steps(files: CaFiles) -> list[str]:
    return [
        "Add this certificate to the system's trusted roots with your platform's tool:",
        f"  {files.cert_pem}",
    ]


_SYSTEM_STEPS = {
    "debian": _debian_steps,
    "fedora": _fedora_steps,
    "arch": _arch_steps,
    "macos": _macos_steps,
    "windows": _windows_steps,
}


def _certificate_only(path: Path) -> bytes:
    """The first certificate in `path`, re-encoded, so a key in the same file never leaks."""
    try:
        certificate = x509.load_pem_x509_certificates(path.read_bytes())[0]
    except (OSError, ValueError) as e:
        raise TrustInstallError(f"{path} is not a PEM certificate: {e}") from e
    return certificate.public_bytes(serialization.Encoding.PEM)


def install_trust_debian(cert: Path) -> Path:
    """Copy `cert` into Debian's local anchors and run `update-ca-certificates`.

    Returns where the certificate was installed. Raises `TrustUnavailableError` when this is
    not a Debian-like system or not running as root, `TrustInstallError` when the update fails.
    """
    tool = shutil.which("update-ca-certificates")
    if tool is None or not DEBIAN_ANCHORS.parent.is_dir():
        raise TrustUnavailableError(
            "this is not a Debian-like system (no update-ca-certificates); "
            "follow the steps `azt certs trust` prints instead"
        )
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        raise TrustUnavailableError(
            "installing into the system store needs root: run "
            '`sudo azt certs trust --install --cert "$(azt certs path)"`'
        )
    target = DEBIAN_ANCHORS / DEBIAN_CERT_NAME
    write_atomic(target, _certificate_only(cert), mode=0o644)
    result = subprocess.run([tool], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise TrustInstallError(f"update-ca-certificates failed ({result.returncode}): {output}")
    return target
