"""Decoder key generation: DKGA-02 and DKGA-04 (IEC 62055-41 6.5.3; sts.md §3.3-§3.4).

DKGA-02 (DES, 64-bit vending key)::

    X  = PANBlock XOR CONTROLBlock       CONTROLBlock = hex digits KT SGC(6) TI(2) KRN FFFFFF
    DK = DES_VK(X) XOR X XOR VK

DKGA-04 (HMAC-SHA-256, 160-bit vending key, STS edition 2): an SP 800-108 style fixed input
``04 lv("04") lv(base yy) lv(EA) lv(TI) 00 04 lv(SGC) lv(KT hex) lv(KRN hex) lv(PAN18) L``
(``lv`` = one length byte + ASCII, L = key length in bits as 4 big-endian bytes); the key is
the first 8 (EA07) or 16 (EA11) bytes of the MAC.  The normative text was not public; this
layout reproduces every published vector.

All keys are in natural (big-endian) byte order, as used by :mod:`utilities.sts.sta`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from hashlib import sha256

from utilities.sts.des import des_encrypt_block
from utilities.sts.errors import KeyDerivationError
from utilities.sts.pan import PrimaryAccountNumber
from utilities.sts.tid import BASE_YEARS

KEY_TYPES = {0: "DITK", 1: "DDTK", 2: "DUTK", 3: "DCTK"}
DKGA02_VENDING_KEY_BYTES = 8
DKGA04_VENDING_KEY_BYTES = 20
_DKGA04_KEY_BITS = {7: 64, 11: 128}


def _digits_field(value: str | int, width: int, what: str) -> str:
    """Zero-pad a decimal code to its fixed width ("46" -> "000046" for an SGC)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        text = f"{value:0{width}d}"
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        text = value.zfill(width)
    else:
        text = ""
    if not (isinstance(text, str) and len(text) == width and text.isascii() and text.isdigit()):
        raise KeyDerivationError(f"{what} must be {width} decimal digits, got {value!r}")
    return text


@dataclass(frozen=True)
class MeterKeyData:
    """Everything besides the vending key that a decoder key is derived from.

    ``sgc`` (supply group code, 6 digits) and ``tariff_index`` (2 digits) are decimal
    strings; ints are zero-padded.  ``base_date`` and ``ea`` only enter DKGA-04.
    """

    pan: PrimaryAccountNumber
    key_type: int
    sgc: str
    tariff_index: str
    krn: int
    base_date: int = 1993
    ea: int = 7

    def __post_init__(self) -> None:
        object.__setattr__(self, "sgc", _digits_field(self.sgc, 6, "SGC"))
        object.__setattr__(
            self, "tariff_index", _digits_field(self.tariff_index, 2, "tariff index")
        )
        if self.key_type not in KEY_TYPES:
            raise KeyDerivationError(f"key type must be 0..3, got {self.key_type!r}")
        if not (isinstance(self.krn, int) and 1 <= self.krn <= 9):
            raise KeyDerivationError(f"key revision number must be 1..9, got {self.krn!r}")
        if self.base_date not in BASE_YEARS:
            raise KeyDerivationError(f"base date must be one of {BASE_YEARS}, got {self.base_date}")
        if self.ea not in (7, 9, 11):
            raise KeyDerivationError(f"encryption algorithm must be 7, 9 or 11, got {self.ea}")

    def control_block(self) -> bytes:
        """The 8-byte CONTROLBlock of DKGA-01/02/03: KT SGC TI KRN FFFFFF as hex digits."""
        return bytes.fromhex(f"{self.key_type}{self.sgc}{self.tariff_index}{self.krn}FFFFFF")


def _xor(a: bytes, b: bytes) -> bytes:
    if len(a) != len(b):
        raise ValueError(f"cannot XOR {len(a)} bytes with {len(b)} bytes")
    # As whole integers: one operation instead of a generator over the bytes.
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def dkga02(vending_key: bytes, meter: MeterKeyData) -> bytes:
    """64-bit decoder key from a 64-bit (single DES) vending key."""
    if len(vending_key) != DKGA02_VENDING_KEY_BYTES:
        raise KeyDerivationError(
            f"DKGA-02 needs an 8-byte vending key, got {len(vending_key)} bytes"
        )
    if meter.ea == 11:
        raise KeyDerivationError("DKGA-02 gives a 64-bit key; MISTY1 (EA11) needs DKGA-04")
    mixed = _xor(meter.pan.pan_block(meter.key_type), meter.control_block())
    return _xor(_xor(des_encrypt_block(vending_key, mixed), mixed), vending_key)


