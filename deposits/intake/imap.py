"""The bank-alert mailbox over IMAP (``imapclient``, blocking, so run in a thread).

:class:`Mailbox` fetches unseen messages and marks them seen; :func:`poll_once` hands each
to the deposits service and marks it seen only after its transaction committed, so a crash
in between reads it again -- harmless, the deposit is deduped on (bank, bank reference).
``to_thread`` is the composer's way to run blocking calls off the reactor
(``twisted.internet.threads.deferToThread``); tests pass one that calls directly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient

from vending.services.deposits import AlertResult, Deposits

log = logging.getLogger("evd.deposits.imap")

ToThread = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class MailboxSettings:
    host: str
    port: int
    username: str
    password: str
    folder: str = "INBOX"
    ssl: bool = True
    timeout: float = 30.0

    def __repr__(self) -> str:  # never the password in a log line
        return f"MailboxSettings({self.username}@{self.host}:{self.port}/{self.folder})"


class Mailbox:
    def __init__(self, settings: MailboxSettings) -> None:
        self.settings = settings

    def _connect(self) -> IMAPClient:
        s = self.settings
        client = IMAPClient(s.host, port=s.port, ssl=s.ssl, timeout=s.timeout)
        client.login(s.username, s.password)
        client.select_folder(s.folder)
        return client

    def fetch_unseen(self, limit: int = 200) -> list[tuple[int, bytes]]:
        """Unseen messages (uid, raw RFC 5322 bytes), oldest first; BODY.PEEK leaves them
        unseen until :meth:`mark_seen`."""
        client = self._connect()
        try:
            uids = sorted(client.search(["UNSEEN"]))[:limit]
            if not uids:
                return []
            fetched = client.fetch(uids, ["BODY.PEEK[]"])
            return [(uid, fetched[uid][b"BODY[]"]) for uid in uids if uid in fetched]
        finally:
            client.logout()

    def mark_seen(self, uids: list[int]) -> None:
        if not uids:
            return
        client = self._connect()
        try:
            client.add_flags(uids, [b"\\Seen"])
        finally:
            client.logout()


async def poll_once(mailbox: Mailbox, deposits: Deposits, to_thread: ToThread) -> list[AlertResult]:
    """Read the mailbox once: every unseen bank e-mail to the deposits service."""
    messages = await to_thread(mailbox.fetch_unseen)
    if not messages:
        return []
    # One transaction for the poll's batch (matched set-based): committed before any
    # message is marked seen.
    results = await deposits.receive_emails([raw for _uid, raw in messages])
    for (uid, _raw), result in zip(messages, results, strict=True):
        log.info("mail uid %s: %s %s", uid, result.outcome, result.state or result.reason)
    await to_thread(mailbox.mark_seen, [uid for uid, _raw in messages])
    return results


def idle_wait(
    settings: MailboxSettings, seconds: float, ready: Callable[[], None] | None = None
) -> bool | None:
    """Blocking: wait up to ``seconds`` in IMAP IDLE for the server to announce new mail;
    True when it did (EXISTS/RECENT), False when not; None: the server offers no IDLE.
    ``ready`` is called once the server is idling (mail from then on is announced)."""
    client = IMAPClient(
        settings.host, port=settings.port, ssl=settings.ssl, timeout=settings.timeout
    )
    try:
        client.login(settings.username, settings.password)
        client.select_folder(settings.folder)
        if b"IDLE" not in client.capabilities():
            return None
        client.idle()
        if ready is not None:
            ready()
        try:
            responses = client.idle_check(timeout=seconds)
        finally:
            client.idle_done()
        return any(len(item) > 1 and item[1] in (b"EXISTS", b"RECENT") for item in responses)
    finally:
        with contextlib.suppress(Exception):
            client.logout()
