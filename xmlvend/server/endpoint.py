"""One XMLVend request, from body bytes to response bytes, HTTP aside.

parse (codec: a small body at once, a larger one on the parse pool, see
:mod:`xmlvend.server.parsing`) -> TLS clientID check -> authenticate (worker thread,
cached) -> authorise -> the operation's handler -> response bytes, raced against the deadline
(:mod:`xmlvend.server.deadline`). Every failure becomes a SOAP Fault through
:mod:`xmlvend.server.faults`; unexpected exceptions are logged with an incident number and
answered with a generic ``SystemEx`` -- never a traceback, never an empty answer.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from vending.auth import CredentialsChanged
from vending.requests import StoredResponse
from vending.services.results import Outcome as ServiceOutcome
from xmlvend.codec import CodecError, Request, UnsupportedRequest
from xmlvend.codec.types_base import BaseReq
from xmlvend.server.auth import Gatekeeper
from xmlvend.server.convert import device_value, msg_id_text
from xmlvend.server.deadline import InFlight, answer_by
from xmlvend.server.errors import DeadlinePassed, ParserBusy, TransactionDelayed
from xmlvend.server.faults import spec_for
from xmlvend.server.handlers import Call, Operation, Reply, Services, operations
from xmlvend.server.metrics import Metrics
from xmlvend.server.parsing import RequestParser

log = logging.getLogger("evd.xmlvend")

# The last resort when even rendering a fault fails: a fixed, valid SOAP 1.1 fault.
EMERGENCY_FAULT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b"<soap:Fault><faultcode>soap:Server</faultcode>"
    b"<faultstring>The server could not process the request</faultstring>"
    b"</soap:Fault></soap:Body></soap:Envelope>"
)


@dataclass(frozen=True)
class Outcome:
    """The answer to one request and the facts the access log and metrics need."""

    body: bytes
    status: int
    operation: str
    outcome: str  # ok, replayed, fault, delayed
    fault_class: str | None = None
    client_id: str | None = None
    msg_id: str | None = None
    incident: str | None = None


class Endpoint:
    """See the module docstring. ``clock`` gives the received-at time of requests;
    ``parse`` reads request bodies (:class:`~xmlvend.server.parsing.ParsePool`)."""

    def __init__(
        self,
        services: Services,
        gatekeeper: Gatekeeper,
        *,
        reactor: IReactorTime,
        deadline_seconds: float,
        metrics: Metrics,
        clock: Callable[[], datetime],
        parse: RequestParser,
    ) -> None:
        self.services = services
        self._parse = parse
        self._gate = gatekeeper
        self._reactor = reactor
        self._deadline = deadline_seconds
        self._metrics = metrics
        self._clock = clock
        self.in_flight = InFlight()
        self.operations: dict[str, Operation] = operations(self.in_flight.running)
        self._background: set[Deferred] = set()

    # --- one request -----------------------------------------------------------------------

    def handle(
        self, body: bytes, identities: frozenset[str] | None = None, peer: str | None = None
    ) -> Deferred:
        """-> :class:`Outcome`, within the deadline. ``identities``: the values of the
        client certificate's clientID field, None without a client certificate; ``peer``:
        the client's address from the transport (failed logins are throttled by it).

        The body is parsed at once when it is small, else on the parse pool
        (:mod:`xmlvend.server.parsing`); the time it took counts against the deadline."""
        started = self._reactor.seconds()
        parsed = self._parse(body)
        parsed.addCallbacks(
            self._dispatch, self._not_parsed, callbackArgs=(identities, started, peer)
        )
        return parsed

    def _not_parsed(self, failure: Failure) -> Outcome:
        error = failure.value
        if isinstance(error, CodecError):
            header = error.header
            return self.fault_outcome(
                None,
                error,
                operation="unknown",
                client_id=None if header is None else device_value(header.client_id),
                msg_id=None if header is None else msg_id_text(header.msg_id),
            )
        if isinstance(error, ParserBusy):
            log.warning("request refused unread: no parser thread free in time")
        # ParserBusy is a SystemEx; anything else is a bug in parsing: answered, and logged
        # with an incident number.
        return self.fault_outcome(None, error, failure=failure, operation="unknown")

    def _dispatch(
        self,
        request: Request,
        identities: frozenset[str] | None,
        started: float,
        peer: str | None = None,
    ) -> Outcome | Deferred:
        if isinstance(request, UnsupportedRequest):
            return self._unsupported(request)
        operation = self.operations[request.operation]
        call = Call(request, received_at=self._clock())
        key = (call.client_id, call.request_id)
        if operation.state_changing:
            self.in_flight.add(key)
        work = ensureDeferred(self._process(call, operation, identities, peer))
        self._background.add(work)
        answer = answer_by(
            self._reactor,
            max(self._deadline - (self._reactor.seconds() - started), 0.0),
            work,
            on_time=lambda result: self._outcome(call, result),
            at_deadline=lambda: self._at_deadline(call, operation),
            late=lambda result: self._late(call, operation, result),
        )
        # After the answer (and a late failure's storing): until then the request counts
        # as running for last-response advices.
        if operation.state_changing:
            work.addBoth(self._forget_in_flight, key)
        work.addBoth(self._drop_background, work)
        return answer

    async def _process(
        self,
        call: Call,
        operation: Operation,
        identities: frozenset[str] | None,
        peer: str | None = None,
    ) -> Reply:
        header = call.request.header
        self._gate.check_certificate(header, identities)
        call.principal = await self._gate.authenticate(header, peer)
        self._gate.authorise(call.principal, call.request.operation)
        try:
            reply = await operation.handle(self.services, call)
        except CredentialsChanged:
            # The password, a status or a privilege changed since it was cached: verify
            # once more, and check the permission again.
            self._gate.forget(call.client_id)
            call.principal = await self._gate.authenticate(header, peer)
            self._gate.authorise(call.principal, call.request.operation)
            reply = await operation.handle(self.services, call)
        if operation.state_changing:
            return reply  # claimed and stored by its own transaction
        # Every request is keyed: a read-only answer is kept too, so that a re-sent request
        # gets the same bytes, a reused msgID is refused and a last-response advice finds it.
        processed = await self.services.app.answers.keep(
            call.key, call.who, StoredResponse(reply.body, reply.status), call.received_at
        )
        return Reply.of(ServiceOutcome.of(processed))

    # --- answers -----------------------------------------------------------------------------

    def _outcome(self, call: Call, result: Reply | Failure) -> Outcome:
        if isinstance(result, Failure):
            return self.fault_outcome(call.request, result.value, call=call, failure=result)
        reply = result
        if reply.product is not None:
            self._metrics.vend(reply.product)
        if reply.replayed:
            kind = "replayed"
        else:
            kind = "ok" if reply.status == 200 else "fault"
        return Outcome(
            body=reply.body,
            status=reply.status,
            operation=call.request.operation,
            outcome=kind,
            client_id=call.client_id,
            msg_id=call.request_id,
        )

    def _at_deadline(self, call: Call, operation: Operation) -> Outcome:
        if operation.state_changing:
            call.delayed = True
            return self.fault_outcome(
                call.request, TransactionDelayed(call.request_id), call=call, kind="delayed"
            )
        error = DeadlinePassed(
            f"No answer within {self._deadline:g} s (the utility is slow or unavailable); "
            "nothing was changed, please try again"
        )
        return self.fault_outcome(call.request, error, call=call)

    def _unsupported(self, request: UnsupportedRequest) -> Outcome:
        body, fault = self.services.renderer.unsupported(request)
        return Outcome(
            body=body,
            status=fault.http_status,
            operation=request.operation,
            outcome="fault",
            fault_class=fault.fault_class,
            client_id=device_value(request.header.client_id),
            msg_id=msg_id_text(request.header.msg_id),
        )

    def fault_outcome(
        self,
        request: BaseReq | None,
        error: BaseException,
        *,
        call: Call | None = None,
        failure: Failure | None = None,
        kind: str = "fault",
        operation: str | None = None,
        client_id: str | None = None,
        msg_id: str | None = None,
    ) -> Outcome:
        incident = None
        if spec_for(error).generic:
            incident = secrets.token_hex(4)
            log.error(
                "internal error, incident %s, operation %s: %r",
                incident,
                operation or (request.operation if request is not None else "unknown"),
                error,
                exc_info=(type(error), error, failure.getTracebackObject() if failure else None),
            )
        try:
            body, fault = self.services.renderer.fault(request, error, incident or "")
            status, fault_class = fault.http_status, fault.fault_class
        except Exception:
            log.exception("rendering the fault for %r failed", error)
            body, status, fault_class = EMERGENCY_FAULT, 500, "SystemEx"
        if call is not None:
            client_id, msg_id = call.client_id, call.request_id
        return Outcome(
            body=body,
            status=status,
            operation=operation or (request.operation if request is not None else "unknown"),
            outcome=kind,
            fault_class=fault_class,
            client_id=client_id,
            msg_id=msg_id,
            incident=incident,
        )

    # --- after the deadline -------------------------------------------------------------------

    def _late(self, call: Call, operation: Operation, result: Any) -> Deferred | None:
        """The work of a request answered at the deadline has finished."""
        if not isinstance(result, Failure):
            self._metrics.late_completion("ok")
            log.info("delayed %s %s completed", call.request.operation, call.request_id)
            return None
        self._metrics.late_completion("failed")
        if not operation.state_changing:
            log.info("late %s %s failed: %s", call.request.operation, call.request_id, result.value)
            return None
        # The client was told "delayed": the definitive answer is the fault, stored so that
        # its last-response advice finds it (unless the request stored an answer itself).
        outcome = self.fault_outcome(call.request, result.value, call=call, failure=result)
        d = ensureDeferred(
            self.services.app.answers.store_late_failure(
                call.key, StoredResponse(outcome.body, outcome.status)
            )
        )

        def stored(done: bool) -> None:
            log.info(
                "delayed %s %s failed (%s)%s",
                call.request.operation,
                call.request_id,
                outcome.fault_class,
                "; fault stored for its last-response advice" if done else "",
            )

        def not_stored(failure: Failure) -> None:
            log.error(
                "delayed %s %s failed and its fault could not be stored: %s",
                call.request.operation,
                call.request_id,
                failure.getTraceback(),
            )

        d.addCallbacks(stored, not_stored)
        return d

    def _forget_in_flight(self, result: Any, key: tuple[str, str]) -> Any:
        self.in_flight.discard(key)
        return result

    def _drop_background(self, result: Any, work: Deferred) -> Any:
        self._background.discard(work)
        return result

    def drain(self) -> Deferred:
        """Fires when every request still being worked on (delayed ones too) has ended."""
        return DeferredList(list(self._background), consumeErrors=True)
