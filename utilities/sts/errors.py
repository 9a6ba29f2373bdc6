"""Exceptions raised by the STS token engine.

Every error is a ``ValueError`` subclass (callers can catch ``StsError`` or ``ValueError``);
amount overflow is additionally an ``OverflowError`` because the amount coding of
IEC 62055-41 6.3.6 simply has a largest representable value.
"""

from __future__ import annotations


class StsError(ValueError):
    """Base class of every STS engine error."""


class TokenFormatError(StsError):
    """A token string is not a well-formed 20-digit STS token (IEC 62055-41 6.4.2)."""


class TokenClassError(TokenFormatError):
    """The token class or subclass is reserved or not supported here."""


class TokenCRCError(StsError):
    """The CRC recomputed after decryption does not match (IEC 62055-41 7.3.6).

    For an encrypted token this is also what a token for another meter, or one made with
    another decoder key, looks like: decryption yields noise whose CRC does not match.
    """


class AmountOverflowError(StsError, OverflowError):
    """An amount is larger than the TransferAmount coding can carry (6.3.6)."""


class TidRangeError(StsError):
    """An issue time lies before the TID base date or after its last representable minute."""


class KeyDerivationError(StsError):
    """Decoder-key derivation inputs are invalid (IEC 62055-41 6.5.3)."""


class MeterNumberError(KeyDerivationError):
    """A PAN, IIN or DRN is malformed or has a wrong Luhn check digit."""


class VectorFileError(StsError):
    """A key or vector CSV file is unreadable or malformed."""
