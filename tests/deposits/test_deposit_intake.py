"""Deposits from bank alerts end to end through the application service, on SQLite and
PostgreSQL: matching, posting with the fee leg, dedupe, authenticity, the manual queue."""

from __future__ import annotations

from typing import Any

import pytest
from deposit_support import (
    INR_MERCHANT,
    INR_OTHER,
    NOW,
    SETTINGS,
    ZAR_MERCHANT,
    DkimKeys,
    ImmediateRunner,
    balance,
    bank_email,
    fixture,
    run,
    seed_merchants,
    vendor_balance,
)
from sqlalchemy import select

from deposits import queue
from deposits.tables import deposit_alerts, deposits
from vending import audit, outbox
from vending.errors import InvalidRequest
from vending.ledger import verify_ledger
from vending.money import Money
from vending.services.deposits import Deposits
from vending.storage.database import Database
from vending.storage.schema import ledger_entries, transfers

HDFC_MODEM = "+919800000001"
ZA_MODEM = "+27820000001"


@pytest.fixture
def service(database: Database) -> Deposits:
    seed_merchants(database)
    return Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW)


def _ledger_ok(database: Database) -> None:
    report = database.run_txn("verify", verify_ledger)
    assert report.ok, report.problems()


def _legs(database: Database, transfer_id: int) -> list[tuple[str, int]]:
    from vending.storage.schema import accounts

    rows = database.run_txn(
        "legs",
        lambda txn: txn.execute(
            select(accounts.c.code, ledger_entries.c.amount, ledger_entries.c.role)
            .join(accounts, accounts.c.id == ledger_entries.c.account_id)
            .where(ledger_entries.c.transfer_id == transfer_id)
            .order_by(ledger_entries.c.id)
        ).all(),
    )
    return [(r.code, r.amount, r.role) for r in rows]


def _deposit(database: Database, deposit_id: int) -> queue.Deposit:
    return database.run_txn("get", queue.get_deposit, deposit_id)


def _notifications(database: Database, kind: str) -> list[Any]:
    return [n for n in database.run_txn("n", outbox.pending) if n.kind == kind]


def test_reference_names_the_merchant_one_transfer_with_the_fee_leg(service, database) -> None:
    result = run(service.receive_sms(HDFC_MODEM, "From: VM-HDFCBK\n" + fixture("hdfc_imps.sms")))
    assert (result.outcome, result.state) == ("deposit", "credited")
    deposit = _deposit(database, result.deposit_id)
    assert deposit.matched_by == "reference"
    assert deposit.vendor == INR_MERCHANT
    # 0.50 % of INR 5,000.00 = 25.00, between min 2.00 and max 50.00.
    assert deposit.fee == Money(2500, "INR")
    assert sorted(_legs(database, deposit.transfer_id)) == sorted(
        [
            ("deposits:clearing:INR", -500000, "deposit"),
            _vendor_leg(database, 497500),
            ("house:fees:INR", 2500, "fee"),
        ]
    )
    assert vendor_balance(database, INR_MERCHANT) == Money(497500, "INR")
    confirmations = _notifications(database, "deposit.confirmation")
    assert [(n.subject, n.payload["credited"], n.payload["bank_ref"]) for n in confirmations] == [
        (INR_MERCHANT, "4975.00", "634012345678")
    ]
    _ledger_ok(database)


def _vendor_leg(database: Database, amount: int) -> tuple[str, int, str]:
    from vending.accounts import get_account
    from vending.vendors import get_vendor

    code = database.run_txn(
        "code", lambda txn: get_account(txn, get_vendor(txn, INR_MERCHANT).account_id).code
    )
    return (code, amount, "deposit")


def test_the_same_credit_twice_by_sms_and_email_credits_once(service, database) -> None:
    first = run(service.receive_sms("VM-HDFCBK", fixture("hdfc_imps.sms")))
    again = run(service.receive_sms("VM-HDFCBK", fixture("hdfc_imps.sms")))
    keys = DkimKeys()
    keys.add("hdfcbank.net")
    service = Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW, keys.dnsfunc)
    raw = keys.sign(bank_email(fixture("hdfc_imps.sms"), "alerts@hdfcbank.net"), "hdfcbank.net")
    by_mail = run(service.receive_email(raw))
    assert first.state == "credited"
    assert (again.outcome, again.deposit_id) == ("duplicate", first.deposit_id)
    assert (by_mail.outcome, by_mail.deposit_id) == ("duplicate", first.deposit_id)
    assert vendor_balance(database, INR_MERCHANT) == Money(497500, "INR")
    count = database.run_txn("n", lambda txn: len(txn.execute(select(deposits.c.id)).all()))
    assert count == 1
    _ledger_ok(database)


