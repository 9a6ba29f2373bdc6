"""End to end over loopback with every provider simulator as its own process (marker
``providers``; never skipped under CI=true): our fulfilment with the real Twisted clients
(HTTP/JSON recharge, BBPS XML), the real callback resource on its own port, the database on
its thread pool. SUCCESS; FAILED; PENDING then callback SUCCESS; PENDING then callback
FAILED (refund); timeout then status resolves; duplicate and forged callbacks; provider
down then failover; bill fetch -> pay -> status and complaints."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from catalogue_support import (
    SECRET,
    JsonRenderer,
    answer,
    context,
    inr,
    ledger_ok,
    principal,
    seed_world,
    suspense_balance,
    vendor_balance,
)
from sim_processes import SimProcess, start_simulator
from twisted.internet.defer import ensureDeferred
from twisted.internet.threads import blockingCallFromThread
from twisted.web.server import Site

from catalogue.adapters.recharge_json import encode_result
from catalogue.adapters.tasks import ReactorScheduler
from catalogue.adapters.web import CallbackResource
from catalogue.adapters.wiring import CALLBACK_PARSERS, build_clients
from catalogue.callbacks import sign
from catalogue.fulfilment import Fulfilment, FulfilmentPolicy
from catalogue.orders import attempts_of, get_order
from vending.clock import system_clock as utcnow
from vending.keyring import Keyring
from vending.services.bill_payments import BillFetchRequest, BillPaymentRequest, BillPayments
from vending.services.money_transfers import MoneyTransfers, TransferRequest
from vending.services.recharge_sales import RechargeRequest, RechargeSales
from vending.services.rendering import Renderers
from vending.storage.database import Database
from xmlvend.transport.asyncdb import AsyncDatabase

pytestmark = pytest.mark.providers
START = 1_000_000
WAIT = 20.0


class WatchingRenderer(JsonRenderer):
    """The JSON renderer, noting every final answer (also those rendered in the background
    by a callback or a status poll) so a test can wait for one (bounded)."""

    def __init__(self) -> None:
        self.final: dict[str, dict] = {}
        self._changed = threading.Condition()

    def provider_sale(self, request: Any, sold: Any) -> Any:
        response = super().provider_sale(request, sold)
        if sold.state != "pending":
            with self._changed:
                self.final[sold.order_id] = {"state": sold.state, "ref": sold.operator_ref}
                self._changed.notify_all()
        return response

    def wait_final(self, order_id: str, timeout: float = WAIT) -> dict:
        with self._changed:
            assert self._changed.wait_for(lambda: order_id in self.final, timeout), order_id
            return self.final[order_id]


class SettlingScheduler(ReactorScheduler):
    """The reactor scheduler, telling waiters each time a piece of background work (a status
    poll) finished -- after its transaction committed."""

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)
        self.done = threading.Condition()

    def call_later(self, seconds: float, work: Any) -> None:
        def run_and_tell() -> Any:
            from twisted.internet.defer import ensureDeferred

            d = ensureDeferred(work())

            def tell(result: Any) -> Any:
                with self.done:
                    self.done.notify_all()
                return result

            return d.addBoth(tell)

        super().call_later(seconds, run_and_tell)


@pytest.fixture(scope="module")
def sims(live_reactor: Any) -> Iterator[dict[str, SimProcess]]:
    # Our callback listener's port is chosen first, so that alpha knows where to call back.
    holder = CallbackHolder()
    port = blockingCallFromThread(
        live_reactor, live_reactor.listenTCP, 0, Site(holder), interface="127.0.0.1"
    )
    callback_port = port.getHost().port
    env = {"SIM_SECRET": (SECRET + b"alpha").decode()}
    started: dict[str, SimProcess] = {}
    try:
        started["alpha"] = start_simulator(
            "recharge", "--secret-env", "SIM_SECRET", "--hang", "30",
            "--callback-url", f"http://127.0.0.1:{callback_port}/alpha", env=env,
        )  # fmt: skip
        started["beta"] = start_simulator("recharge", "--hang", "30")
        started["bbpsnet"] = start_simulator("bbps", "--hang", "30")
        started["bank"] = start_simulator("dmt", "--hang", "30")
        started["sponsor"] = start_simulator("aeps", "--hang", "30")
        started["insurer"] = start_simulator(
            "insurance", "--secret-env", "INS_SECRET", "--hang", "30",
            "--callback-url", f"http://127.0.0.1:{callback_port}/insurer",
            env={"INS_SECRET": (SECRET + b"insurer").decode()},
        )  # fmt: skip
        started["buses"] = start_simulator(
            "travel", "--secret-env", "BUS_SECRET", "--hang", "30",
            "--callback-url", f"http://127.0.0.1:{callback_port}/buses",
            env={"BUS_SECRET": (SECRET + b"buses").decode()},
        )  # fmt: skip
        started["_callbacks"] = holder  # type: ignore[assignment]
        holder.port = callback_port
        yield started
    finally:
        for sim in started.values():
            if isinstance(sim, SimProcess):
                sim.stop()
        blockingCallFromThread(live_reactor, port.stopListening)


class CallbackHolder(CallbackResource):
    """The callback resource, pointed at each test's fulfilment."""

    def __init__(self) -> None:
        super().__init__(None)
        self.port = 0

    def use(self, fulfilment: Fulfilment) -> None:
        self._fulfilment = fulfilment


