"""Throwaway PKI for the test control plane: a CA, a serving certificate, service-account keys."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=2)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    path.write_bytes(data)
    if private:
        path.chmod(0o600)
    return path


class CertificateAuthority:
    """A self-signed CA that lives as long as one control plane."""

    def __init__(self, common_name: str = "siteplane-test-ca") -> None:
        now = datetime.datetime.now(datetime.UTC)
        self.key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue_serving(self, hosts: list[str]) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) for a TLS server answering on ``hosts`` (names or IPs)."""
        now = datetime.datetime.now(datetime.UTC)
        key = _key()
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    def issue_client(self, common_name: str, organization: str) -> tuple[bytes, bytes]:
        """(certificate PEM, key PEM) a client authenticates with: user ``common_name`` in group ``organization``."""
        now = datetime.datetime.now(datetime.UTC)
        key = _key()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


# The files write_pki creates in its directory, by what they hold.
PKI_FILES = {
    "ca": "ca.crt",
    "serving_cert": "apiserver.crt",
    "serving_key": "apiserver.key",
    "sa_key": "sa.key",
    "sa_pub": "sa.pub",
}


def pki_paths(directory: Path) -> dict[str, Path]:
    """Where write_pki puts each file in ``directory``."""
    return {role: directory / name for role, name in PKI_FILES.items()}


def write_pki(directory: Path, hosts: list[str], clients: Sequence[tuple[str, str, str]] = ()) -> dict[str, Path]:
    """Create the CA, the apiserver's serving pair and the service-account signing pair.

    ``clients``: (file stem, user, group) of client certificates to issue too, as ``<stem>.crt``
    and ``<stem>.key`` (the CA's key is not kept, so they cannot be issued later).
    """
    ca = CertificateAuthority()
    for stem, user, group in clients:
        client_cert, client_key = ca.issue_client(user, group)
        _write(directory / f"{stem}.crt", client_cert)
        _write(directory / f"{stem}.key", client_key, private=True)
    cert, key = ca.issue_serving(hosts)
    sa_key = _key()
    sa_pub = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    paths = pki_paths(directory)
    _write(paths["ca"], ca.cert_pem)
    _write(paths["serving_cert"], cert)
    _write(paths["serving_key"], key, private=True)
    _write(paths["sa_key"], _pem_key(sa_key), private=True)
    _write(paths["sa_pub"], sa_pub)
    return paths
