"""Real mail peers for the deposit tests (marker ``mail``): Dovecot serving a Maildir over
IMAP on a free loopback port, and an aiosmtpd SMTP sink delivering into that Maildir.

Like PostgreSQL: outside CI a missing ``dovecot`` binary skips these tests with the reason;
with ``CI=true`` it is an error (``make sysdeps`` installs dovecot-imapd).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
USER = "deposits"
PASSWORD = "imap-test-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _dovecot_binary() -> str:
    found = shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )
    if found is None:
        reason = "dovecot is not installed (apt-get install dovecot-imapd; make sysdeps)"
        if IN_CI:
            pytest.fail(f"CI=true requires Dovecot: {reason}", pytrace=False)
        pytest.skip(reason)
    return found


@dataclass(frozen=True)
class Imap:
    host: str
    port: int
    username: str
    password: str
    maildir: Path


@pytest.fixture
def dovecot() -> Iterator[Imap]:
    binary = _dovecot_binary()
    # Not under pytest's 0700 tmp tree: Dovecot's unprivileged login processes must reach
    # base_dir; and unix socket paths must stay short.
    root = Path(tempfile.mkdtemp(prefix="evd-dc-"))
    root.chmod(0o755)
    home = root / "home" / USER
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    # Dovecot refuses uid 0 for mail access: as root, the mailbox belongs to nobody.
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
        for path in (root / "home", home, maildir, *(maildir / s for s in ("cur", "new", "tmp"))):
            os.chown(path, uid, gid)
    port = _free_port()
    config = root / "dovecot.conf"
    config.write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
    )
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                pytest.fail(f"dovecot exited: {output}\n{log}", pytrace=False)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("dovecot did not answer on its port within 15 s", pytrace=False)
            time.sleep(0.05)
        yield Imap("127.0.0.1", port, USER, PASSWORD, maildir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        log_file = root / "dovecot.log"
        if log_file.exists():
            # Shown with a failing test's captured output.
            print("dovecot log:\n" + log_file.read_text(errors="replace")[-4000:])
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def smtp_sink(dovecot: Imap) -> Iterator[tuple[str, int]]:
    """aiosmtpd delivering every message it receives into Dovecot's Maildir."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    port = _free_port()
    controller = Controller(Mailbox(str(dovecot.maildir)), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield ("127.0.0.1", port)
    finally:
        controller.stop()