def _length_value(text: str) -> bytes:
    encoded = text.encode("ascii")
    return bytes([len(encoded)]) + encoded


def dkga04_input(meter: MeterKeyData) -> bytes:
    """The HMAC message of DKGA-04 (exposed for tests of the §3.4 intermediate values)."""
    key_bits = _DKGA04_KEY_BITS.get(meter.ea)
    if key_bits is None:
        raise KeyDerivationError(f"DKGA-04 supports EA07 and EA11, not EA{meter.ea:02d}")
    label = (
        b"\x04"
        + _length_value("04")
        + _length_value(f"{meter.base_date % 100:02d}")
        + _length_value(f"{meter.ea:02d}")
        + _length_value(meter.tariff_index)
    )
    context = (
        b"\x04"
        + _length_value(meter.sgc)
        + _length_value(f"{meter.key_type:x}")
        + _length_value(f"{meter.krn:x}")
        + _length_value(meter.pan.digits)
    )
    return label + b"\x00" + context + key_bits.to_bytes(4, "big")


def dkga04(vending_key: bytes, meter: MeterKeyData) -> bytes:
    """64-bit (EA07) or 128-bit (EA11) decoder key from a 160-bit vending key."""
    if len(vending_key) != DKGA04_VENDING_KEY_BYTES:
        raise KeyDerivationError(
            f"DKGA-04 needs a 20-byte (160-bit) vending key, got {len(vending_key)} bytes"
        )
    message = dkga04_input(meter)
    mac = hmac.digest(vending_key, message, sha256)
    return mac[: _DKGA04_KEY_BITS[meter.ea] // 8]


def meter_key_data(
    *,
    iin: str | None = None,
    drn: str | None = None,
    pan: str | None = None,
    key_type: int,
    sgc: str | int,
    tariff_index: str | int,
    krn: int,
    base_date: int = 1993,
    ea: int = 7,
) -> MeterKeyData:
    """Build :class:`MeterKeyData` from either an 18-digit ``pan`` or ``drn`` (+ ``iin``).

    Without ``iin`` the IIN follows from the DRN length: 600727 for 11 digits, 0000 for 13.
    """
    if pan is not None:
        if iin is not None or drn is not None:
            raise KeyDerivationError("give either pan or iin/drn, not both")
        account = PrimaryAccountNumber.parse(pan)
    elif drn is not None:
        account = (
            PrimaryAccountNumber(iin, drn)
            if iin is not None
            else (PrimaryAccountNumber.for_meter(drn))
        )
    else:
        raise KeyDerivationError("a PAN or a DRN (meter number) is required")
    return MeterKeyData(
        pan=account,
        key_type=key_type,
        sgc=_digits_field(sgc, 6, "SGC"),
        tariff_index=_digits_field(tariff_index, 2, "tariff index"),
        krn=krn,
        base_date=base_date,
        ea=ea,
    )


def derive_key(vending_key: bytes, meter: MeterKeyData, *, dkga: int) -> bytes:
    """Decoder key for ``meter`` with DKGA-02 (``dkga=2``) or DKGA-04 (``dkga=4``)."""
    if dkga == 2:
        return dkga02(vending_key, meter)
    if dkga == 4:
        return dkga04(vending_key, meter)
    raise KeyDerivationError(f"DKGA-{dkga:02d} is not supported (only DKGA-02 and DKGA-04)")


def derive_decoder_key(
    vending_key: bytes,
    *,
    dkga: int,
    iin: str | None = None,
    drn: str | None = None,
    pan: str | None = None,
    key_type: int,
    sgc: str | int,
    tariff_index: str | int,
    krn: int,
    base_date: int = 1993,
    ea: int = 7,
) -> bytes:
    """Decoder key (8 bytes, or 16 for DKGA-04 with EA11) in natural byte order.

    ``pan`` is the 18-digit PAN; alternatively ``drn`` with an optional ``iin``.
    ``base_date`` and ``ea`` only matter for DKGA-04.
    """
    meter = meter_key_data(
        iin=iin,
        drn=drn,
        pan=pan,
        key_type=key_type,
        sgc=sgc,
        tariff_index=tariff_index,
        krn=krn,
        base_date=base_date,
        ea=ea,
    )
    return derive_key(vending_key, meter, dkga=dkga)
