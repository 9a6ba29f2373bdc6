"""Bank alert templates: every bank's fixtures read exactly; a changed wording is a
mismatch (never a guess); fee rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from deposit_support import FIXTURES, SETTINGS, fixture

from deposits.settings import DepositSettings, FeeRule
from deposits.templates import TemplateError, TemplateMismatch
from vending.money import Money

RECEIVED = date(2026, 12, 6)

# fixture, sender id, direction, amount (minor units), currency, bank ref, reference, payer
EXPECTED = [
    (
        "hdfc_imps.sms",
        "VM-HDFCBK",
        "credit",
        500000,
        "INR",
        "634012345678",
        "EVD 8901234000011",
        "xx7788",
    ),
    (
        "hdfc_neft.sms",
        "AD-HDFCBK",
        "credit",
        1250000,
        "INR",
        "SBIN626340123456",
        "VA EVDV000123",
        "RAJESH TRADERS",
    ),
    ("hdfc_debit.sms", "VM-HDFCBK", "debit", 200000, "INR", "634099887766", "", ""),
    ("sbi_upi.sms", "VM-SBIINB", "credit", 750000, "INR", "634087654321", "", "MEENA STORES"),
    ("fnb_eft.sms", "FNB", "credit", 150000, "ZAR", "8H2K91QZ", "EVD 6004708000007", ""),
    ("fnb_debit.sms", "FNB", "debit", 35000, "ZAR", "9J3L02RA", "SPAR DEMO", ""),
]
EMAILS = [
    (
        "sbi_neft_email.txt",
        "alerts.sbi.co.in",
        2000000,
        "INR",
        "HDFCN52026120512",
        "EVDV000123",
        "30012345678",
    ),
    (
        "sbsa_payment_email.txt",
        "standardbank.co.za",
        250000,
        "ZAR",
        "SBZA20261205A0041795",
        "EVD6004708000007",
        "1198765432",
    ),
]


@pytest.mark.parametrize(
    ("name", "sender", "direction", "amount", "currency", "ref", "reference", "payer"), EXPECTED
)
def test_sms_fixtures_read_exactly(
    name, sender, direction, amount, currency, ref, reference, payer
) -> None:
    template = SETTINGS.book.for_sender(sender)
    assert template is not None
    parsed = template.parse(fixture(name), RECEIVED)
    assert parsed.direction == direction
    assert parsed.amount == Money(amount, currency)
    assert parsed.bank_ref == ref
    assert parsed.reference == reference
    assert parsed.payer == payer
    assert parsed.txn_date == date(2026, 12, 5)


@pytest.mark.parametrize(
    ("name", "domain", "amount", "currency", "ref", "reference", "payer"), EMAILS
)
def test_email_fixtures_read_exactly(name, domain, amount, currency, ref, reference, payer) -> None:
    template = SETTINGS.book.for_domain(domain)
    assert template is not None
    parsed = template.parse(fixture(name), RECEIVED)
    assert (parsed.direction, parsed.amount, parsed.bank_ref) == (
        "credit",
        Money(amount, currency),
        ref,
    )
    assert (parsed.reference, parsed.payer, parsed.txn_date) == (
        reference,
        payer,
        date(2026, 12, 5),
    )


def test_four_banks_from_two_countries_have_fixtures() -> None:
    banks = {t.name: t.currency for t in SETTINGS.book.templates}
    assert len(banks) >= 4
    assert {"INR", "ZAR"} <= set(banks.values())
    assert len(list(FIXTURES.iterdir())) >= 8


@pytest.mark.parametrize(
    ("name", "sender", "change", "missing"),
    [
        ("hdfc_imps.sms", "VM-HDFCBK", ("IMPS Ref No.", "IMPS Txn Id"), "bank_ref"),
        ("fnb_eft.sms", "FNB", ("R1 500.00", "ZAR1500"), "amount"),
        ("sbi_upi.sms", "VM-SBIINB", ("credited by", "received"), "amount"),
        ("hdfc_neft.sms", "VM-HDFCBK", ("05-DEC-26", "2026/12/05"), "date"),
    ],
)
def test_a_changed_wording_is_a_mismatch_not_a_guess(name, sender, change, missing) -> None:
    template = SETTINGS.book.for_sender(sender)
    text = fixture(name).replace(*change)
    assert text != fixture(name)
    with pytest.raises(TemplateMismatch) as caught:
        template.parse(text, RECEIVED)
    assert missing in caught.value.missing


def test_an_unreadable_date_is_a_mismatch() -> None:
    template = SETTINGS.book.for_sender("VM-HDFCBK")
    with pytest.raises(TemplateMismatch) as caught:
        template.parse(fixture("hdfc_imps.sms").replace("05-12-26", "45-12-26"), RECEIVED)
    assert "readable date" in caught.value.missing


def test_a_date_without_a_year_is_the_latest_not_after_arrival() -> None:
    template = SETTINGS.book.for_sender("FNB")
    text = fixture("fnb_eft.sms").replace("5Dec", "31Dec")
    assert template.parse(text, date(2027, 1, 2)).txn_date == date(2026, 12, 31)


def test_sender_ids_with_another_operator_prefix_find_the_bank() -> None:
    assert SETTINGS.book.for_sender("JX-HDFCBK").name == "HDFC"
    assert SETTINGS.book.for_sender("VM-UNKNWN") is None
    assert SETTINGS.book.for_domain("STANDARDBANK.CO.ZA").name == "SBSA"


def test_otp_messages_are_noise() -> None:
    assert SETTINGS.book.for_sender("VM-HDFCBK").is_noise(fixture("hdfc_otp.sms"))
    assert not SETTINGS.book.for_sender("VM-HDFCBK").is_noise(fixture("hdfc_imps.sms"))


@pytest.mark.parametrize(
    "data",
    [
        {
            "banks": [
                {
                    "name": "X",
                    "patterns": {"amount": "(", "bank_ref": "x", "date": "x", "credit": "x"},
                    "date_formats": ["%d"],
                }
            ]
        },
        {"banks": [{"name": "X", "patterns": {"amount": "x"}, "date_formats": ["%d"]}]},
        {
            "banks": [
                {
                    "name": "X",
                    "patterns": {"amount": "x", "bank_ref": "x", "date": "x", "credit": "x"},
                }
            ]
        },
        {"fees": {"standard": {"kind": "sliding"}}},
        {"fees": {"standard": {"kind": "percentage", "min": "5", "max": "1"}}},
        {"match_window_days": 99},
    ],
)
def test_bad_settings_are_refused(data) -> None:
    with pytest.raises(TemplateError):
        DepositSettings.from_mapping(data)


@pytest.mark.parametrize(
    ("amount", "fee"),
    [(10000, 200), (100000, 500), (1000000, 5000), (5000000, 5000), (40000, 200), (40100, 201)],
)
def test_percentage_fee_between_min_and_max(amount: int, fee: int) -> None:
    rule = FeeRule("percentage", percent=Decimal("0.50"), minimum=Decimal(2), maximum=Decimal(50))
    assert rule.fee_for(Money(amount, "ZAR")) == Money(fee, "ZAR")


def test_flat_fee_and_tiers() -> None:
    assert SETTINGS.fee_rule("gold").fee_for(Money(999900, "INR")) == Money(100, "INR")
    assert SETTINGS.fee_rule("free").fee_for(Money(999900, "INR")) == Money(0, "INR")
    assert SETTINGS.fee_rule("unknown tier") == SETTINGS.fee_rule("standard")
