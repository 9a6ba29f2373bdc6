"""Products and pricing: fixed and open amounts, range and currency checks, commission
rules, vendor overrides, and a margin that is never negative."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fixed_clock import NOW
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from vending_support import SUPPLIER, UTILITY, VENDOR, run, snapshot, zar

from vending.accounts import create_account
from vending.errors import (
    AmountOutOfRange,
    CurrencyMismatch,
    InvalidAmount,
    InvalidRequest,
    UnknownCurrency,
    UnknownProduct,
    VendingError,
)
from vending.money import Money
from vending.products import (
    create_product,
    get_product,
    list_products,
    price_sale,
    set_active,
    set_vendor_commission,
    vendor_commission_bp,
)
from vending.storage.database import Database, Txn
from vending.vendors import get_vendor


def _product(db: Database, code: str):  # type: ignore[no-untyped-def]
    return run(db, get_product, code)


def test_fixed_price_product(world: Database) -> None:
    """A fixed-price product sells at its face value; another amount is out of range."""
    air = _product(world, "AIR10")
    assert air.is_fixed_price
    pricing = price_sale(air)
    assert pricing.price == zar("10.00")
    assert price_sale(air, zar("10.00")) == pricing
    # 6% supplier discount, 4% commission: 9.40 to the supplier, 0.40 to the merchant.
    assert pricing.supplier_share == zar("9.40")
    assert pricing.commission == zar("0.40")
    assert pricing.margin == zar("0.20")
    assert pricing.fee == zar("0")
    assert pricing.vendor_cost == zar("9.60")
    with pytest.raises(AmountOutOfRange):
        price_sale(air, zar("10.01"))


def test_open_amount_product(world: Database) -> None:
    """An open product needs an amount between its minimum and maximum, inclusive."""
    elec = _product(world, "ELEC")
    assert not elec.is_fixed_price
    assert price_sale(elec, zar("5.00")).price == zar("5.00")
    assert price_sale(elec, zar("5000.00")).price == zar("5000.00")
    pricing = price_sale(elec, zar("123.45"))
    # 3% of 123.45 = 3.7035 → 3.70 discount; 2% = 2.469 → 2.46 commission (rounded down).
    assert pricing.supplier_share == zar("119.75")
    assert pricing.commission == zar("2.46")
    assert pricing.margin == zar("1.24")
    for amount in ("4.99", "5000.01"):
        with pytest.raises(AmountOutOfRange, match=r"5\.00 to 5000\.00 ZAR"):
            price_sale(elec, zar(amount))
    with pytest.raises(InvalidAmount, match="needs an amount"):
        price_sale(elec)


def test_fee_is_charged_on_top(world: Database) -> None:
    """A product fee is paid by the vendor on top of the price."""
    pricing = price_sale(_product(world, "BILL"), zar("100.00"))
    assert pricing.fee == zar("2.50")
    assert pricing.commission == zar("0.50")
    assert pricing.vendor_cost == zar("102.00")
    assert pricing.margin == zar("0.50")


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (Money(1000, "USD"), CurrencyMismatch),
        (Money(0, "ZAR"), InvalidAmount),
        (Money(-1000, "ZAR"), InvalidAmount),
    ],
)
def test_price_sale_refuses_bad_amounts(
    world: Database, amount: Money, error: type[VendingError]
) -> None:
    """Wrong currency, zero and negative amounts are refused for every kind of product."""
    for code in ("AIR10", "ELEC"):
        with pytest.raises(error):
            price_sale(_product(world, code), amount)


def test_inactive_products_are_not_sold(world: Database) -> None:
    """A disabled product is refused as UnknownProduct until enabled again."""
    run(world, set_active, "AIR10", False, actor="t", now=NOW)
    with pytest.raises(UnknownProduct, match="not on sale"):
        price_sale(_product(world, "AIR10"))
    assert [p.code for p in run(world, list_products, active_only=True)] == ["ELEC", "BILL"]
    run(world, set_active, "AIR10", True, actor="t", now=NOW)
    assert price_sale(_product(world, "AIR10")).price == zar("10.00")
    with pytest.raises(UnknownProduct):
        run(world, set_active, "NOPE", True, actor="t", now=NOW)
    with pytest.raises(UnknownProduct):
        run(world, get_product, "NOPE")


_BASE: dict[str, Any] = {
    "code": "NEW",
    "kind": "voucher",
    "name": "New",
    "currency": "ZAR",
    "supplier_account_code": SUPPLIER,
    "face_value": Money(500, "ZAR"),
    "now": NOW,
}


BAD_DEFINITIONS: list[tuple[dict[str, Any], type[VendingError]]] = [
        ({"merchant_commission_bp": 700, "supplier_discount_bp": 600}, InvalidRequest),
        ({"supplier_discount_bp": 10_001}, InvalidRequest),
        ({"merchant_commission_bp": -1}, InvalidRequest),
        ({"min_amount": Money(100, "ZAR"), "max_amount": Money(200, "ZAR")}, InvalidRequest),
        ({"face_value": None, "min_amount": Money(100, "ZAR")}, InvalidRequest),
        ({"face_value": None, "min_amount": zar("2"), "max_amount": zar("1")}, InvalidAmount),
        ({"face_value": None, "min_amount": zar("0"), "max_amount": zar("1")}, InvalidAmount),
        ({"face_value": Money(0, "ZAR")}, InvalidAmount),
        ({"face_value": Money(500, "USD")}, CurrencyMismatch),
        ({"fee": Money(-1, "ZAR")}, InvalidAmount),
        ({"fee": Money(1, "USD")}, CurrencyMismatch),
        ({"currency": "XYZ"}, UnknownCurrency),
        ({"supplier_account_code": "supplier:NONE"}, InvalidRequest),
        ({"supplier_account_code": "vendor:V1"}, InvalidRequest),
        ({"supplier_account_code": "supplier:USD"}, CurrencyMismatch),
        ({"code": "AIR10"}, InvalidRequest),
        ({"code": "bad code"}, InvalidRequest),
        ({"kind": "lottery"}, InvalidRequest),
        ({"reversal_policy": "maybe"}, InvalidRequest),
        ({"cost_price": Money(501, "ZAR")}, InvalidAmount),
        ({"cost_price": Money(400, "USD")}, CurrencyMismatch),
        ({"cost_price": Money(490, "ZAR"), "merchant_commission_bp": 300}, InvalidRequest),
        (
            {"face_value": None, "min_amount": zar("1"), "max_amount": zar("2"),
             "cost_price": Money(1, "ZAR")},
            InvalidRequest,
        ),
]  # fmt: skip


def test_create_product_refuses_bad_definitions(world: Database, subtests: pytest.Subtests) -> None:
    """Each bad product definition is refused with a domain error and writes nothing."""
    run(
        world,
        create_account,
        code="supplier:USD",
        kind="supplier",
        name="u",
        currency="USD",
        now=NOW,
    )
    before = snapshot(world)
    for changes, error in BAD_DEFINITIONS:
        with subtests.test(msg=str(changes)):
            with pytest.raises(error):
                run(world, create_product, **{**_BASE, **changes})
            assert snapshot(world) == before


def test_create_product_defaults(world: Database) -> None:
    """A minimal product: no discount, no commission, no fee, refundable, active."""
    product = run(world, create_product, **_BASE)
    assert product.code == "NEW"
    assert product.supplier_discount_bp == 0
    assert product.merchant_commission_bp == 0
    assert product.fee == zar("0")
    assert product.reversal_policy == "refund"
    assert product.active
    assert product.attributes == {}
    pricing = price_sale(product)
    assert (pricing.supplier_share, pricing.commission, pricing.margin) == (
        Money(500, "ZAR"),
        zar("0"),
        zar("0"),
    )


def test_cost_price_product(world: Database) -> None:
    """An exact supplier cost replaces the discount percentage for fixed-price products."""
    product = run(
        world,
        create_product,
        **{**_BASE, "cost_price": Money(470, "ZAR"), "merchant_commission_bp": 400},
    )
    assert product.cost_price == Money(470, "ZAR")
    pricing = price_sale(product)
    assert pricing.supplier_share == Money(470, "ZAR")
    assert pricing.commission == Money(20, "ZAR")
    assert pricing.margin == Money(10, "ZAR")


@pytest.mark.parametrize(
    ("face", "cost", "commission", "discount"),
    [
        # R10.00 bought for R9.47: exactly 5.30% (530 bp), 4% passed on.
        (1000, 947, 400, 530),
        # R3.00 bought for R2.99: 0.333...% rounds up to 34 bp; 34 bp of R3.00 is R0.0102,
        # paid as R0.01: the whole margin, still allowed.
        (300, 299, 34, 34),
        # R1.00 bought for R1.00: no discount, so no commission either.
        (100, 100, 0, 0),
    ],
)
def test_cost_price_implies_its_discount(
    world: Database, face: int, cost: int, commission: int, discount: int
) -> None:
    """An exact cost price stands for the discount (face - cost) / face, in basis points
    rounded up; the commission may use all of it."""
    product = run(
        world,
        create_product,
        **{
            **_BASE,
            "face_value": Money(face, "ZAR"),
            "cost_price": Money(cost, "ZAR"),
            "merchant_commission_bp": commission,
        },
    )
    assert product.supplier_discount_bp == discount
    assert price_sale(product).supplier_share == Money(cost, "ZAR")


@pytest.mark.parametrize(
    ("face", "cost", "commission"),
    [
        (1000, 947, 531),  # 5.31% > the 5.30% the cost price leaves
        (300, 299, 35),  # 35 bp > the 34 bp R0.01 on R3.00 stands for
        (1000, 990, 101),  # a 1% margin (100 bp): 101 bp is 10.1 c, paid as 10 c, yet above it
        (100, 100, 1),  # nothing left to pass on
    ],
)
def test_cost_price_refuses_a_commission_above_its_margin(
    world: Database, face: int, cost: int, commission: int
) -> None:
    before = snapshot(world)
    with pytest.raises(InvalidRequest):
        run(
            world,
            create_product,
            **{
                **_BASE,
                "face_value": Money(face, "ZAR"),
                "cost_price": Money(cost, "ZAR"),
                "merchant_commission_bp": commission,
            },
        )
    assert snapshot(world) == before


def test_vendor_commission_override(world: Database) -> None:
    """A vendor's own commission replaces the product default, within the discount."""
    vendor = run(world, get_vendor, VENDOR)
    air = _product(world, "AIR10")
    assert run(world, vendor_commission_bp, vendor.id, air) == 400
    run(world, set_vendor_commission, vendor.id, air.id, 550)
    assert run(world, vendor_commission_bp, vendor.id, air) == 550
    run(world, set_vendor_commission, vendor.id, air.id, 600)  # update in place
    assert run(world, vendor_commission_bp, vendor.id, air) == 600
    pricing = price_sale(air, commission_bp=600)
    assert pricing.commission == zar("0.60")
    assert pricing.margin == zar("0")
    for bad in (601, -1):
        with pytest.raises(InvalidRequest):
            run(world, set_vendor_commission, vendor.id, air.id, bad)
    assert run(world, vendor_commission_bp, vendor.id, air) == 600
    # Other products keep their default.
    assert run(world, vendor_commission_bp, vendor.id, _product(world, "ELEC")) == 200


