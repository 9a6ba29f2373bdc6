"""The JSON API's request handling: route, authenticate, translate to the application
services, render. No Twisted resource code here (``jsonapi.resource`` is the HTTP side) and
no SQL: every fact comes from a service.

Sales follow the 10-second rule: the service's work races the server's deadline
(``server.deadline_seconds``). When the deadline wins, the client gets ``202`` with the
``Location`` of the request (``/api/v1/sales/by-key/{Idempotency-Key}``) to poll, the work
goes on, and its final answer -- stored under the key by the services, or the problem it
failed with, stored here -- is queued for the key's callback URL (``jsonapi.webhooks``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.python.failure import Failure

from jsonapi import wire
from jsonapi.catalogue_api import ROUTE_SPECS as CATALOGUE_ROUTE_SPECS
from jsonapi.catalogue_api import CatalogueRoutes
from jsonapi.network import NETWORK_ROUTES, NetworkHandlers
from jsonapi.problems import (
    ALL_TYPES,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    NOT_SUPPORTED,
    PROBLEM_CONTENT_TYPE,
    UNAUTHENTICATED,
    ApiProblem,
    invalid,
    problem_for,
)
from jsonapi.renderer import (
    JsonCall,
    JsonRenderer,
    pending_document,
    sale_summary,
    webhook_event,
)
from utilities.interface import MeterQuery, Purchase
from vending import consumers
from vending.auth import CredentialsChanged
from vending.errors import RequestInProgress
from vending.requests import RequestKey, RequestRecord, StoredResponse
from vending.services.account_views import AccountViews
from vending.services.api_access import ApiAccess, Caller
from vending.services.sale_queries import SaleQueries
from vending.services.wallets import TopUp, Wallets
from vending.services.webhooks import Webhooks

log = logging.getLogger("evd.jsonapi")

BASE = "/api/v1"
CHANNEL = "json"


@dataclass(frozen=True)
class Incoming:
    """One HTTP request, as the handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, bytes]
    body: bytes
    # The peer's network address (from the transport; the operator sign-in throttle).
    address: str | None = None

    def header(self, name: str) -> bytes | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise invalid(f"{name} is given more than once")
        return values[0]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: bytes = wire.JSON_CONTENT_TYPE
    headers: tuple[tuple[bytes, bytes], ...] = ()

    @classmethod
    def json(cls, status: int, document: Any, **kw: Any) -> Answer:
        return cls(status, wire.dumps(document), **kw)

    @classmethod
    def stored(cls, response: StoredResponse, *, status: int | None = None) -> Answer:
        """A stored answer as it was first sent (problems keep their media type)."""
        http_status = response.http_status if status is None else status
        kind = PROBLEM_CONTENT_TYPE if response.http_status >= 400 else wire.JSON_CONTENT_TYPE
        return cls(http_status, response.body, kind)


