"""A local Kannel with a fake SMS centre, for tests, benchmarks and a newcomer's machine.

``LocalKannel`` writes a loopback config into a directory (bearerbox's admin, smsbox and
fake-SMSC ports, smsbox's sendsms port, one ``sendsms-user``, one catch-all
``sms-service`` whose ``get-url`` is our ``/sms/mo`` with ``max-messages = 0``: replies go
out through our outbox and sendsms, with delivery reports), starts ``bearerbox`` and
``smsbox``, and injects MOs with ``fakesmsc`` (Debian ``kannel-extras``), collecting the
MTs it receives. ``evd kannel`` runs one next to ``evd serve`` (docs/OPERATIONS.md).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

FAKESMSC_PATHS = ("/usr/lib/kannel/test/fakesmsc", "/usr/libexec/kannel/test/fakesmsc")
_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>\s*$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binaries() -> dict[str, str] | str:
    """The Kannel binaries, or why they are missing (install: ``make sysdeps``)."""
    found = {name: shutil.which(name) or f"/usr/sbin/{name}" for name in ("bearerbox", "smsbox")}
    fake = next((p for p in FAKESMSC_PATHS if os.path.exists(p)), None)
    missing = [n for n, p in found.items() if not os.path.exists(p)]
    if fake is None:
        missing.append("fakesmsc (kannel-extras)")
    if missing:
        return f"Kannel is not installed ({', '.join(missing)} missing): run `make sysdeps`"
    return {**found, "fakesmsc": fake}  # type: ignore[dict-item]


@dataclass
class Mt:
    sender: str
    receiver: str
    coding: str
    text: str


@dataclass
class LocalKannel:
    directory: Path
    mo_url: str  # our /sms/mo, with Kannel's escapes appended here
    admin_port: int = field(default_factory=free_port)
    smsbox_port: int = field(default_factory=free_port)
    smsc_port: int = field(default_factory=free_port)
    sendsms_port: int = field(default_factory=free_port)
    username: str = "evd"
    password: str = field(default_factory=lambda: os.urandom(8).hex())
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    binaries: dict[str, str] = field(default_factory=dict)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def config_text(self) -> str:
        d = self.directory
        separator = "&" if "?" in self.mo_url else "?"
        get_url = f"{self.mo_url}{separator}from=%p&to=%P&text=%a&id=%I"
        return f"""group = core
admin-port = {self.admin_port}
admin-password = {os.urandom(8).hex()}
admin-interface = 127.0.0.1
smsbox-port = {self.smsbox_port}
box-allow-ip = 127.0.0.1
admin-allow-ip = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = 1
dlr-storage = internal
store-type = spool
store-location = "{d}/spool"

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 1
http-request-retry = 3
http-queue-delay = 1
sendsms-chars = "0123456789 +-"

group = sendsms-user
username = {self.username}
password = {self.password}
max-messages = 1
concatenation = false