@dataclass
class Live:
    db: Database
    reactor: Any
    sims: dict[str, Any]
    fulfilment: Fulfilment
    recharge: RechargeSales
    bills: BillPayments
    renderer: WatchingRenderer
    transfers: MoneyTransfers

    def call(self, coro: Any) -> Any:
        return blockingCallFromThread(self.reactor, lambda: ensureDeferred(coro))

    def sell(self, number: str, amount: int = 19_900, request_id: str | None = None) -> dict:
        ctx = context(principal(self.db), request_id, body=f"{number}/{amount}")
        request = RechargeRequest(ctx, number, inr(amount))
        return answer(self.call(self.recharge.sell(request, self.renderer)))

    def order(self, order_id: str) -> Any:
        return self.db.run_txn("order", get_order, order_id)

    def settled(self, order_id: str, timeout: float = WAIT) -> Any:
        """The order once final in the database (waiting, bounded, on the background work
        that resolves it: a status poll after its commit)."""
        done = self.fulfilment._scheduler.done
        with done:
            assert done.wait_for(lambda: self.order(order_id).state != "pending", timeout)
        return self.order(order_id)

    def callback(
        self, body: bytes, signature: str, source: str = "127.0.0.1", provider: str = "alpha"
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.sims["_callbacks"].port, timeout=10, source_address=(source, 0)
        )
        conn.request("POST", f"/{provider}", body, {"X-Signature": signature})
        response = conn.getresponse()
        return response.status, response.read().decode()


@pytest.fixture
def live(
    database: Database, keyring: Keyring, live_reactor: Any, sims: dict[str, Any]
) -> Iterator[Live]:
    names = ("alpha", "beta", "bbpsnet", "bank", "sponsor", "insurer", "buses")
    for name in names:
        sims[name].control("reset")
    seed_world(database, keyring, urls={n: sims[n].url for n in names}, timeout_ms=1000)
    renderer = WatchingRenderer()
    scheduler = SettlingScheduler(live_reactor)
    runner = AsyncDatabase(live_reactor, database)
    clients = build_clients(live_reactor, database, keyring, utcnow)
    fulfilment = Fulfilment(
        runner, keyring, utcnow, scheduler, clients,
        Renderers({"json": renderer}), callback_parsers=CALLBACK_PARSERS,
        policy=FulfilmentPolicy(first_poll_seconds=0.2, max_poll_seconds=0.5),
    )  # fmt: skip
    sims["_callbacks"].use(fulfilment)
    yield Live(
        database, live_reactor, sims, fulfilment, RechargeSales(runner, fulfilment, utcnow),
        BillPayments(runner, fulfilment, utcnow), renderer,
        MoneyTransfers(runner, fulfilment, utcnow),
    )  # fmt: skip
    fulfilment.stop()


def cost(amount: int = 19_900) -> int:
    return amount - amount * 200 // 10_000


