"""Operator passwords, hashed with scrypt (``hashlib.scrypt``, OpenSSL). Never stored plain.

Format: ``scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>`` so the cost can be raised
later and old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCRYPT_R = 8
SCRYPT_P = 1
HASH_BYTES = 32
# XMLVend b:Password is (\S){6,15}; staff passwords may be longer.
MIN_LENGTH = 6
MAX_LENGTH = 128


class PasswordPolicyError(ValueError):
    pass


def check_policy(password: str) -> None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordPolicyError(
            f"a password must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
        )
    if any(ch.isspace() for ch in password):
        raise PasswordPolicyError("a password cannot contain white space")


def _derive(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=2**log_n,
        r=r,
        p=p,
        maxmem=256 * 1024 * 1024,
        dklen=HASH_BYTES,
    )


def hash_password(password: str, *, log_n: int = 14) -> str:
    check_policy(password)
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, log_n, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${log_n}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False on any mismatch."""
    try:
        scheme, log_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _derive(password, base64.b64decode(salt), int(log_n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
