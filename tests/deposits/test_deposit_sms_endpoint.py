"""The Kannel bank-SMS endpoint: it hands %p and %a to the deposits service and answers
without a reply SMS; a call without sender or text is refused and records nothing."""

from __future__ import annotations

from deposit_support import (
    NOW,
    SETTINGS,
    ZAR_MERCHANT,
    ImmediateRunner,
    fixture,
    seed_merchants,
    vendor_balance,
)
from sqlalchemy import select
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from deposits.intake.kannel import BankSmsResource
from deposits.tables import deposit_alerts
from vending.money import Money
from vending.services.deposits import Deposits


def _request(args: dict[bytes, list[bytes]]) -> DummyRequest:
    request = DummyRequest([b"sms", b"bank"])
    request.args = args
    return request


def test_a_bank_sms_from_kannel_credits_the_merchant(database) -> None:
    seed_merchants(database)
    resource = BankSmsResource(Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW))
    request = _request(
        {b"sender": [b"+27820000001"], b"text": [("From: FNB\n" + fixture("fnb_eft.sms")).encode()]}
    )
    assert resource.render(request) == NOT_DONE_YET
    assert request.finished
    assert request.responseCode == 200
    assert b"".join(request.written) == b""
    assert vendor_balance(database, ZAR_MERCHANT) == Money(150000 - 750, "ZAR")


def test_a_call_without_text_is_refused(database) -> None:
    resource = BankSmsResource(Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW))
    request = _request({b"sender": [b"FNB"]})
    body = resource.render(request)
    assert request.responseCode == 400
    assert b"required" in body
    rows = database.run_txn("a", lambda txn: txn.execute(select(deposit_alerts.c.id)).all())
    assert rows == []
