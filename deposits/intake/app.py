"""Deposit intake in ``evd serve`` (the ``evd.web`` entry point): bank SMS from Kannel at
``/deposits/sms`` (config ``deposits.sms_intake``) and the bank-alert mailbox over IMAP
(``deposits.imap_host``: polled every ``imap_poll_seconds`` on the reactor, woken by IMAP
IDLE). Both off by default; the banner says how to turn them on (docs/DEPOSITS.md).
The mailbox is read by one process only (the first worker of ``evd serve --workers N``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.web import resource

from deposits.intake.imap import Mailbox, MailboxSettings
from deposits.intake.kannel import BankSmsResource
from deposits.intake.poller import IdleWatcher, MailboxPoller

SEGMENT = b"deposits"


class _Off(resource.Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"bank SMS intake is off (deposits.sms_intake)\n"


@dataclass
class DepositIntakeMount:
    resource: resource.Resource
    poller: MailboxPoller | None = None
    watcher: IdleWatcher | None = None
    segment: bytes = SEGMENT
    started: list[str] = field(default_factory=list)

    def start(self) -> None:
        if self.poller is not None:
            self.poller.start()
            self.started.append("imap")
        if self.watcher is not None:
            self.watcher.start()
            self.started.append("idle")

    def stop(self) -> Deferred:
        if self.watcher is not None:
            self.watcher.stop()
        if self.poller is not None:
            return DeferredList([self.poller.stop()], consumeErrors=True)
        return succeed(None)


def mailbox_settings(config: Any) -> MailboxSettings:
    d = config.deposits
    return MailboxSettings(
        host=d.imap_host,
        port=d.imap_port,
        username=d.imap_username,
        password=d.imap_password,
        folder=d.imap_folder,
        ssl=d.imap_ssl,
        timeout=d.imap_timeout_seconds,
    )


def build_intake(
    app: Any, *, reactor: Any, to_thread: Any = None, background: bool = True
) -> DepositIntakeMount:
    """``app``: a ``vending.services.wiring.Application``; ``to_thread``: how blocking IMAP
    calls leave the reactor (default ``deferToThread``)."""
    config = app.config
    deposits = app.services.deposits
    root = resource.Resource()
    sms_on = deposits is not None and config.deposits.sms_intake
    root.putChild(b"sms", BankSmsResource(deposits) if sms_on else _Off())
    mount = DepositIntakeMount(root)
    if deposits is not None and config.deposits.imap_host and background:
        if to_thread is None:
            from twisted.internet.threads import deferToThread

            to_thread = deferToThread
        settings = mailbox_settings(config)
        mount.poller = MailboxPoller(
            Mailbox(settings),
            deposits,
            reactor,
            to_thread,
            poll_seconds=config.deposits.imap_poll_seconds,
        )
        if config.deposits.imap_idle:
            poller = mount.poller
            mount.watcher = IdleWatcher(
                settings,
                lambda: reactor.callFromThread(poller.kick),
                idle_seconds=min(config.deposits.imap_poll_seconds, 300.0),
            )
    return mount


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> DepositIntakeMount:
    built = build_intake(app, reactor=reactor, background=background)
    built.start()
    return built


def banner_lines(base_url: str, curl_options: str = "", config: Any = None) -> list[str]:
    d = None if config is None else config.deposits
    if d is None or not d.settings_file or not (d.sms_intake or d.imap_host):
        return [
            "Deposits  bank-alert intake off. To credit merchants from bank alerts set",
            "          EVD__DEPOSITS__SETTINGS_FILE=conf/deposits.toml and",
            "          EVD__DEPOSITS__SMS_INTAKE=true (Kannel sms-service get-url",
            f"          {base_url}/deposits/sms?sender=%p&text=%a) and/or",
            "          EVD__DEPOSITS__IMAP_HOST=... (+ _USERNAME, _PASSWORD; docs/DEPOSITS.md).",
            "",
        ]
    lines = []
    if d.sms_intake:
        lines.append(f"Deposits  bank SMS {base_url}/deposits/sms?sender=%p&text=%a  (Kannel)")
    if d.imap_host:
        how = "IDLE + poll" if d.imap_idle else "poll"
        lines.append(
            f"Deposits  bank e-mail {d.imap_username}@{d.imap_host}:{d.imap_port}/"
            f"{d.imap_folder} ({how} every {d.imap_poll_seconds:g} s)"
        )
    return [*lines, ""]


__all__ = ["DepositIntakeMount", "banner_lines", "build_for_serve", "build_intake"]
