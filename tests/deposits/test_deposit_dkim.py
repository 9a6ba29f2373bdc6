"""E-mail alerts count only with a valid DKIM signature from the bank's configured domain;
anything else is kept for staff (review), never credited. Keys come from the test, through
dkimpy's ``dnsfunc``."""

from __future__ import annotations

import pytest
from deposit_support import SETTINGS, DkimKeys, bank_email, fixture

from deposits.authenticity import email_alert, sms_alert

SBSA = "standardbank.co.za"


@pytest.fixture(scope="module")
def keys() -> DkimKeys:
    keys = DkimKeys()
    keys.add(SBSA)
    keys.add("phish.example")
    return keys


def _mail(sender: str = f"notify@{SBSA}") -> bytes:
    return bank_email(fixture("sbsa_payment_email.txt"), sender)


def test_a_valid_signature_from_the_bank_is_authentic(keys: DkimKeys) -> None:
    alert = email_alert(keys.sign(_mail(), SBSA), SETTINGS.book, keys.dnsfunc)
    assert (alert.authentic, alert.reason, alert.sender_id) == (True, "", SBSA)
    assert "Trace ID: SBZA20261205A0041795" in alert.text


def test_a_changed_body_fails(keys: DkimKeys) -> None:
    raw = keys.sign(_mail(), SBSA).replace(b"R 2,500.00", b"R 9,500.00")
    alert = email_alert(raw, SETTINGS.book, keys.dnsfunc)
    assert not alert.authentic
    assert alert.reason.startswith("DKIM check failed: body hash mismatch")


def test_unsigned_mail_fails(keys: DkimKeys) -> None:
    alert = email_alert(_mail(), SETTINGS.book, keys.dnsfunc)
    assert not alert.authentic


def test_signed_by_another_domain_fails(keys: DkimKeys) -> None:
    alert = email_alert(keys.sign(_mail(), "phish.example"), SETTINGS.book, keys.dnsfunc)
    assert not alert.authentic
    assert "not by the bank's domain" in alert.reason


def test_mail_from_a_domain_with_no_bank_fails(keys: DkimKeys) -> None:
    alert = email_alert(
        keys.sign(_mail("x@phish.example"), "phish.example"), SETTINGS.book, keys.dnsfunc
    )
    assert (alert.authentic, alert.reason) == (
        False,
        "mail from phish.example, not a configured bank domain",
    )


def test_sms_forwarders() -> None:
    assert sms_alert("FNB", "text", SETTINGS.forwarders).authentic
    forwarded = sms_alert("+27820000001", "From: FNB\nFNB :-) R1.00", SETTINGS.forwarders)
    assert (forwarded.sender_id, forwarded.text, forwarded.authentic) == (
        "FNB",
        "FNB :-) R1.00",
        True,
    )
    assert not sms_alert("+27830000000", "From: FNB\nx", SETTINGS.forwarders).authentic
