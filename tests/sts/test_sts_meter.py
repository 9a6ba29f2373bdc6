"""Meter simulator end to end (utilities.sts.meter; sts.md §5 and §8)."""

from __future__ import annotations

from datetime import datetime

import pytest

from utilities.sts import (
    MeterSimulator,
    Rejection,
    clear_credit_token,
    clear_tamper_token,
    credit_token,
    derive_decoder_key,
    encode_token,
    key_change_tokens,
    max_phase_power_unbalance_limit_token,
    max_power_limit_token,
    meter_test_token,
    tariff_rate_token,
    tid_from_datetime,
    water_meter_factor_token,
)
from utilities.sts.meter import key_type_change_allowed

VK02 = bytes.fromhex("abababababababab")
VK04 = bytes.fromhex("abababababababab949494949494949401234567")
DRN = "47500150231"
OTHER_DRN = "47500150249"
MANUFACTURED = tid_from_datetime(datetime(2004, 1, 1))


def sta_key(drn: str = DRN, krn: int = 1, ti: int = 1, kt: int = 2) -> bytes:
    return derive_decoder_key(
        VK02, dkga=2, drn=drn, key_type=kt, sgc="123456", tariff_index=ti, krn=krn
    )


def misty_key(krn: int = 1, ti: int = 1, base_date: int = 1993) -> bytes:
    return derive_decoder_key(
        VK04, dkga=4, drn=DRN, key_type=2, sgc="123457", tariff_index=ti, krn=krn,
        base_date=base_date, ea=11,
    )  # fmt: skip


def sta_meter(**overrides: object) -> MeterSimulator:
    settings: dict[str, object] = {
        "decoder_key": sta_key(), "key_type": 2, "krn": 1, "tariff_index": 1,
        "sgc": 123456, "manufacture_tid": MANUFACTURED,
    }  # fmt: skip
    settings.update(overrides)
    return MeterSimulator(**settings)  # type: ignore[arg-type]


def credit(key: bytes, when: str, units: int = 100, **extra: object) -> str:
    token = credit_token(key, units=units, issued_at=datetime.fromisoformat(when), rnd=5, **extra)  # type: ignore[arg-type]
    return token.digits


# --- credit and TID memory ------------------------------------------------------------------


def test_credit_accepted_and_register_rises() -> None:
    meter = sta_meter()
    result = meter.enter(credit(sta_key(), "2004-03-01 13:55", units=123))
    assert result.accepted and result.reason is None
    assert result.credited == 123 and meter.credit[0] == 123
    assert meter.enter(credit(sta_key(), "2004-03-01 13:56", units=20000)).accepted
    assert meter.credit[0] == 123 + 20004  # the rounded-up amount the token carries
    assert tid_from_datetime(datetime(2004, 3, 1, 13, 56)) in meter.tid_memory


def test_credit_per_subclass_register() -> None:
    meter = sta_meter()
    assert meter.enter(credit(sta_key(), "2004-03-01 13:55", units=7, subclass=1)).accepted
    assert meter.enter(credit(sta_key(), "2004-03-01 13:56", units=9, subclass=3)).accepted
    assert (meter.credit[0], meter.credit[1], meter.credit[3]) == (0, 7, 9)


def test_currency_credit_and_debit() -> None:
    meter = sta_meter()
    assert meter.enter(credit(sta_key(), "2004-03-01 13:55", units=16_000, subclass=4)).accepted
    assert meter.enter(credit(sta_key(), "2004-03-01 13:56", units=-10_000, subclass=4)).accepted
    assert meter.credit[4] == 6_000
    debit = meter.enter(credit(sta_key(), "2004-03-01 13:57", units=-10_000, subclass=4))
    assert debit.reason is Rejection.OVERFLOW and meter.credit[4] == 6_000


def test_same_token_again_is_used() -> None:
    meter = sta_meter()
    token = credit(sta_key(), "2004-03-01 13:55")
    assert meter.enter(token).accepted
    second = meter.enter(token)
    assert not second.accepted and second.reason is Rejection.USED
    assert meter.credit[0] == 100


