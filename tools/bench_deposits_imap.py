"""End-to-end deposit latency on real mail peers: SMTP -> Dovecot -> IMAP IDLE/poll ->
credit + confirmation (one transaction). Used by ``python -m tools.bench_deposits --imap N``.

The receiving side is what ``evd serve`` runs (``deposits.intake.poller``: the poller on
the Twisted reactor, the IDLE watcher thread, ``deferToThread`` for the IMAP calls, the
database on its thread pool through ``AsyncDatabase``). A sender thread hands one
DKIM-signed bank e-mail to the SMTP sink every ``gap`` seconds; each e-mail's latency runs
from its SMTP hand-over to the commit of its credit (the confirmation is queued in the same
transaction).
"""

from __future__ import annotations

import base64
import smtplib
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "standardbank.co.za"
SELECTOR = b"alerts"


def _dkim_key() -> tuple[bytes, bytes]:
    """(private key PEM, the DNS TXT record of its public key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def _email(index: int, private: bytes) -> tuple[str, bytes]:
    import dkim

    text = (ROOT / "tests" / "data" / "deposits" / "sbsa_payment_email.txt").read_text()
    trace = f"SBZAE2E{index:010d}"
    message = EmailMessage()
    message["From"] = f"notify@{DOMAIN}"
    message["To"] = "deposits@evd.example"
    message["Subject"] = "Payment notification"
    message["Date"] = "Sun, 06 Dec 2026 08:29:00 +0200"
    message["Message-ID"] = f"<{trace}@{DOMAIN}>"
    message.set_content(text.replace("SBZA20261205A0041795", trace))
    raw = message.as_bytes().replace(b"\n", b"\r\n")
    signature = dkim.sign(
        raw, SELECTOR, DOMAIN.encode(), private, include_headers=[b"from", b"subject", b"date"]
    )
    return trace, signature + raw


def end_to_end(url: str, count: int, gap: float = 0.5, poll_seconds: float = 30.0) -> None:
    from twisted.internet import reactor

    from deposits.intake.imap import Mailbox, MailboxSettings
    from deposits.intake.poller import IdleWatcher, MailboxPoller
    from deposits.settings import DepositSettings
    from tools.mailpeers import dovecot_binary, running_dovecot, running_smtp_sink
    from vending.clock import system_clock
    from vending.services.deposits import Deposits
    from vending.storage.database import Database
    from xmlvend.transport.asyncdb import AsyncDatabase

    binary = dovecot_binary()
    if binary is None:
        raise SystemExit("--imap needs Dovecot (apt-get install dovecot-imapd)")
    private, record = _dkim_key()
    name = SELECTOR + b"._domainkey." + DOMAIN.encode() + b"."

    def dnsfunc(asked: bytes, timeout: int = 5) -> bytes | None:
        return record if asked.rstrip(b".") + b"." == name else None

    settings = DepositSettings.load(ROOT / "conf" / "deposits.toml")
    database = Database(url, pool_size=4)
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    mails = [_email(i, private) for i in range(count)]

    class Timed(Deposits):
        async def receive_emails(self, raws: list[bytes]) -> list[Any]:
            results = await super().receive_emails(raws)
            finished = time.perf_counter()
            for raw in raws:
                for trace, _ in mails:
                    if trace.encode() in raw:
                        done.setdefault(trace, finished)
            return results

    service = Timed(AsyncDatabase(reactor, database), settings, system_clock, dnsfunc)
    with (
        running_dovecot(binary, show_log=False) as imap,
        running_smtp_sink(imap.maildir) as smtp_address,
    ):
        box = MailboxSettings(imap.host, imap.port, imap.username, imap.password, ssl=False)
        from twisted.internet.threads import deferToThread

        poller = MailboxPoller(
            Mailbox(box), service, reactor, deferToThread, poll_seconds=poll_seconds
        )
        watcher = IdleWatcher(box, lambda: reactor.callFromThread(poller.kick), idle_seconds=25)

        def send() -> None:
            watcher.idling.wait(20)
            with smtplib.SMTP(*smtp_address, timeout=30) as smtp:
                for trace, raw in mails:
                    sent[trace] = time.perf_counter()
                    smtp.sendmail(f"notify@{DOMAIN}", ["deposits@evd.example"], raw)
                    time.sleep(gap)  # the sender's pace: one bank e-mail every ``gap`` s

        def check() -> None:
            if len(done) >= count or time.perf_counter() > deadline:
                reactor.stop()
            else:
                reactor.callLater(0.1, check)

        deadline = time.perf_counter() + count * gap + 120
        reactor.callWhenRunning(poller.start)
        reactor.callWhenRunning(watcher.start)
        reactor.callWhenRunning(lambda: threading.Thread(target=send, daemon=True).start())
        reactor.callWhenRunning(check)
        reactor.run()
        watcher.stop()
    database.close()
    latencies = sorted(done[t] - sent[t] for t in done if t in sent)
    if not latencies:
        print("IMAP end to end: no e-mail was credited")
        return

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(
        f"IMAP -> credit -> confirmation: {len(latencies)}/{count} e-mails, one every "
        f"{gap:g} s; latency p50 {pct(0.5):.0f} ms, p95 {pct(0.95):.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms (IDLE + poll every {poll_seconds:g} s, "
        f"{poller.polls} polls)"
    )
