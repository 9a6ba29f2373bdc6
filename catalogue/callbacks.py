"""Authenticating provider callbacks: the sender's address must be on the provider's
allow-list and the body signed with the shared secret (``X-Signature: hex HMAC-SHA256``).
Processing (idempotent, logged) is :meth:`catalogue.fulfilment.Fulfilment.callback`."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

SIGNATURE_HEADER = "X-Signature"


def sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_valid(secret: bytes, body: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(sign(secret, body), signature.strip().lower())


def address_allowed(peer: str, allowed: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address == ipaddress.ip_address(ip) for ip in allowed)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
