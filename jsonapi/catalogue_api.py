"""The JSON API's routes for the provider products (issue 14 §7): PIN-less recharge (with
plans and number lookup), bill payment (fetch, pay, status, complaints), money transfer
(senders, beneficiaries, transfers), insurance (quote, issue), bus travel (search, hold,
book, cancel) and the status of any provider order. Translation only: every fact comes from
the services (``services.recharge``, ``bills``, ``transfers``, ``insurance``, ``travel``).

State-changing calls take an ``Idempotency-Key`` and go through the one idempotency path
(the services claim the key; a retry replays the stored answer). Sales race the deadline
like ``POST /sales``: a provider slower than it gives 202 and the final answer follows by
the key's webhook and the order's status URL (``GET /orders/{order_id}``); a provider that
answers "pending" gives 202 with that URL, and its final result is pushed (webhook, SMS)
when its callback or a status poll closes the order."""

from __future__ import annotations

from datetime import date
from typing import Any

from twisted.internet.defer import ensureDeferred

from jsonapi import wire
from jsonapi.problems import NOT_SUPPORTED, ApiProblem, invalid
from jsonapi.renderer import JsonCall, booking_document, order_document

ROUTE_SPECS = (
    ("GET", "/recharge/operators", "recharge_operators"),
    ("GET", r"/recharge/numbers/(?P<number>\+?[0-9]{8,13})", "recharge_lookup"),
    ("GET", "/recharge/plans", "recharge_plans"),
    ("POST", "/recharges", "create_recharge"),
    ("GET", r"/orders/(?P<order_id>EV[0-9]{18})", "get_order"),
    ("GET", "/billers", "list_billers"),
    ("POST", "/bills/fetch", "fetch_bill"),
    ("POST", "/bills/payments", "pay_bill"),
    ("POST", "/bills/complaints", "register_complaint"),
    ("GET", r"/bills/complaints/(?P<complaint_id>[A-Za-z0-9-]{1,40})", "complaint_status"),
    ("POST", "/remitters", "register_remitter"),
    ("GET", r"/remitters/(?P<mobile>[0-9]{10})", "get_remitter"),
    ("POST", r"/remitters/(?P<mobile>[0-9]{10})/beneficiaries", "add_beneficiary"),
    ("GET", r"/remitters/(?P<mobile>[0-9]{10})/beneficiaries", "list_beneficiaries"),
    ("GET", "/transfers/fee", "transfer_fee"),
    ("POST", "/transfers", "create_transfer"),
    ("POST", "/insurance/quotes", "insurance_quote"),
    ("POST", "/insurance/policies", "issue_policy"),
    ("GET", "/travel/trips", "travel_search"),
    ("POST", "/travel/bookings", "travel_hold"),
    ("GET", r"/travel/bookings/(?P<ref>TB[0-9]{18})", "travel_booking"),
    ("POST", r"/travel/bookings/(?P<ref>TB[0-9]{18})/ticket", "travel_book"),
    ("POST", r"/travel/bookings/(?P<ref>TB[0-9]{18})/cancellation", "travel_cancel"),
    ("POST", "/aeps/login", "aeps_login"),
    ("POST", "/aeps/transactions", "aeps_transaction"),
)


def _service(services: Any, name: str) -> Any:
    found = getattr(services, name, None)
    if found is None:
        raise ApiProblem(NOT_SUPPORTED, f"no provider is wired for {name} (evd provider add)")
    return found


