"""Class-bit transposition and the 20-digit decimal token (IEC 62055-41 6.4.2; sts.md §1.6).

"The 2-bit token Class value is inserted to occupy bit positions 28 and 27. The original
values of bit positions 28 and 27 are relocated to bit positions 65 and 64."  The 66-bit
result is printed as 20 zero-padded decimal digits.  The class therefore stays readable
without a key, which is how a decoder knows whether to decrypt.
"""

from __future__ import annotations

from utilities.sts.errors import TokenFormatError

TOKEN_DIGITS = 20
TOKEN_LIMIT = 1 << 66  # 73786976294838206464: 20-digit strings at or above it are not tokens
_BLOCK_MASK = (1 << 64) - 1
_CLASS_BITS_MASK = 3 << 27
_KEEP_MASK = _BLOCK_MASK & ~_CLASS_BITS_MASK


def insert_class(token_class: int, block64: int) -> int:
    """66-bit token number: class into bits 28..27, displaced bits to 65..64."""
    displaced = (block64 >> 27) & 3
    return (displaced << 64) | (block64 & _KEEP_MASK) | ((token_class & 3) << 27)


def extract_class(token66: int) -> tuple[int, int]:
    """(class, 64-bit block with bits 28..27 restored) from a 66-bit token number."""
    token_class = (token66 >> 27) & 3
    block64 = (token66 & _KEEP_MASK) | ((token66 >> 64) << 27)
    return token_class, block64


def to_digits(token_class: int, block64: int) -> str:
    return f"{insert_class(token_class, block64):020d}"


def parse_digits(token: str) -> int:
    """The 66-bit number of a token string; spaces and dashes between groups are allowed."""
    if not isinstance(token, str):
        raise TokenFormatError(f"token must be a string of digits, got {type(token).__name__}")
    compact = token.replace(" ", "").replace("-", "")
    if len(compact) != TOKEN_DIGITS or not (compact.isascii() and compact.isdigit()):
        raise TokenFormatError(f"token must be exactly {TOKEN_DIGITS} digits, got {token!r}")
    value = int(compact)
    if value >= TOKEN_LIMIT:
        raise TokenFormatError(f"token {compact} is not below 2**66 and cannot be an STS token")
    return value


def from_digits(token: str) -> tuple[int, int]:
    """(class, encrypted 64-bit block) of a 20-digit token."""
    return extract_class(parse_digits(token))


def group_digits(token: str, size: int = 4) -> str:
    """Display form in groups (the usual 5 groups of 4 digits)."""
    return " ".join(token[i : i + size] for i in range(0, len(token), size))
