"""PIN-less recharge over XMLVend (docs/EXTENSION-NAMESPACE.md): ``r:creditVendReq`` with
``ext:ProductIdentifier productCode recipient``; success is a schema-valid creditVendResp
with one ``ext:RechargeTx``, a final failure a BusinessRuleEx (refunded), a pending one
``ext:TransactionDelayedEx`` naming our order whose final answer a last-response advice
fetches once the provider's status resolves it (task.Clock)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from server_support import World, assert_strictly_valid
from twisted.internet.defer import succeed

from catalogue.adapters.tasks import ReactorScheduler
from catalogue.demo import seed_catalogue
from catalogue.fulfilment import Fulfilment, FulfilmentPolicy
from catalogue.interface import Outcome, ProviderOrder, ProviderResult
from catalogue.providers import add_provider, map_product
from tools.conformance.builders import money
from vending.money import Money
from vending.passwords import hash_password
from vending.services.recharge_sales import RechargeSales
from vending.storage.database import Txn
from vending.vendors import adjust_vendor_balance, create_operator, create_vendor
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r
from xmlvend.transport.asyncdb import ImmediateDatabase

SHOP = "6004708000991"
OPERATOR = ("rani", "pass1234")


class Provider:
    """The provider interface's test implementation: outcome by the number's last digit."""

    name = "alpha"

    def __init__(self) -> None:
        self.statuses: dict[str, ProviderResult] = {}

    def execute(self, order: ProviderOrder) -> object:
        outcome = {"1": Outcome.FAILED, "2": Outcome.PENDING}.get(order.target[-1], Outcome.SUCCESS)
        ref = "OPR42" if outcome is Outcome.SUCCESS else None
        return succeed(ProviderResult(outcome, "P1", ref, "", "Operator refused"))

    def status(self, order_id: str) -> object:
        return succeed(self.statuses.get(order_id, ProviderResult(Outcome.PENDING)))


@pytest.fixture
def shop(world: World) -> tuple[World, Provider]:
    def seed(txn: Txn) -> None:
        seed_catalogue(txn, now=world.clock())
        create_vendor(txn, client_id=SHOP, name="Sharma Mobile", currency="INR")
        adjust_vendor_balance(txn, SHOP, Money(1_000_000, "INR"), reason="float", actor="t")
        create_operator(
            txn,
            name=OPERATOR[0],
            password_hash=hash_password(OPERATOR[1], log_n=10),
            vendor_client_id=SHOP,
        )
        add_provider(
            txn,
            world.keyring,
            name="alpha",
            protocol="recharge-json",
            url="http://127.0.0.1:9",
            actor="t",
            now=world.clock(),
        )
        map_product(txn, product_code="RCH-AIRTEL", provider="alpha", provider_code="AT", actor="t")

    world.database.run_txn("seed_recharge", seed)
    provider = Provider()
    services = world.server.services
    runner = ImmediateDatabase(world.database)
    fulfilment = Fulfilment(
        runner,
        world.keyring,
        world.clock,
        ReactorScheduler(world.reactor),
        {"alpha": provider},
        services.renderers,
        policy=FulfilmentPolicy(first_poll_seconds=1.0),
    )
    services.fulfilment = fulfilment
    services.recharge = RechargeSales(runner, fulfilment, world.clock)
    return world, provider


def recharge(world: World, number: str, msg_id: b.MsgID | None = None) -> r.CreditVendReq:
    header = world.header(SHOP, OPERATOR, msg_id)
    return r.CreditVendReq(
        header=header,
        resource=ext.Voucher(product_code="RCH-AIRTEL"),
        id_method=b.VendIDMethod(
            meter_identifier=ext.ProductIdentifier(product_code="RCH-AIRTEL", recipient=number)
        ),
        purchase_value=r.PurchaseValueCurrency(amt=money(Decimal("199.00"), "INR")),
    )


def test_recharge_success_is_a_schema_valid_receipt(shop) -> None:
    world, _ = shop
    response = world.call(recharge(world, "9810012340"))
    assert response.status == 200, response.body
    assert_strictly_valid(response.body, lenient_msg_id=True)
    tx = response.parsed().credit_vend_receipt.transactions.tx[0]
    assert isinstance(tx, ext.RechargeTx)
    assert tx.recharge.recipient == "9810012340" and tx.recharge.operator_ref == "OPR42"
    assert tx.recharge.circle == "DL" and tx.recharge.order_id.startswith("EV")
    assert world.balance(SHOP) == Money(1_000_000 - 19_900 + 398, "INR")


def test_recharge_failure_refunds_with_a_business_rule_fault(shop) -> None:
    world, _ = shop
    response = world.call(recharge(world, "9810012341"))
    assert response.fault_class() == "BusinessRuleEx"
    assert b"refunded" in response.body
    assert world.balance(SHOP) == Money(1_000_000, "INR")


def test_pending_recharge_is_delayed_then_last_response_gets_the_final_receipt(shop) -> None:
    world, provider = shop
    request = recharge(world, "9810012342")
    response = world.call(request)
    assert response.fault_class() == "TransactionDelayedEx"
    assert world.call(request).fault_class() == "TransactionDelayedEx"  # a retry: same
    advice = b.LastRespAdviceReq(
        header=world.header(SHOP, OPERATOR), advice_req_msg_id=request.header.msg_id
    )
    order_id = next(iter(world.database.run_txn("o", _order_ids)))
    provider.statuses[order_id] = ProviderResult(Outcome.SUCCESS, "P1", "OPR77", "000", "ok")
    world.reactor.advance(1.0)  # the status poll settles it
    final = world.call(advice)
    assert final.status == 200, final.body
    embedded = final.parsed().last_response
    assert isinstance(embedded, r.CreditVendResp)
    assert embedded.credit_vend_receipt.transactions.tx[0].recharge.operator_ref == "OPR77"
    assert world.call(request).parsed() == embedded  # the retry now gets the receipt


def _order_ids(txn: Txn) -> list[str]:
    from sqlalchemy import select

    from catalogue.tables import provider_orders

    return [row.order_id for row in txn.execute(select(provider_orders.c.order_id))]
