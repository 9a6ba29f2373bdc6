"""Real mail peers on loopback for the deposit tests (marker ``mail``) and
``tools.bench_deposits --imap``: Dovecot serving a Maildir over IMAP on a free port, and an
aiosmtpd SMTP sink delivering into that Maildir. Everything in a temporary directory,
stopped and removed on exit."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

USER = "deposits"
PASSWORD = "imap-test-secret"


class MailPeerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )


@dataclass(frozen=True)
class Imap:
    host: str
    port: int
    username: str
    password: str
    maildir: Path


@contextmanager
def running_dovecot(binary: str, *, show_log: bool = True) -> Iterator[Imap]:
    # Not under the test runner's 0700 tmp tree: Dovecot's unprivileged login processes must reach
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
    # Dovecot cannot listen on port 0 and say which port it got: a free port is picked
    # first, and another process may take it before Dovecot binds it. Then Dovecot exits
    # saying so, and it starts again on another port.
    process: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(_BIND_ATTEMPTS):
            port = free_port()
            process = _start_dovecot(binary, root, port, uid, gid)
            try:
                _wait_for_imap(process, root, port)
                break
            except _PortTaken:
                if attempt == _BIND_ATTEMPTS - 1:
                    raise MailPeerError(
                        f"dovecot found its port taken {_BIND_ATTEMPTS} times"
                    ) from None
        yield Imap("127.0.0.1", port, USER, PASSWORD, maildir)
    finally:
        if process is not None:
            _stop(process)
        log_file = root / "dovecot.log"
        if show_log and log_file.exists():
            # Shown with a failing test's captured output.
            print("dovecot log:\n" + log_file.read_text(errors="replace")[-4000:])
        shutil.rmtree(root, ignore_errors=True)


_BIND_ATTEMPTS = 5


class _PortTaken(Exception):
    """Dovecot exited because its listening port was in use."""


def _start_dovecot(binary: str, root: Path, port: int, uid: int, gid: int) -> Any:
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
    return subprocess.Popen(
        [binary, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _wait_for_imap(process: Any, root: Path, port: int) -> None:
    """Until Dovecot greets on ``port``; :class:`_PortTaken` if it exited for want of it."""
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            log_file = root / "dovecot.log"
            log = log_file.read_text() if log_file.exists() else ""
            if "Address already in use" in output + log:
                _stop(process)
                log_file.unlink(missing_ok=True)
                raise _PortTaken()
            raise MailPeerError(f"dovecot exited: {output}\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise MailPeerError("dovecot did not answer on its port within 15 s")
        time.sleep(0.05)


def _stop(process: Any) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout:
        process.stdout.close()


@contextmanager
def running_smtp_sink(maildir: Path) -> Iterator[tuple[str, int]]:
    """aiosmtpd delivering every message it receives into the Maildir."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    port = free_port()
    controller = Controller(Mailbox(str(maildir)), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield ("127.0.0.1", port)
    finally:
        controller.stop()