def test_token_before_manufacture_is_old() -> None:
    result = sta_meter().enter(credit(sta_key(), "2003-12-31 23:59"))
    assert result.reason is Rejection.OLD


def test_manufacture_tid_itself_is_used() -> None:
    assert sta_meter().enter(credit(sta_key(), "2004-01-01 00:00")).reason is Rejection.USED


def test_older_than_oldest_remembered_is_old() -> None:
    meter = sta_meter(tid_memory_depth=3)
    tokens = [credit(sta_key(), f"2004-03-0{day} 10:00") for day in range(1, 5)]
    assert all(meter.enter(token).accepted for token in tokens)
    assert len(meter.tid_memory) == 3  # the manufacture TID and day 1 were forgotten
    assert meter.enter(tokens[0]).reason is Rejection.OLD
    assert meter.enter(credit(sta_key(), "2004-03-02 09:00")).reason is Rejection.OLD
    assert meter.enter(credit(sta_key(), "2004-03-02 11:00")).accepted  # between remembered
    assert meter.enter(tokens[3]).reason is Rejection.USED


def test_out_of_order_tokens_within_memory_are_accepted() -> None:
    meter = sta_meter()
    later, earlier = credit(sta_key(), "2004-03-05 10:00"), credit(sta_key(), "2004-03-04 10:00")
    assert meter.enter(later).accepted and meter.enter(earlier).accepted


def test_key_expiry_number() -> None:
    token = credit(sta_key(), "2004-04-01 09:30")  # TID 5 916 090, top byte 90
    assert sta_meter(ken=89).enter(token).reason is Rejection.KEY_EXPIRED
    assert sta_meter(ken=90).enter(token).accepted
    tamper = clear_tamper_token(sta_key(), issued_at=datetime(2004, 4, 1, 9, 31), rnd=1)
    assert sta_meter(ken=85).enter(tamper.digits).reason is Rejection.KEY_EXPIRED


def test_wrong_meter_is_a_crc_error() -> None:
    result = sta_meter().enter(credit(sta_key(OTHER_DRN), "2004-03-01 13:55"))
    assert result.reason is Rejection.CRC and not result.accepted


@pytest.mark.parametrize("token", ["123", "abcdefghijabcdefghij", "73786976294838206464"])
def test_malformed_input_is_a_format_error(token: str) -> None:
    assert sta_meter().enter(token).reason is Rejection.FORMAT


def test_class_3_is_a_format_error() -> None:
    assert sta_meter().enter(f"{3 << 27:020d}").reason is Rejection.FORMAT


def test_reserved_credit_subclass_is_a_function_error() -> None:
    token = encode_token(sta_key(), 0, (8 << 44) | (5 << 40) | (MANUFACTURED + 10) << 16 | 1)
    assert sta_meter().enter(token).reason is Rejection.FUNCTION


def test_overflow_rejected_and_tid_not_consumed() -> None:
    meter = sta_meter(credit_limit=150)
    assert meter.enter(credit(sta_key(), "2004-03-01 13:55", units=100)).accepted
    big = credit(sta_key(), "2004-03-01 13:56", units=100)
    assert meter.enter(big).reason is Rejection.OVERFLOW
    assert meter.credit[0] == 100
    clear = clear_credit_token(sta_key(), register=0, issued_at=datetime(2004, 3, 1, 13, 57))
    assert meter.enter(clear.digits).accepted and meter.credit[0] == 0
    assert meter.enter(big).accepted and meter.credit[0] == 100


def test_ddtk_meter_refuses_credit_but_takes_management() -> None:
    key = sta_key(kt=1)
    meter = sta_meter(decoder_key=key, key_type=1, tamper=True)
    assert meter.enter(credit(key, "2004-03-01 13:55")).reason is Rejection.DDTK
    tamper = clear_tamper_token(key, issued_at=datetime(2004, 3, 1, 13, 56), rnd=2)
    assert meter.enter(tamper.digits).accepted and meter.tamper is False


# --- class 1 and class 2 register tokens ----------------------------------------------------


