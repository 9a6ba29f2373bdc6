"""TLS for the XMLVend endpoint (reference §6): the server certificate, and optional mutual
TLS where the client certificate identifies the vendor.

With ``tls.client_ca`` set, a client must present a certificate issued by that CA (the
handshake fails otherwise), and the certificate's subject field ``tls.client_id_field``
(CN by default; serialNumber, OU, O, UID, emailAddress, or SAN for any DNS/URI/e-mail
alternative name) must carry the request's clientID, else ``ClientIDSSLEx``.

A handshake that fails (no client certificate, an unknown CA, an old protocol) is reported
with the client's address and a reason from a closed set (:class:`ObservedTLSFactory`):
the server logs it and counts it in ``evd_tls_handshake_failures_total``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from OpenSSL.SSL import Error as OpenSSLError
from twisted.internet import ssl
from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol

from vending.config import Config

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

SUBJECT_FIELDS = {
    "CN": NameOID.COMMON_NAME,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "UID": NameOID.USER_ID,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}


class TLSSetupError(ValueError):
    """The configured certificate, key or CA cannot be used (the message says which)."""


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TLSSetupError(f"tls.{what}: cannot read {path}: {exc.strerror or exc}") from None


def _certificates(pem: bytes, what: str) -> list[Any]:
    found = [ssl.Certificate.loadPEM(block).original for block in _PEM_CERT.findall(pem)]
    if not found:
        raise TLSSetupError(f"tls.{what}: no PEM certificate found")
    return found


def server_options(config: Config) -> ssl.CertificateOptions:
    """The server's TLS context options from ``[tls]`` (TLS 1.2 or newer)."""
    tls = config.tls
    cert_pem = _read(config.path(tls.cert), "cert")
    key_pem = _read(config.path(tls.key), "key")
    chain = _certificates(cert_pem, "cert")
    try:
        private = ssl.PrivateCertificate.loadPEM(key_pem + b"\n" + cert_pem)
    except Exception as exc:
        raise TLSSetupError(f"tls.key does not fit tls.cert: {exc}") from None
    ca_certs = None
    if tls.client_ca:
        ca_certs = _certificates(_read(config.path(tls.client_ca), "client_ca"), "client_ca")
    return ssl.CertificateOptions(
        privateKey=private.privateKey.original,
        certificate=chain[0],
        extraCertChain=chain[1:],
        verify=ca_certs is not None,
        caCerts=ca_certs,
        requireCertificate=ca_certs is not None,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )


def certificate_identities(certificate: x509.Certificate, field: str) -> frozenset[str]:
    """The values of ``field`` in a client certificate (what a clientID must be one of)."""
    if field == "SAN":
        try:
            names = certificate.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value
        except x509.ExtensionNotFound:
            return frozenset()
        values: Iterable[str] = (
            *names.get_values_for_type(x509.DNSName),
            *names.get_values_for_type(x509.UniformResourceIdentifier),
            *names.get_values_for_type(x509.RFC822Name),
        )
        return frozenset(v.strip() for v in values)
    oid = SUBJECT_FIELDS[field]
    return frozenset(
        str(attribute.value).strip()
        for attribute in certificate.subject.get_attributes_for_oid(oid)
    )


def peer_identities(transport: Any, field: str) -> frozenset[str] | None:
    """The identities in the peer's certificate, or None when the connection has no client
    certificate (plain HTTP, or TLS without client authentication)."""
    get_peer_certificate = getattr(transport, "getPeerCertificate", None)
    if get_peer_certificate is None:
        return None
    try:
        peer = get_peer_certificate()
    except Exception:
        return None
    if peer is None:
        return None
    certificate = peer.to_cryptography() if hasattr(peer, "to_cryptography") else peer
    return certificate_identities(certificate, field)


# --- failed handshakes ---------------------------------------------------------------------------

# Why a handshake failed, as a closed set (a metric label): OpenSSL's reason texts mapped.
HANDSHAKE_FAILURE_REASONS = ("no_certificate", "unknown_ca", "protocol_version", "other")

_REASON_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("no_certificate", ("peer did not return a certificate", "certificate required")),
    (
        "unknown_ca",
        ("certificate verify failed", "unknown ca", "bad certificate", "unsupported certificate"),
    ),
    (
        "protocol_version",
        (
            "unsupported protocol",
            "wrong version number",
            "version too low",
            "no protocols available",
            "protocol version",
            "http request",
        ),
    ),
)


def handshake_failure_reason(error: BaseException) -> str:
    """One of :data:`HANDSHAKE_FAILURE_REASONS` for an OpenSSL handshake error."""
    text = str(error).lower()
    for reason, patterns in _REASON_PATTERNS:
        if any(pattern in text for pattern in patterns):
            return reason
    return "other"


HandshakeFailed = Callable[[str, str, str], None]  # (peer host, reason, OpenSSL's text)


class ObservedTLSProtocol(TLSMemoryBIOProtocol):
    """Twisted's memory-BIO TLS, telling its factory about handshakes that failed (a
    client without a certificate, with one of an unknown CA, or speaking an old protocol):
    Twisted would drop those connections silently."""

    factory: ObservedTLSFactory

    def connectionLost(self, reason: Any) -> None:
        failed = None if self._handshakeDone else self._reason
        transport = self.transport
        super().connectionLost(reason)
        if failed is not None and isinstance(failed.value, OpenSSLError):
            peer = getattr(transport.getPeer(), "host", "") if transport is not None else ""
            self.factory.handshake_failed(str(peer), failed.value)


class ObservedTLSFactory(TLSMemoryBIOFactory):
    """``TLSMemoryBIOFactory`` (server side) reporting failed handshakes to ``on_failure``."""

    protocol = ObservedTLSProtocol

    def __init__(self, options: Any, wrapped: Any, on_failure: HandshakeFailed | None) -> None:
        super().__init__(options, False, wrapped)
        self._on_failure = on_failure

    def handshake_failed(self, peer: str, error: BaseException) -> None:
        if self._on_failure is not None:
            self._on_failure(peer, handshake_failure_reason(error), _openssl_text(error))


def _openssl_text(error: BaseException) -> str:
    """OpenSSL's reason strings of ``error`` (no certificate content, no secrets)."""
    details = error.args[0] if error.args else None
    if isinstance(details, list):
        parts = [str(item[-1]) for item in details if isinstance(item, tuple) and item]
        if parts:
            return "; ".join(parts)[:200]
    return str(error)[:200]