Handler = Callable[..., Awaitable[Answer]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: str


def _routes(*specs: tuple[str, str, str]) -> list[Route]:
    return [Route(m, re.compile("^" + BASE + p + "$"), h) for m, p, h in specs]


ROUTES = _routes(
    ("GET", "/openapi.json", "openapi"),
    ("GET", r"/problems/(?P<slug>[a-z0-9-]+)", "problem_type"),
    ("POST", "/sessions", "sign_in"),
    ("GET", "/sessions/current", "current_session"),
    ("DELETE", "/sessions/current", "sign_out"),
    ("GET", "/products", "list_products"),
    ("GET", r"/meters/(?P<meter>[0-9]{6,20})", "confirm_meter"),
    ("POST", "/sales", "create_sale"),
    ("GET", "/sales", "list_sales"),
    ("GET", r"/sales/by-key/(?P<key>[^/]+)", "sale_by_key"),
    ("GET", r"/sales/(?P<sale_id>[0-9]{1,18})", "get_sale"),
    ("POST", r"/sales/(?P<sale_id>[0-9]{1,18})/reversal", "reverse_sale"),
    ("GET", r"/sales/(?P<sale_id>[0-9]{1,18})/messages", "sale_messages"),
    ("GET", "/account", "account"),
    ("GET", "/account/statement", "statement"),
    ("POST", "/consumers", "register_consumer"),
    ("GET", r"/consumers/(?P<msisdn>\+?[0-9]{8,15})", "get_consumer"),
    ("POST", r"/consumers/(?P<msisdn>\+?[0-9]{8,15})/topups", "top_up"),
    ("POST", "/checkout", "card_checkout"),
    ("PUT", "/webhook", "set_webhook"),
    ("POST", "/bulk", "submit_bulk"),
    ("GET", r"/bulk/(?P<batch_id>[0-9]{1,18})", "bulk_status"),
    ("GET", r"/bulk/(?P<batch_id>[0-9]{1,18})/results", "bulk_results"),
    ("GET", "/webhook/deliveries", "webhook_deliveries"),
    *NETWORK_ROUTES,
    *CATALOGUE_ROUTE_SPECS,
)


class InFlight:
    """Request keys (scope, request id) this process is working on."""

    def __init__(self) -> None:
        self._keys: Counter[tuple[str, str]] = Counter()

    def add(self, key: tuple[str, str]) -> None:
        self._keys[key] += 1

    def discard(self, key: tuple[str, str]) -> None:
        self._keys[key] -= 1
        if self._keys[key] <= 0:
            del self._keys[key]

    def __contains__(self, key: object) -> bool:
        return key in self._keys


@dataclass
class ApiServices:
    """What the JSON API is given: the application services it calls."""

    sales: Any  # vending.services.wiring.Services (vouchers, electricity, advices)
    access: ApiAccess
    accounts: AccountViews
    sale_queries: SaleQueries
    wallets: Wallets
    webhooks: Webhooks
    electricity_product: str
    currency: str
    clock: Callable[[], Any]
    # Finishing the idempotency path of a request that failed after its 202.
    store_if_unanswered: Callable[[RequestKey, StoredResponse], Awaitable[bool]]
    on_webhook_queued: Callable[[], None] = field(default=lambda: None)
    # The card checkout service (vending.services.card_checkout), when the card channel is
    # on: built by the card adapter (it owns the switch client), looked up when needed.
    card_checkout: Callable[[], Any] = field(default=lambda: None)
    # The SMS outbox (vending.services.sms.SmsOutbox): what was sent to a sale's recipient.
    sms_outbox: Any = None
    # What an app may buy here (vending.services.channel_products.ChannelProducts).
    products: Any = None
    # The distribution network and reward points (vending.services.distribution, .rewards).
    distribution: Any = None
    rewards: Any = None
    # Bulk multi-recharge (vending.services.bulk.BulkSales), docs/BULK.md.
    bulk: Any = None


class JsonApi(NetworkHandlers, CatalogueRoutes):
    """See the module docstring; the provider products' routes are ``CatalogueRoutes``, the
    network's ``NetworkHandlers``."""

    def __init__(
        self,
        services: ApiServices,
        *,
        reactor: Any,
        deadline_seconds: float,
        openapi_document: bytes,
        renderer: JsonRenderer | None = None,
    ) -> None:
        self._s = services
        self._reactor = reactor
        self._deadline = deadline_seconds
        self._openapi = openapi_document
        self.renderer = renderer or JsonRenderer()
        self.in_flight = InFlight()
        # Background completions of delayed requests (tests wait on them; stop drains).
        self.late: set[Deferred] = set()

    # --- dispatch ---------------------------------------------------------------------------

    async def handle(self, incoming: Incoming) -> Answer:
        try:
            return await self._dispatch(incoming)
        except Exception as error:  # every failure becomes a problem
            return self.problem_answer(error, incoming)

    def problem_answer(self, error: BaseException, incoming: Incoming | None = None) -> Answer:
        incident = uuid.uuid4().hex[:12]
        problem = problem_for(error, incident)
        if problem.internal:
            log.error(
                "incident %s: %s %s failed",
                incident,
                incoming.method if incoming else "-",
                incoming.path if incoming else "-",
                exc_info=error,
            )
        headers: tuple[tuple[bytes, bytes], ...] = ()
        if problem.status == 401:
            headers = ((b"WWW-Authenticate", b'Bearer realm="evd"'),)
        retry_after = getattr(error, "retry_after", None)
        if problem.status == 429 and isinstance(retry_after, int):
            # A locked sign-in (vending.login_throttle): when to try again.
            headers = ((b"Retry-After", str(retry_after).encode()),)
        return Answer(problem.status, problem.body(), PROBLEM_CONTENT_TYPE, headers)

    async def _dispatch(self, incoming: Incoming) -> Answer:
        allowed = []
        for route in ROUTES:
            found = route.pattern.match(incoming.path)
            if found is None:
                continue
            if route.method != incoming.method and not (
                route.method == "GET" and incoming.method == "HEAD"
            ):
                allowed.append(route.method)
                continue
            handler: Handler = getattr(self, route.handler)
            try:
                return await handler(incoming, **found.groupdict())
            except CredentialsChanged:
                # A cached verification went stale (password, block or key revocation
                # since): the change rolled back whole; verify afresh and try once more.
                self._s.access.forget(self._credential(incoming))
                return await handler(incoming, **found.groupdict())
        if allowed:
            raise ApiProblem(METHOD_NOT_ALLOWED, f"use {', '.join(sorted(set(allowed)))}")
        raise ApiProblem(NOT_FOUND, f"no resource at {incoming.path}")

    @staticmethod
    def _credential(incoming: Incoming) -> str:
        header = incoming.header("authorization")
        if header is None:
            raise ApiProblem(UNAUTHENTICATED, "send Authorization: Bearer <API key or session>")
        scheme, _, credential = header.decode("latin-1").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential or len(credential) > 200:
            raise ApiProblem(UNAUTHENTICATED, "send Authorization: Bearer <API key or session>")
        return credential

    async def _caller(self, incoming: Incoming) -> Caller:
        return await self._s.access.authenticate(self._credential(incoming))

    def _body(self, incoming: Incoming) -> dict[str, Any]:
        content_type = (incoming.header("content-type") or b"application/json").lower()
        if not content_type.split(b";")[0].strip().endswith(b"json"):
            from jsonapi.problems import UNSUPPORTED_MEDIA

            raise ApiProblem(UNSUPPORTED_MEDIA, "send the body as application/json")
        return wire.load_object(incoming.body)

    # --- documents --------------------------------------------------------------------------

    async def openapi(self, incoming: Incoming) -> Answer:
        return Answer(200, self._openapi)

    async def problem_type(self, incoming: Incoming, slug: str) -> Answer:
        kind = ALL_TYPES.get(slug)
        if kind is None:
            raise ApiProblem(NOT_FOUND, f"no problem type {slug}")
        return Answer.json(
            200,
            {
                "type": kind.uri,
                "title": kind.title,
                "status": kind.status,
                "fault_class": kind.fault_class,
            },
        )

    # --- consumer sessions ------------------------------------------------------------------

    async def sign_in(self, incoming: Incoming) -> Answer:
        """A consumer (msisdn + PIN) or a vendor's operator (client_id + operator +
        password, the XMLVend credentials): a short-lived session token either way."""
        body = self._body(incoming)
        if "client_id" in body:
            given = wire.fields(body, required=("client_id", "operator", "password"))
            session = await self._s.access.sign_in_operator(
                given["client_id"], given["operator"], given["password"], incoming.address
            )
            kind = "merchant"
        else:
            given = wire.fields(body, required=("msisdn", "pin"))
            session = await self._s.access.sign_in(given["msisdn"], given["pin"], incoming.address)
            kind = "consumer"
        return Answer.json(
            201,
            {
                "token": session.token,
                "token_type": "Bearer",
                "expires_at": wire.timestamp(session.expires_at),
                "kind": kind,
            },
        )

    async def current_session(self, incoming: Incoming) -> Answer:
        """Who a session (or key) speaks for: what an app shows after sign-in."""
        caller = await self._caller(incoming)
        principal = caller.principal
        if caller.is_consumer:
            kind, name = "consumer", principal.vendor_name
        elif caller.app_session_id is not None:
            kind, name = "merchant", principal.vendor_name
        else:
            kind, name = "api_key", principal.vendor_name
        return Answer.json(
            200,
            {
                "kind": kind,
                "name": name,
                "msisdn": caller.msisdn,
                "client_id": None if caller.is_consumer else principal.client_id,
                "operator": principal.operator_name,
                "currency": principal.currency,
                "expires_at": None
                if caller.expires_at is None
                else wire.timestamp(caller.expires_at),
            },
        )

    async def sign_out(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        if not caller.is_session:
            raise invalid("only a session can be ended (revoke an API key with evd api-key)")
        await self._s.access.sign_out(self._credential(incoming))
        return Answer(204, b"")

    # --- what an app offers -----------------------------------------------------------------

    async def list_products(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        if self._s.products is None:
            raise ApiProblem(NOT_SUPPORTED, "the product list is not available here")
        offered = await self._s.products.for_sale(caller.principal.currency)
        return Answer.json(
            200,
            {
                "items": [
                    {
                        "code": product.code,
                        "kind": product.kind,
                        "category": _category(product),
                        "name": product.name,
                        "currency": product.currency,
                        "price": None
                        if product.face_value is None
                        else product.face_value.format(),
                        "min_amount": None
                        if product.min_amount is None
                        else product.min_amount.format(),
                        "max_amount": None
                        if product.max_amount is None
                        else product.max_amount.format(),
                        "network": product.attributes.get("network"),
                    }
                    for product in offered
                ]
            },
        )

    async def confirm_meter(self, incoming: Incoming, meter: str) -> Answer:
        """A meter's customer and utility before paying (XMLVend's confirmCustomerReq)."""
        await self._caller(incoming)
        info = await self._s.sales.meters.confirm_meter(MeterQuery(msno=meter))
        customer = info.customer
        return Answer.json(
            200,
            {
                "meter": info.msno,
                "customer": None if customer is None else customer.name,
                "address": None if customer is None else customer.address,
                "utility": info.utility.name,
                "can_vend": info.can_vend,
                "min_amount": None if info.min_vend is None else info.min_vend.format(),
                "max_amount": None if info.max_vend is None else info.max_vend.format(),
            },
        )

    # --- sales ------------------------------------------------------------------------------

    def _request_key(
        self, caller: Caller, key: str, operation: str, incoming: Incoming, body: Any
    ) -> RequestKey:
        fingerprint = hashlib.sha256(
            f"{incoming.method} {incoming.path}\n".encode() + wire.canonical(body)
        ).digest()
        return RequestKey(
            channel=CHANNEL,
            client_id=caller.scope,
            request_id=wire.REQUEST_ID_PREFIX + key,
            operation=operation,
            fingerprint=fingerprint,
        )

    def _context(self, caller: Caller, key: RequestKey, call: JsonCall) -> Any:
        from vending.services.context import RequestContext

        if caller.api_key_id:
            terminal = f"api-key-{caller.api_key_id}"
        elif caller.app_session_id:
            terminal = "app"
        else:
            terminal = "wallet"
        return RequestContext(
            key=key,
            principal=caller.principal,
            terminal_id=terminal,
            request=call,
            request_body=call.serialize(),
            received_at=self._s.clock(),
            details={"channel": CHANNEL},
        )

    def _location(self, key: str) -> str:
        return f"{BASE}/sales/by-key/{quote(key, safe='')}"

    async def create_sale(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        key = wire.idempotency_key(incoming.header("idempotency-key"))
        assert key is not None
        body = self._body(incoming)
        given = wire.fields(body, required=("product", "amount"), optional=("meter", "recipient"))
        amount = wire.money(given["amount"], caller.principal.currency)
        request_key = self._request_key(caller, key, "sale", incoming, body)
        call = JsonCall(incoming.method, incoming.path, body)
        ctx = self._context(caller, request_key, call)
        work = self._sell(ctx, given, amount)
        return await self._race(caller, key, request_key, work)

    def _sell(self, ctx: Any, given: dict[str, str], amount: Any) -> Deferred:
        from vending.services.electricity_sales import ElectricitySaleRequest
        from vending.services.voucher_sales import VoucherSaleRequest

        product = given["product"]
        sales = self._s.sales
        # A recipient also gets the PIN or token by SMS (the services queue it).
        recipient = consumers.normalize_msisdn(given["recipient"]) if "recipient" in given else None
        if "meter" in given or product == self._s.electricity_product:
            if "meter" not in given:
                raise invalid(f"{product} is sold for a meter: give meter")
            purchase = Purchase(
                meter=MeterQuery(msno=given["meter"]), amount=amount, product_code=product
            )
            coroutine = sales.electricity.sell(
                ElectricitySaleRequest(ctx, purchase, recipient=recipient), self.renderer
            )
        else:
            request = VoucherSaleRequest(ctx, product, amount=amount, recipient=recipient)
            coroutine = sales.vouchers.sell(request, self.renderer)
        return ensureDeferred(coroutine)

    async def _race(
        self, caller: Caller, key: str, request_key: RequestKey, work: Deferred
    ) -> Answer:
        """The work's answer, or 202 + Location when the deadline passes first (the work
        goes on; its final answer is pushed to the key's callback URL)."""
        flight = (request_key.client_id, request_key.request_id)
        self.in_flight.add(flight)
        answer: Deferred = Deferred()
        location = self._location(key)

        def deadline() -> None:
            if not answer.called:
                answer.callback(
                    Answer(
                        202,
                        pending_document(key, location, self._s.clock()),
                        headers=((b"Location", location.encode()), (b"Retry-After", b"2")),
                    )
                )

        timer = self._reactor.callLater(self._deadline, deadline)

        def finished(result: Any) -> None:
            self.in_flight.discard(flight)
            if timer.active():
                timer.cancel()
            if not answer.called:
                answer.callback([result])  # boxed: a Failure must not errback the answer
                return
            late = ensureDeferred(self._finish_late(caller, request_key, result))
            self.late.add(late)
            late.addBoth(lambda _: self.late.discard(late))

        work.addBoth(finished)
        outcome = await answer
        if isinstance(outcome, Answer):
            return outcome
        result = outcome[0]
        if isinstance(result, Failure):
            if isinstance(result.value, RequestInProgress):
                return Answer(
                    202,
                    pending_document(key, location, self._s.clock()),
                    headers=((b"Location", location.encode()), (b"Retry-After", b"2")),
                )
            result.raiseException()
        return Answer.stored(result.response)

    async def _finish_late(self, caller: Caller, key: RequestKey, result: Any) -> None:
        """After a 202: make the final answer durable under the key, then push it."""
        try:
            if isinstance(result, Failure):
                problem = self.problem_answer(result.value)
                await self._s.store_if_unanswered(key, StoredResponse(problem.body, problem.status))
            queued = await self._s.webhooks.result_ready(caller, key.request_id, _event)
            if queued is not None:
                self._s.on_webhook_queued()
        except Exception:
            log.exception("the late answer of %s could not be queued", key.request_id)

    async def sale_by_key(self, incoming: Incoming, key: str) -> Answer:
        caller = await self._caller(incoming)
        key = unquote(key)
        request_id = wire.REQUEST_ID_PREFIX + key
        location = self._location(key)
        pending = Answer(
            202,
            pending_document(key, location, self._s.clock()),
            headers=((b"Location", location.encode()), (b"Retry-After", b"2")),
        )
        if (caller.scope, request_id) in self.in_flight:
            return pending
        found = await self._s.sale_queries.by_request_key(caller, request_id)
        if found.request is None:
            raise ApiProblem(NOT_FOUND, f"no request with Idempotency-Key {key}")
        if found.request.response is None:
            return pending
        response = found.request.response
        return Answer.stored(response, status=200 if response.http_status < 300 else None)

    async def get_sale(self, incoming: Incoming, sale_id: str) -> Answer:
        caller = await self._caller(incoming)
        view = await self._s.sale_queries.sale(caller, int(sale_id))
        record = view.request
        # A sale made by POST /sales is answered with its own stored answer (receipt and
        # token or PIN, byte for byte); any other sale -- another channel's, or a provider
        # order's, whose stored answer is the order document -- with the Sale summary.
        if (
            record is not None
            and record.channel == CHANNEL
            and record.operation == "sale"
            and record.response is not None
            and record.response.http_status < 300
        ):
            return Answer(200, record.response.body)
        return Answer.json(200, sale_summary(view.sale))

    async def sale_messages(self, incoming: Incoming, sale_id: str) -> Answer:
        """The SMS sent for a sale (a recipient's PIN or token) and their delivery states;
        never their text."""
        caller = await self._caller(incoming)
        view = await self._s.sale_queries.sale(caller, int(sale_id))
        states = []
        if self._s.sms_outbox is not None:
            states = await self._s.sms_outbox.request_states(view.sale.request_pk)
        return Answer.json(
            200,
            {
                "sale_id": view.sale.id,
                "messages": [
                    {
                        "to": state.msisdn,
                        "purpose": state.purpose,
                        "state": state.state,
                        "attempts": state.attempts,
                        "delivery_report": state.dlr_status,
                        "queued_at": wire.timestamp(state.created_at),
                        "reported_at": None
                        if state.dlr_at is None
                        else wire.timestamp(state.dlr_at),
                    }
                    for state in states
                ],
            },
        )

    async def list_sales(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        start, end = self._range(incoming)
        page = await self._s.sale_queries.sales(
            caller,
            start=start,
            end=end,
            before=wire.cursor(incoming.param("cursor")),
            limit=wire.limit(incoming.param("limit")),
        )
        return Answer.json(
            200,
            {
                "items": [sale_summary(sale) for sale in page.items],
                "next_cursor": None if page.next_before is None else str(page.next_before),
            },
        )

    async def reverse_sale(self, incoming: Incoming, sale_id: str) -> Answer:
        from vending.services.advices import AdviceRequest

        caller = await self._caller(incoming)
        key = wire.idempotency_key(incoming.header("idempotency-key"), required=False)
        body = self._body(incoming) if incoming.body.strip() else {}
        wire.fields(body, required=(), optional=("reason",))
        view = await self._s.sale_queries.sale(caller, int(sale_id))
        if view.request_id is None:
            raise ApiProblem(NOT_FOUND, f"no sale {sale_id}")
        key = key or f"reversal-{sale_id}"
        request_key = self._request_key(caller, key, "reversal", incoming, body)
        call = JsonCall(incoming.method, incoming.path, {**body, "sale_id": int(sale_id)})
        ctx = self._context(caller, request_key, call)
        outcome = await self._s.sales.advices.reverse(
            AdviceRequest(ctx, view.request_id), self.renderer
        )
        return Answer.stored(outcome.response)

    def _range(self, incoming: Incoming) -> tuple[Any, Any]:
        start_text, end_text = incoming.param("from"), incoming.param("to")
        start = None if start_text is None else wire.parse_instant(start_text, "from")
        end = None if end_text is None else wire.parse_instant(end_text, "to")
        if start is not None and end is not None and end <= start:
            raise invalid("to must be after from")
        return start, end

    # --- account ----------------------------------------------------------------------------

    async def account(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        view = await self._s.accounts.account(caller)
        return Answer.json(
            200,
            {
                "balance": view.balance.format(),
                "available": view.available.format(),
                "currency": view.balance.currency,
            },
        )

    async def statement(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        start, end = self._range(incoming)
        page = await self._s.accounts.statement(
            caller,
            start=start,
            end=end,
            before=wire.cursor(incoming.param("cursor")),
            limit=wire.limit(incoming.param("limit")),
        )
        return Answer.json(
            200,
            {
                "currency": caller.principal.currency,
                "items": [
                    {
                        "id": line.entry_id,
                        "at": wire.timestamp(line.applied_at),
                        "kind": line.kind,
                        "description": line.description,
                        "role": line.role,
                        "amount": line.amount.format(),
                        "balance_after": line.balance_after.format(),
                    }
                    for line in page.items
                ],
                "next_cursor": None if page.next_before is None else str(page.next_before),
            },
        )

    # --- consumers --------------------------------------------------------------------------

    def _consumer(self, consumer: consumers.Consumer, *, private: bool) -> dict[str, Any]:
        document: dict[str, Any] = {
            "msisdn": consumer.msisdn,
            "name": consumer.name,
            "kyc_level": consumer.kyc_level,
            "status": consumer.status,
        }
        if private:
            highest, daily = consumers.limits_of(consumer.kyc_level, consumer.balance.currency)
            document.update(
                balance=consumer.balance.format(),
                currency=consumer.balance.currency,
                limits={"max_balance": highest.format(), "daily_spend": daily.format()},
            )
        return document

    async def register_consumer(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        given = wire.fields(self._body(incoming), required=("msisdn", "name", "pin"))
        consumer = await self._s.wallets.register(
            caller, msisdn=given["msisdn"], name=given["name"], pin=given["pin"]
        )
        return Answer.json(
            201,
            self._consumer(consumer, private=True),
            headers=((b"Location", f"{BASE}/consumers/{consumer.msisdn}".encode()),),
        )

    async def get_consumer(self, incoming: Incoming, msisdn: str) -> Answer:
        caller = await self._caller(incoming)
        consumer = await self._s.wallets.consumer(caller, msisdn)
        return Answer.json(200, self._consumer(consumer, private=caller.is_consumer))

    async def top_up(self, incoming: Incoming, msisdn: str) -> Answer:
        caller = await self._caller(incoming)
        key = wire.idempotency_key(incoming.header("idempotency-key"))
        assert key is not None
        body = self._body(incoming)
        given = wire.fields(body, required=("amount",))
        amount = wire.money(given["amount"], caller.principal.currency)
        request_key = self._request_key(caller, key, "consumer_topup", incoming, body)
        processed = await self._s.wallets.cash_in(
            caller, request_key, msisdn=msisdn, amount=amount, render=_render_top_up
        )
        return Answer.stored(processed.response)

    # --- webhooks ---------------------------------------------------------------------------

    # --- card checkout (public) ---------------------------------------------------------------

    async def card_checkout(self, incoming: Incoming) -> Answer:
        from vending.services.card_checkout import CheckoutRequest

        checkout = self._s.card_checkout()
        if checkout is None:
            raise ApiProblem(NOT_SUPPORTED, "card payments are off ([cards] enabled = false)")
        document = self._body(incoming)
        card = document.pop("card", None)
        if not isinstance(card, dict):
            raise invalid("card must be an object with number, expiry and cvv")
        given = wire.fields(
            document,
            required=("reference", "product", "target", "amount"),
            optional=("currency", "phone"),
        )
        details = wire.fields(card, required=("number", "expiry", "cvv"))
        currency = given.get("currency", self._s.currency)
        body, _replayed = await checkout.checkout(
            CheckoutRequest(
                reference=given["reference"][:64],
                product_code=given["product"],
                target=given["target"],
                amount=wire.money(given["amount"], currency),
                pan=details["number"].replace(" ", ""),
                expiry=details["expiry"],
                cvv=details["cvv"],
                phone=given.get("phone"),
            )
        )
        answer = json.loads(body)
        return Answer.json(answer["http_status"], answer)

    # --- bulk multi-recharge (docs/BULK.md) -------------------------------------------------

    def _bulk_service(self) -> Any:
        if self._s.bulk is None:
            raise ApiProblem(NOT_SUPPORTED, "bulk sales are not offered here")
        return self._s.bulk

    async def submit_bulk(self, incoming: Incoming) -> Answer:
        from jsonapi import bulk as api_bulk

        caller = await self._caller(incoming)
        if caller.is_consumer:
            raise invalid("bulk files are for merchants and dealers (an API key)")
        service = self._bulk_service()
        content_type = incoming.header("content-type") or b"application/json"
        file = api_bulk.parse_submission(content_type, incoming.body)
        status = await service.submit(
            caller.principal, caller.scope, file, api_key_id=caller.api_key_id
        )
        if status.state == "running":
            api_bulk.start_processing(service, status.id, self.late)
        document = api_bulk.status_document(BASE, status)
        location = document["status_url"].encode()
        return Answer.json(
            200 if status.replayed else 202, document, headers=((b"Location", location),)
        )

    async def bulk_status(self, incoming: Incoming, batch_id: str) -> Answer:
        from jsonapi import bulk as api_bulk

        caller = await self._caller(incoming)
        try:
            status = await self._bulk_service().status(caller.scope, int(batch_id))
        except api_bulk.UnknownBatch:
            raise api_bulk.unknown(batch_id) from None
        return Answer.json(200, api_bulk.status_document(BASE, status))

    async def bulk_results(self, incoming: Incoming, batch_id: str) -> Answer:
        from jsonapi import bulk as api_bulk

        caller = await self._caller(incoming)
        try:
            results = await self._bulk_service().results(caller.scope, int(batch_id))
        except api_bulk.UnknownBatch:
            raise api_bulk.unknown(batch_id) from None
        return Answer(200, api_bulk.results_csv(results), api_bulk.CSV_CONTENT_TYPE)

    async def set_webhook(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        body = self._body(incoming)
        if set(body) != {"callback_url"}:
            raise invalid('send {"callback_url": URL or null}')
        url = body["callback_url"]
        if url is not None and not isinstance(url, str):
            raise invalid("callback_url must be a URL or null")
        secret = await self._s.webhooks.set_callback(caller, url)
        return Answer.json(200, {"callback_url": url, "secret": secret})

    async def webhook_deliveries(self, incoming: Incoming) -> Answer:
        caller = await self._caller(incoming)
        log_ = await self._s.webhooks.log(caller, wire.limit(incoming.param("limit")))
        return Answer.json(
            200,
            {
                "items": [
                    {
                        "id": delivery.id,
                        "event": delivery.event,
                        "url": delivery.url,
                        "state": delivery.state,
                        "attempts": [
                            {
                                "at": wire.timestamp(attempt.attempted_at),
                                "status": attempt.http_status,
                                "error": attempt.error,
                            }
                            for attempt in attempts
                        ],
                        "created_at": wire.timestamp(delivery.created_at),
                        "next_attempt_at": None
                        if delivery.state != "pending"
                        else wire.timestamp(delivery.next_attempt_at),
                        "delivered_at": None
                        if delivery.delivered_at is None
                        else wire.timestamp(delivery.delivered_at),
                    }
                    for delivery, attempts in log_
                ]
            },
        )


def _category(product: Any) -> str:
    """How an app groups a product: its ``category`` attribute when set, else electricity,
    data (a voucher named for data) or airtime (other vouchers)."""
    given = product.attributes.get("category")
    if isinstance(given, str) and given:
        return given
    if product.kind == "voucher":
        return "data" if "data" in product.name.lower().split() else "airtime"
    return str(product.kind)


def _render_top_up(top_up: TopUp) -> StoredResponse:
    return StoredResponse(
        wire.dumps(
            {
                "msisdn": top_up.consumer.msisdn,
                "amount": top_up.amount.format(),
                "commission": top_up.commission.format(),
                "currency": top_up.amount.currency,
                "transfer_id": top_up.transfer_id,
                "wallet_balance": top_up.consumer.balance.format(),
                "account": {
                    "available": top_up.vendor_available.format(),
                    "currency": top_up.vendor_available.currency,
                },
            }
        ),
        201,
    )


def _event(record: RequestRecord, request_id: str) -> tuple[str, str]:
    """The webhook of a sale's final answer (``sale.completed`` / ``sale.failed``)."""
    assert record.response is not None
    return webhook_event(request_id, record.response, kind="sale")
