"""The admission webhook's TLS: a private CA generated at start (its certificate becomes the
webhook configuration's caBundle), or certificates mounted from a Secret (e.g. cert-manager's)."""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class WebhookCertificates:
    cert_file: Path
    key_file: Path
    ca_file: Path

    @classmethod
    def mounted(cls, directory: Path) -> WebhookCertificates:
        certs = cls(directory / "tls.crt", directory / "tls.key", directory / "ca.crt")
        missing = [p.name for p in (certs.cert_file, certs.key_file, certs.ca_file) if not p.is_file()]
        if missing:
            raise ValueError(f"webhook certificate directory {directory} lacks {', '.join(missing)}")
        return certs


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate(directory: Path, hosts: list[str]) -> WebhookCertificates:
    """A fresh CA and a serving certificate for ``hosts``; the keys are written 0600 and never leave."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("siteplane webhook CA"))
        .issuer_name(_name("siteplane webhook CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in dict.fromkeys(hosts)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    certs = WebhookCertificates(directory / "tls.crt", directory / "tls.key", directory / "ca.crt")
    fd = os.open(certs.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # O_CREAT's mode applies only to a new file, not a reused one
        out.write(_pem_key(key))
    certs.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    certs.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    return certs