def test_disagreeing_amounts_go_to_the_queue_and_reject_reverses(service, database) -> None:
    first = run(service.receive_sms("VM-HDFCBK", fixture("hdfc_imps.sms")))
    other = fixture("hdfc_imps.sms").replace("INR 5,000.00", "INR 50,000.00")
    second = run(service.receive_sms("VM-HDFCBK", other))
    assert (second.deposit_id, second.state) == (first.deposit_id, "review")
    assert "amounts disagree" in second.reason
    assert [d.id for d in run(service.queue())] == [first.deposit_id]
    assert _notifications(database, "deposit.amount_conflict")
    # The money stays with the merchant until staff decide.
    assert vendor_balance(database, INR_MERCHANT) == Money(497500, "INR")
    done = run(service.reject(first.deposit_id, actor="cli:alice", reason="bank confirms neither"))
    assert done.state == "rejected"
    assert vendor_balance(database, INR_MERCHANT) == Money(0, "INR")
    assert balance(database, "deposits:clearing:INR") == 0
    assert run(service.queue()) == []
    entries = database.run_txn("audit", audit.recent)
    assert entries[0]["action"] == "deposit.reject"
    assert entries[0]["actor"] == "cli:alice"
    _ledger_ok(database)


def test_disagreeing_amounts_assign_with_the_staff_amount(service, database) -> None:
    first = run(service.receive_sms("VM-HDFCBK", fixture("hdfc_imps.sms")))
    run(service.receive_sms("VM-HDFCBK", fixture("hdfc_imps.sms").replace("5,000.00", "5,100.00")))
    done = run(
        service.assign(
            first.deposit_id,
            INR_MERCHANT,
            actor="cli:bob",
            reason="statement says 5100",
            amount=Money(510000, "INR"),
        )
    )
    assert (done.state, done.amount, done.fee) == (
        "credited",
        Money(510000, "INR"),
        Money(2550, "INR"),
    )
    assert vendor_balance(database, INR_MERCHANT) == Money(510000 - 2550, "INR")
    _ledger_ok(database)


def test_virtual_account_in_the_narration_matches(service, database) -> None:
    database.run_txn(
        "va",
        queue.set_merchant,
        INR_OTHER,
        tier="gold",
        virtual_account="evdv000123",
        actor="t",
        now=NOW,
    )
    result = run(service.receive_sms("VM-HDFCBK", fixture("hdfc_neft.sms")))
    deposit = _deposit(database, result.deposit_id)
    assert (deposit.state, deposit.vendor, deposit.matched_by) == (
        "credited",
        INR_OTHER,
        "virtual_account",
    )
    assert deposit.fee == Money(100, "INR")  # the gold tier's flat fee
    _ledger_ok(database)


def test_known_payer_within_the_window_matches(database, service) -> None:
    database.run_txn("payer", queue.add_payer, INR_MERCHANT, "3001 2345 678", actor="t", now=NOW)
    keys = DkimKeys()
    keys.add("alerts.sbi.co.in")
    service = Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW, keys.dnsfunc)
    raw = keys.sign(
        bank_email(fixture("sbi_neft_email.txt"), "cbssbi.cas@alerts.sbi.co.in"), "alerts.sbi.co.in"
    )
    result = run(service.receive_email(raw))
    deposit = _deposit(database, result.deposit_id)
    assert (deposit.state, deposit.vendor, deposit.matched_by) == (
        "credited",
        INR_MERCHANT,
        "payer",
    )


def test_known_payer_outside_the_window_goes_to_suspense(database, service) -> None:
    database.run_txn("payer", queue.add_payer, INR_MERCHANT, "30012345678", actor="t", now=NOW)
    text = fixture("sbi_neft_email.txt").replace("05-12-2026", "01-11-2026")
    keys = DkimKeys()
    keys.add("alerts.sbi.co.in")
    service = Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW, keys.dnsfunc)
    raw = keys.sign(bank_email(text, "cbssbi.cas@alerts.sbi.co.in"), "alerts.sbi.co.in")
    assert run(service.receive_email(raw)).state == "suspense"