group = sms-service
keyword = default
catch-all = yes
max-messages = 0
get-url = "{get_url}"
"""

    def start(self, timeout: float = 20.0) -> None:
        binaries = find_binaries()
        if isinstance(binaries, str):
            raise RuntimeError(binaries)
        self.binaries = binaries
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "spool").mkdir(exist_ok=True)
        conf = self.directory / "kannel.conf"
        for attempt in range(3):
            conf.write_text(self.config_text())
            self._spawn([binaries["bearerbox"], str(conf)], "bearerbox.out")
            try:
                _wait_port(self.smsbox_port, timeout, self.processes[-1])
                break
            except RuntimeError:
                self.stop()
                if attempt == 2:
                    raise
                # Another process took a port between free_port() and bearerbox's bind (a
                # busy machine): bearerbox's own ports again. Those callers were given
                # (sendsms, the MO URL) stay as they are.
                self.admin_port, self.smsbox_port, self.smsc_port = (
                    free_port(),
                    free_port(),
                    free_port(),
                )
        self._spawn([binaries["smsbox"], str(conf)], "smsbox.out")
        _wait_port(self.sendsms_port, timeout)

    def _spawn(self, argv: list[str], out: str) -> None:
        log = open(self.directory / out, "wb")  # noqa: SIM115 - closed with the process
        self.processes.append(
            subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def exchange(
        self,
        sender: str,
        text: str,
        *,
        until: Any,
        count: int = 1,
        receiver: str = "12345",
        timeout: float = 30.0,
        interval: float = 0.0,
        more: list[tuple[str, str]] = (),  # type: ignore[assignment]
    ) -> list[Mt]:
        """Inject ``count`` MOs (each gets its own gateway message id) through
        ``fakesmsc`` and collect the MTs it receives until ``until(mts)`` is true (or
        ``timeout``). With ``more`` ((sender, text) pairs), each MO is one of all the given
        messages, picked at random by fakesmsc. The fake SMSC takes one phone connection at
        a time: a load is one ``exchange`` with several messages, not several at once."""
        fakesmsc = self.binaries.get("fakesmsc") or find_binaries()["fakesmsc"]  # type: ignore[index]
        messages = [(sender, text), *more]
        argv = [
            fakesmsc,
            "-H",
            "127.0.0.1",
            "-r",
            str(self.smsc_port),
            "-i",
            str(interval),
            "-m",
            str(count),
            *(f"{who} {receiver} text {what}" for who, what in messages),
        ]
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        mts: list[Mt] = []
        lock = threading.Lock()

        def read() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                match = _GOT.search(raw.decode("utf-8", errors="replace"))
                if match:
                    with lock:
                        mts.append(_mt(*match.groups()))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                with lock:
                    if until(list(mts)):
                        break
                time.sleep(0.02)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
            reader.join(timeout=2)
        return mts


def _mt(sender: str, receiver: str, coding: str, data: str) -> Mt:
    if coding == "ucs-2":
        raw = unquote_plus(data, encoding="latin-1").encode("latin-1")
        return Mt(sender, receiver, coding, raw.decode("utf-16-be", errors="replace"))
    return Mt(sender, receiver, coding, unquote_plus(data))


def _wait_port(port: int, timeout: float, process: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"Kannel exited before opening port {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"Kannel did not open port {port} within {timeout:.0f} s")


# --- evd kannel ---------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "kannel",
        help="run a local Kannel with a fake SMS centre next to `evd serve`",
        description="Start bearerbox + smsbox on loopback with a fake SMSC, pointed at this\n"
        "config's server (/sms/mo), and print the settings `evd serve` needs. Type MOs with\n"
        '`evd sms send FROM "TEXT"`; MTs appear here. Ctrl-C stops it. See docs/SMS.md.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", default="var/kannel", help="where config and logs go")
    parser.set_defaults(handler=_kannel)


def _kannel(context: Any, args: argparse.Namespace) -> int:
    config = context.config
    base = f"http://{config.server.host}:{config.server.port}"
    kannel = LocalKannel(config.path(args.dir).resolve(), mo_url=f"{base}/sms/mo")
    kannel.start()
    print(
        f"Kannel is up (logs in {kannel.directory}). Start the server with:\n\n"
        f"  EVD__SMS__ENABLED=true EVD__SMS__SENDSMS_URL={kannel.sendsms_url} \\\n"
        f"  EVD__SMS__USERNAME={kannel.username} EVD__SMS__PASSWORD={kannel.password} "
        "evd serve\n\n(a throw-away password of this local gateway)\n"
        f"A phone: the fake SMSC on port {kannel.smsc_port}; MTs are printed below.",
        flush=True,
    )
    fakesmsc = kannel.binaries["fakesmsc"]

    def stop_on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    phone = subprocess.Popen(
        [fakesmsc, "-H", "127.0.0.1", "-r", str(kannel.smsc_port), "-m", "0", "0 0 text x"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert phone.stdout is not None
        for raw in phone.stdout:
            match = _GOT.search(raw.decode("utf-8", errors="replace"))
            if match:
                mt = _mt(*match.groups())
                print(f"MT {mt.sender} -> {mt.receiver}: {mt.text}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        phone.terminate()
        kannel.stop()
    return 0


__all__ = ["LocalKannel", "Mt", "find_binaries", "free_port"]