def test_test_tokens_accepted_without_tid() -> None:
    meter = sta_meter(manufacturer_code="47")
    token = meter_test_token(control=1, manufacturer_code="47").digits
    memory = list(meter.tid_memory)
    assert meter.enter(token).accepted and meter.enter(token).accepted
    assert meter.tid_memory == memory
    assert meter.last_test is not None and meter.last_test.control == 1
    other = meter_test_token(control=1, manufacturer_code="0047").digits
    assert meter.enter(other).reason is Rejection.MANUFACTURER_CODE
    assert sta_meter().enter(other).accepted  # a meter without a MfrCode takes any
    assert sta_meter().enter("56493153725450313472").reason is Rejection.CRC


def test_management_tokens_apply() -> None:
    key = sta_key()
    meter = sta_meter(tamper=True)
    meter.credit.update({0: 50, 1: 60})

    def at(minute: int) -> datetime:
        return datetime(2004, 3, 1, 12, minute)

    steps = [
        max_power_limit_token(key, watts=1000, issued_at=at(0), rnd=1),
        max_phase_power_unbalance_limit_token(key, watts=256, issued_at=at(1), rnd=1),
        tariff_rate_token(key, rate=0x1234, issued_at=at(2), rnd=1),
        water_meter_factor_token(key, factor=42, issued_at=at(3), rnd=1),
        clear_tamper_token(key, issued_at=at(4), rnd=1),
        clear_credit_token(key, register=1, issued_at=at(5), rnd=1),
    ]
    for token in steps:
        result = meter.enter(token.digits)
        assert result.accepted, result.message
    assert meter.max_power_limit == 1000 and meter.max_phase_power_unbalance_limit == 256
    assert meter.tariff_rate == 0x1234 and meter.water_meter_factor == 42
    assert meter.tamper is False and meter.credit[0] == 50 and meter.credit[1] == 0
    assert meter.enter(clear_credit_token(key, issued_at=at(6), rnd=1).digits).accepted
    assert set(meter.credit.values()) == {0}
    bad_register = clear_credit_token(key, register=8, issued_at=at(7), rnd=1)
    assert meter.enter(bad_register.digits).reason is Rejection.FUNCTION
    assert meter.enter(steps[0].digits).reason is Rejection.USED


# --- key change ---------------------------------------------------------------------------


def test_sta_key_change_then_new_key_credit_and_old_key_wrong_key() -> None:
    old, new = sta_key(), sta_key(krn=2, ti=7)
    meter = sta_meter()
    first, second = key_change_tokens(old, new, key_type=2, krn=2, tariff_index=7, ken=200)
    half = meter.enter(first.digits)
    assert half.accepted and not half.key_changed and meter.decoder_key == old
    assert meter.enter(credit(new, "2004-03-01 13:55")).reason is Rejection.CRC
    done = meter.enter(second.digits)
    assert done.accepted and done.key_changed
    assert (meter.decoder_key, meter.krn, meter.tariff_index, meter.ken) == (new, 2, 7, 200)
    assert meter.enter(credit(new, "2004-03-01 13:56")).accepted
    stale = meter.enter(credit(old, "2004-03-01 13:57"))
    assert stale.reason is Rejection.WRONG_KEY
    assert meter.enter(first.digits).reason is Rejection.WRONG_KEY  # KCTs were under old key
    assert meter.enter(credit(sta_key(OTHER_DRN), "2004-03-01 13:58")).reason is Rejection.CRC


def test_key_change_sections_in_any_order() -> None:
    old, new = sta_key(), sta_key(krn=3)
    meter = sta_meter()
    first, second = key_change_tokens(old, new, key_type=2, krn=3, tariff_index=1)
    assert not meter.enter(second.digits).key_changed
    assert meter.enter(first.digits).key_changed and meter.decoder_key == new


def test_key_change_tokens_are_not_tid_checked() -> None:
    meter = sta_meter()
    memory = list(meter.tid_memory)
    for token in key_change_tokens(sta_key(), sta_key(krn=2), key_type=2, krn=2, tariff_index=1):
        assert meter.enter(token.digits).accepted
    assert meter.tid_memory == memory