def test_success(live: Live) -> None:
    body = live.sell("9810000010")
    assert body["state"] == "success" and body["operator_ref"].startswith("OPR")
    assert vendor_balance(live.db) == START - cost()
    ledger_ok(live.db)


def test_failed_refunds(live: Live) -> None:
    body = live.sell("9810000011")
    assert body["state"] == "failed" and "Invalid number" in body["message"]
    assert vendor_balance(live.db) == START
    ledger_ok(live.db)


@pytest.mark.parametrize(("status", "state"), [("SUCCESS", "success"), ("FAILED", "failed")])
def test_pending_then_callback(live: Live, status: str, state: str) -> None:
    body = live.sell("9810000012", request_id=f"cb-{status}")
    assert body["state"] == "pending"
    assert suspense_balance(live.db) == cost()
    # The provider completes the order and calls us back (signed, from 127.0.0.1).
    assert live.sims["alpha"].control("complete", order_id=body["order_id"], status=status) == {
        "callback": 200
    }
    assert live.renderer.wait_final(body["order_id"])["state"] == state
    assert live.order(body["order_id"]).state == state
    assert suspense_balance(live.db) == 0
    assert vendor_balance(live.db) == (START - cost() if state == "success" else START)
    again = live.sell("9810000012", request_id=f"cb-{status}")
    assert again["state"] == state
    ledger_ok(live.db)


def test_duplicate_and_forged_callbacks(live: Live) -> None:
    body = live.sell("9810000012")
    raw = encode_result("SUCCESS", order_id=body["order_id"], txn_id="X1", operator_ref="OPR1")
    good = sign(SECRET + b"alpha", raw)
    assert live.callback(raw, "0" * 64) == (401, '{"result": "bad_signature"}')
    assert live.callback(raw, good, source="127.0.0.2") == (403, '{"result": "forbidden_address"}')
    assert live.order(body["order_id"]).state == "pending"
    assert live.callback(raw, good) == (200, '{"result": "applied"}')
    assert live.callback(raw, good) == (200, '{"result": "duplicate"}')
    failed = encode_result("FAILED", order_id=body["order_id"], txn_id="X1")
    assert live.callback(failed, sign(SECRET + b"alpha", failed)) == (
        200,
        '{"result": "already_final"}',
    )
    assert live.order(body["order_id"]).state == "success"
    assert vendor_balance(live.db) == START - cost()
    ledger_ok(live.db)


def test_timeout_then_status_resolves(live: Live) -> None:
    body = live.sell("9810000013")  # the simulator recharges but answers after 30 s
    assert body["state"] == "pending"
    assert vendor_balance(live.db) == START - cost()
    order = live.settled(body["order_id"])
    assert order.state == "success" and order.operator_ref.startswith("OPR")
    outcomes = [(a["action"], a["outcome"]) for a in live.db.run_txn("a", attempts_of, order.pk)]
    assert outcomes[0] == ("execute", "UNKNOWN") and outcomes[-1] == ("status", "SUCCESS")
    ledger_ok(live.db)


def test_provider_down_then_failover(live: Live) -> None:
    live.sims["alpha"].control("outage", on="1")
    body = live.sell("9810000010")
    assert body["state"] == "success"
    order = live.order(body["order_id"])
    assert order.provider == "beta"
    outcomes = [(a["provider"], a["outcome"]) for a in live.db.run_txn("a", attempts_of, order.pk)]
    assert outcomes == [("alpha", "DOWN"), ("beta", "SUCCESS")]
    live.sims["alpha"].control("outage", on="0")
    ledger_ok(live.db)


def test_plans_fetched_once_then_cached(live: Live) -> None:
    who = principal(live.db)
    plans = live.call(live.recharge.plans(who, "AT", "DL"))
    assert [p.code for p in plans][:2] == ["P155", "P299"] and plans[1].amount == inr(29_900)
    live.sims["alpha"].control("outage", on="1")
    assert live.call(live.recharge.plans(who, "AT", "DL")) == plans  # from the cache
    live.sims["alpha"].control("outage", on="0")