def test_unmatched_goes_to_suspense_then_staff_assign(service, database) -> None:
    result = run(service.receive_sms(HDFC_MODEM, "From: VM-SBIINB\n" + fixture("sbi_upi.sms")))
    assert (result.state, result.reason) == ("suspense", "no merchant matched")
    assert balance(database, "deposits:suspense:INR") == 750000
    assert vendor_balance(database, INR_OTHER) == Money(0, "INR")
    with pytest.raises(InvalidRequest):
        run(
            service.assign(
                result.deposit_id, ZAR_MERCHANT, actor="cli:bob", reason="wrong currency"
            )
        )
    done = run(
        service.assign(result.deposit_id, INR_OTHER, actor="cli:bob", reason="called the shop")
    )
    assert (done.state, done.vendor, done.matched_by) == ("credited", INR_OTHER, "staff")
    assert balance(database, "deposits:suspense:INR") == 0
    assert vendor_balance(database, INR_OTHER) == Money(750000 - 3750, "INR")
    with pytest.raises(InvalidRequest, match="not in the manual queue"):
        run(service.reject(result.deposit_id, actor="cli:bob", reason="too late"))
    actions = [e["action"] for e in database.run_txn("audit", audit.recent)]
    assert actions[0] == "deposit.assign"
    _ledger_ok(database)


def test_sms_from_an_unregistered_number_is_not_credited(service, database) -> None:
    result = run(service.receive_sms("+27831234567", "From: FNB\n" + fixture("fnb_eft.sms")))
    assert (result.state, result.reason) == (
        "review",
        "SMS from +27831234567, not a registered forwarder",
    )
    assert vendor_balance(database, ZAR_MERCHANT) == Money(0, "ZAR")
    assert database.run_txn("t", lambda txn: txn.execute(select(transfers.c.id)).all()) == []
    # The same credit from a registered forwarder settles it, once.
    settled = run(service.receive_sms(ZA_MODEM, "From: FNB\n" + fixture("fnb_eft.sms")))
    assert (settled.deposit_id, settled.state) == (result.deposit_id, "credited")
    assert vendor_balance(database, ZAR_MERCHANT) == Money(150000 - 750, "ZAR")
    _ledger_ok(database)


def test_a_template_that_no_longer_matches_is_an_alert(service, database) -> None:
    changed = fixture("fnb_eft.sms").replace("Trace", "TraceNo:")
    result = run(service.receive_sms("FNB", changed))
    assert result.outcome == "unparsed"
    assert [a["bank"] for a in database.run_txn("a", queue.unparsed_alerts)] == ["FNB"]
    assert [n.subject for n in _notifications(database, "deposit.template_mismatch")] == ["FNB"]
    assert database.run_txn("t", lambda txn: txn.execute(select(transfers.c.id)).all()) == []


@pytest.mark.parametrize(
    ("sender", "name", "reason"),
    [
        ("FNB", "fnb_debit.sms", "a debit alert"),
        ("VM-HDFCBK", "hdfc_otp.sms", "not a deposit alert"),
        ("VM-UNKNWN", "hdfc_imps.sms", "no template for VM-UNKNWN"),
    ],
)
def test_debits_noise_and_unknown_senders_are_ignored(
    service, database, sender, name, reason
) -> None:
    result = run(service.receive_sms(sender, fixture(name)))
    assert (result.outcome, result.reason) == ("ignored", reason)
    rows = database.run_txn("a", lambda txn: txn.execute(select(deposit_alerts.c.outcome)).all())
    assert [r.outcome for r in rows] == ["ignored"]


def test_a_fee_not_below_the_deposit_goes_to_suspense(service, database) -> None:
    small = fixture("fnb_eft.sms").replace("R1 500.00", "R1.50")
    result = run(service.receive_sms("FNB", small))
    assert result.state == "suspense"
    assert "is not below the deposit" in result.reason
    _ledger_ok(database)


def test_payer_accounts_are_unique(service, database) -> None:
    database.run_txn("p", queue.add_payer, INR_MERCHANT, "123456789", actor="t", now=NOW)
    with pytest.raises(InvalidRequest, match="already pays"):
        database.run_txn("p", queue.add_payer, INR_OTHER, "1234 56789", actor="t", now=NOW)
