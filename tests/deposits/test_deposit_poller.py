"""The mailbox poller ``evd serve`` runs, on ``task.Clock`` (SQLite and PostgreSQL): a
poll at start and every ``poll_seconds``, a kick (IMAP IDLE) polls at once, one poll at a
time with one more after a kick during it, a failing mailbox retried at the next tick; the
IDLE watcher signals new mail and stops when the server offers no IDLE."""

from __future__ import annotations

from typing import Any

from deposit_support import (
    NOW,
    SETTINGS,
    ZAR_MERCHANT,
    DkimKeys,
    ImmediateRunner,
    bank_email,
    fixture,
    seed_merchants,
    vendor_balance,
)
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from deposits.intake.imap import MailboxSettings
from deposits.intake.poller import IdleWatcher, MailboxPoller
from vending import outbox
from vending.money import Money
from vending.services.deposits import Deposits

SBSA = "standardbank.co.za"


class Inbox:
    """An in-memory mailbox with the reader's two calls (the real one: test_deposit_mail)."""

    def __init__(self) -> None:
        self.unseen: dict[int, bytes] = {}
        self.seen: list[int] = []
        self.down = False
        self._uid = 0

    def deliver(self, raw: bytes) -> None:
        self._uid += 1
        self.unseen[self._uid] = raw

    def fetch_unseen(self, limit: int = 200) -> list[tuple[int, bytes]]:
        if self.down:
            raise ConnectionRefusedError("imap down")
        return sorted(self.unseen.items())[:limit]

    def mark_seen(self, uids: list[int]) -> None:
        for uid in uids:
            self.unseen.pop(uid, None)
            self.seen.append(uid)


def _direct(fn: Any, *args: Any) -> Deferred:
    return succeed(fn(*args))


def _world(database):  # type: ignore[no-untyped-def]
    seed_merchants(database)
    keys = DkimKeys()
    keys.add(SBSA)
    service = Deposits(ImmediateRunner(database), SETTINGS, lambda: NOW, keys.dnsfunc)
    raw = keys.sign(bank_email(fixture("sbsa_payment_email.txt"), f"notify@{SBSA}"), SBSA)
    return service, raw


def test_polls_at_start_every_interval_and_when_kicked(database) -> None:  # type: ignore[no-untyped-def]
    service, raw = _world(database)
    inbox, reactor = Inbox(), Clock()
    poller = MailboxPoller(inbox, service, reactor, _direct, poll_seconds=60)  # type: ignore[arg-type]
    poller.start()
    assert poller.polls == 1
    inbox.deliver(raw)
    reactor.advance(59)
    assert poller.polls == 1 and inbox.unseen
    reactor.advance(1)
    assert poller.polls == 2 and not inbox.unseen
    assert vendor_balance(database, ZAR_MERCHANT) == Money(250000 - 1250, "ZAR")
    confirmations = [
        n for n in database.run_txn("n", outbox.pending) if n.kind == "deposit.confirmation"
    ]
    assert [n.subject for n in confirmations] == [ZAR_MERCHANT]
    # Resent by the bank: read, a duplicate, nothing credited twice.
    inbox.deliver(raw)
    poller.kick()
    assert poller.polls == 3 and not inbox.unseen
    assert vendor_balance(database, ZAR_MERCHANT) == Money(250000 - 1250, "ZAR")
    poller.stop()
    reactor.advance(600)
    assert poller.polls == 3


def test_one_poll_at_a_time_and_a_failing_mailbox_is_retried(database) -> None:  # type: ignore[no-untyped-def]
    service, raw = _world(database)
    inbox, reactor = Inbox(), Clock()
    pending: list[Deferred] = []

    def slow(fn: Any, *args: Any) -> Deferred:
        waiting: Deferred = Deferred()
        pending.append(waiting)
        waiting.addCallback(lambda _: fn(*args))
        return waiting

    poller = MailboxPoller(inbox, service, reactor, slow, poll_seconds=30)  # type: ignore[arg-type]
    poller.start()
    poller.kick()
    reactor.advance(30)  # a tick while the first poll waits: no second poll at once
    assert poller.polls == 1 and len(pending) == 1
    pending.pop(0).callback(None)  # fetched nothing: the poll ends, the one asked for starts
    assert poller.polls == 2 and len(pending) == 1
    inbox.deliver(raw)
    pending.pop(0).callback(None)  # fetched the mail; recorded; then marked seen
    pending.pop(0).callback(None)
    assert poller.polls == 2 and not pending and not inbox.unseen
    assert vendor_balance(database, ZAR_MERCHANT) == Money(250000 - 1250, "ZAR")

    poller.stop()
    inbox.down = True
    fast = MailboxPoller(inbox, service, reactor, _direct, poll_seconds=30)  # type: ignore[arg-type]
    fast.start()
    assert fast.failures == 1
    inbox.down = False
    inbox.deliver(raw)  # resent: a duplicate once the mailbox is back
    reactor.advance(30)
    assert fast.failures == 1 and not inbox.unseen
    assert vendor_balance(database, ZAR_MERCHANT) == Money(250000 - 1250, "ZAR")
    fast.stop()


def test_idle_watcher_signals_new_mail_and_stops_without_idle() -> None:
    answers = iter([False, True, None])
    signalled: list[bool] = []
    waited: list[float] = []

    def wait(settings: MailboxSettings, seconds: float, ready: Any) -> bool | None:
        ready()
        waited.append(seconds)
        return next(answers)

    watcher = IdleWatcher(
        MailboxSettings("127.0.0.1", 1, "u", "p"),
        lambda: signalled.append(True),
        idle_seconds=45,
        wait=wait,
    )
    watcher._run()  # the thread's body, here on the test's thread
    assert signalled == [True] and waited == [45, 45, 45]
