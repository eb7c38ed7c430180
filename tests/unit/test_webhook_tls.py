"""The webhook's generated TLS: a private CA that signs one serving certificate, keys kept private."""

from __future__ import annotations

import ipaddress
import re
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from siteplane.kube.webhook_tls import WebhookCertificates, generate

HOSTS = ["127.0.0.1", "localhost"]


@pytest.fixture
def certs(tmp_path: Path) -> WebhookCertificates:
    return generate(tmp_path / "tls", HOSTS)


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def handshake(client: ssl.SSLContext, server: ssl.SSLContext, server_name: str) -> bytes:
    """A TLS handshake between two in-memory ends; the server certificate (DER) the client accepted."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_end = client.wrap_bio(to_client, to_server, server_hostname=server_name)
    server_end = server.wrap_bio(to_server, to_client, server_side=True)
    pending = {client_end, server_end}
    for _ in range(20):
        for end in list(pending):
            try:
                end.do_handshake()
                pending.discard(end)
            except ssl.SSLWantReadError:
                pass
        if not pending:
            break
    assert not pending, "handshake did not finish"
    der = client_end.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_generate_writes_the_three_files(certs: WebhookCertificates, tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    assert certs == WebhookCertificates(directory / "tls.crt", directory / "tls.key", directory / "ca.crt")
    assert sorted(p.name for p in directory.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]


def test_serving_key_is_private_to_the_owner(certs: WebhookCertificates) -> None:
    assert stat.S_IMODE(certs.key_file.stat().st_mode) == 0o600


def test_serving_key_matches_the_certificate(certs: WebhookCertificates) -> None:
    key = serialization.load_pem_private_key(certs.key_file.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key().public_numbers() == load(certs.cert_file).public_key().public_numbers()


def test_serving_certificate_is_signed_by_the_ca(certs: WebhookCertificates) -> None:
    ca, cert = load(certs.ca_file), load(certs.cert_file)
    ca_key = ca.public_key()
    assert isinstance(ca_key, ec.EllipticCurvePublicKey)
    assert cert.signature_hash_algorithm is not None
    ca_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    assert cert.issuer == ca.subject
    cert.verify_directly_issued_by(ca)


def test_serving_certificate_names_every_host(certs: WebhookCertificates) -> None:
    san = load(certs.cert_file).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]


def test_duplicate_hosts_are_named_once(tmp_path: Path) -> None:
    certs = generate(tmp_path, ["svc.ns.svc", "svc.ns.svc", "::1"])
    san = load(certs.cert_file).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["svc.ns.svc"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("::1")]


def test_ca_is_a_ca_and_the_serving_certificate_is_not(certs: WebhookCertificates) -> None:
    ca, cert = load(certs.ca_file), load(certs.cert_file)
    ca_constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert ca_constraints.critical
    assert ca_constraints.value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_ca_private_key_is_never_written(certs: WebhookCertificates) -> None:
    blocks = {path.name: path.read_text().count("PRIVATE KEY-----") // 2 for path in certs.key_file.parent.iterdir()}
    assert blocks == {"ca.crt": 0, "tls.crt": 0, "tls.key": 1}
    # ca.crt and tls.crt hold one certificate each, nothing else.
    assert certs.ca_file.read_text().count("-----BEGIN") == 1
    assert certs.cert_file.read_text().count("-----BEGIN") == 1


def test_a_server_context_loads_the_chain(certs: WebhookCertificates) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.cert_file, certs.key_file)


@pytest.mark.parametrize("server_name", HOSTS)
def test_a_client_trusting_only_the_ca_completes_a_handshake(certs: WebhookCertificates, server_name: str) -> None:
    """The apiserver's side: trust only ca.crt (the caBundle), verify the host. In memory, no sockets."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certs.cert_file, certs.key_file)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=certs.ca_file)
    assert handshake(client, server, server_name) == load(certs.cert_file).public_bytes(serialization.Encoding.DER)


def test_a_client_without_the_ca_refuses_the_certificate(certs: WebhookCertificates, tmp_path: Path) -> None:
    other = generate(tmp_path / "other", HOSTS)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certs.cert_file, certs.key_file)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=other.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(client, server, "localhost")


def test_a_client_asking_for_another_host_refuses_the_certificate(certs: WebhookCertificates) -> None:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(certs.cert_file, certs.key_file)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=certs.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(client, server, "webhook.example.com")


def test_regenerating_replaces_everything(tmp_path: Path) -> None:
    first = generate(tmp_path, HOSTS)
    old = {p.name: p.read_bytes() for p in (first.cert_file, first.key_file, first.ca_file)}
    second = generate(tmp_path, HOSTS)
    new = {p.name: p.read_bytes() for p in (second.cert_file, second.key_file, second.ca_file)}
    assert all(old[name] != new[name] for name in old)
    assert stat.S_IMODE(second.key_file.stat().st_mode) == 0o600
    load(second.cert_file).verify_directly_issued_by(load(second.ca_file))


def test_regenerating_over_a_readable_key_file_makes_it_private(tmp_path: Path) -> None:
    stale = tmp_path / "tls.key"
    stale.write_text("stale")
    stale.chmod(0o644)
    certs = generate(tmp_path, HOSTS)
    assert stat.S_IMODE(certs.key_file.stat().st_mode) == 0o600


# --- mounted certificates ----------------------------------------------------------------------


def test_mounted_accepts_a_complete_directory(certs: WebhookCertificates) -> None:
    assert WebhookCertificates.mounted(certs.key_file.parent) == certs


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        pytest.param((), ("tls.crt", "tls.key", "ca.crt"), id="empty"),
        pytest.param(("tls.crt", "tls.key"), ("ca.crt",), id="no-ca"),
        pytest.param(("ca.crt",), ("tls.crt", "tls.key"), id="only-ca"),
        pytest.param(("tls.crt", "ca.crt"), ("tls.key",), id="no-key"),
    ],
)
def test_mounted_names_the_missing_files(tmp_path: Path, present: tuple[str, ...], missing: tuple[str, ...]) -> None:
    for name in present:
        (tmp_path / name).write_text("x")
    with pytest.raises(ValueError, match=re.escape(str(tmp_path))) as raised:
        WebhookCertificates.mounted(tmp_path)
    message = str(raised.value)
    for name in missing:
        assert name in message
    for name in present:
        assert name not in message


def test_mounted_does_not_take_a_directory_for_a_file(tmp_path: Path) -> None:
    (tmp_path / "tls.crt").mkdir()
    (tmp_path / "tls.key").write_text("x")
    (tmp_path / "ca.crt").write_text("x")
    with pytest.raises(ValueError, match=r"lacks tls\.crt$"):
        WebhookCertificates.mounted(tmp_path)