def test_bill_fetch_pay_status_and_complaint(live: Live) -> None:
    who = principal(live.db)
    bill = live.call(
        live.bills.fetch(BillFetchRequest(who, "BESCOM000KAR01", {"Customer ID": "1234567894"},
                                          "9810000010"))
    )  # fmt: skip
    assert bill.amount == inr(104_000) and bill.customer_name == "R K Gupta"
    assert len(bill.ref_id) == 35
    ctx = context(who, body="bill")
    paid = answer(
        live.call(
            live.bills.pay(
                BillPaymentRequest(ctx, "BESCOM000KAR01", inr(104_000), "9810000010",
                                   ref_id=bill.ref_id),
                live.renderer,
            )
        )
    )  # fmt: skip
    assert paid["state"] == "success" and paid["operator_ref"].startswith("AB")
    status = live.call(live.bills.status(who, paid["order_id"]))
    assert status.state == "success"
    ack = live.call(live.bills.complain(who, paid["order_id"], "TRANSACTION", "Not credited"))
    assert ack.status == "ASSIGNED"
    assert live.call(live.bills.complaint_status(who, ack.complaint_id)).status == "ASSIGNED"
    assert live.call(live.bills.complaint_status(who, ack.complaint_id)).status == "RESOLVED"
    ledger_ok(live.db)


def test_bill_pending_resolved_by_status_poll(live: Live) -> None:
    who = principal(live.db)
    ctx = context(who, body="gas")
    paid = answer(
        live.call(
            live.bills.pay(
                BillPaymentRequest(ctx, "IGL000000DEL01", inr(50_000), "9810000010",
                                   params={"BP Number": "5550000002"}),
                live.renderer,
            )
        )
    )  # fmt: skip
    assert paid["state"] == "pending"
    live.sims["bbpsnet"].control("complete", order_id=paid["order_id"], status="FAILED")
    assert live.settled(paid["order_id"]).state == "failed"
    assert vendor_balance(live.db) == START
    ledger_ok(live.db)


@pytest.mark.parametrize(
    ("account", "state"),
    [("123456789010", "success"), ("123456789011", "failed"), ("123456789013", "success")],
)
def test_money_transfer_over_the_bank_simulator(live: Live, account: str, state: str) -> None:
    """Penny drop, then IMPS: paid with a UTR; refused and refunded; no answer in time
    (the bank did it) and the status resolves it."""
    who = principal(live.db)
    live.call(live.transfers.register_sender(who, "9876500001", "Sunita Devi"))
    beneficiary = live.call(
        live.transfers.add_beneficiary(who, "9876500001", "Rajesh Gupta", account, "SBIN0001234")
    )
    assert beneficiary.verified_name == "RAJESH KUMAR GUPTA" and beneficiary.name_matches
    ctx = context(who, body=f"dmt/{account}")
    body = answer(
        live.call(
            live.transfers.transfer(
                TransferRequest(ctx, "9876500001", beneficiary.id, inr(200_000)), live.renderer
            )
        )
    )
    if account.endswith("3"):
        assert body["state"] == "pending"
        assert live.settled(body["order_id"]).state == "success"
        body = {"state": "success", "operator_ref": live.order(body["order_id"]).operator_ref}
    assert body["state"] == state
    if state == "success":
        assert len(body["operator_ref"]) == 12  # the UTR
        assert vendor_balance(live.db) == START - 202_000 + 1_000
    else:
        assert vendor_balance(live.db) == START
    ledger_ok(live.db)