# --- property: the operator never pays out more than it earns ---------------------------------


class _Rollback(Exception):
    pass


@pytest.fixture
def scratch_db(sqlite_template: Path) -> Iterator[Database]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "evd.db"
        shutil.copyfile(sqlite_template, path)
        db = Database(f"sqlite:///{path}", pool_size=1)
        try:
            run(db, create_account, code=UTILITY, kind="utility", name="u", currency="UGX", now=NOW)
            run(
                db,
                create_account,
                code=SUPPLIER,
                kind="supplier",
                name="s",
                currency="ZAR",
                now=NOW,
            )
            yield db
        finally:
            db.close()


prices = st.integers(min_value=1, max_value=10**11)
basis_points = st.integers(min_value=0, max_value=10_000)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    price=prices,
    spread=st.integers(min_value=0, max_value=10**6),
    discount=basis_points,
    commission=basis_points,
    override=st.none() | basis_points,
    fee=st.integers(min_value=0, max_value=10**6),
    cost=st.none() | st.integers(min_value=0, max_value=10**11),
    fixed=st.booleans(),
)
def test_margin_is_never_negative(
    scratch_db: Database,
    price: int,
    spread: int,
    discount: int,
    commission: int,
    override: int | None,
    fee: int,
    cost: int | None,
    fixed: bool,
) -> None:
    """Whatever prices and basis points are asked for, a product that is accepted never
    prices a sale with a negative margin or share; one that would is refused."""
    if not fixed:
        cost = None
    if cost is not None:
        assume(cost <= price)

    def attempt(txn: Txn) -> None:
        currency = "ZAR"
        amount = Money(price + spread, currency)
        definition: dict[str, Any] = (
            {"face_value": Money(price, currency)}
            if fixed
            else {"min_amount": Money(price, currency), "max_amount": amount}
        )
        try:
            product = create_product(
                txn,
                code="P",
                kind="voucher",
                name="p",
                currency=currency,
                supplier_account_code=SUPPLIER,
                supplier_discount_bp=discount,
                merchant_commission_bp=commission,
                fee=Money(fee, currency),
                cost_price=None if cost is None else Money(cost, currency),
                now=NOW,
                **definition,
            )
        except InvalidRequest:
            # Refused only when the commission could exceed what the operator earns.
            if cost is None:
                assert commission > discount
            else:
                # A cost price leaves price - cost to share: no commission is always fine
                # (the exact boundary has worked examples in test_cost_price_implies_...).
                assert commission > 0
            raise _Rollback from None
        bp = commission
        if override is not None:
            try:
                set_vendor_commission(txn, _vendor_id(txn), product.id, override)
                bp = override
            except InvalidRequest:
                assert override > product.supplier_discount_bp or cost is not None
        pricing = price_sale(product, None if fixed else amount, commission_bp=bp)
        assert pricing.margin.amount >= 0
        assert pricing.supplier_share.amount >= 0
        assert pricing.commission.amount >= 0
        assert pricing.supplier_share + pricing.commission + pricing.margin == pricing.price
        assert pricing.vendor_cost == pricing.price + pricing.fee - pricing.commission
        if cost is not None:
            assert pricing.supplier_share.amount == cost
        raise _Rollback

    with pytest.raises(_Rollback):
        scratch_db.run_txn("attempt", attempt)


def _vendor_id(txn: Txn) -> int:
    from vending.vendors import create_vendor

    return create_vendor(txn, client_id="PV", name="p", currency="ZAR", now=NOW).id
