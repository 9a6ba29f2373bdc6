"""One case's conversation with the server: fresh msgIDs, sending typed requests, the
checks every answer must pass, a log of what went over the wire, and the case's time budget.
"""

from __future__ import annotations

import copy
import random
import re
import time
from dataclasses import dataclass, field, replace

from tools.conformance.builders import request_header
from tools.conformance.checks import CheckFailed, check_envelope, fail
from tools.conformance.profile import Credentials, Profile
from tools.conformance.reply import Reply, UnreadableReply, read_reply
from tools.conformance.transport import HttpClient, HttpResult, TransportError
from tools.conformance.wsdl import WsdlInfo
from vending.clock import system_clock
from xmlvend.codec import render_request
from xmlvend.codec.types_base import (
    BaseReq,
    MsgID,
    RequestHeader,
)

LOG_BODY_LIMIT = 4000  # characters of each body kept for the report
_PASSWORD = re.compile(r"(<(?:\w+:)?(?:password|newPassword)>)[^<]*(</)")
_PIN = re.compile(r'(\bpin=")\d*?(\d{0,4})"')


class Skip(Exception):
    """The case cannot run against this server/profile; the message says why."""


class MsgIdSource:
    """Fresh msgIDs: ``dateTime`` = now (UTC, yyyymmddHHMMSS), ``uniqueNumber`` unique
    within the run (a random start, so that two runs in the same second do not collide,
    then counting; 6 digits at most as MsgIDUniqueNumber allows)."""

    def __init__(self, seed: int | None = None) -> None:
        self._next = random.Random(seed).randrange(1, 900_000)

    def next(self) -> MsgID:
        number = self._next
        self._next = self._next % 999_999 + 1
        return MsgID(date_time=system_clock().strftime("%Y%m%d%H%M%S"), unique_number=str(number))


@dataclass
class LogEntry:
    label: str
    request: bytes
    status: int | None
    response: bytes
    note: str = ""

    def render(self) -> str:
        """The exchange for a report. Reports get shared: operator passwords are blanked,
        voucher PINs cut to their last four digits."""
        req = _PASSWORD.sub(r"\1***\2", self.request.decode("utf-8", "replace"))
        req = req[:LOG_BODY_LIMIT]
        resp = _PIN.sub(r'\1...\2"', self.response.decode("utf-8", "replace"))
        resp = resp[:LOG_BODY_LIMIT]
        status = "no answer" if self.status is None else f"HTTP {self.status}"
        note = f" ({self.note})" if self.note else ""
        return f"--- {self.label}: request\n{req}\n--- {self.label}: {status}{note}\n{resp}\n"


