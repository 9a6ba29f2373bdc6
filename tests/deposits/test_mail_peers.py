"""The test mail peers themselves (marker ``mail``): Dovecot is started on a port picked in
advance, since it cannot report a port of its own choosing; when another process takes that
port first, Dovecot starts again on another one instead of failing the test."""

from __future__ import annotations

import socket

import pytest

from tools import mailpeers

pytestmark = pytest.mark.mail


def test_dovecot_starts_again_when_its_port_was_taken(
    dovecot_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        picked: list[int] = []
        real = mailpeers.free_port

        def free_port() -> int:
            # The first pick is the squatter's port, as when another process wins the race.
            picked.append(taken if not picked else real())
            return picked[-1]

        monkeypatch.setattr(mailpeers, "free_port", free_port)
        with mailpeers.running_dovecot(dovecot_path, show_log=False) as imap:
            assert picked[0] == taken and imap.port == picked[-1] != taken
            with socket.create_connection((imap.host, imap.port), timeout=5) as client:
                assert client.recv(64).startswith(b"* OK")
