"""The azt CA, the combined trust bundle, and the steps to get them trusted."""

from azt.certs.ca import (
    BUNDLE_FILE,
    COMMON_NAME,
    EXPORT_FORMATS,
    CaFiles,
    ExportFormat,
    ca_certificate,
    ca_dir,
    ensure_bundle,
    ensure_ca,
    export,
    fingerprint,
    write_bundle,
)
from azt.certs.trust import (
    OS_NAMES,
    TrustInstallError,
    TrustUnavailableError,
    detect_os,
    install_trust_debian,
    trust_steps,
)

__all__ = [
    "BUNDLE_FILE",
    "COMMON_NAME",
    "EXPORT_FORMATS",
    "OS_NAMES",
    "CaFiles",
    "ExportFormat",
    "TrustInstallError",
    "TrustUnavailableError",
    "ca_certificate",
    "ca_dir",
    "detect_os",
    "ensure_bundle",
    "ensure_ca",
    "export",
    "fingerprint",
    "install_trust_debian",
    "trust_steps",
    "write_bundle",
]
