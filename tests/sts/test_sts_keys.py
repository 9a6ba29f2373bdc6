"""Decoder keys: DKGA-02 / DKGA-04 (sts.md §3), PAN handling and meter numbers."""

from __future__ import annotations

import pytest

from utilities.sts import (
    KeyDerivationError,
    MeterKeyData,
    MeterNumberError,
    PrimaryAccountNumber,
    derive_decoder_key,
    dkga02,
    dkga04,
    meter_key_data,
    meter_number_is_valid,
)
from utilities.sts.des import des_encrypt_block
from utilities.sts.dkga import dkga04_input
from utilities.sts.pan import luhn_check_digit, luhn_is_valid

from ._data import key_rows

DERIVED_KEYS = [row for row in key_rows().values() if row["derivation"] != "direct"]
VK04 = bytes.fromhex("abababababababab949494949494949401234567")


def _derive(row: dict[str, str]) -> bytes:
    return derive_decoder_key(
        bytes.fromhex(row["vending_key"]),
        dkga=2 if row["derivation"] == "DKGA02" else 4,
        iin=row["iin"] or None,
        drn=row["drn"] or None,
        pan=row["pan"] or None,
        key_type=int(row["kt"]),
        sgc=row["sgc"],
        tariff_index=row["ti"],
        krn=int(row["krn"]),
        base_date=int(row["base_date"] or 1993),
        ea=int(row["ea"] or 7),
    )


def test_every_derivable_public_key_is_listed() -> None:
    assert len(DERIVED_KEYS) == 22


@pytest.mark.parametrize("row", DERIVED_KEYS, ids=lambda row: row["key_id"])
def test_public_key_derivation(row: dict[str, str]) -> None:
    assert _derive(row).hex() == row["decoder_key"]


# --- DKGA-02 intermediates (§1.7) ----------------------------------------------------------


def test_dkga02_ctsa01_intermediates() -> None:
    meter = meter_key_data(
        pan="600727000000000009", key_type=2, sgc="123456", tariff_index="01", krn=1
    )
    assert meter.pan.pan_block(2).hex() == "0072700000000000"
    assert meter.control_block().hex().upper() == "2123456011FFFFFF"
    mixed = bytes(a ^ b for a, b in zip(meter.pan.pan_block(2), meter.control_block(), strict=True))
    assert mixed.hex() == "2151356011ffffff"
    vk = bytes.fromhex("abababababababab")
    assert des_encrypt_block(vk, mixed).hex() == "6ca9aad4270fa73b"
    assert dkga02(vk, meter).hex() == "e653341f9d5bf36f"


def test_dkga02_same_key_from_pan_or_iin_drn() -> None:
    common = {"key_type": 2, "sgc": "123456", "tariff_index": "01", "krn": 1, "dkga": 2}
    vk = bytes.fromhex("abababababababab")
    from_pan = derive_decoder_key(vk, pan="000001000000000082", **common)  # type: ignore[arg-type]
    from_parts = derive_decoder_key(vk, iin="000001", drn="00000000008", **common)  # type: ignore[arg-type]
    assert from_pan == from_parts == bytes.fromhex("e94023262e9993c2")


# --- DKGA-04 intermediates (§3.4) ----------------------------------------------------------


def _dkga04_meter(ea: int) -> MeterKeyData:
    return meter_key_data(
        pan="600727000000000009", key_type=2, sgc="123457", tariff_index="01", krn=1, ea=ea
    )


def test_dkga04_sta_input_and_key() -> None:
    meter = _dkga04_meter(7)
    assert dkga04_input(meter).hex() == (
        "04023034023933023037023031000406313233343537013201311236303037323730303030303030"
        "303030303900000040"
    )
    assert dkga04(VK04, meter).hex() == "aa4baa8749c10d27"


def test_dkga04_misty1_input_and_key() -> None:
    meter = _dkga04_meter(11)
    message = dkga04_input(meter)
    assert message[7:10] == b"\x0211" and message.endswith(b"\x00\x00\x00\x80")
    assert dkga04(VK04, meter).hex() == "f94b6ed353c3bfdb113e2d3a7ea3c41d"


def test_dkga04_uses_base_date() -> None:
    keys = {
        base: derive_decoder_key(
            VK04, dkga=4, pan="600727000000000009", key_type=2, sgc="123457",
            tariff_index="01", krn=1, base_date=base, ea=7,
        )
        for base in (1993, 2014, 2035)
    }  # fmt: skip
    assert len(set(keys.values())) == 3


