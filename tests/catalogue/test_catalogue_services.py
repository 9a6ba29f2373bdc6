"""Recharge lookups and plans, and the bill payment rules, through the services with the
scripted providers (SQLite and PostgreSQL): bad input is refused and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from catalogue_support import answer, context, inr, principal, vendor_balance
from test_catalogue_fulfilment import START, run

from catalogue import bbps, recharge
from catalogue.errors import (
    AmountRuleViolation,
    FetchNotSupported,
    FetchRequired,
    InvalidCustomerParams,
    InvalidNumber,
    PaymentPending,
    UnknownBiller,
    UnknownBillFetch,
    UnknownCircle,
)
from vending.services.bill_payments import BillFetchRequest, BillPaymentRequest


def test_circles_are_the_22_service_areas() -> None:
    assert len(recharge.CIRCLES) == 22
    assert recharge.check_circle("mu") == "MU"
    with pytest.raises(UnknownCircle):
        recharge.check_circle("XX")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("9810012345", "9810012345"),
        ("+91 98100 12345", "9810012345"),
        ("919810012345", "9810012345"),
        ("09810012345", "9810012345"),
    ],
)
def test_mobile_numbers_normalised(given: str, expected: str) -> None:
    assert recharge.normalise_mobile(given) == expected


@pytest.mark.parametrize("bad", ["5810012345", "981001234", "98100123456", "98100abcde"])
def test_bad_mobile_numbers_refused(bad: str) -> None:
    with pytest.raises(InvalidNumber):
        recharge.normalise_mobile(bad)


def test_lookup_by_series_and_ported_flag(shop) -> None:
    who = principal(shop.db)
    info = run(shop.recharge.lookup(who, "9820012345"))
    assert (info.operator.code, info.circle, info.ported) == ("VI", "MU", False)
    ported = run(shop.recharge.lookup(who, "9810000099"))
    assert (ported.operator.code, ported.circle, ported.ported) == ("JO", "DL", True)
    # A recharge of the ported number goes to Jio's product and provider code.
    body = answer(shop.recharge.sell and run(_sell(shop, "9810000099")))
    assert body["state"] == "success"
    assert shop.providers["alpha"].executed[-1].provider_code == "AJO"
    assert shop.providers["alpha"].executed[-1].params["ported"] is True


def _sell(shop, number: str, **kw):  # type: ignore[no-untyped-def]
    from vending.services.recharge_sales import RechargeRequest

    ctx = context(principal(shop.db), body=number)
    return shop.recharge.sell(RechargeRequest(ctx, number, inr(19_900), **kw), shop.renderer)


def test_dth_subscriber_ids_per_operator(shop) -> None:
    body = answer(run(_sell(shop, "1234567890", operator="TSKY")))
    assert body["state"] == "success" and body["target"] == "1234567890"
    with pytest.raises(InvalidNumber):
        run(_sell(shop, "12345678901", operator="TSKY"))
    assert answer(run(_sell(shop, "01234567890", operator="DISH")))["state"] == "success"


def test_amount_outside_the_product_range_changes_nothing(shop) -> None:
    from vending.errors import AmountOutOfRange
    from vending.services.recharge_sales import RechargeRequest

    ctx = context(principal(shop.db))
    with pytest.raises(AmountOutOfRange):
        run(shop.recharge.sell(RechargeRequest(ctx, "9810000010", inr(500)), shop.renderer))
    assert vendor_balance(shop.db) == START


def test_plans_cached_until_they_expire(shop) -> None:
    who = principal(shop.db)
    first = run(shop.recharge.plans(who, "AT", "DL"))
    assert first[0].code == "P199"
    assert run(shop.recharge.plans(who, "AT", "dl")) == first
    assert shop.providers["alpha"].fetched == ["AAT/DL"]
    shop.reactor.advance(timedelta(hours=6).total_seconds())
    run(shop.recharge.plans(who, "AT", "DL"))
    assert shop.providers["alpha"].fetched == ["AAT/DL", "AAT/DL"]


# --- bill payment -------------------------------------------------------------------------------


def _fetch(shop, biller: str, params: dict, mobile: str = "9810000010"):  # type: ignore[no-untyped-def]
    return run(shop.bills.fetch(BillFetchRequest(principal(shop.db), biller, params, mobile)))


def _pay(shop, biller: str, amount: int, params=None, ref_id=None, request_id=None):  # type: ignore[no-untyped-def]
    ctx = context(principal(shop.db), request_id, body=f"{biller}/{amount}/{ref_id}")
    request = BillPaymentRequest(ctx, biller, inr(amount), "9810000010", params or {}, ref_id)
    return run(shop.bills.pay(request, shop.renderer))


def test_biller_ids_are_14_characters(shop) -> None:
    from vending.errors import InvalidRequest

    def add(txn, biller_id):  # type: ignore[no-untyped-def]
        return bbps.add_biller(
            txn,
            biller_id=biller_id,
            name="X",
            category="Water",
            product_code="BBPS-GAS",
            fetch_requirement="OPTIONAL",
            amount_rule="ANY",
            params=[bbps.CustomerParam("K No", r"\d{8}")],
            actor="test",
        )

    with pytest.raises(InvalidRequest):
        shop.db.run_txn("add", add, "DJB0000DEL01")
    assert shop.db.run_txn("add", add, "DJB000000DEL01").biller_id == "DJB000000DEL01"


def test_mandatory_fetch_then_pay_exact(shop) -> None:
    with pytest.raises(FetchRequired):
        _pay(shop, "BESCOM000KAR01", 154_000, {"Customer ID": "1234567890"})
    bill = _fetch(shop, "BESCOM000KAR01", {"Customer ID": "1234567890"})
    assert bill.amount == inr(154_000) and len(bill.ref_id) == 35
    with pytest.raises(AmountRuleViolation):
        _pay(shop, "BESCOM000KAR01", 150_000, ref_id=bill.ref_id)
    body = answer(_pay(shop, "BESCOM000KAR01", 154_000, ref_id=bill.ref_id))
    assert body["state"] == "success"
    executed = shop.providers["bbpsnet"].executed[-1]
    assert executed.provider_code == "BESCOM000KAR01"  # mapping "*": the biller id itself
    assert executed.params["ref_id"] == bill.ref_id
    assert vendor_balance(shop.db) == START - (154_000 + 500 - 154_000 * 25 // 10_000)
    from vending.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="paid already"):
        _pay(shop, "BESCOM000KAR01", 154_000, ref_id=bill.ref_id)


def test_amount_rules_partial_and_over(shop) -> None:
    bill = _fetch(shop, "MSEDC0000MAH01", {"Consumer No": "123456789010"})
    with pytest.raises(AmountRuleViolation):
        _pay(shop, "MSEDC0000MAH01", 154_001, ref_id=bill.ref_id)
    assert answer(_pay(shop, "MSEDC0000MAH01", 100_000, ref_id=bill.ref_id))["state"] == "success"
    lic = _fetch(shop, "LICI00000IND01", {"Policy Number": "123456789"})
    with pytest.raises(AmountRuleViolation):
        _pay(shop, "LICI00000IND01", 153_999, ref_id=lic.ref_id)
    assert answer(_pay(shop, "LICI00000IND01", 160_000, ref_id=lic.ref_id))["state"] == "success"


def test_customer_params_checked(shop) -> None:
    with pytest.raises(InvalidCustomerParams):
        _fetch(shop, "BESCOM000KAR01", {"Customer ID": "12345"})
    with pytest.raises(InvalidCustomerParams):
        _fetch(shop, "BESCOM000KAR01", {"Customer ID": "1234567890", "Extra": "1"})
    with pytest.raises(InvalidCustomerParams):
        _fetch(shop, "MSEDC0000MAH01", {"BU": "1234"})  # the required one is missing
    assert _fetch(shop, "MSEDC0000MAH01", {"Consumer No": "123456789010"}).params == {
        "Consumer No": "123456789010"
    }
    with pytest.raises(UnknownBiller):
        _fetch(shop, "NOPE00000XXX01", {"A": "1"})


def test_fetch_not_supported_pays_directly_and_never_twice_while_pending(shop) -> None:
    with pytest.raises(FetchNotSupported):
        _fetch(shop, "IGL000000DEL01", {"BP Number": "1234567890"})
    body = answer(_pay(shop, "IGL000000DEL01", 50_000, {"BP Number": "1234567892"}))
    assert body["state"] == "pending"  # the scripted network: a target ending 2
    with pytest.raises(PaymentPending):
        _pay(shop, "IGL000000DEL01", 50_000, {"BP Number": "1234567892"})
    assert shop.bills.status is not None
    status = run(shop.bills.status(principal(shop.db), body["order_id"]))
    assert status.state == "pending"


def test_a_fetch_is_the_vendors_own(shop) -> None:
    bill = _fetch(shop, "BESCOM000KAR01", {"Customer ID": "1234567890"})
    with pytest.raises(UnknownBillFetch):
        _pay(shop, "MSEDC0000MAH01", 154_000, {"Consumer No": "123456789010"}, ref_id=bill.ref_id)


def test_fetched_bill_expires(shop) -> None:
    bill = _fetch(shop, "BESCOM000KAR01", {"Customer ID": "1234567890"})
    shop.reactor.advance(timedelta(hours=24).total_seconds())
    with pytest.raises(FetchRequired, match="expired"):
        _pay(shop, "BESCOM000KAR01", 154_000, ref_id=bill.ref_id)


def test_complaints(shop) -> None:
    bill = _fetch(shop, "BESCOM000KAR01", {"Customer ID": "1234567890"})
    body = answer(_pay(shop, "BESCOM000KAR01", 154_000, ref_id=bill.ref_id))
    who = principal(shop.db)
    ack = run(shop.bills.complain(who, body["order_id"], "TRANSACTION", "Amount not credited"))
    assert ack.status == "ASSIGNED"
    assert run(shop.bills.complaint_status(who, ack.complaint_id)).status == "RESOLVED"
    from vending.errors import InvalidRequest

    with pytest.raises(InvalidRequest):
        run(shop.bills.complain(who, body["order_id"], "WHATEVER", "x"))
