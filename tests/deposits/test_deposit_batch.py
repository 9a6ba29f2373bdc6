"""A mailbox poll's batch in one transaction (SQLite and PostgreSQL): the set-based matcher
answers exactly as the one-alert matcher, and record_alerts records every alert as
record_alert does -- credited, suspense, review, duplicate, ignored and unparsed alike."""

from __future__ import annotations

import pytest
from deposit_support import (
    INR_MERCHANT,
    INR_OTHER,
    NOW,
    SETTINGS,
    ZAR_MERCHANT,
    DkimKeys,
    ImmediateRunner,
    bank_email,
    fixture,
    run,
    seed_merchants,
    vendor_balance,
)

from deposits import queue
from deposits.authenticity import sms_alert
from deposits.matching import find_merchant, find_merchants
from deposits.recording import record_alert, record_alerts
from vending.ledger import verify_ledger
from vending.money import Money
from vending.services.deposits import Deposits

HDFC_MODEM = "+919800000001"


def _alerts() -> list:  # type: ignore[type-arg]
    texts = [
        ("VM-HDFCBK", fixture("hdfc_imps.sms")),
        ("VM-HDFCBK", fixture("hdfc_neft.sms")),
        ("VM-HDFCBK", fixture("hdfc_debit.sms")),
        ("VM-HDFCBK", fixture("hdfc_otp.sms")),
        ("FNB", fixture("fnb_eft.sms")),
        ("FNB", fixture("fnb_debit.sms")),
        (HDFC_MODEM, "From: VM-SBIINB\n" + fixture("sbi_upi.sms")),
        ("+27999999999", fixture("fnb_eft.sms").replace("8H2K91QZ", "9X9X9X9X")),  # forged
        ("VM-HDFCBK", "HDFC: a wording nobody has seen before"),
        ("FNB", fixture("fnb_eft.sms")),  # the same credit again
        ("FNB", fixture("fnb_eft.sms").replace("R1 500.00", "R1 600.00")),  # disagrees
    ]
    return [sms_alert(sender, text, SETTINGS.forwarders) for sender, text in texts]


def _prepare(database) -> None:  # type: ignore[no-untyped-def]
    seed_merchants(database)
    database.run_txn(
        "va",
        queue.set_merchant,
        INR_OTHER,
        tier="gold",
        virtual_account="EVDV000123",
        actor="t",
        now=NOW,
    )
    database.run_txn("payer", queue.add_payer, INR_MERCHANT, "MEENA STORES", actor="t", now=NOW)


def test_set_based_matching_answers_as_one_by_one(database) -> None:  # type: ignore[no-untyped-def]
    _prepare(database)
    parsed = []
    for alert in _alerts():
        template = SETTINGS.book.for_sender(alert.sender_id)
        try:
            found = template.parse(alert.text, NOW.date()) if template else None
        except Exception:
            found = None
        if found is not None:
            parsed.append(found)
    window = SETTINGS.match_window_days
    single = database.run_txn(
        "one", lambda txn: [find_merchant(txn, a, NOW.date(), window) for a in parsed]
    )
    batch = database.run_txn("set", find_merchants, parsed, NOW.date(), window)
    assert batch == single and any(m is not None for m in batch)


class _Undo(Exception):
    pass


def test_a_batch_records_as_one_alert_at_a_time(database) -> None:  # type: ignore[no-untyped-def]
    _prepare(database)
    seen: list = []  # type: ignore[type-arg]

    def one_by_one(txn):  # type: ignore[no-untyped-def]
        seen.extend(record_alert(txn, SETTINGS, a, NOW) for a in _alerts())
        raise _Undo  # rolled back: the batch below starts from the same state

    with pytest.raises(_Undo):
        database.run_txn("one_by_one", one_by_one)
    batch = database.run_txn("batch", record_alerts, SETTINGS, _alerts(), NOW)
    expected = [(r.outcome, r.state, r.reason) for r in seen]
    assert [(r.outcome, r.state, r.reason) for r in batch] == expected
    outcomes = {r.outcome for r in batch}
    states = {r.state for r in batch}
    assert {"deposit", "duplicate", "ignored", "unparsed"} <= outcomes
    assert {"credited", "review"} <= states
    assert database.run_txn("verify", verify_ledger).ok


def test_the_service_records_a_poll_in_one_transaction(database) -> None:  # type: ignore[no-untyped-def]
    seed_merchants(database)
    keys = DkimKeys()
    keys.add("standardbank.co.za")
    runner = ImmediateRunner(database)
    service = Deposits(runner, SETTINGS, lambda: NOW, keys.dnsfunc)
    raw = keys.sign(
        bank_email(fixture("sbsa_payment_email.txt"), "notify@standardbank.co.za"),
        "standardbank.co.za",
    )
    results = run(service.receive_emails([raw, raw]))
    assert [(r.outcome, r.state) for r in results] == [
        ("deposit", "credited"),
        ("duplicate", "credited"),
    ]
    assert runner.calls == ["deposit_alerts"]
    assert vendor_balance(database, ZAR_MERCHANT) == Money(250000 - 1250, "ZAR")