def test_dkga04_from_drn_builds_the_pan() -> None:
    from_drn = derive_decoder_key(
        VK04, dkga=4, drn="00000000000", key_type=2, sgc=123457, tariff_index=1, krn=1
    )
    assert from_drn.hex() == "aa4baa8749c10d27"


# --- input validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dkga": 2, "pan": "600727000000000008"}, "check digit"),
        ({"dkga": 2}, "PAN or a DRN"),
        ({"dkga": 3, "pan": "600727000000000009"}, "DKGA-03"),
        ({"dkga": 2, "pan": "600727000000000009", "drn": "00000000000"}, "not both"),
        ({"dkga": 2, "pan": "600727000000000009", "krn": 0}, "revision"),
        ({"dkga": 2, "pan": "600727000000000009", "key_type": 4}, "key type"),
        ({"dkga": 2, "pan": "600727000000000009", "sgc": "12345A"}, "SGC"),
        ({"dkga": 2, "pan": "600727000000000009", "ea": 11}, "MISTY1"),
        ({"dkga": 4, "pan": "600727000000000009"}, "20-byte"),
        ({"dkga": 2, "iin": "600727", "drn": "123"}, "IAIN"),
    ],
)
def test_derivation_errors(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {
        "key_type": 2, "sgc": "123456", "tariff_index": "01", "krn": 1,
    }  # fmt: skip
    arguments.update(kwargs)
    with pytest.raises(KeyDerivationError, match=message):
        derive_decoder_key(bytes(8), **arguments)  # type: ignore[arg-type]


def test_dkga04_rejects_ea09() -> None:
    with pytest.raises(KeyDerivationError, match="EA07 and EA11"):
        derive_decoder_key(VK04, dkga=4, pan="600727000000000009", key_type=2, sgc="1",
                           tariff_index="1", krn=1, ea=9)  # fmt: skip


def test_codes_are_zero_padded() -> None:
    meter = meter_key_data(drn="47500150231", key_type=0, sgc="46", tariff_index=1, krn=1)
    assert meter.sgc == "000046" and meter.tariff_index == "01"


# --- PAN and meter numbers ------------------------------------------------------------------


def test_luhn() -> None:
    assert luhn_check_digit("60072700000000000") == "9"
    assert luhn_check_digit("4750015023") == "1"
    assert luhn_check_digit("010000000000") == "8"
    assert luhn_is_valid("600727475001502312")
    assert not luhn_is_valid("600727475001502313")


def test_pan_forms() -> None:
    assert PrimaryAccountNumber.for_meter("47500150231").digits == "600727475001502312"
    assert PrimaryAccountNumber("600727", "00000000000").digits == "600727000000000009"
    common = PrimaryAccountNumber.parse("000001000000000082")
    assert (common.iin, common.iain) == ("0000", "0100000000008")
    assert PrimaryAccountNumber.for_meter("0100000000008") == common
    six = PrimaryAccountNumber("000001", "00000000008")
    assert six.digits == common.digits
    assert six.pan_block(2) == common.pan_block(2) == bytes.fromhex("0000100000000008")


@pytest.mark.parametrize(
    ("iin", "iain", "key_type", "block"),
    [
        ("123456", "12345678102", 2, "2345612345678102"),
        ("3456", "1234567810234", 2, "4561234567810234"),
        ("123456", "12345678102", 3, "2345600000000000"),
        ("3456", "1234567810234", 3, "4560000000000000"),
    ],
)
def test_pan_block(iin: str, iain: str, key_type: int, block: str) -> None:
    assert PrimaryAccountNumber(iin, iain).pan_block(key_type).hex() == block


def test_pan_rejects_bad_input() -> None:
    with pytest.raises(MeterNumberError):
        PrimaryAccountNumber("60072", "00000000000")
    with pytest.raises(MeterNumberError):
        PrimaryAccountNumber.parse("60072700000000000")
    with pytest.raises(MeterNumberError, match="expected 9"):
        PrimaryAccountNumber.parse("600727000000000001")


@pytest.mark.parametrize(
    ("msno", "valid"),
    [
        ("47500150231", True),
        ("47500150232", False),
        ("00000000000", True),
        ("0100000000008", True),
        ("0100000000007", False),
        ("4750015023", False),  # 10 digits
        ("475001502310", False),  # 12 digits
        ("4750015023A", False),
        ("", False),
    ],
)
def test_meter_number_is_valid(msno: str, valid: bool) -> None:
    assert meter_number_is_valid(msno) is valid
