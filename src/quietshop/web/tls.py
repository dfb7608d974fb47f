"""Certificates for HTTPS (promise P3): the operator's own, or a local CA made like mkcert.

On a developer's machine there is no public certificate for ``localhost``, and a
self-signed leaf teaches people to click through browser warnings. Instead we
create a small certificate authority once, sign a short-lived leaf with it, and
tell the person how to trust that one CA. Nothing leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shlex
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from quietshop.clock import Clock, system_clock
from quietshop.errors import EnvironmentProblem
from quietshop.settings import Settings

CA_CERT_NAME = "ca.pem"
CA_KEY_NAME = "ca-key.pem"
LEAF_CERT_NAME = "localhost.pem"
LEAF_KEY_NAME = "localhost-key.pem"

CA_LIFETIME = dt.timedelta(days=3650)
# Browsers cap leaf lifetimes at 825 days (398 for public CAs), and sslyze's Mozilla
# "intermediate" check fails any leaf living more than 366 days, so we stay below both.
LEAF_LIFETIME = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
# Backdate a little so a client whose clock runs slightly behind still accepts a fresh cert.
CLOCK_SKEW = dt.timedelta(minutes=5)

CA_NAME_PREFIX = "Quietshop local development CA"
NSS_NICKNAME = "Quietshop local CA"  # the CA's name in a browser's certificate database
DEFAULT_BASE_URL = "https://localhost:8443"  # what Settings gives when nothing is set
ALWAYS_DNS = ("localhost",)
ALWAYS_IPS = ("127.0.0.1", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::")  # noqa: S104 - names, not a bind


class CertificateConfigError(EnvironmentProblem):
    """The configured certificate or key cannot be used; the message says why."""


@dataclass(frozen=True)
class CertificatePaths:
    """Where the server's certificate and key are; ``ca_cert`` only for the local CA."""

    ca_cert: Path | None
    cert: Path
    key: Path
    # True when this call created the CA, so the person has to trust it (again).
    ca_created: bool = False


def ensure_certificate(settings: Settings, clock: Clock = system_clock) -> CertificatePaths:
    """Return usable certificate paths, creating the local CA and leaf when needed.

    ``clock`` dates new certificates and judges old ones. Browsers check them against the
    real time, so only tests pass anything but ``system_clock``.
    """
    if settings.tls_cert is not None or settings.tls_key is not None:
        return _configured_certificate(settings.tls_cert, settings.tls_key)
    return ensure_local_certificate(settings.tls_dir, wanted_names(settings), clock)


def _configured_certificate(cert: Path | None, key: Path | None) -> CertificatePaths:
    if cert is None or key is None:
        raise CertificateConfigError(
            "set both QUIETSHOP_TLS_CERT and QUIETSHOP_TLS_KEY, or neither "
            "(then a local development certificate is generated)"
        )
    for label, path in (("QUIETSHOP_TLS_CERT", cert), ("QUIETSHOP_TLS_KEY", key)):
        if not path.is_file():
            raise CertificateConfigError(f"{label}: no such file: {path}")
    try:
        # The same check granian makes, done here so the error names our settings.
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as error:
        raise CertificateConfigError(
            f"QUIETSHOP_TLS_CERT {cert} and QUIETSHOP_TLS_KEY {key} are not a usable "
            f"PEM certificate chain and matching private key: {error}"
        ) from error
    return CertificatePaths(ca_cert=None, cert=cert, key=key)


def wanted_names(settings: Settings) -> list[str]:
    """The names the leaf must carry: localhost always, plus the host people are sent to."""
    names = [*ALWAYS_DNS, *ALWAYS_IPS]
    for extra in (urlsplit(settings.base_url).hostname, settings.bind_host):
        if extra and extra not in WILDCARD_BINDS and extra not in names:
            names.append(extra)
    return names


def ensure_local_certificate(
    tls_dir: Path, names: Iterable[str], clock: Clock = system_clock
) -> CertificatePaths:
    """Create or reuse the local CA and a leaf for ``names`` inside ``tls_dir``."""
    names = list(names)
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = clock()
    ca = _load_valid_ca(tls_dir, now)
    ca_created = ca is None
    if ca is None:
        ca = _create_ca(tls_dir, now)
    ca_cert, ca_key = ca
    if ca_created or not _leaf_is_usable(tls_dir, ca_cert, names, now):
        _create_leaf(tls_dir, ca_cert, ca_key, names, now)
    return CertificatePaths(
        ca_cert=tls_dir / CA_CERT_NAME,
        cert=tls_dir / LEAF_CERT_NAME,
        key=tls_dir / LEAF_KEY_NAME,
        ca_created=ca_created,
    )


# --- loading and checking what is on disk ---------------------------------------------