def _pop(document: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = document.pop(name, None)
    if value is None and not required:
        return None
    if not isinstance(value, kind):
        raise invalid(f"{name} must be a{'n' if kind is int else ''} {kind.__name__}")
    return value


class CatalogueRoutes:
    """Mixed into :class:`jsonapi.api.JsonApi` (its authentication, keys, race, renderer)."""

    _s: Any
    renderer: Any

    # --- a sale through the fulfilment, raced against the deadline --------------------------

    async def _provider_sale(
        self, incoming: Any, operation: str, required: tuple[str, ...],
        optional: tuple[str, ...], sell: Any, nested: tuple[tuple[str, type], ...] = (),
    ) -> Any:  # fmt: skip
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        key = wire.idempotency_key(incoming.header("idempotency-key"))
        assert key is not None
        body = self._body(incoming)  # type: ignore[attr-defined]
        plain = dict(body)
        extra = {name: _pop(plain, name, kind, required=False) for name, kind in nested}
        given = wire.fields(plain, required=required, optional=optional)
        request_key = self._request_key(caller, key, operation, incoming, body)  # type: ignore[attr-defined]
        call = JsonCall(incoming.method, incoming.path, body, caller.api_key_id)
        ctx = self._context(caller, request_key, call)  # type: ignore[attr-defined]
        work = ensureDeferred(sell(ctx, caller, given, extra))
        return await self._race(caller, key, request_key, work)  # type: ignore[attr-defined]

    # --- recharge ---------------------------------------------------------------------------

    async def recharge_operators(self, incoming: Any) -> Any:
        await self._caller(incoming)  # type: ignore[attr-defined]
        operators = await _service(self._s.sales, "recharge").operators()
        return self._json(200, {"items": [
            {"code": o.code, "name": o.name, "service": o.service, "product": o.product_code}
            for o in operators]})  # fmt: skip

    async def recharge_lookup(self, incoming: Any, number: str) -> Any:
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        info = await _service(self._s.sales, "recharge").lookup(caller.principal, number)
        return self._json(200, {
            "number": info.msisdn, "operator": info.operator.code,
            "operator_name": info.operator.name, "circle": info.circle,
            "circle_name": info.circle_name, "ported": info.ported,
        })  # fmt: skip

    async def recharge_plans(self, incoming: Any) -> Any:
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        operator, circle = incoming.param("operator"), incoming.param("circle")
        if not operator or not circle:
            raise invalid("give operator and circle")
        plans = await _service(self._s.sales, "recharge").plans(caller.principal, operator, circle)
        return self._json(200, {"items": [
            {"code": p.code, "amount": p.amount.format(), "currency": p.amount.currency,
             "validity": p.validity, "description": p.description, "category": p.category}
            for p in plans]})  # fmt: skip

    async def create_recharge(self, incoming: Any) -> Any:
        from vending.services.recharge_sales import RechargeRequest

        async def sell(ctx: Any, caller: Any, given: dict, _extra: dict) -> Any:
            amount = wire.money(given["amount"], caller.principal.currency)
            request = RechargeRequest(
                ctx, given["number"], amount, operator=given.get("operator"),
                circle=given.get("circle"), plan_code=given.get("plan"),
            )  # fmt: skip
            return await _service(self._s.sales, "recharge").sell(request, self.renderer)

        return await self._provider_sale(
            incoming, "recharge", ("number", "amount"), ("operator", "circle", "plan"), sell
        )

    async def get_order(self, incoming: Any, order_id: str) -> Any:
        """Any provider order of the caller: its current state (the final answer once
        closed), on every product."""
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        sold = await _service(self._s.sales, "recharge").status(caller.principal, order_id)
        return self._json(200, order_document(sold))

    # --- bills ------------------------------------------------------------------------------

    async def list_billers(self, incoming: Any) -> Any:
        await self._caller(incoming)  # type: ignore[attr-defined]
        billers = await _service(self._s.sales, "bills").billers(incoming.param("category"))
        return self._json(200, {"items": [
            {"biller_id": b.biller_id, "name": b.name, "category": b.category,
             "fetch": b.fetch_requirement, "amount_rule": b.amount_rule,
             "params": [p.as_dict() for p in b.params]}
            for b in billers if b.active]})  # fmt: skip

    async def fetch_bill(self, incoming: Any) -> Any:
        from vending.services.bill_payments import BillFetchRequest

        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        body = self._body(incoming)  # type: ignore[attr-defined]
        params = _pop(body, "params", dict)
        given = wire.fields(body, required=("biller_id", "mobile"))
        bill = await _service(self._s.sales, "bills").fetch(BillFetchRequest(
            caller.principal, given["biller_id"], {str(k): str(v) for k, v in params.items()},
            given["mobile"]))  # fmt: skip
        return self._json(200, {
            "ref_id": bill.ref_id, "biller_id": bill.biller_id, "customer_name": bill.customer_name,
            "bill_number": bill.bill_number, "bill_date": bill.bill_date, "due_date": bill.due_date,
            "amount": bill.amount.format(), "currency": bill.amount.currency,
            "expires_at": wire.timestamp(bill.expires_at),
        })  # fmt: skip

    async def pay_bill(self, incoming: Any) -> Any:
        from vending.services.bill_payments import BillPaymentRequest

        async def sell(ctx: Any, caller: Any, given: dict, extra: dict) -> Any:
            params = {str(k): str(v) for k, v in (extra["params"] or {}).items()}
            request = BillPaymentRequest(
                ctx, given["biller_id"], wire.money(given["amount"], caller.principal.currency),
                given["mobile"], params, given.get("ref_id"),
            )  # fmt: skip
            return await _service(self._s.sales, "bills").pay(request, self.renderer)

        return await self._provider_sale(
            incoming, "bill_payment", ("biller_id", "amount", "mobile"), ("ref_id",), sell,
            (("params", dict),),
        )  # fmt: skip

    async def register_complaint(self, incoming: Any) -> Any:
        """One complaint per Idempotency-Key: a retry replays it, the key reused for another
        body is refused (the one idempotency path, in ``bills.complain_once``)."""
        from vending.requests import StoredResponse

        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        key = wire.idempotency_key(incoming.header("idempotency-key"))
        assert key is not None
        body = self._body(incoming)  # type: ignore[attr-defined]
        given = wire.fields(body, required=("order_id", "type", "description"))
        request_key = self._request_key(caller, key, "bill_complaint", incoming, body)  # type: ignore[attr-defined]

        def render(ack: Any) -> StoredResponse:
            return StoredResponse(wire.dumps(_complaint_document(ack)), 201)

        processed = await _service(self._s.sales, "bills").complain_once(
            request_key, caller.principal, given["order_id"], given["type"],
            given["description"], render,
        )  # fmt: skip
        return self._stored(processed.response)

    async def complaint_status(self, incoming: Any, complaint_id: str) -> Any:
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        ack = await _service(self._s.sales, "bills").complaint_status(
            caller.principal, complaint_id
        )
        return self._json(200, _complaint_document(ack))

    # --- money transfer ---------------------------------------------------------------------

    async def register_remitter(self, incoming: Any) -> Any:
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        given = wire.fields(self._body(incoming), required=("mobile", "name"), optional=("kyc",))  # type: ignore[attr-defined]
        sender = await _service(self._s.sales, "transfers").register_sender(
            caller.principal, given["mobile"], given["name"], given.get("kyc", "minimum")
        )
        return self._json(201, {"mobile": sender.mobile, "name": sender.name, "kyc": sender.kyc})

    async def get_remitter(self, incoming: Any, mobile: str) -> Any:
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        view = await _service(self._s.sales, "transfers").sender(caller.principal, mobile)
        return self._json(200, {
            "mobile": view.sender.mobile, "name": view.sender.name, "kyc": view.sender.kyc,
            "used_this_month": view.used.format(), "remaining": view.remaining.format(),
            "currency": view.used.currency,
        })  # fmt: skip

    async def add_beneficiary(self, incoming: Any, mobile: str) -> Any:
        """The account number is answered masked to its last four digits, as in the list:
        an answer is logged, cached and shown on screens the typist does not control."""
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        given = wire.fields(self._body(incoming), required=("name", "account", "ifsc"))  # type: ignore[attr-defined]
        found = await _service(self._s.sales, "transfers").add_beneficiary(
            caller.principal, mobile, given["name"], given["account"], given["ifsc"]
        )
        return self._json(201, {**_beneficiary(found), "name_matches": found.name_matches})

    async def list_beneficiaries(self, incoming: Any, mobile: str) -> Any:
        """Only the merchant that registered the sender (the one that transfers for it); the
        account numbers masked to their last four digits."""
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        found = await _service(self._s.sales, "transfers").sender_beneficiaries(
            caller.principal, mobile
        )
        view = found.view
        return self._json(200, {
            "mobile": view.sender.mobile, "name": view.sender.name, "kyc": view.sender.kyc,
            "remaining": view.remaining.format(), "currency": view.remaining.currency,
            "items": [_beneficiary(b) for b in found.beneficiaries],
        })  # fmt: skip

    async def transfer_fee(self, incoming: Any) -> Any:
        """The customer's fee for sending ``amount``, shown before the transfer."""
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        amount = wire.money(incoming.param("amount") or "", caller.principal.currency)
        fee = _service(self._s.sales, "transfers").fee(amount)
        return self._json(200, {
            "amount": amount.format(), "fee": fee.format(), "total": (amount + fee).format(),
            "currency": amount.currency,
        })  # fmt: skip

    async def create_transfer(self, incoming: Any) -> Any:
        from vending.services.money_transfers import TransferRequest

        async def sell(ctx: Any, caller: Any, given: dict, extra: dict) -> Any:
            request = TransferRequest(
                ctx, given["sender"], extra["beneficiary_id"],
                wire.money(given["amount"], caller.principal.currency),
            )  # fmt: skip
            return await _service(self._s.sales, "transfers").transfer(request, self.renderer)

        return await self._provider_sale(
            incoming, "transfer", ("sender", "amount"), (), sell, (("beneficiary_id", int),)
        )

    # --- insurance --------------------------------------------------------------------------

    async def insurance_quote(self, incoming: Any) -> Any:
        from vending.services.insurance import QuoteRequest

        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        body = self._body(incoming)  # type: ignore[attr-defined]
        term = _pop(body, "term_years", int)
        given = wire.fields(body, required=("plan", "sum_insured", "dob"))
        quote = await _service(self._s.sales, "insurance").quote(QuoteRequest(
            caller.principal, given["plan"],
            wire.money(given["sum_insured"], caller.principal.currency, "sum_insured"),
            given["dob"], term))  # fmt: skip
        return self._json(201, {
            "quote_id": quote.quote_id, "plan": quote.plan, "premium": quote.premium.format(),
            "sum_insured": quote.sum_insured.format(), "currency": quote.premium.currency,
            "valid_minutes": quote.valid_minutes,
        })  # fmt: skip

    async def issue_policy(self, incoming: Any) -> Any:
        from vending.services.insurance import IssueRequest

        async def sell(ctx: Any, caller: Any, given: dict, _extra: dict) -> Any:
            request = IssueRequest(
                ctx, given["plan"], given["quote_id"],
                wire.money(given["premium"], caller.principal.currency, "premium"),
                given["holder"], given["dob"], given["mobile"],
            )  # fmt: skip
            return await _service(self._s.sales, "insurance").issue(request, self.renderer)

        return await self._provider_sale(
            incoming, "insurance", ("plan", "quote_id", "premium", "holder", "dob", "mobile"),
            (), sell,
        )  # fmt: skip

    # --- travel -----------------------------------------------------------------------------

    async def travel_search(self, incoming: Any) -> Any:
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        origin, destination = incoming.param("from"), incoming.param("to")
        day = _day(incoming.param("date"))
        if not origin or not destination:
            raise invalid("give from, to and date")
        trips = await _service(self._s.sales, "travel").search(
            caller.principal, origin, destination, day
        )
        return self._json(200, {"items": [
            {"trip_id": t.trip_id, "operator": t.operator, "bus_type": t.bus_type,
             "departs": wire.timestamp(t.departs), "arrives": wire.timestamp(t.arrives),
             "fare": t.fare.format(), "currency": t.fare.currency, "seats": list(t.seats)}
            for t in trips]})  # fmt: skip

    async def _travel_change(self, incoming: Any, operation: str, body: dict, change: Any) -> Any:
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        key = wire.idempotency_key(incoming.header("idempotency-key"))
        assert key is not None
        request_key = self._request_key(caller, key, operation, incoming, body)  # type: ignore[attr-defined]
        call = JsonCall(incoming.method, incoming.path, body, caller.api_key_id)
        ctx = self._context(caller, request_key, call)  # type: ignore[attr-defined]
        processed = await change(ctx, _service(self._s.sales, "travel"))
        return self._stored(processed.response)

    async def travel_hold(self, incoming: Any) -> Any:
        from vending.services.travel import HoldRequest

        body = self._body(incoming)  # type: ignore[attr-defined]
        plain = dict(body)
        seats = _pop(plain, "seats", list)
        passengers = _pop(plain, "passengers", list)
        given = wire.fields(plain, required=("trip_id", "contact", "from", "to", "date"))
        if not all(isinstance(p, dict) for p in passengers):
            raise invalid("passengers: a list of {name, age}")
        search = (given["from"], given["to"], _day(given["date"]))

        async def change(ctx: Any, travel: Any) -> Any:
            request = HoldRequest(ctx, given["trip_id"], [str(s) for s in seats], passengers,
                                  given["contact"], search)  # fmt: skip
            return await travel.hold(request, self.renderer)

        return await self._travel_change(incoming, "travel_hold", body, change)

    async def travel_book(self, incoming: Any, ref: str) -> Any:
        return await self._travel_change(
            incoming, "travel_book", {"booking_ref": ref},
            lambda ctx, travel: travel.book(ctx, ref, self.renderer),
        )  # fmt: skip

    async def travel_cancel(self, incoming: Any, ref: str) -> Any:
        return await self._travel_change(
            incoming, "travel_cancel", {"booking_ref": ref},
            lambda ctx, travel: travel.cancel(ctx, ref, self.renderer),
        )  # fmt: skip

    async def travel_booking(self, incoming: Any, ref: str) -> Any:
        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        booking = await _service(self._s.sales, "travel").booking(caller.principal, ref)
        return self._json(200, booking_document(booking))

    # --- AEPS (an agent's app with a fingerprint device) ---------------------------------------

    async def aeps_login(self, incoming: Any) -> Any:
        from catalogue.aeps import PidBlock

        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        given = wire.fields(self._body(incoming), required=("pid",))  # type: ignore[attr-defined]
        await _service(self._s.sales, "aeps").login(caller.principal, PidBlock(_pid(given)))
        return self._json(200, {"logged_in": True})

    async def aeps_transaction(self, incoming: Any) -> Any:
        """CW/BE/MS/AP. The PID block (base64, from the RD service) is forwarded opaque and
        is neither kept nor fingerprinted (a retry may carry a new capture); the Aadhaar
        number is kept with the request only as its last four digits."""
        from catalogue.aeps import PidBlock
        from vending.services.aeps import AepsRequest

        caller = await self._caller(incoming)  # type: ignore[attr-defined]
        key = wire.idempotency_key(incoming.header("idempotency-key"))
        assert key is not None
        body = self._body(incoming)  # type: ignore[attr-defined]
        given = wire.fields(body, required=("kind", "aadhaar", "iin", "pid"),
                            optional=("amount",))  # fmt: skip
        pid = PidBlock(_pid(given))
        kept = {name: given[name] for name in ("kind", "iin", "amount") if name in given}
        kept["aadhaar_last4"] = given["aadhaar"][-4:]
        fingerprinted = {**kept, "aadhaar": given["aadhaar"]}
        request_key = self._request_key(caller, key, "aeps", incoming, fingerprinted)  # type: ignore[attr-defined]
        call = JsonCall(incoming.method, incoming.path, kept, caller.api_key_id)
        ctx = self._context(caller, request_key, call)  # type: ignore[attr-defined]
        amount = (
            wire.money(given["amount"], caller.principal.currency) if "amount" in given else None
        )
        request = AepsRequest(ctx, given["kind"], given["aadhaar"], given["iin"], pid, amount)
        outcome = await _service(self._s.sales, "aeps").transact(request, self.renderer)
        return self._stored(outcome.response)

    # --- answers ----------------------------------------------------------------------------

    def _json(self, status: int, document: Any) -> Any:
        from jsonapi.api import Answer

        return Answer.json(status, document)

    def _stored(self, response: Any) -> Any:
        from jsonapi.api import Answer

        return Answer.stored(response)


def _complaint_document(ack: Any) -> dict[str, Any]:
    return {"complaint_id": ack.complaint_id, "status": ack.status, "message": ack.message or None}


def _pid(given: dict[str, str]) -> bytes:
    import base64
    import binascii

    try:
        return base64.b64decode(given["pid"], validate=True)
    except (binascii.Error, ValueError):
        raise invalid("pid must be the PID block in base64") from None


def _day(text: str | None) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        raise invalid("date must be YYYY-MM-DD") from None


def _beneficiary(found: Any) -> dict[str, Any]:
    """A beneficiary as every answer shows it: the account number's last four digits only."""
    return {
        "id": found.id,
        "name": found.name,
        "account_last4": found.account_no[-4:],
        "ifsc": found.ifsc,
        "verified_name": found.verified_name,
    }
