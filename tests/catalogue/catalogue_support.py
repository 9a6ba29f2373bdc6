"""Helpers of the catalogue tests: the demo catalogue with a funded vendor, providers and
mappings; a scripted provider (the provider interface's test implementation); a JSON
channel renderer; ledger checks."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from twisted.internet.defer import Deferred, fail, succeed

from catalogue.demo import seed_catalogue
from catalogue.interface import (
    ComplaintAck,
    FetchedBill,
    Outcome,
    Plan,
    ProviderOrder,
    ProviderResult,
    ProviderUnavailable,
)
from catalogue.providers import add_provider, map_product
from vending.accounts import house_account_code
from vending.auth import Principal
from vending.keyring import Keyring
from vending.ledger import verify_ledger
from vending.money import Money
from vending.requests import RequestKey, StoredResponse
from vending.services.context import RequestContext
from vending.storage.database import Database, Txn
from vending.storage.schema import accounts, vendors
from vending.vendors import adjust_vendor_balance, create_vendor, parse_privileges

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
INR = "INR"
VENDOR = "RETAILER1"
SECRET = b"alpha-callback-secret-0123456789"


def inr(paise: int) -> Money:
    return Money(paise, INR)


def seed_world(
    db: Database, keyring: Keyring, *, urls: dict[str, str] | None = None, timeout_ms: int = 2000
) -> None:
    """Demo catalogue, vendor RETAILER1 with Rs 10,000, providers alpha (priority 1) and
    beta (2) for every recharge product, bbpsnet for every bill product."""
    urls = urls or {}

    def seed(txn: Txn) -> None:
        seed_catalogue(txn, now=NOW)
        create_vendor(txn, client_id=VENDOR, name="Sharma Mobile Store", currency=INR, now=NOW)
        adjust_vendor_balance(txn, VENDOR, inr(1_000_000), reason="float", actor="test", now=NOW)
        for name, protocol in (
            ("alpha", "recharge-json"),
            ("beta", "recharge-json"),
            ("bbpsnet", "bbps-xml"),
            ("bank", "dmt-json"),
            ("sponsor", "aeps-json"),
            ("insurer", "insurance-json"),
            ("buses", "travel-json"),
        ):
            add_provider(
                txn,
                keyring,
                name=name,
                protocol=protocol,
                url=urls.get(name, f"http://127.0.0.1:9/{name}"),
                timeout_ms=timeout_ms,
                callback_ips=("127.0.0.1",),
                secret=SECRET + name.encode(),
                actor="test",
                now=NOW,
            )
        for product, code in (
            ("RCH-AIRTEL", "AT"),
            ("RCH-JIO", "JO"),
            ("RCH-VI", "VI"),
            ("RCH-BSNL", "BS"),
            ("DTH-TATAPLAY", "TSKY"),
            ("DTH-DISHTV", "DISH"),
            ("DC-JIOFI", "JODC"),
        ):
            map_product(
                txn,
                product_code=product,
                provider="alpha",
                provider_code=f"A{code}",
                priority=1,
                actor="test",
                now=NOW,
            )
            map_product(
                txn,
                product_code=product,
                provider="beta",
                provider_code=f"B-{code}",
                priority=2,
                actor="test",
                now=NOW,
            )
        map_product(
            txn, product_code="DMT-IMPS", provider="bank", provider_code="IMPS", actor="t", now=NOW
        )
        for product, code in (("INS-TERM", "TERM"), ("INS-HEALTH", "HEALTH"),
                              ("INS-ACCIDENT", "ACCIDENT"), ("TRAVEL-BUS", "BUS")):  # fmt: skip
            map_product(
                txn, product_code=product, provider="buses" if code == "BUS" else "insurer",
                provider_code=code, actor="test", now=NOW,
            )  # fmt: skip
        for product in ("BBPS-ELECTRICITY", "BBPS-POSTPAID", "BBPS-GAS", "BBPS-INSURANCE"):
            map_product(
                txn,
                product_code=product,
                provider="bbpsnet",
                provider_code="*",
                actor="test",
                now=NOW,
            )

    db.run_txn("seed_world", seed)


def principal(db: Database, client_id: str = VENDOR) -> Principal:
    def load(txn: Txn) -> Principal:
        row = txn.execute(select(vendors).where(vendors.c.client_id == client_id)).one()
        return Principal(
            vendor_id=row.id,
            client_id=client_id,
            vendor_name=row.name,
            vendor_address=row.address,
            account_id=row.account_id,
            currency=INR,
            operator_id=None,
            operator_name=None,
            privileges=parse_privileges(row.privileges),
        )

    return db.run_txn("principal", load)


_ids = itertools.count(1)


def context(who: Principal, request_id: str | None = None, body: str = "") -> RequestContext:
    request_id = request_id or f"req-{next(_ids)}"
    payload = {"id": request_id, "body": body}
    raw = json.dumps(payload).encode()
    return RequestContext(
        key=RequestKey("json", who.client_id, request_id, "sale", hashlib.sha256(raw).digest()),
        principal=who,
        terminal_id="T1",
        request=payload,
        request_body=raw,
        received_at=NOW,
    )


class JsonRenderer:
    """A channel renderer for the tests: provider sales as JSON (pure, as channels are)."""

    def provider_sale(self, request: Any, sold: Any) -> StoredResponse:
        body = {
            "request": request["id"],
            "order_id": sold.order_id,
            "state": sold.state,
            "target": sold.target,
            "amount": sold.amount.amount,
            "operator_ref": sold.operator_ref,
            "provider_ref": sold.provider_ref,
            "receipt": sold.receipt_no,
            "message": sold.message,
        }
        status = 202 if sold.state == "pending" else 200
        return StoredResponse(json.dumps(body, sort_keys=True).encode(), http_status=status)

    def load(self, request_body: bytes) -> Any:
        return json.loads(request_body)


def answer(outcome: Any) -> dict[str, Any]:
    return json.loads(outcome.response.body)


def balance(db: Database, code: str) -> int:
    def read(txn: Txn) -> int:
        return txn.execute(select(accounts.c.balance).where(accounts.c.code == code)).scalar_one()

    return db.run_txn("balance", read)


def vendor_balance(db: Database) -> int:
    def read(txn: Txn) -> int:
        return txn.execute(
            select(accounts.c.balance)
            .join(vendors, vendors.c.account_id == accounts.c.id)
            .where(vendors.c.client_id == VENDOR)
        ).scalar_one()

    return db.run_txn("vendor_balance", read)


def suspense_balance(db: Database) -> int:
    return balance(db, house_account_code("suspense", INR))


def ledger_ok(db: Database) -> None:
    problems = db.run_txn("verify", verify_ledger)
    assert problems.ok, problems


@dataclass
class ScriptedProvider:
    """The provider interface's test implementation: each order's outcome is scripted by
    the last digit of its target (0 SUCCESS, 1 FAILED, 2 PENDING, 3 UNKNOWN/timeout), a
    ``down`` provider refuses every call; status answers come from ``statuses``."""

    name: str
    down: bool = False
    statuses: dict[str, ProviderResult] = field(default_factory=dict)
    executed: list[ProviderOrder] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)

    def execute(self, order: ProviderOrder) -> Deferred:
        if self.down:
            return fail(ProviderUnavailable(f"{self.name}: connection refused"))
        self.executed.append(order)
        ref = f"{self.name.upper()}{len(self.executed):06d}"
        key = str(order.params.get("account") or order.target)
        outcome = {
            "0": Outcome.SUCCESS,
            "1": Outcome.FAILED,
            "2": Outcome.PENDING,
            "3": Outcome.UNKNOWN,
        }.get(key[-1], Outcome.SUCCESS)
        operator_ref = f"OP{ref}" if outcome is Outcome.SUCCESS else None
        message = {"FAILED": "Invalid operator account"}.get(outcome.value, outcome.value)
        return succeed(ProviderResult(outcome, ref, operator_ref, outcome.value[:3], message))

    def status(self, order_id: str) -> Deferred:
        if self.down:
            return fail(ProviderUnavailable(f"{self.name}: connection refused"))
        return succeed(self.statuses.get(order_id, ProviderResult(Outcome.PENDING)))

    def plans(self, provider_code: str, circle: str) -> Deferred:
        self.fetched.append(f"{provider_code}/{circle}")
        return succeed([Plan("P199", inr(19900), "28 days", "1.5 GB/day, unlimited calls")])

    def fetch(self, ref_id: str, biller_id: str, params: Any, mobile: str) -> Deferred:
        self.fetched.append(biller_id)
        return succeed(FetchedBill("R K Gupta", inr(154_000), "B-2026-11", None, None, ref_id))

    def complain(self, order_id: str, provider_ref: Any, kind: str, description: str) -> Deferred:
        return succeed(ComplaintAck(f"CMP{order_id[-8:]}", "ASSIGNED"))

    def verify_account(self, account: str, ifsc: str) -> Deferred:
        return succeed(None if account.endswith("9") else "RAJESH KUMAR GUPTA")

    def complaint_status(self, complaint_id: str) -> Deferred:
        return succeed(ComplaintAck(complaint_id, "RESOLVED"))


def attach_provider_sales(services: Any, database: Database, keyring: Keyring, clock: Any,
                          reactor: Any, clients: dict[str, Any]) -> Any:  # fmt: skip
    """Wire the provider sales into a channel test world's built services (as ``evd serve``
    does with its fulfilment factory): the fulfilment on the world's reactor, its results
    pushed (webhook + SMS), and every provider product's service. The fulfilment."""
    from catalogue.adapters.tasks import ReactorScheduler
    from catalogue.fulfilment import Fulfilment, FulfilmentPolicy
    from vending.services.bill_payments import BillPayments
    from vending.services.insurance import InsuranceSales
    from vending.services.money_transfers import MoneyTransfers
    from vending.services.provider_push import ResultPush
    from vending.services.recharge_sales import RechargeSales
    from vending.services.travel import TravelSales
    from xmlvend.transport.asyncdb import ImmediateDatabase

    runner = ImmediateDatabase(database)
    fulfilment = Fulfilment(
        runner, keyring, clock, ReactorScheduler(reactor), clients, services.renderers,
        policy=FulfilmentPolicy(first_poll_seconds=1.0), push=ResultPush(keyring, "5555"),
    )  # fmt: skip
    services.fulfilment = fulfilment
    services.recharge = RechargeSales(runner, fulfilment, clock)
    services.bills = BillPayments(runner, fulfilment, clock)
    services.transfers = MoneyTransfers(runner, fulfilment, clock)
    services.insurance = InsuranceSales(runner, fulfilment, clock)
    services.travel = TravelSales(runner, keyring, clock, clients, renderers=services.renderers)
    return fulfilment


def seed_shop(txn: Txn, keyring: Keyring, shop: str, mappings: tuple, now: datetime) -> None:
    """The demo catalogue, an INR shop with Rs 1,000 (operator ``till``), provider alpha
    selling the ``(product, provider code)`` mappings."""
    from vending.vendors import create_operator

    seed_catalogue(txn, now=now)
    create_vendor(txn, client_id=shop, name="Sharma Mobile", currency=INR, now=now)
    adjust_vendor_balance(txn, shop, inr(100_000), reason="float", actor="t", now=now)
    create_operator(txn, name="till", password_hash="-", vendor_client_id=shop, now=now)
    add_provider(txn, keyring, name="alpha", protocol="recharge-json",
                 url="http://127.0.0.1:9", actor="t", now=now)  # fmt: skip
    for product, code in mappings:
        map_product(txn, product_code=product, provider="alpha", provider_code=code,
                    actor="t", now=now)  # fmt: skip
