"""`azt certs ...`: the CA the proxy listener signs with, and how to get it trusted."""

import os
import sys
from pathlib import Path
from typing import Any

import click
from cryptography import x509

from azt.certs import (
    EXPORT_FORMATS,
    OS_NAMES,
    CaFiles,
    ExportFormat,
    TrustInstallError,
    TrustUnavailableError,
    ca_certificate,
    detect_os,
    ensure_ca,
    export,
    fingerprint,
    install_trust_debian,
    trust_steps,
    write_bundle,
)
from azt.certs.ca import write_atomic
from azt.cli.common import EXIT_USAGE, fail, print_json


@click.group()
def certs() -> None:
    """The azt CA that apps using the HTTP proxy must trust."""


@certs.command()
def path() -> None:
    """Print the CA certificate's path (creating the CA on first use).

    \b
    Example: NODE_EXTRA_CA_CERTS="$(azt certs path)" node app.js
    """
    click.echo(str(ensure_ca().cert_pem))


def describe(cert: x509.Certificate, files: CaFiles) -> dict[str, Any]:
    return {
        "subject": cert.subject.rfc4514_string(),
        "sha256": fingerprint(cert),
        "not_before": cert.not_valid_before_utc.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "cert_pem": str(files.cert_pem),
        "cert_cer": str(files.cert_cer),
        "cert_p12": str(files.p12),
        "key_pem": str(files.key_pem),
        "bundle": str(files.bundle),
    }


@certs.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(as_json: bool) -> None:
    """Show the CA's subject, SHA-256 fingerprint, validity and files."""
    files = ensure_ca()
    info = describe(ca_certificate(), files)
    if as_json:
        print_json(info)
        return
    rows = [
        ("Subject", info["subject"]),
        ("SHA-256", info["sha256"]),
        ("Valid from", info["not_before"]),
        ("Valid until", info["not_after"]),
        ("Certificate", info["cert_pem"]),
        ("Bundle", info["bundle"] + ("" if files.bundle.exists() else " (not written yet)")),
        ("Private key", info["key_pem"] + " (never share it)"),
    ]
    for label, value in rows:
        click.echo(f"{label:<12} {value}")


@certs.command(name="export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default="pem",
    show_default=True,
    help="PEM text, DER binary, or PKCS#12 without the key (for Windows and Android).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File.")
def export_command(fmt: ExportFormat, output: Path | None) -> None:
    """Export the CA certificate (never its key).

    PEM goes to stdout unless -o is given; DER and PKCS#12 need -o.

    \b
    Example: azt certs export --format der -o azt-ca.der
    """
    data = export(fmt)
    if output is None:
        if fmt != "pem":
            fail(f"--format {fmt} is binary: give a file with -o", EXIT_USAGE)
        click.echo(data.decode(), nl=False)
        return
    write_atomic(output, data, mode=0o644)
    click.echo(str(output))


@certs.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it (default: azt-bundle.pem next to the CA).",
)
def bundle(output: Path | None) -> None:
    """Write certifi's roots plus the azt CA to one file.

    For clients whose CA setting replaces their roots (Python, curl).

    \b
    Example: SSL_CERT_FILE="$(azt certs bundle)" python app.py
    """
    click.echo(str(write_bundle(output)))


@certs.command()
@click.option("--install", is_flag=True, help="Install into the system store (Debian, as root).")
@click.option(
    "--os",
    "os_name",
    type=click.Choice(OS_NAMES),
    help="Print the steps for another system than this one.",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate to install (default: this user's azt CA).",
)
def trust(install: bool, os_name: str | None, cert: Path | None) -> None:
    """Print how to trust the CA, or --install it.

    --install adds it to the system store on Debian-like systems, as root.

    \b
    Example: sudo azt certs trust --install --cert "$(azt certs path)"
    """
    if not install:
        files = ensure_ca()
        for line in trust_steps(os_name or detect_os(), files):
            click.echo(line)
        return
    if cert is None and _under_sudo():
        fail(
            "under sudo, azt would install root's own CA, not yours: run "
            '`sudo azt certs trust --install --cert "$(azt certs path)"`',
            EXIT_USAGE,
        )
    source = cert if cert is not None else ensure_ca().cert_pem
    try:
        target = install_trust_debian(source)
    except TrustUnavailableError as e:
        fail(str(e), EXIT_USAGE)
    except TrustInstallError as e:
        fail(str(e))
    click.echo(f"Installed {source} as {target}; the system store now trusts it.")
    click.echo("Python clients still need the bundle: see `azt env`.")


def _under_sudo() -> bool:
    # sudo resets HOME, so `azt` run through it looks at root's data directory.
    return "SUDO_USER" in os.environ and "AZT_HOME" not in os.environ and sys.platform != "win32"


COMMANDS = [certs]
