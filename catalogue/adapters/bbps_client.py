"""The BBPS-like network client (XML, :mod:`catalogue.adapters.bbps_xml`): the provider
interface's real implementation for bill payment (execute = pay), plus fetch and
complaints."""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from twisted.internet.defer import Deferred

from catalogue.adapters import bbps_xml as proto
from catalogue.adapters.http import HttpChannel, ProviderTimeout, ProviderTransportError
from catalogue.errors import ProviderError
from catalogue.interface import Outcome, ProviderOrder, ProviderResult, ProviderUnavailable

log = logging.getLogger("evd.catalogue.bbps_client")
HEADERS = {b"Content-Type": b"application/xml; charset=utf-8"}


class BbpsXmlClient:
    def __init__(
        self,
        name: str,
        channel: HttpChannel,
        clock: Callable[[], datetime],
        *,
        orig_inst: str = "EV01",
        agent_id: str = "EV01EV01AGT000000001",
    ) -> None:
        self.name = name
        self._channel = channel
        self._clock = clock
        self._orig_inst = orig_inst
        self._agent_id = agent_id
        self._msg_ids = itertools.count(secrets.randbelow(10**6))

    def _post(self, body: bytes) -> Deferred:
        return self._channel.request(b"POST", "", body, HEADERS)

    def _msg_id(self) -> str:
        return f"EVM{next(self._msg_ids):017d}"

    # --- the provider interface -------------------------------------------------------------

    def execute(self, order: ProviderOrder) -> Deferred:
        params = order.params
        body = proto.payment_request(
            ref_id=str(params.get("ref_id", "")),
            orig_inst=self._orig_inst,
            agent_id=self._agent_id,
            biller_id=order.provider_code,
            params=dict(params.get("customer", {})),
            mobile=str(params.get("mobile", "")),
            amount=order.amount,
            order_id=order.order_id,
            now=self._clock(),
        )
        d = self._post(body)
        d.addCallbacks(lambda answer: self._read(answer, proto.read_payment), self._unknown)
        return d

    def status(self, order_id: str) -> Deferred:
        body = proto.status_request(
            ref_id=self._ref(),
            orig_inst=self._orig_inst,
            now=self._clock(),
            txn_type="TXN_STATUS",
            txnReferenceId=order_id,
        )
        d = self._post(body)
        d.addCallbacks(lambda answer: self._read(answer, proto.read_status), self._unknown)
        return d

    # --- fetch and complaints ---------------------------------------------------------------

    def fetch(
        self, ref_id: str, biller_id: str, params: Mapping[str, str], mobile: str
    ) -> Deferred:
        body = proto.fetch_request(
            ref_id=ref_id,
            orig_inst=self._orig_inst,
            agent_id=self._agent_id,
            biller_id=biller_id,
            params=params,
            mobile=mobile,
            now=self._clock(),
            msg_id=self._msg_id(),
        )
        d = self._post(body)

        def read(answer: tuple[int, bytes]) -> Any:
            status, data = answer
            if status != 200:
                raise ProviderUnavailable(f"{self.name}: fetch answered HTTP {status}")
            try:
                bill = proto.read_fetch(data)
            except proto.ProtocolError as exc:
                raise ProviderUnavailable(f"{self.name}: unreadable fetch answer: {exc}") from None
            if isinstance(bill, tuple):
                raise ProviderError(f"the biller refused the fetch: {bill[0]} {bill[1]}")
            return bill

        d.addCallbacks(read, self._unreachable)
        return d

    def complain(
        self, order_id: str, provider_ref: str | None, kind: str, description: str
    ) -> Deferred:
        body = proto.status_request(
            ref_id=self._ref(),
            orig_inst=self._orig_inst,
            now=self._clock(),
            txn_type="COMPLAINT_REGISTER",
            type=kind,
            txnReferenceId=order_id,
            description=description[:200],
        )
        return self._complaint(body)

    def complaint_status(self, complaint_id: str) -> Deferred:
        body = proto.status_request(
            ref_id=self._ref(),
            orig_inst=self._orig_inst,
            now=self._clock(),
            txn_type="COMPLAINT_STATUS",
            complaintId=complaint_id,
        )
        return self._complaint(body)

    def _complaint(self, body: bytes) -> Deferred:
        d = self._post(body)

        def read(answer: tuple[int, bytes]) -> Any:
            try:
                return proto.read_complaint(answer[1])
            except proto.ProtocolError as exc:
                raise ProviderError(f"{self.name}: {exc}") from None

        d.addCallbacks(read, self._unreachable)
        return d

    # --- helpers ----------------------------------------------------------------------------

    def _ref(self) -> str:
        return "EVD" + secrets.token_hex(16).upper()

    def _read(self, answer: tuple[int, bytes], reader: Callable[[bytes], ProviderResult]) -> Any:
        status, body = answer
        if status != 200:
            return ProviderResult(Outcome.UNKNOWN, code=f"HTTP{status}", message="network error")
        try:
            return reader(body)
        except proto.ProtocolError as exc:
            log.warning("%s: unreadable answer: %s", self.name, exc)
            return ProviderResult(Outcome.UNKNOWN, message="unreadable network answer")

    def _unknown(self, failure: Any) -> ProviderResult:
        failure.trap(ProviderTimeout, ProviderTransportError)
        return ProviderResult(Outcome.UNKNOWN, code="TIMEOUT", message=str(failure.value)[:200])

    def _unreachable(self, failure: Any) -> Any:
        failure.trap(ProviderTimeout, ProviderTransportError)
        raise ProviderUnavailable(f"{self.name}: {failure.value}")