def test_aeps_over_the_sponsor_bank_simulator(live: Live, secrets_sentinel: Any) -> None:
    """Daily login, a withdrawal credited with its commission, a decline (51), and a
    withdrawal whose answer never comes in time, resolved by the status enquiry."""
    from test_catalogue_aeps import PID, Renderer, aadhaar

    from catalogue import aeps
    from vending.services.aeps import AepsRequest, AepsService

    secrets_sentinel.register(PID.decode(), aadhaar())
    service = AepsService(
        AsyncDatabase(live.reactor, live.db), live.fulfilment._keyring, utcnow,
        live.fulfilment.clients["sponsor"],
    )  # fmt: skip
    who = principal(live.db)
    assert live.call(service.login(who, aeps.PidBlock(PID)))

    def withdraw(rupees: int) -> dict:
        ctx = context(who, body=f"aeps/{rupees}")
        request = AepsRequest(ctx, "CW", aadhaar(), "607094", aeps.PidBlock(PID), inr(rupees * 100))
        return __import__("json").loads(
            live.call(service.transact(request, Renderer())).response.body
        )

    assert withdraw(2_500)["state"] == "success"
    assert vendor_balance(live.db) == START + 250_000 + 600
    assert withdraw(5_100)["code"] == "51"
    late = withdraw(777)  # answered after 30 s: the client times out, the status resolves
    assert late["state"] == "success" and late["rrn"]
    assert vendor_balance(live.db) == START + 250_000 + 600 + 77_700 + 200
    ledger_ok(live.db)


# --- push of final results, insurance, travel (issue 14 §5, §7) -------------------------------


def _push_world(live: Live) -> int:
    """The merchant's SMS number and an API key with a callback URL; the key's id."""
    from vending import api_keys, sms_merchants
    from vending.vendors import create_operator

    def seed(txn: Any) -> int:
        create_operator(txn, name="till", password_hash="-", vendor_client_id="RETAILER1",
                        now=utcnow())  # fmt: skip
        sms_merchants.register(txn, msisdn="919812300001", vendor_client_id="RETAILER1",
                               operator_name="till", pin_hash="-", now=utcnow())  # fmt: skip
        key, _secret = api_keys.create_api_key(
            txn, vendor_client_id="RETAILER1", operator_name="till", actor="t", now=utcnow()
        )
        url = "https://merchant.example.test/evd"
        api_keys.set_callback(txn, live.fulfilment._keyring, key.id, url, actor="t", now=utcnow())
        return key.id

    return live.db.run_txn("push_world", seed)


def _pushed(live: Live, request_pk_of: str) -> tuple[list[str], list[tuple[str, str]]]:
    from sqlalchemy import select

    from vending.api_tables import webhook_deliveries
    from vending.channel_tables import sms_messages
    from vending.storage.schema import requests

    def read(txn: Any) -> tuple[list[str], list[tuple[str, str]]]:
        pk = txn.execute(
            select(requests.c.id).where(requests.c.request_id == request_pk_of)
        ).scalar_one()
        hooks = [
            r.event
            for r in txn.execute(
                select(webhook_deliveries.c.event).where(webhook_deliveries.c.request_pk == pk)
            )
        ]
        sms = [
            (r.purpose, r.msisdn)
            for r in txn.execute(
                select(sms_messages.c.purpose, sms_messages.c.msisdn)
                .where(sms_messages.c.request_pk == pk)
                .order_by(sms_messages.c.msisdn)
            )
        ]
        return hooks, sms  # fmt: skip

    return live.db.run_txn("pushed", read)


@pytest.mark.parametrize(("status", "state"), [("SUCCESS", "success"), ("FAILED", "failed")])
def test_pending_then_callback_pushes_webhook_and_sms(live: Live, status: str, state: str) -> None:
    """A recharge answered "pending"; the provider's callback closes it: the API client's
    webhook is queued and the merchant (and, on success, the recharged number) get an SMS,
    in the closing transaction; FAILED refunds first."""
    from vending.services.provider_push import ResultPush

    key_id = _push_world(live)
    live.fulfilment.push = ResultPush(live.fulfilment._keyring, "5555")
    live.renderer.webhook = lambda request, request_id, response: (  # type: ignore[attr-defined]
        key_id,
        f"order.{state}",
        response.body.decode(),
    )
    body = live.sell("9810000012", request_id=f"push-{status}")
    assert body["state"] == "pending"
    assert _pushed(live, f"push-{status}") == ([], [])  # nothing pushed while pending
    live.sims["alpha"].control("complete", order_id=body["order_id"], status=status)
    assert live.renderer.wait_final(body["order_id"])["state"] == state
    hooks, sms = _pushed(live, f"push-{status}")
    assert hooks == [f"order.{state}"]
    expected = [("result", "919810000012"), ("result", "919812300001")]
    assert sms == (expected if state == "success" else expected[1:])
    assert vendor_balance(live.db) == (START - cost() if state == "success" else START)
    ledger_ok(live.db)


