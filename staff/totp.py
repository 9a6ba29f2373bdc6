"""TOTP second factor (RFC 6238 through ``pyotp``): 6 digits, 30-second steps, one step of
clock drift either way. Pure: the time comes from the caller's clock."""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

INTERVAL = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app enrols from (shown as text and QR)."""
    return pyotp.TOTP(secret, interval=INTERVAL).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (now, or one step either side), else None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=INTERVAL)
    current = int(now.timestamp()) // INTERVAL
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * INTERVAL), code):
            return step
    return None


def code_at(secret: str, now: datetime) -> str:
    """The code of ``now`` (tests, the demo banner's hint)."""
    return pyotp.TOTP(secret, interval=INTERVAL).at(int(now.timestamp()))
