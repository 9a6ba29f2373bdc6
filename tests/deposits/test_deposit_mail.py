"""A bank e-mail through real mail peers (marker ``mail``): the bank's DKIM-signed alert is
sent over SMTP to an aiosmtpd sink, lands in Dovecot's Maildir, is read over IMAP by the
mailbox reader (imapclient) and credits the merchant once; read again, nothing more."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest
from deposit_support import (
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

from deposits.intake.imap import Mailbox, MailboxSettings, poll_once
from vending import outbox
from vending.money import Money
from vending.services.deposits import Deposits

pytestmark = pytest.mark.mail

SBSA = "standardbank.co.za"


async def _direct(fn: Any, *args: Any) -> Any:
    return fn(*args)


def test_bank_email_over_smtp_and_imap_credits_once(database, dovecot, smtp_sink) -> None:
    seed_merchants(database)
    keys = DkimKeys()
    keys.add(SBSA)
    service = Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW, keys.dnsfunc)
    raw = keys.sign(bank_email(fixture("sbsa_payment_email.txt"), f"notify@{SBSA}"), SBSA)
    forged = bank_email(
        fixture("sbsa_payment_email.txt").replace("SBZA20261205A0041795", "SBZA20261205A0099999"),
        f"notify@{SBSA}",
    )
    with smtplib.SMTP(*smtp_sink, timeout=10) as smtp:
        smtp.sendmail(f"notify@{SBSA}", ["deposits@evd.example"], raw)
        smtp.sendmail(f"notify@{SBSA}", ["deposits@evd.example"], forged)
        smtp.sendmail(f"notify@{SBSA}", ["deposits@evd.example"], raw)  # resent

    mailbox = Mailbox(
        MailboxSettings(dovecot.host, dovecot.port, dovecot.username, dovecot.password, ssl=False)
    )
    assert "imap-test-secret" not in repr(mailbox.settings)
    results = run(poll_once(mailbox, service, _direct))
    assert [(r.outcome, r.state) for r in results] == [
        ("deposit", "credited"),
        ("deposit", "review"),  # no DKIM signature: manual queue, not credited
        ("duplicate", "credited"),
    ]
    # R 2,500.00 less 0.50 % (R 12.50).
    assert vendor_balance(database, ZAR_MERCHANT) == Money(250000 - 1250, "ZAR")
    confirmations = [
        n for n in database.run_txn("n", outbox.pending) if n.kind == "deposit.confirmation"
    ]
    assert [n.subject for n in confirmations] == [ZAR_MERCHANT]
    # Marked seen on the server: the next poll reads nothing.
    assert run(poll_once(mailbox, service, _direct)) == []


def test_served_poller_credits_once_and_idle_announces_mail(database, dovecot, smtp_sink) -> None:
    """``evd serve``'s intake: the poller on the reactor's clock (task.Clock) reads the real
    mailbox; IMAP IDLE on Dovecot announces a new bank e-mail and the kick polls at once."""
    import threading

    from twisted.internet.task import Clock

    from deposits.intake.poller import IdleWatcher, MailboxPoller

    seed_merchants(database)
    keys = DkimKeys()
    keys.add(SBSA)
    service = Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW, keys.dnsfunc)
    raw = keys.sign(bank_email(fixture("sbsa_payment_email.txt"), f"notify@{SBSA}"), SBSA)
    settings = MailboxSettings(
        dovecot.host, dovecot.port, dovecot.username, dovecot.password, ssl=False
    )
    reactor = Clock()

    async def to_thread(fn: Any, *args: Any) -> Any:  # the blocking IMAP calls, inline here
        return fn(*args)

    poller = MailboxPoller(Mailbox(settings), service, reactor, to_thread, poll_seconds=300)
    poller.start()  # an empty mailbox: nothing yet
    announced = threading.Event()
    watcher = IdleWatcher(settings, announced.set, idle_seconds=20)
    watcher.start()
    try:
        assert watcher.idling.wait(20), "Dovecot did not enter IDLE"
        with smtplib.SMTP(*smtp_sink, timeout=10) as smtp:
            smtp.sendmail(f"notify@{SBSA}", ["deposits@evd.example"], raw)
            smtp.sendmail(f"notify@{SBSA}", ["deposits@evd.example"], raw)  # resent
        assert announced.wait(20), "IMAP IDLE did not announce the new mail"
    finally:
        watcher.stop()
    poller.kick()  # what the watcher's callFromThread does on the reactor
    if vendor_balance(database, ZAR_MERCHANT) == Money(0, "ZAR"):
        reactor.advance(300)  # the second copy landed after the first poll: the next tick
    assert vendor_balance(database, ZAR_MERCHANT) == Money(250000 - 1250, "ZAR")
    reactor.advance(300)
    assert vendor_balance(database, ZAR_MERCHANT) == Money(250000 - 1250, "ZAR")
    confirmations = [
        n for n in database.run_txn("n", outbox.pending) if n.kind == "deposit.confirmation"
    ]
    assert [n.subject for n in confirmations] == [ZAR_MERCHANT]
    assert run(poll_once(Mailbox(settings), service, _direct)) == []
    poller.stop()
