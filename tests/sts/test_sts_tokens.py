"""Token encode/decode: every public vector (sts.md §6.3), the human-level rebuild of each
vector's payload through the builders, and round-trip properties."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from utilities.sts import (
    SAMPLE_TABLES,
    AmountOverflowError,
    Token,
    TokenClassError,
    TokenCRCError,
    TokenFormatError,
    clear_credit_token,
    clear_tamper_token,
    credit_token,
    decode_token,
    encode_token,
    key_change_tokens,
    max_phase_power_unbalance_limit_token,
    max_power_limit_token,
    meter_test_token,
    parse_fields,
    tariff_rate_token,
    water_meter_factor_token,
)
from utilities.sts.layouts import CreditFields, KeyChangeFields, ManagementFields, MeterTestFields

from ._data import decoder_key, vector_rows

VECTORS = vector_rows()


def _key(key_id: str) -> bytes:
    return b"" if key_id == "-" else decoder_key(key_id)


def test_public_vector_count() -> None:
    assert len(VECTORS) == 35


@pytest.mark.parametrize("row", VECTORS, ids=lambda row: row["vector_id"])
def test_public_vector_encodes(row: dict[str, str]) -> None:
    token = encode_token(_key(row["key_id"]), int(row["class"]), int(row["payload48_hex"], 16))
    assert token == row["expected_token"]


@pytest.mark.parametrize("row", VECTORS, ids=lambda row: row["vector_id"])
def test_public_vector_decodes(row: dict[str, str]) -> None:
    decoded = decode_token(_key(row["key_id"]), row["expected_token"])
    assert decoded == (int(row["class"]), int(row["payload48_hex"], 16))


# --- payloads rebuilt from the human-level descriptions ------------------------------------

A1, A1_TI02 = "K02-A1", "K02-A1-TI02"
M93 = "K04M-93-1"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _credit(key_id: str, units: int, when: str, **extra: object) -> Callable[[], Token]:
    return lambda: credit_token(_key(key_id), units=units, issued_at=_at(when), rnd=5, **extra)  # type: ignore[arg-type]


def _mpl(key_id: str, watts: int, when: str) -> Callable[[], Token]:
    return lambda: max_power_limit_token(_key(key_id), watts=watts, issued_at=_at(when), rnd=5)


def _mppul(key_id: str, watts: int, when: str) -> Callable[[], Token]:
    return lambda: max_phase_power_unbalance_limit_token(
        _key(key_id), watts=watts, issued_at=_at(when), rnd=5
    )


def _clear(key_id: str, register: int, when: str, **extra: object) -> Callable[[], Token]:
    return lambda: clear_credit_token(
        _key(key_id),
        register=register,
        issued_at=_at(when),
        rnd=5,
        **extra,  # type: ignore[arg-type]
    )


def _tamper(key_id: str, when: str) -> Callable[[], Token]:
    return lambda: clear_tamper_token(_key(key_id), issued_at=_at(when), rnd=5)


def _kct1(old: str, new: str, **extra: object) -> Callable[[], Token]:
    return lambda: key_change_tokens(_key(old), _key(new), **extra)[0]  # type: ignore[arg-type]


REBUILT: dict[str, Callable[[], Token]] = {
    "CTSA01-02.s1": _credit(A1, 1, "2004-03-01 13:55"),
    "CTSA02.s1": lambda: meter_test_token(control=(1 << 36) - 1, manufacturer_code="00"),
    "CTSA03.s1": _mpl(A1, 1000, "2004-03-28 09:01"),
    "CTSA04.s1": _clear(A1, 0xFFFF, "2004-03-28 09:15"),
    "CTSA05.s1a": _kct1(A1, A1_TI02, key_type=2, krn=1, tariff_index="02"),
    "CTSA06.s1": _tamper(A1, "2004-03-28 10:00"),
    "CTSA07.s1": _mppul(A1, 10, "2004-03-28 10:20"),
    "CTSA09.s1": _clear(A1, 0xFFFF, "2004-03-29 00:00"),
    "CTSA10.s1": _credit(A1, 256, "2004-04-01 00:30"),
    "CTSA11.s1a": lambda: meter_test_token(control=1, manufacturer_code="00"),
    "CTSA12.s1": _mpl(A1, 256, "2004-04-01 07:00"),
    "CTSA13.s1": _mppul(A1, 256, "2004-04-01 08:00"),
    "CTSA14.s1": _clear(A1, 0, "2004-04-01 09:00"),
    "CTSA19.s1a": _kct1(A1_TI02, A1_TI02, key_type=2, krn=1, tariff_index=2, ken=85),
    "CTSA21.s1": _credit(A1, 10, "2005-05-23 10:01:00", subclass=1),
    "CTSA22.s1": _credit(A1, 10, "2006-04-26 10:01", subclass=2),
    "NECTAR1.1": _credit(A1, 10, "2004-04-21 10:01"),
    "CTSA24.s1": _clear("K04S-93-1", 0xFFFF, "2008-05-26 08:00"),
    "CTSA25.1993.sub0": _credit("K04S-93-1", 1, "2009-01-01 08:00", base_date=1993),
    "CTSA26.s1a": _kct1("K04S-14-4", "K04S-35-5", key_type=2, krn=5, tariff_index=1, rollover=True),
    "CTSA01-04.s1": _credit(M93, 1, "2004-03-01 13:00"),
    "CTSA03-04.s1": _mpl(M93, 1000, "2004-03-28 09:01"),
    "CTSA04-04.s1": _clear(M93, 0xFFFF, "2004-03-28 09:15"),
    "CTSA05-04.s1a": _kct1(M93, "K04M-93-1-TI02", key_type=2, krn=1, tariff_index=2, sgc=123457),
    "CTSA06-04.s1": _tamper(M93, "2004-03-28 10:00"),
    "CTSA07-04.s1": _mppul(M93, 10, "2004-03-28 10:20"),
    "CTSA09-04.s1": _clear(M93, 0xFFFF, "2004-03-29 00:00"),
    "CTSA10-04.s1": _credit(M93, 256, "2004-04-01 00:30"),
    "CTSA12-04.s1": _mpl(M93, 256, "2004-04-01 07:00"),
    "CTSA13-04.s1": _mppul(M93, 256, "2004-04-01 08:00"),
    "CTSA14-04.s1": _clear(M93, 0, "2004-04-01 09:00"),
    "CTSA19-04.s1a": _kct1(M93, "K04M-93-1-TI02", key_type=2, krn=1, tariff_index=2, sgc=123457),
    "DEC.1": lambda: credit_token(
        _key("KX-0ABC"), units=256, issued_at=_at("1996-03-25 13:55:22"), rnd=11
    ),
    "SVC.1": _credit("K02-SVC", 100, "2018-05-16 07:29"),
    "EXT.1": lambda: credit_token(_key("KX-E7B2"), units=10, tid=6675056, rnd=5, subclass=1),
}


def test_every_public_vector_has_a_rebuild() -> None:
    assert set(REBUILT) == {row["vector_id"] for row in VECTORS}


@pytest.mark.parametrize("row", VECTORS, ids=lambda row: row["vector_id"])
def test_builders_rebuild_public_vector(row: dict[str, str]) -> None:
    token = REBUILT[row["vector_id"]]()
    assert f"{token.payload48:012x}" == row["payload48_hex"]
    assert token.token_class == int(row["class"])
    assert token.digits == row["expected_token"]


def test_ext1_tid_on_2014_base() -> None:
    token = credit_token(_key("KX-E7B2"), units=10, issued_at=_at("2026-09-10 10:56"),
                         base_date=2014, rnd=5, subclass=1)  # fmt: skip
    assert token.tid == 6675056 and token.digits == "63525115892327740484"
    assert token.issued_minute == _at("2026-09-10 10:56")


# --- builders: details ----------------------------------------------------------------------


def test_credit_token_reports_what_was_credited() -> None:
    token = credit_token(_key(A1), units=20000, issued_at=_at("2004-03-01 13:55"), rnd=5)
    assert token.units == 20004  # 2000.0 kWh is sent as 2000.4 kWh
    assert token.tid == 5871715 and token.rnd == 5 and token.subclass == 0
    assert token.grouped.replace(" ", "") == token.digits
    fields = token.fields
    assert isinstance(fields, CreditFields) and fields.units == 20004


def test_credit_overflow_and_random_rnd() -> None:
    with pytest.raises(AmountOverflowError):
        credit_token(_key(A1), units=18_201_625, issued_at=_at("2004-03-01 13:55"))
    rnds = {
        credit_token(_key(A1), units=1, issued_at=_at("2004-03-01 13:55")).rnd for _ in range(200)
    }
    assert len(rnds) > 1 and rnds <= set(range(16))


def test_builder_argument_errors() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        credit_token(_key(A1), units=1, rnd=5)
    with pytest.raises(ValueError, match="exactly one"):
        credit_token(_key(A1), units=1, tid=1, issued_at=_at("2004-01-01"), rnd=5)
    with pytest.raises(TokenClassError):
        credit_token(_key(A1), units=1, tid=1, subclass=8)
    with pytest.raises(ValueError, match="RND"):
        credit_token(_key(A1), units=1, tid=1, rnd=16)
    with pytest.raises(ValueError, match="MfrCode"):
        meter_test_token(control=1, manufacturer_code="123")
    with pytest.raises(ValueError, match="36 bits"):
        meter_test_token(control=1 << 36, manufacturer_code="00")
    with pytest.raises(ValueError, match="28 bits"):
        meter_test_token(control=1 << 28, manufacturer_code="1234")
    with pytest.raises(ValueError, match="SGC"):
        key_change_tokens(_key(M93), _key(M93), key_type=2, krn=1, tariff_index=1)


def test_currency_credit_token() -> None:
    token = credit_token(_key(A1), units=10_000_624, tid=6_680_788, subclass=4)
    assert f"{token.payload48:012x}" == "40" + "65f0d4" + "dff6"
    assert token.units == 10_000_624 and token.rnd is None
    assert decode_token(_key(A1), token.digits) == (0, token.payload48)
    debit = credit_token(_key(A1), units=-500, tid=6_680_789, subclass=5)
    fields = debit.fields
    assert isinstance(fields, CreditFields) and fields.units == -500 and fields.is_currency


def test_currency_token_published_decode() -> None:
    token_class, payload = decode_token(bytes.fromhex("4530EDB79B5F083D"), "07420412750539184100")
    fields = parse_fields(token_class, payload)
    assert token_class == 0
    assert isinstance(fields, CreditFields)
    assert (fields.subclass, fields.sign_exponent, fields.tid) == (4, 0, 6_680_788)
    assert (fields.amount_field, fields.units) == (0xDFF6, 10_000_624)


def test_four_digit_manufacturer_code_test_token() -> None:
    token = meter_test_token(control=0x0ABCDEF, manufacturer_code="1234")
    assert token.payload48 == (1 << 44) | (0x0ABCDEF << 16) | 1234
    fields = token.fields
    assert isinstance(fields, MeterTestFields)
    assert (fields.subclass, fields.control, fields.manufacturer_code_text) == (1, 0xABCDEF, "1234")
    assert decode_token(b"", token.digits) == (1, token.payload48)


def test_other_management_builders() -> None:
    rate = tariff_rate_token(_key(A1), rate=0x1234, tid=100, rnd=3)
    factor = water_meter_factor_token(_key(A1), factor=0x0042, tid=101, rnd=3)
    assert rate.payload48 == (2 << 44) | (3 << 40) | (100 << 16) | 0x1234
    assert factor.payload48 == (7 << 44) | (3 << 40) | (101 << 16) | 0x0042
    mpl = max_power_limit_token(_key(A1), watts=16385, tid=102, rnd=3)
    assert mpl.units == 16394
    fields = mpl.fields
    assert isinstance(fields, ManagementFields) and fields.watts == 16394


def test_sta_key_change_pair_layout() -> None:
    old, new = _key(A1), _key(A1_TI02)
    first, second = key_change_tokens(old, new, key_type=2, krn=1, tariff_index=99, ken=0xA5)
    assert f"{first.payload48:012x}" == "3a12060b8643"
    assert f"{second.payload48:012x}" == "45" + "63" + "c59a27f1"  # TI 99 = binary 0x63
    for token in (first, second):
        assert decode_token(old, token.digits) == (2, token.payload48)
        with pytest.raises(TokenCRCError):
            decode_token(new, token.digits)


def test_misty1_key_change_four_sections_byte_mapping() -> None:
    new = bytes(range(16))
    sections = key_change_tokens(
        _key(M93), new, key_type=2, krn=3, tariff_index=2, sgc=123457, rollover=True
    )
    assert [token.subclass for token in sections] == [3, 4, 8, 9]
    fields = [token.fields for token in sections]
    assert all(isinstance(f, KeyChangeFields) for f in fields)
    words = [f.key_word for f in fields if isinstance(f, KeyChangeFields)]
    assert words == [0x00010203, 0x0C0D0E0F, 0x04050607, 0x08090A0B]
    first, _, third, fourth = fields
    assert isinstance(first, KeyChangeFields) and first.rollover and first.krn == 3
    assert isinstance(third, KeyChangeFields) and isinstance(fourth, KeyChangeFields)
    assert (fourth.sgc_part or 0) << 12 | (third.sgc_part or 0) == 123457


def test_ctsa05_04_full_set_starts_with_public_vector() -> None:
    sections = key_change_tokens(
        _key(M93), _key("K04M-93-1-TI02"), key_type=2, krn=1, tariff_index=2, sgc=123457
    )
    assert sections[0].digits == "34812744915211133004"
    assert len(sections) == 4


# --- generic encode/decode ------------------------------------------------------------------

payloads = st.integers(min_value=0, max_value=(1 << 48) - 1)
keys = st.one_of(st.binary(min_size=8, max_size=8), st.binary(min_size=16, max_size=16))


@given(st.sampled_from([0, 1, 2]), payloads, keys)
def test_decode_inverts_encode(token_class: int, payload48: int, key: bytes) -> None:
    token = encode_token(key, token_class, payload48)
    assert len(token) == 20 and token.isdigit()
    assert decode_token(key, token) == (token_class, payload48)


@given(payloads)
def test_class1_ignores_the_key(payload48: int) -> None:
    token = encode_token(b"", 1, payload48)
    assert token == encode_token(bytes(8), 1, payload48)
    assert decode_token(bytes(16), token) == (1, payload48)


def test_dea_and_sample_tables_are_selectable() -> None:
    key = _key(A1)
    plain = encode_token(key, 0, 0x055998630001)
    dea = encode_token(key, 0, 0x055998630001, ea=9)
    sample = encode_token(key, 0, 0x055998630001, sta_tables=SAMPLE_TABLES)
    assert len({plain, dea, sample}) == 3
    assert decode_token(key, dea, ea=9) == (0, 0x055998630001)
    assert decode_token(key, sample, sta_tables=SAMPLE_TABLES) == (0, 0x055998630001)
    with pytest.raises(ValueError, match="EA11 needs a 16-byte"):
        encode_token(key, 0, 1, ea=11)


def test_wrong_key_is_a_crc_error() -> None:
    token = encode_token(_key(A1), 0, 0x055998630001)
    with pytest.raises(TokenCRCError, match="CRC"):
        decode_token(_key(A1_TI02), token)
    assert issubclass(TokenCRCError, ValueError)


def test_mistyped_token_is_a_crc_error() -> None:
    with pytest.raises(TokenCRCError):
        decode_token(_key(A1), "23716100501183194198")
    with pytest.raises(TokenCRCError):
        decode_token(b"", "56493153725450313472")  # class 1: CRC only


@pytest.mark.parametrize(
    "token", ["2371610050118319419", "2371610050118319419x", "73786976294838206464", ""]
)
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(TokenFormatError):
        decode_token(_key(A1), token)


def test_class_3_is_reserved() -> None:
    with pytest.raises(TokenClassError, match="reserved"):
        encode_token(_key(A1), 3, 0)
    with pytest.raises(TokenFormatError, match="reserved"):
        decode_token(_key(A1), f"{3 << 27:020d}")


def test_payload_out_of_range() -> None:
    with pytest.raises(ValueError, match="48-bit"):
        encode_token(_key(A1), 0, 1 << 48)
    with pytest.raises(ValueError, match="8 bytes"):
        encode_token(b"123", 0, 0)