def test_insurance_quote_issue_and_pending_callback(live: Live) -> None:
    from vending.services.insurance import InsuranceSales, IssueRequest, QuoteRequest

    runner = AsyncDatabase(live.reactor, live.db)
    service = InsuranceSales(runner, live.fulfilment, utcnow)
    who = principal(live.db)
    quote = live.call(
        service.quote(QuoteRequest(who, "INS-TERM", inr(50_000_000), "1990-05-01", 5))
    )
    assert quote.premium.amount > 0 and quote.quote_id.startswith("Q")

    def issue(mobile: str, premium: Any = None) -> dict:
        ctx = context(who, body=f"ins/{mobile}/{premium}")
        request = IssueRequest(ctx, "INS-TERM", quote.quote_id, premium or quote.premium,
                               "Sunita Devi", "1990-05-01", mobile)  # fmt: skip
        return answer(live.call(service.issue(request, live.renderer)))

    issued = issue("9876500010")
    assert issued["state"] == "success" and issued["operator_ref"].startswith("POL")
    order = live.order(issued["order_id"])
    assert order.params["document_ref"] == f"DOC-{issued['operator_ref']}.pdf"
    assert issue("9876500010", inr(100))["state"] == "failed"  # not the quote's premium
    pending = issue("9876500012")
    assert pending["state"] == "pending"
    live.sims["insurer"].control("complete", order_id=pending["order_id"], status="SUCCESS")
    assert live.renderer.wait_final(pending["order_id"])["state"] == "success"
    assert live.order(pending["order_id"]).params["document_ref"].startswith("DOC-POL")
    assert live.call(service.status(who, pending["order_id"])).state == "success"
    ledger_ok(live.db)


class TravelRenderer:
    def travel_booking(self, request: Any, booking: Any) -> Any:
        from vending.requests import StoredResponse

        body = {"ref": booking.booking_ref, "state": booking.state, "pnr": booking.pnr,
                "refund": None if booking.refund is None else booking.refund.amount}  # fmt: skip
        return StoredResponse(__import__("json").dumps(body).encode(), 200)

    def failure(self, request: Any, error: Exception) -> Any:
        from vending.requests import StoredResponse

        return StoredResponse(__import__("json").dumps({"error": str(error)}).encode(), 409)


def _travel(live: Live, now: list) -> Any:
    from vending.services.travel import TravelSales

    return TravelSales(AsyncDatabase(live.reactor, live.db), live.fulfilment._keyring,
                       lambda: now[0], live.fulfilment.clients)  # fmt: skip


def test_travel_search_hold_book_cancel(live: Live) -> None:
    from datetime import timedelta

    from vending.services.travel import HoldRequest

    now = [utcnow()]
    service, who, day = _travel(live, now), principal(live.db), (now[0] + timedelta(days=5)).date()
    trips = live.call(service.search(who, "Bengaluru", "Chennai", day))
    trip = trips[1]
    assert trip.fare == inr(120_000) and "7" in trip.seats
    passengers = [{"name": "Asha Rao", "age": 34}, {"name": "Ravi Rao", "age": 36}]
    ctx = context(who, body="hold")
    request = HoldRequest(ctx, trip.trip_id, ["7", "8"], passengers, "9876500010",
                          ("Bengaluru", "Chennai", day))  # fmt: skip
    held = answer(live.call(service.hold(request, TravelRenderer())))
    assert held["state"] == "held", held
    paid = 240_000 - 240_000 * 300 // 10_000
    assert vendor_balance(live.db) == START - paid and suspense_balance(live.db) == paid
    again = answer(live.call(service.hold(request, TravelRenderer())))  # replayed, not twice
    assert again == held and vendor_balance(live.db) == START - paid
    taken = answer(live.call(service.hold(
        HoldRequest(context(who, body="h2"), trip.trip_id, ["8"], passengers[:1], "9876500010"),
        TravelRenderer())))  # fmt: skip
    assert "not available" in taken.get("error", ""), (held, taken)
    booked = answer(
        live.call(service.book(context(who, body="book"), held["ref"], TravelRenderer()))
    )
    assert booked["state"] == "booked" and booked["pnr"].startswith("PNR")
    assert suspense_balance(live.db) == 0
    cancelled = answer(live.call(service.cancel(context(who, body="cancel"), held["ref"],
                                                TravelRenderer())))  # fmt: skip
    assert cancelled["state"] == "cancelled" and cancelled["refund"] == 216_000  # 10 % charge
    assert vendor_balance(live.db) == START - paid + 216_000
    ledger_ok(live.db)


