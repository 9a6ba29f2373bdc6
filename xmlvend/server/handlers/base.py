"""What every operation handler gets and returns.

A handler is ``async def handler(services: Services, call: Call) -> Reply``: it decodes one
parsed, authenticated request into the application service's typed request, awaits the
service (:mod:`vending.services`) and renders or returns its answer. No transaction
functions, no business rules, no storage here. Domain errors are raised, never answered
here: the endpoint maps every exception to its fault in one place
(:mod:`xmlvend.server.faults`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from vending.auth import Principal
from vending.money import Money
from vending.requests import RequestKey
from vending.services.context import RequestContext
from vending.services.results import Outcome
from vending.services.wiring import Services as ApplicationServices
from xmlvend.codec import render_request
from xmlvend.codec.types_base import BaseReq
from xmlvend.server.convert import Currencies, device_value, request_id
from xmlvend.server.renderer import Rendering, XMLVendRenderer

# The channel name under which XMLVend requests are keyed (and its renderer registered).
CHANNEL = "xmlvend"


@dataclass(frozen=True)
class Services:
    """Everything handlers use: the application services (the only entry to the core),
    this channel's renderer and currency table, the clock; built by
    :mod:`xmlvend.server.app`."""

    app: ApplicationServices
    renderer: XMLVendRenderer
    currencies: Currencies
    clock: Callable[[], datetime]

    @property
    def electricity_product(self) -> str:
        return self.app.settings.electricity_product


@dataclass
class Call:
    """One request on its way through the server."""

    request: BaseReq
    received_at: datetime
    principal: Principal | None = None
    # Set by the endpoint when the client was answered "delayed" at the deadline.
    delayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def client_id(self) -> str:
        return device_value(self.request.header.client_id)

    @cached_property
    def request_id(self) -> str:
        return request_id(self.request.header.msg_id)

    @cached_property
    def terminal_id(self) -> str:
        return device_value(self.request.header.terminal_id)

    @cached_property
    def key(self) -> RequestKey:
        return RequestKey(
            channel=CHANNEL,
            client_id=self.client_id,
            request_id=self.request_id,
            operation=self.request.operation,
            fingerprint=self.request.fingerprint,
        )

    @property
    def who(self) -> Principal:
        if self.principal is None:
            raise RuntimeError("the request has not been authenticated")
        return self.principal

    def rendering(self, balance: Money | None = None) -> Rendering:
        return Rendering(self.request, self.principal, balance)

    def context(self, balance: Money | None = None) -> RequestContext:
        """The services' view of this request (its key, who asks, how to render)."""
        return RequestContext(
            key=self.key,
            principal=self.who,
            terminal_id=self.terminal_id,
            request=self.rendering(balance),
            # Rendered only by a sale that keeps it (held for an upstream).
            request_body=lambda: self.body_without_credentials,
            received_at=self.received_at,
        )

    @cached_property
    def body_without_credentials(self) -> bytes:
        """The request again without authCred: what may be kept (encrypted) for recovery."""
        header = dataclasses.replace(self.request.header, auth_cred=None)
        return render_request(dataclasses.replace(self.request, header=header))


@dataclass(frozen=True)
class Reply:
    """A handler's answer: the exact bytes, their HTTP status, and facts for the metrics."""

    body: bytes
    status: int = 200
    replayed: bool = False
    # Product code of a sale this request completed now (not on replay).
    product: str | None = None

    @classmethod
    def of(cls, outcome: Outcome) -> Reply:
        response = outcome.response
        return cls(
            response.body, response.http_status, replayed=outcome.replayed, product=outcome.product
        )


Handler = Callable[[Services, Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Operation:
    """An implemented operation: its handler, and whether it changes state: a
    state-changing operation claims its request key before its work, may be answered
    "delayed" at the deadline and is finished in the background; a read-only one is
    answered fresh and its answer then kept under its key (every request is keyed)."""

    handle: Handler
    state_changing: bool