def test_kct_with_ken_makes_later_tokens_expire() -> None:
    old, new = sta_key(), sta_key(krn=2)
    meter = sta_meter()
    for token in key_change_tokens(old, new, key_type=2, krn=2, tariff_index=1, ken=85):
        meter.enter(token.digits)
    assert meter.ken == 85
    assert meter.enter(credit(new, "2004-04-01 09:30")).reason is Rejection.KEY_EXPIRED


def test_disallowed_key_type_change() -> None:
    meter = sta_meter()
    for new_type in (0, 1):
        first, _ = key_change_tokens(
            sta_key(), sta_key(kt=new_type), key_type=new_type, krn=1, tariff_index=1
        )
        assert meter.enter(first.digits).reason is Rejection.KEY_TYPE
    assert meter.pending_key_sections == {}
    to_common = key_change_tokens(sta_key(), sta_key(kt=3), key_type=3, krn=1, tariff_index=1)
    assert all(meter.enter(token.digits).accepted for token in to_common)
    assert meter.key_type == 3


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [(0, 0, True), (0, 1, True), (0, 2, True), (0, 3, True), (1, 0, False), (1, 1, True),
     (1, 2, True), (2, 0, False), (2, 1, False), (2, 2, True), (2, 3, True), (3, 1, False),
     (3, 2, True), (3, 3, True)],
)  # fmt: skip
def test_key_type_change_rules(current: int, new: int, allowed: bool) -> None:
    assert key_type_change_allowed(current, new) is allowed


def test_misty1_key_change_needs_four_sections_and_sets_sgc() -> None:
    old, new = misty_key(), misty_key(ti=2)
    meter = MeterSimulator(decoder_key=old, sgc=123457, manufacture_tid=MANUFACTURED)
    assert meter.ea == 11
    sections = key_change_tokens(old, new, key_type=2, krn=1, tariff_index=2, sgc=654321)
    assert len(sections) == 4
    for token in (sections[3], sections[0], sections[2]):
        result = meter.enter(token.digits)
        assert result.accepted and not result.key_changed
    assert meter.decoder_key == old
    assert meter.enter(sections[1].digits).key_changed
    assert (meter.decoder_key, meter.sgc, meter.tariff_index) == (new, 654321, 2)
    assert meter.enter(credit(new, "2004-03-01 13:55")).accepted
    assert meter.enter(credit(old, "2004-03-01 13:56")).reason is Rejection.WRONG_KEY


def test_third_section_refused_by_sta_meter() -> None:
    sections = key_change_tokens(sta_key(), misty_key(), key_type=2, krn=1, tariff_index=1, sgc=1)
    assert sta_meter().enter(sections[2].digits).reason is Rejection.FUNCTION


# --- TID roll-over 1993 -> 2014 (sts.md §8) --------------------------------------------------


def _rolled_meter(rollover: bool) -> tuple[MeterSimulator, bytes]:
    old = sta_key()
    new = derive_decoder_key(
        VK04, dkga=4, drn=DRN, key_type=2, sgc="123456", tariff_index=1, krn=2,
        base_date=2014, ea=7,
    )  # fmt: skip
    meter = sta_meter()
    assert meter.enter(credit(old, "2024-11-24 20:00")).accepted  # near the 1993 limit
    for token in key_change_tokens(old, new, key_type=2, krn=2, tariff_index=1, rollover=rollover):
        assert meter.enter(token.digits).accepted
    return meter, new


def test_rollover_clears_tid_memory_and_moves_base_date() -> None:
    meter, new = _rolled_meter(rollover=True)
    assert meter.tid_memory == [] and meter.base_date == 2014 and meter.krn == 2
    token = credit(new, "2024-12-01 08:00", base_date=2014)
    assert meter.enter(token).accepted
    assert meter.credit[0] == 200
    assert meter.enter(token).reason is Rejection.USED


def test_without_rollover_2014_base_tokens_are_old() -> None:
    meter, new = _rolled_meter(rollover=False)
    assert meter.base_date == 1993
    assert meter.enter(credit(new, "2024-12-01 08:00", base_date=2014)).reason is Rejection.OLD


def test_meter_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        MeterSimulator(decoder_key=b"short")
    with pytest.raises(ValueError, match="depth"):
        MeterSimulator(decoder_key=sta_key(), tid_memory_depth=0)
