"""Primitive vectors (sts.md §6.1) and fast-versus-reference properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from utilities.sts._reference import reference_crc, reference_sta_decrypt, reference_sta_encrypt
from utilities.sts.crc import crc16_fast, crc16_of_value, sts_crc
from utilities.sts.des import dea_decrypt, dea_encrypt, des_decrypt_block, des_encrypt_block
from utilities.sts.digits import extract_class, from_digits, insert_class, to_digits
from utilities.sts.errors import TokenFormatError
from utilities.sts.misty1 import misty1_decrypt, misty1_encrypt
from utilities.sts.sta import (
    REAL_TABLES,
    SAMPLE_TABLES,
    StaTables,
    sta_decrypt,
    sta_encrypt,
)

u64 = st.integers(min_value=0, max_value=(1 << 64) - 1)
u50 = st.integers(min_value=0, max_value=(1 << 50) - 1)
table_sets = st.sampled_from([REAL_TABLES, SAMPLE_TABLES])


# --- CRC (§1.2) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "currency", "expected"),
    [
        ("00004A2D900FF2", False, 0x0FFA),
        ("00004A2D900FF2", True, 0x7BC4),
        ("000B19EB230100", False, 0xC207),
        ("0005C02A552710", False, 0x1970),
    ],
)
def test_crc_published_values(message: str, currency: bool, expected: int) -> None:
    value = int(message, 16)
    assert crc16_of_value(value, currency=currency) == expected
    assert crc16_fast(value, currency=currency) == expected


def test_sts_crc_chooses_crc_c_only_for_currency_credit() -> None:
    payload = 0x4_0_65F0D4_DFF6  # class 0 subclass 4
    assert sts_crc(0, payload) == reference_crc(payload, currency=True)
    assert sts_crc(0, payload) != reference_crc(payload)
    assert sts_crc(2, payload) == reference_crc((2 << 48) | payload)  # class 2 sub 4: plain
    assert sts_crc(0, 0x055998630001) == 0x19E6


@given(u50, st.booleans())
def test_table_crc_equals_bitwise_reference(value: int, currency: bool) -> None:
    assert crc16_fast(value, currency=currency) == reference_crc(value, currency=currency)


# --- DES (§2.2) -------------------------------------------------------------------------------


def test_des_fips_vector() -> None:
    key = bytes.fromhex("0123456789abcdef")
    ciphertext = des_encrypt_block(key, bytes.fromhex("4e6f772069732074"))
    assert ciphertext.hex() == "3fa40e8a984d4815"
    assert des_decrypt_block(key, ciphertext).hex() == "4e6f772069732074"


def test_ea09_round_trip() -> None:
    key = bytes.fromhex("0123456789abcdef")
    assert dea_encrypt(key, 0x4E6F772069732074) == 0x3FA40E8A984D4815
    assert dea_decrypt(key, 0x3FA40E8A984D4815) == 0x4E6F772069732074


def test_des_rejects_wrong_key_length() -> None:
    with pytest.raises(ValueError, match="8 bytes"):
        des_encrypt_block(b"short", bytes(8))


# --- MISTY1 (§2.3, RFC 2994) ---------------------------------------------------------------

RFC_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


@pytest.mark.parametrize(
    ("plaintext", "ciphertext"),
    [(0x0123456789ABCDEF, 0x8B1DA5F56AB3D07C), (0xFEDCBA9876543210, 0x04B68240B13BE95D)],
)
def test_misty1_rfc2994_vectors(plaintext: int, ciphertext: int) -> None:
    assert misty1_encrypt(RFC_KEY, plaintext) == ciphertext
    assert misty1_decrypt(RFC_KEY, ciphertext) == plaintext


@given(st.binary(min_size=16, max_size=16), u64)
def test_misty1_decrypt_inverts_encrypt(key: bytes, block: int) -> None:
    assert misty1_decrypt(key, misty1_encrypt(key, block)) == block


def test_misty1_rejects_wrong_key_length() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        misty1_encrypt(bytes(8), 0)


# --- STA (§2.1) ------------------------------------------------------------------------------


def test_sta_sample_tables_worked_example() -> None:
    block = 0x0B19EB230100C207
    encrypted = sta_encrypt(bytes.fromhex("0ABC12DEF3456789"), block, SAMPLE_TABLES)
    assert insert_class(0, encrypted) == 0x2C45ED1618406DF95
    assert to_digits(0, encrypted) == "51043465443420856213"
    assert sta_decrypt(bytes.fromhex("0ABC12DEF3456789"), encrypted, SAMPLE_TABLES) == block


def test_sta_real_tables_same_data() -> None:
    encrypted = sta_encrypt(bytes.fromhex("0ABC12DEF3456789"), 0x0B19EB230100C207)
    assert to_digits(0, encrypted) == "29054347139309851356"


def test_sta_ctsa01_intermediates() -> None:
    encrypted = sta_encrypt(bytes.fromhex("e653341f9d5bf36f"), 0x05599863000119E6)
    assert encrypted == 0x492083C0AE7CE455
    assert insert_class(0, encrypted) == 0x1492083C0A67CE455
    assert to_digits(0, encrypted) == "23716100501183194197"


def test_sample_tables_match_the_standard_text() -> None:
    # "data nibble 8 with SubstitutionTable1 -> 14"; "source bit 7 -> 52 in the decrypt table"
    assert SAMPLE_TABLES.substitution1[8] == 14
    assert SAMPLE_TABLES.permutation_inverse[7] == 52


def test_sta_tables_validate_permutations() -> None:
    with pytest.raises(ValueError, match="not a permutation"):
        StaTables("broken", tuple(range(16)), (0,) * 16, tuple(range(64)))


@settings(max_examples=150, deadline=None)
@given(u64, u64, table_sets)
def test_fast_sta_equals_reference(key: int, block: int, tables: StaTables) -> None:
    encrypted = sta_encrypt(key, block, tables)
    assert encrypted == reference_sta_encrypt(key, block, tables)
    assert sta_decrypt(key, encrypted, tables) == block
    assert reference_sta_decrypt(key, encrypted, tables) == block


def test_sta_key_schedule_cache_does_not_mix_keys() -> None:
    block = 0x0123456789ABCDEF
    first = sta_encrypt(1, block)
    second = sta_encrypt(2, block)
    assert first != second
    assert sta_encrypt(1, block) == first == reference_sta_encrypt(1, block)


# --- class-bit transposition (§1.6) --------------------------------------------------------


@given(st.integers(min_value=0, max_value=3), u64)
def test_transposition_round_trip(token_class: int, block: int) -> None:
    assert extract_class(insert_class(token_class, block)) == (token_class, block)
    digits = to_digits(token_class, block)
    assert len(digits) == 20
    assert from_digits(digits) == (token_class, block)


@pytest.mark.parametrize(
    "token",
    ["", "1234", "2371610050118319419", "237161005011831941970", "7378697629483820646x",
     "73786976294838206464", "99999999999999999999"],
)  # fmt: skip
def test_malformed_token_strings(token: str) -> None:
    with pytest.raises(TokenFormatError):
        from_digits(token)


def test_largest_token_is_accepted() -> None:
    assert from_digits("73786976294838206463") == (3, (1 << 64) - 1)


def test_grouped_token_is_accepted() -> None:
    assert from_digits("2371 6100 5011 8319 4197") == from_digits("23716100501183194197")
