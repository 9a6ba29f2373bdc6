"""What the HTTP/JSON provider clients share: bodies signed with the shared secret, an
order's result read by the protocol's parser (a non-200 or unreadable answer is UNKNOWN:
the provider may have acted; a timeout too), and side calls (plans, quotes, searches) whose
failure means "not available" (the caller may try another provider)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

from catalogue.adapters.http import HttpChannel, ProviderTimeout, ProviderTransportError
from catalogue.adapters.recharge_json import ProtocolError
from catalogue.callbacks import SIGNATURE_HEADER, sign
from catalogue.interface import Outcome, ProviderResult, ProviderUnavailable

log = logging.getLogger("evd.catalogue.json_client")


class SignedJsonClient:
    def __init__(self, name: str, channel: HttpChannel, secret: bytes | None) -> None:
        self.name = name
        self._channel = channel
        self._secret = secret

    def _headers(self, body: bytes) -> dict[bytes, bytes]:
        headers = {b"Content-Type": b"application/json"}
        if self._secret is not None:
            headers[SIGNATURE_HEADER.encode()] = sign(self._secret, body).encode()
        return headers

    def _order_call(
        self, method: bytes, path: str, body: bytes | None, parse: Callable[[bytes], Any]
    ) -> Deferred:
        """An order's execute or status: always a :class:`ProviderResult` (or
        ProviderUnavailable when it certainly was not taken)."""
        d = self._channel.request(method, path, body, self._headers(body or b""))

        def result(answer: tuple[int, bytes]) -> ProviderResult:
            status, data = answer
            if status != 200:
                # A 5xx other than 503 (which is ProviderUnavailable): it may have acted.
                return ProviderResult(
                    Outcome.UNKNOWN, code=f"HTTP{status}", message="provider error"
                )
            try:
                return parse(data)
            except ProtocolError as exc:
                log.warning("%s: unreadable answer: %s", self.name, exc)
                return ProviderResult(Outcome.UNKNOWN, message="unreadable provider answer")

        def unknown(failure: Any) -> ProviderResult:
            failure.trap(ProviderTimeout, ProviderTransportError)
            return ProviderResult(Outcome.UNKNOWN, code="TIMEOUT", message=str(failure.value)[:200])

        d.addCallbacks(result, unknown)
        return d

    def _side_call(
        self, method: bytes, path: str, body: bytes | None, parse: Callable[[bytes], Any]
    ) -> Deferred:
        """A call that changes nothing at the provider: any failure is ProviderUnavailable."""
        d = self._channel.request(method, path, body, self._headers(body or b""))

        def read(answer: tuple[int, bytes]) -> Any:
            status, data = answer
            if status != 200:
                raise ProviderUnavailable(f"{self.name}: {path} answered HTTP {status}")
            try:
                return parse(data)
            except (ProtocolError, KeyError, ValueError, TypeError) as exc:
                raise ProviderUnavailable(f"{self.name}: unreadable answer: {exc}") from None

        def unreachable(failure: Any) -> Any:
            failure.trap(ProviderTimeout, ProviderTransportError)
            raise ProviderUnavailable(f"{self.name}: {failure.value}")

        d.addCallbacks(read, unreachable)
        return d