def test_travel_hold_expires_and_failed_booking_refunds(live: Live) -> None:
    from datetime import timedelta

    from vending.services.travel import HoldRequest

    now = [utcnow()]
    service, who, day = _travel(live, now), principal(live.db), (now[0] + timedelta(days=2)).date()
    trip = live.call(service.search(who, "Pune", "Goa", day))[0]

    def hold(age: int, seat: str) -> dict:
        request = HoldRequest(context(who, body=f"h{seat}"), trip.trip_id, [seat],
                              [{"name": "Meera Nair", "age": age}], "9876500010",
                              ("Pune", "Goa", day))  # fmt: skip
        return answer(live.call(service.hold(request, TravelRenderer())))

    first = hold(40, "1")
    assert vendor_balance(live.db) < START
    now[0] += timedelta(seconds=599)
    assert live.call(service.sweep()) == 0  # not yet expired
    now[0] += timedelta(seconds=2)
    assert live.call(service.sweep()) == 1
    assert vendor_balance(live.db) == START and suspense_balance(live.db) == 0
    late = answer(
        live.call(service.book(context(who, body="late"), first["ref"], TravelRenderer()))
    )
    assert "not held" in late["error"]
    refused = hold(41, "1")  # the seat is free again; the operator refuses this booking
    assert answer(live.call(service.book(context(who, body="b41"), refused["ref"],
                                         TravelRenderer())))["state"] == "failed"  # fmt: skip
    assert vendor_balance(live.db) == START
    ledger_ok(live.db)


# --- travel partner callbacks ------------------------------------------------------------------


class PushingTravelRenderer(TravelRenderer):
    """The test's travel answers, as a channel whose requests can be loaded back (a late
    final answer) and whose client has a webhook (the push)."""

    def __init__(self, key_id: int) -> None:
        self.key_id = key_id

    def load(self, body: bytes) -> Any:
        return __import__("json").loads(body)

    def webhook(self, request: Any, request_id: str, response: Any) -> Any:
        state = __import__("json").loads(response.body)["state"]
        return self.key_id, f"booking.{state}", response.body.decode()


def _pending_booking(live: Live, request_id: str) -> tuple[Any, Any, dict, int]:
    """A travel service pushing its late results, a seat held and booked "pending" (the
    first passenger's age ends in 2): (service, the book context, the booking, paid)."""
    from datetime import timedelta

    from vending.services.provider_push import ResultPush
    from vending.services.travel import HoldRequest, TravelSales

    renderer = PushingTravelRenderer(_push_world(live))
    keyring = live.fulfilment._keyring
    service = TravelSales(AsyncDatabase(live.reactor, live.db), keyring, utcnow,
                          live.fulfilment.clients, renderers=Renderers({"json": renderer}),
                          push=ResultPush(keyring, "5555"))  # fmt: skip
    live.fulfilment.callback_sinks["TB"] = service.apply_callback
    who, day = principal(live.db), (utcnow() + timedelta(days=3)).date()
    trip = live.call(service.search(who, "Mysuru", "Kochi", day))[0]
    request = HoldRequest(context(who, body=f"hold-{request_id}"), trip.trip_id, ["5"],
                          [{"name": "Kavya Iyer", "age": 32}], "9876500012",
                          ("Mysuru", "Kochi", day))  # fmt: skip
    held = answer(live.call(service.hold(request, renderer)))
    assert held["state"] == "held", held
    book_ctx = context(who, request_id, body="book")
    booking = answer(live.call(service.book(book_ctx, held["ref"], renderer)))
    assert booking["state"] == "booking", booking  # pending at the partner: money held
    paid = 65_000 - 65_000 * 300 // 10_000
    assert vendor_balance(live.db) == START - paid and suspense_balance(live.db) == paid
    return service, (book_ctx, renderer), booking, paid


