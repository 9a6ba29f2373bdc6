"""Real mail peers for the deposit tests (marker ``mail``): Dovecot serving a Maildir over
IMAP on a free loopback port, and an aiosmtpd SMTP sink delivering into that Maildir
(``tools.mailpeers``, shared with ``tools.bench_deposits --imap``).

Like PostgreSQL: outside CI a missing ``dovecot`` binary skips these tests with the reason;
with ``CI=true`` it is an error (``make sysdeps`` installs dovecot-imapd).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tools.mailpeers import (
    Imap,
    MailPeerError,
    dovecot_binary,
    running_dovecot,
    running_smtp_sink,
)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _dovecot_binary() -> str:
    found = dovecot_binary()
    if found is None:
        reason = "dovecot is not installed (apt-get install dovecot-imapd; make sysdeps)"
        if IN_CI:
            pytest.fail(f"CI=true requires Dovecot: {reason}", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture
def dovecot_path() -> str:
    """The dovecot binary (skipped without one outside CI, as ``dovecot``)."""
    return _dovecot_binary()


@pytest.fixture
def dovecot() -> Iterator[Imap]:
    peer = running_dovecot(_dovecot_binary())
    try:
        imap = peer.__enter__()
    except MailPeerError as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield imap
    finally:
        peer.__exit__(None, None, None)


@pytest.fixture
def smtp_sink(dovecot: Imap) -> Iterator[tuple[str, int]]:
    """aiosmtpd delivering every message it receives into Dovecot's Maildir."""
    with running_smtp_sink(dovecot.maildir) as address:
        yield address
