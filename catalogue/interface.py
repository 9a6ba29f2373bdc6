"""The contract between the catalogue's fulfilment and an upstream provider (as
``utilities/interface.py`` is for electricity): validate/quote -> execute -> status ->
callback.

A provider client answers a :class:`ProviderResult` whose outcome is SUCCESS, PENDING,
FAILED or UNKNOWN (no answer in time: it may or may not have been done). PENDING and UNKNOWN
keep the merchant's money in suspense until a callback or a status poll says SUCCESS or
FAILED; only a final FAILED refunds. A client raises :class:`ProviderUnavailable` only when
the provider certainly did not take the order (connection refused, HTTP 503 before any
processing): only then may the order fail over to the next provider.

Implementations (``catalogue.adapters``) return Twisted Deferreds; the domain only awaits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

from vending.money import Money


class Outcome(StrEnum):
    SUCCESS = "SUCCESS"
    PENDING = "PENDING"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_final(self) -> bool:
        return self in (Outcome.SUCCESS, Outcome.FAILED)


@dataclass(frozen=True)
class ProviderOrder:
    """What is asked of a provider: our order id (20 characters, the provider's key for
    status and callbacks), the provider's own code for the product or biller, the target
    (mobile number, subscriber id, biller customer) and the amount in paise."""

    order_id: str
    provider_code: str
    target: str
    amount: Money
    # Recharge: operator, circle; bills: biller_id, ref_id (the fetch's), customer params.
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderResult:
    outcome: Outcome
    provider_ref: str | None = None
    # The operator's (or biller network's) own reference: printed on receipts.
    operator_ref: str | None = None
    code: str = ""
    message: str = ""
    # What else a final answer carries that the receipt shows (an insurance policy's
    # document reference): kept in the order's params when the order closes.
    details: Mapping[str, Any] = field(default_factory=dict)


class ProviderUnavailable(Exception):
    """The provider certainly did not take the request (refused, 503): fail over."""


class ProviderClient(Protocol):
    """One provider's client: execute an order and ask its status by our order id."""

    name: str

    def execute(self, order: ProviderOrder) -> Awaitable[ProviderResult]: ...

    def status(self, order_id: str) -> Awaitable[ProviderResult]: ...


@dataclass(frozen=True)
class Plan:
    """A recharge plan (tariff) of an operator in a circle."""

    code: str
    amount: Money
    validity: str
    description: str
    category: str = "topup"


class PlanSource(Protocol):
    """A recharge provider that lists plans by its operator code and circle."""

    def plans(self, provider_code: str, circle: str) -> Awaitable[list[Plan]]: ...


@dataclass(frozen=True)
class FetchedBill:
    """A biller's answer to a bill fetch."""

    customer_name: str
    amount: Money
    bill_number: str
    bill_date: date | None
    due_date: date | None
    # The network reference of the fetch, quoted again by the payment (35 characters).
    ref_id: str


@dataclass(frozen=True)
class ComplaintAck:
    complaint_id: str
    status: str
    message: str = ""


class BillNetwork(Protocol):
    """A BBPS-like provider: fetch bills, pay (``ProviderClient.execute``), status, complaints."""

    def fetch(
        self, ref_id: str, biller_id: str, params: Mapping[str, str], mobile: str
    ) -> Awaitable[FetchedBill]: ...

    def complain(
        self, order_id: str, provider_ref: str | None, kind: str, description: str
    ) -> Awaitable[ComplaintAck]: ...

    def complaint_status(self, complaint_id: str) -> Awaitable[ComplaintAck]: ...


@dataclass(frozen=True)
class CallbackNotice:
    """A provider's push of an order's outcome, parsed and authenticated by its adapter."""

    order_id: str
    result: ProviderResult


class Scheduler(Protocol):
    """Runs ``work`` (which may return an awaitable) after ``seconds``: the reactor in
    production (``catalogue.adapters.tasks.ReactorScheduler``), ``task.Clock`` in tests."""

    def call_later(self, seconds: float, work: Callable[[], Any]) -> None: ...


@dataclass(frozen=True)
class InsuranceQuote:
    """An insurer's quote for a plan: its id (quoted again by the issue), the premium and
    until when it holds."""

    quote_id: str
    plan: str
    premium: Money
    sum_insured: Money
    valid_minutes: int


class InsurancePartner(Protocol):
    """An insurer (``ProviderClient.execute`` issues the policy of a quote)."""

    def quote(
        self, plan_code: str, sum_insured: Money, age: int, term_years: int
    ) -> Awaitable[InsuranceQuote]: ...


@dataclass(frozen=True)
class Trip:
    """A bus trip a travel partner sells: fare a seat, the free seats."""

    trip_id: str
    operator: str
    bus_type: str
    departs: datetime
    arrives: datetime
    fare: Money
    seats: tuple[str, ...]


@dataclass(frozen=True)
class TripHold:
    """Seats held by the partner until ``expires_in`` seconds from now, for ``fare``."""

    hold_id: str
    fare: Money
    expires_in: int


class TravelPartner(Protocol):
    """A travel partner: search, hold, book (``execute``-like, an outcome), status,
    cancel by its rules, release a hold."""

    def search(self, origin: str, destination: str, day: date) -> Awaitable[list[Trip]]: ...

    def hold(
        self, hold_ref: str, trip_id: str, seats: list[str], passengers: list[dict[str, Any]]
    ) -> Awaitable[TripHold | str]: ...

    def book(self, booking_ref: str, hold_id: str) -> Awaitable[ProviderResult]: ...

    def status(self, booking_ref: str) -> Awaitable[ProviderResult]: ...

    def cancel(self, pnr: str, requested_at: datetime) -> Awaitable[Any]: ...

    def release(self, hold_id: str) -> Awaitable[Any]: ...


__all__ = [
    "BillNetwork",
    "CallbackNotice",
    "ComplaintAck",
    "FetchedBill",
    "InsurancePartner",
    "InsuranceQuote",
    "Outcome",
    "Plan",
    "PlanSource",
    "ProviderClient",
    "ProviderOrder",
    "ProviderResult",
    "ProviderUnavailable",
    "Scheduler",
    "TravelPartner",
    "Trip",
    "TripHold",
]


# --- AEPS (a sponsor bank / switch) ----------------------------------------------------------


@dataclass(frozen=True)
class AepsBankRequest:
    """One AEPS request to the sponsor bank: our STAN, the kind (CW/BE/MS/AP), the customer's
    Aadhaar and bank IIN, the amount (money kinds) and the opaque PID block."""

    stan: str
    kind: str
    aadhaar: str
    iin: str
    amount: Money | None
    pid: Any  # catalogue.aeps.PidBlock: never logged or stored


@dataclass(frozen=True)
class AepsAnswer:
    outcome: Outcome
    rrn: str | None = None
    response_code: str = ""
    message: str = ""
    balance: Money | None = None
    statement: tuple[dict[str, Any], ...] = ()


class AepsBank(Protocol):
    def transact(self, request: AepsBankRequest) -> Awaitable[AepsAnswer]: ...

    def status(self, stan: str) -> Awaitable[AepsAnswer]: ...

    def login(self, agent_id: str, pid: Any) -> Awaitable[bool]: ...