@pytest.mark.parametrize(("status", "state"), [("SUCCESS", "booked"), ("FAILED", "failed")])
def test_travel_pending_then_partner_callback(live: Live, status: str, state: str) -> None:
    """A booking pending at the partner; the partner's signed callback (the simulator,
    completed through its control endpoint) finishes it: booked and settled, or failed and
    the whole fare refunded (the partner's rule for a booking it refused); the book
    request's answer replaced by the final one; the webhook and the SMS pushed."""
    service, (book_ctx, renderer), booking, paid = _pending_booking(live, f"bk-{status}")
    assert _pushed(live, f"bk-{status}") == ([], [])  # nothing pushed while pending
    told = live.sims["buses"].control("complete", order_id=booking["ref"], status=status)
    assert told == {"callback": 200}
    final = live.call(service.booking(principal(live.db), booking["ref"], ask=False))
    assert final.state == state
    if state == "booked":
        assert final.pnr and final.pnr.startswith("PNR")
        assert vendor_balance(live.db) == START - paid and suspense_balance(live.db) == 0
    else:
        assert vendor_balance(live.db) == START and suspense_balance(live.db) == 0
    replay = answer(live.call(service.book(book_ctx, booking["ref"], renderer)))
    assert replay["state"] == state  # the stored answer is the final one now
    hooks, sms = _pushed(live, f"bk-{status}")
    assert hooks == [f"booking.{state}"]
    merchant = [("result", "919812300001")]
    assert sms == ([*merchant, ("result", "919876500012")] if state == "booked" else merchant)
    ledger_ok(live.db)


def test_travel_duplicate_forged_and_unknown_callbacks_change_nothing(live: Live) -> None:
    import json as json_module

    service, _book, booking, paid = _pending_booking(live, "bk-forged")
    done = {"status": "SUCCESS", "order_id": booking["ref"], "txn_id": "SIM1", "pnr": "PNRX1",
            "ticket_no": "TKT-1", "code": "000", "message": "Booked"}  # fmt: skip
    raw = json_module.dumps(done).encode()
    secret = SECRET + b"buses"
    good = sign(secret, raw)
    forged = (
        live.callback(raw, "0" * 64, provider="buses"),
        live.callback(raw, sign(SECRET + b"alpha", raw), provider="buses"),  # another's secret
        live.callback(raw, good, source="127.0.0.2", provider="buses"),
    )
    assert [code for code, _result in forged] == [401, 401, 403]
    assert live.call(service.booking(principal(live.db), booking["ref"], ask=False)).state == (
        "booking"
    )
    assert suspense_balance(live.db) == paid
    unknown = json_module.dumps({**done, "order_id": "TB000000000099999999"}).encode()
    assert live.callback(unknown, sign(secret, unknown), provider="buses") == (
        200, '{"result": "unknown_order"}',
    )  # fmt: skip
    wrong = json_module.dumps({**done, "message": "from alpha"}).encode()
    assert live.callback(wrong, sign(SECRET + b"alpha", wrong)) == (
        200, '{"result": "wrong_provider"}',
    )  # fmt: skip
    assert live.callback(raw, good, provider="buses") == (200, '{"result": "applied"}')
    assert live.callback(raw, good, provider="buses") == (200, '{"result": "duplicate"}')
    failed = json_module.dumps({**done, "status": "FAILED", "code": "FAI"}).encode()
    assert live.callback(failed, sign(secret, failed), provider="buses") == (
        200, '{"result": "already_final"}',
    )  # fmt: skip
    final = live.call(service.booking(principal(live.db), booking["ref"], ask=False))
    assert final.state == "booked" and final.pnr == "PNRX1"
    assert vendor_balance(live.db) == START - paid and suspense_balance(live.db) == 0
    assert _pushed(live, "bk-forged")[0] == ["booking.booked"]  # pushed once
    ledger_ok(live.db)