def _load_pair(
    cert_path: Path, key_path: Path
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """A certificate and its EC key from disk, or None if missing, unreadable or mismatched."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.public_key() != key.public_key():
        return None
    return cert, key


def _is_current(cert: x509.Certificate, now: dt.datetime) -> bool:
    """Valid now and for at least RENEW_BEFORE more, so nobody meets an expiry mid-session."""
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def _load_valid_ca(
    tls_dir: Path, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    pair = _load_pair(tls_dir / CA_CERT_NAME, tls_dir / CA_KEY_NAME)
    if pair is None or not _is_current(pair[0], now):
        return None
    try:
        is_ca = pair[0].extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return None
    return pair if is_ca else None


def _leaf_is_usable(
    tls_dir: Path, ca_cert: x509.Certificate, names: list[str], now: dt.datetime
) -> bool:
    pair = _load_pair(tls_dir / LEAF_CERT_NAME, tls_dir / LEAF_KEY_NAME)
    if pair is None or not _is_current(pair[0], now):
        return False
    leaf = pair[0]
    try:
        # A leaf from an earlier CA (one that was replaced) would not be trusted.
        leaf.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return set(_san_entries(names)) <= set(_leaf_sans(leaf))


def _leaf_sans(leaf: x509.Certificate) -> list[x509.GeneralName]:
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san)


# --- creating ---------------------------------------------------------------------------


def _ca_subject() -> x509.Name:
    # X.509 caps a common name at 64 characters; a long hostname is cut, not refused.
    common_name = f"{CA_NAME_PREFIX} {socket.gethostname()}"[:64]
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_NAME_PREFIX),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _create_ca(
    tls_dir: Path, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _ca_subject()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + CA_LIFETIME)
        # pathlen 0: this CA may sign leaves only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private_key(tls_dir / CA_KEY_NAME, key)
    _write_public(tls_dir / CA_CERT_NAME, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _create_leaf(
    tls_dir: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: list[str],
    now: dt.datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    # Never outlive the CA: a chain is only as valid as its shortest link.
    not_after = min(now + LEAF_LIFETIME, ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(
                        NameOID.ORGANIZATION_NAME, "Quietshop local development certificate"
                    ),
                    x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_san_entries(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private_key(tls_dir / LEAF_KEY_NAME, key)
    _write_public(tls_dir / LEAF_CERT_NAME, cert.public_bytes(serialization.Encoding.PEM))


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    # A CA signs certificates and CRLs only; a leaf only signs TLS handshakes (ECDHE).
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _san_entries(names: Iterable[str]) -> list[x509.GeneralName]:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return entries


# --- writing ----------------------------------------------------------------------------


def _write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(path, pem, mode=0o600)


def _write_public(path: Path, data: bytes) -> None:
    _write_atomically(path, data, mode=0o644)


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write a sibling file created with ``mode`` from the start, then rename it over ``path``.

    Creating with O_EXCL and the final mode means a private key is never readable by
    others, not even for a moment; the rename means a crash leaves the old file whole.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have taken bits away; it never adds any
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# --- telling people ---------------------------------------------------------------------


def trust_instructions(ca_path: Path, *, base_url: str = DEFAULT_BASE_URL) -> str:
    """How a person makes their browsers trust the local CA: plain text, grouped by OS.

    Every command works as printed in the shell it is listed under, also on a fresh
    machine whose browser has never run: the CA path is quoted for that shell, and the
    Chromium database is created when it is missing. ``base_url`` is where the shop is
    served (``Settings.base_url``), for the curl line.
    """
    ca = ca_path.resolve()
    sh = shlex.quote(str(ca))
    ps = _powershell_quote(str(ca))
    base = base_url.rstrip("/")
    nssdb = '"sql:$HOME/.pki/nssdb"'
    add = f'certutil -A -n "{NSS_NICKNAME}" -t "C,," -i {sh}'
    chromium = "\n    ".join(
        [
            'mkdir -p "$HOME/.pki/nssdb"',
            f'[ -f "$HOME/.pki/nssdb/cert9.db" ] || certutil -d {nssdb} -N --empty-password',
            f"{add} -d {nssdb}",
        ]
    )
    firefox = (
        'for db in "$HOME"/.mozilla/firefox/*/cert9.db'
        ' "$HOME"/snap/firefox/common/.mozilla/firefox/*/cert9.db;'
        f' do [ -f "$db" ] || continue; {add} -d "sql:${{db%/*}}"; done'
    )
    macos_system = (
        f"sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {sh}"
    )
    macos_login = (
        'security add-trusted-cert -r trustRoot -k "$HOME/Library/Keychains/login.keychain-db" '
        + sh
    )
    return f"""\
Browsers will warn about {base}/ until they trust the local CA in
  {ca}
Trust it once; it stays valid for 10 years and signs only this machine's certificate.
Restart the browser afterwards.

Linux (certutil: sudo apt install libnss3-tools, or sudo dnf install nss-tools)
  Chromium / Chrome:
    {chromium}
  Firefox, every profile (start Firefox once first, so that a profile exists):
    {firefox}
    (or Settings > Privacy & Security > Certificates > View Certificates > Authorities >
    Import, and tick "Trust this CA to identify websites")
  System store, Debian / Ubuntu (curl, Python and most tools; not the browsers):
    sudo cp {sh} /usr/local/share/ca-certificates/quietshop-local-ca.crt
    sudo update-ca-certificates
  System store, Fedora / RHEL:
    sudo cp {sh} /etc/pki/ca-trust/source/anchors/quietshop-local-ca.pem
    sudo update-ca-trust

macOS (Safari, Chrome, curl)
  For all users:
    {macos_system}
  Or for you only, without sudo (asks for your password):
    {macos_login}

Windows (Edge, Chrome), in PowerShell, for you only; confirm the dialog
    Import-Certificate -FilePath {ps} -CertStoreLocation Cert:\\CurrentUser\\Root
  Or:
    certutil -user -addstore Root {ps}

Firefox on macOS and Windows trusts these stores while security.enterprise_roots.enabled
is true (about:config; the default since Firefox 120).

One command only:
    curl --cacert {sh} {base}/

Keep {ca.parent / CA_KEY_NAME} private:
whoever holds it can impersonate any website to a browser that trusts this CA.
Remove the trust when you no longer develop on this machine."""


def _powershell_quote(text: str) -> str:
    """``text`` as one PowerShell literal: single quotes, in which nothing is expanded."""
    for quote in "'\u2018\u2019\u201a\u201b":  # PowerShell takes all of these as '
        text = text.replace(quote, quote * 2)
    return f"'{text}'"
