"""Development certificates for mutual TLS (``evd certs dev``), made with ``cryptography``.

A throw-away CA, a server certificate for localhost (SAN: localhost, 127.0.0.1, ::1 and any
extra host names) and one client certificate per clientID, whose subject field
``tls.client_id_field`` (CN by default) carries the clientID -- as the Online Vending CA
does for vendors (reference §6). Never use these outside development and tests.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from vending.clock import system_clock
from xmlvend.server.tls import SUBJECT_FIELDS

# Password of the PKCS#12 client bundles (Java and .NET clients import those).
P12_PASSWORD = b"evd-dev"
_VALID_DAYS = 825


@dataclass(frozen=True)
class Issued:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class DevCertificates:
    """Where ``evd certs dev`` wrote what."""

    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path, Path]] = field(default_factory=dict)


def _key() -> rsa.RSAPrivateKey:
    # RSA 2048 rather than EC: the widest client support (old POS terminals, Java 8).
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _now() -> dt.datetime:
    return system_clock()


def _builder(
    subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey
) -> x509.CertificateBuilder:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
    )


def make_ca(name: str = "EVD Development CA") -> Issued:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        _builder(subject, subject, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, certificate)


def _leaf(
    ca: Issued, subject: x509.Name, usage: x509.ObjectIdentifier
) -> tuple[x509.CertificateBuilder, rsa.RSAPrivateKey]:
    key = _key()
    builder = (
        _builder(subject, ca.certificate.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    return builder, key


def make_server(ca: Issued, hosts: tuple[str, ...] = ()) -> Issued:
    """A server certificate for localhost, 127.0.0.1, ::1 and ``hosts``."""
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    addresses = {"127.0.0.1", "::1"}
    for host in hosts:
        try:
            addresses.add(str(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    builder, key = _leaf(ca, subject, ExtendedKeyUsageOID.SERVER_AUTH)
    certificate = builder.add_extension(x509.SubjectAlternativeName(names), critical=False).sign(
        ca.key, hashes.SHA256()
    )
    return Issued(key, certificate)


def make_client(ca: Issued, client_id: str, field_name: str = "CN") -> Issued:
    """A client certificate whose ``field_name`` carries ``client_id`` (see tls.py)."""
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "EVD development vendor")]
    if field_name == "SAN":
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, client_id))
    else:
        oid = SUBJECT_FIELDS[field_name]
        attributes = [a for a in attributes if a.oid != oid]
        attributes.append(x509.NameAttribute(oid, client_id))
        if oid != NameOID.COMMON_NAME:
            attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, f"vendor {client_id}"))
    builder, key = _leaf(ca, x509.Name(attributes), ExtendedKeyUsageOID.CLIENT_AUTH)
    if field_name == "SAN":
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(client_id)]), critical=False
        )
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if secret:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(path, 0o600)
    else:
        path.write_bytes(data)


def write_dev_certificates(
    directory: Path,
    client_ids: tuple[str, ...],
    *,
    field_name: str = "CN",
    hosts: tuple[str, ...] = (),
) -> DevCertificates:
    """Write ca.pem, server.pem/.key and client-<id>.pem/.key/.p12 into ``directory``."""
    ca = make_ca()
    server = make_server(ca, hosts)
    result = DevCertificates(
        directory=directory,
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
    )
    _write(result.ca, ca.cert_pem())
    _write(directory / "ca.key", ca.key_pem(), secret=True)
    _write(result.server_cert, server.cert_pem())
    _write(result.server_key, server.key_pem(), secret=True)
    for client_id in client_ids:
        client = make_client(ca, client_id, field_name)
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in client_id)
        cert = directory / f"client-{safe}.pem"
        key = directory / f"client-{safe}.key"
        bundle = directory / f"client-{safe}.p12"
        _write(cert, client.cert_pem())
        _write(key, client.key_pem(), secret=True)
        _write(
            bundle,
            pkcs12.serialize_key_and_certificates(
                client_id.encode(),
                client.key,
                client.certificate,
                [ca.certificate],
                serialization.BestAvailableEncryption(P12_PASSWORD),
            ),
            secret=True,
        )
        result.clients[client_id] = (cert, key, bundle)
    return result