@dataclass
class Session:
    """Shared by the steps of one case."""

    profile: Profile
    http: HttpClient
    msg_ids: MsgIdSource
    wsdl: WsdlInfo  # the server's WSDL as the runner read it once
    budget: float = 9.5
    log: list[LogEntry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.budget
        self._other_http: HttpClient | None = None

    @property
    def advertised(self) -> frozenset[str] | None:
        """Standard names of the operations the WSDL advertises; None = WSDL unreadable."""
        return self.wsdl.advertised

    # ---------------------------------------------------------------- identities

    def header(
        self, client: Credentials | None = None, *, msg_id: MsgID | None = None
    ) -> RequestHeader:
        """A request header for ``client`` (default: the profile's) with a fresh msgID."""
        return request_header(client or self.profile.client, msg_id or self.msg_ids.next())

    def meter(self, role: str) -> str:
        """The profile's meter for ``role``, or skip the case."""
        msno = self.profile.meter(role)
        if not msno:
            raise Skip(f"no test meter for role {role!r} (--meter {role}=MSNO)")
        return msno

    def other_client(self) -> Credentials:
        """The second client; skips when there is none, or when mutual TLS is in use and
        the kit has no certificate for it (the server would rightly refuse it)."""
        other = self.profile.other_client
        if other is None:
            raise Skip("needs a second client (--other-client-id and its operator)")
        if self.profile.tls.has_client_cert and not self.profile.other_tls.has_client_cert:
            raise Skip("needs the second client's certificate (--other-cert/--other-key)")
        return other

    def as_client(self, client: Credentials) -> Session:
        """This case's session speaking as ``client`` (same budget, log and connections)."""
        clone = copy.copy(self)
        clone.profile = replace(self.profile, client=client)
        return clone

    def connection_for(self, sent: RequestHeader | None) -> HttpClient:
        """The connection a request goes over: the second client's certificate for its
        requests, ours for everything else."""
        other = self.profile.other_client
        if (
            sent is not None
            and other is not None
            and self.profile.other_tls.has_client_cert
            and getattr(sent.client_id, "ean", getattr(sent.client_id, "id", None))
            == other.client_id
        ):
            if self._other_http is None:
                self._other_http = self.http.with_tls(self.profile.other_tls)
            return self._other_http
        return self.http

    def needs(self, *operations: str) -> None:
        """Skip unless the server's WSDL advertises every one of ``operations``."""
        if self.advertised is None:
            return  # WSDL unreadable: try anyway (WS-001 reports the WSDL)
        missing = [op for op in operations if op not in self.advertised]
        if missing:
            raise Skip(f"the server's WSDL does not advertise {', '.join(missing)}")

    # ---------------------------------------------------------------- sending

    def remaining(self) -> float:
        return self._deadline - time.monotonic()

    def _timeout(self) -> float:
        left = self.remaining()
        if left <= 0:
            fail(f"the case ran out of its {self.budget:.0f} s budget")
        return min(self.profile.timeout, left)

    def post(
        self,
        body: bytes,
        *,
        label: str,
        soap_action: str | None = '""',
        gzip_body: bool = False,
        accept_gzip: bool = True,
        client: HttpClient | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> HttpResult:
        """POST raw bytes; a transport failure fails the case (with the reason)."""
        http = client or self.http
        try:
            result = http.post(
                body,
                soap_action=soap_action,
                gzip_body=gzip_body,
                accept_gzip=accept_gzip,
                timeout=self._timeout(),
                extra_headers=extra_headers,
            )
        except TransportError as exc:
            self.log.append(LogEntry(label, body, None, b"", str(exc)))
            fail(f"{label}: no answer from the server: {exc}")
        note = f"{result.elapsed:.2f} s" + (
            f", {result.content_encoding}" if result.content_encoding else ""
        )
        self.log.append(LogEntry(label, body, result.status, result.body, note))
        return result

    def read(self, result: HttpResult, *, label: str) -> Reply:
        try:
            return read_reply(result)
        except UnreadableReply as exc:
            fail(f"{label}: {exc}")

    def exchange(
        self,
        request: BaseReq,
        *,
        label: str,
        lenient_msg_id: MsgID | None = None,
        **post_options: object,
    ) -> Reply:
        """Send a typed request and run the checks every answer must pass."""
        return self.exchange_raw(
            render_request(request),
            request.header,
            label=label,
            lenient_msg_id=lenient_msg_id,
            **post_options,
        )

    def exchange_raw(
        self,
        body: bytes,
        sent: RequestHeader | None,
        *,
        label: str,
        lenient_msg_id: MsgID | None = None,
        **post_options: object,
    ) -> Reply:
        """Send bytes (``sent``: the header they carry, None if unreadable) and check the
        answer's envelope, schema validity and header echo."""
        post_options.setdefault("client", self.connection_for(sent))
        result = self.post(body, label=label, **post_options)  # type: ignore[arg-type]
        reply = self.read(result, label=label)
        try:
            check_envelope(reply, sent, lenient_msg_id=lenient_msg_id)
        except CheckFailed as exc:
            fail(f"{label}: {exc.reason}")
        return reply

    def abandon(self, request: BaseReq, *, label: str) -> None:
        """Send and hang up without reading: a client timing out."""
        body = render_request(request)
        try:
            self.http.abandon(body)
        except TransportError as exc:
            self.log.append(LogEntry(label, body, None, b"", str(exc)))
            fail(f"{label}: could not send: {exc}")
        self.log.append(LogEntry(label, body, None, b"", "abandoned without reading"))

    def pause(self, seconds: float) -> None:
        if seconds >= self.remaining():
            fail(f"the case ran out of its {self.budget:.0f} s budget")
        time.sleep(seconds)
