"""Money transfer (issue 14 §4) through the services with the scripted bank (SQLite and
PostgreSQL): sender limits, penny-drop beneficiaries, fees and commission posted, UTR on
the receipt, refund on a final failure only, never sent twice."""

from __future__ import annotations

import pytest
from catalogue_support import answer, context, inr, ledger_ok, principal, vendor_balance
from test_catalogue_fulfilment import START, run

from catalogue import transfers
from catalogue.errors import ProviderError
from catalogue.interface import Outcome, ProviderResult
from catalogue.transfers import LimitExceeded, UnknownSender
from vending.errors import InvalidRequest
from vending.services.money_transfers import TransferRequest

SENDER = "9876500001"


def _setup(shop, kyc: str = "minimum", account: str = "123456789010"):  # type: ignore[no-untyped-def]
    who = principal(shop.db)
    run(shop.transfers.register_sender(who, SENDER, "Sunita Devi", kyc))
    return run(shop.transfers.add_beneficiary(who, SENDER, "Rajesh Gupta", account, "sbin0001234"))


def _send(shop, beneficiary_id: int, amount: int, request_id: str | None = None):  # type: ignore[no-untyped-def]
    ctx = context(principal(shop.db), request_id, body=f"dmt/{beneficiary_id}/{amount}")
    request = TransferRequest(ctx, SENDER, beneficiary_id, inr(amount))
    return run(shop.transfers.transfer(request, shop.renderer))


def test_fee_is_one_percent_at_least_ten_rupees() -> None:
    assert transfers.fee_for(inr(100_000)) == inr(1_000)
    assert transfers.fee_for(inr(500_000)) == inr(5_000)
    pricing = transfers.pricing_for(inr(500_000))
    assert pricing.price == inr(505_000) and pricing.supplier_share == inr(500_000)
    assert pricing.commission == inr(2_500) and pricing.margin == inr(2_500)


def test_names_match() -> None:
    assert transfers.names_match("Rajesh Gupta", "RAJESH KUMAR GUPTA")
    assert transfers.names_match("r. k. gupta", "R K GUPTA")  # initials are ignored
    assert not transfers.names_match("Anil Sharma", "RAJESH KUMAR GUPTA")


def test_penny_drop_beneficiary(shop) -> None:
    beneficiary = _setup(shop)
    assert beneficiary.verified_name == "RAJESH KUMAR GUPTA" and beneficiary.name_matches
    assert beneficiary.ifsc == "SBIN0001234"
    who = principal(shop.db)
    with pytest.raises(ProviderError, match="no such account"):
        run(shop.transfers.add_beneficiary(who, SENDER, "X Y", "123456789019", "SBIN0001234"))
    with pytest.raises(InvalidRequest):
        run(shop.transfers.add_beneficiary(who, SENDER, "X Y", "12345", "SBIN0001234"))
    with pytest.raises(InvalidRequest):
        run(shop.transfers.add_beneficiary(who, SENDER, "X Y", "123456789010", "SBIN1001234"))
    with pytest.raises(UnknownSender):
        run(shop.transfers.add_beneficiary(who, "9000000000", "X", "123456789010", "SBIN0001234"))


def test_transfer_success_posts_fee_and_commission_with_utr(shop) -> None:
    beneficiary = _setup(shop)
    outcome = _send(shop, beneficiary.id, 500_000, "t-1")
    body = answer(outcome)
    assert body["state"] == "success" and body["operator_ref"].startswith("OPBANK")  # the UTR
    assert body["amount"] == 505_000
    executed = shop.providers["bank"].executed[-1]
    assert executed.amount == inr(500_000) and executed.params["account"] == "123456789010"
    assert vendor_balance(shop.db) == START - 505_000 + 2_500
    assert _send(shop, beneficiary.id, 500_000, "t-1").replayed  # never sent twice
    assert len(shop.providers["bank"].executed) == 1
    ledger_ok(shop.db)


def test_failed_transfer_is_refunded_and_does_not_count(shop) -> None:
    beneficiary = _setup(shop, account="123456789011")
    assert answer(_send(shop, beneficiary.id, 100_000))["state"] == "failed"
    assert vendor_balance(shop.db) == START
    view = run(shop.transfers.sender(principal(shop.db), SENDER))
    assert view.used == inr(0) and view.remaining == inr(2_500_000)
    ledger_ok(shop.db)


def test_pending_transfer_held_until_final_then_refunded(shop) -> None:
    beneficiary = _setup(shop, account="123456789012")
    body = answer(_send(shop, beneficiary.id, 100_000))
    assert body["state"] == "pending"
    assert vendor_balance(shop.db) == START - 101_000 + 500
    assert run(shop.transfers.sender(principal(shop.db), SENDER)).used == inr(100_000)
    shop.providers["bank"].statuses[body["order_id"]] = ProviderResult(
        Outcome.FAILED, code="R03", message="Beneficiary bank refused"
    )
    shop.reactor.advance(2.0)
    assert run(shop.transfers.status(principal(shop.db), body["order_id"])).state == "failed"
    assert vendor_balance(shop.db) == START
    ledger_ok(shop.db)


def test_limits(shop) -> None:
    from catalogue_support import VENDOR

    from vending.vendors import adjust_vendor_balance

    shop.db.run_txn(
        "topup", adjust_vendor_balance, VENDOR, inr(5_000_000), reason="float", actor="t"
    )
    beneficiary = _setup(shop)
    with pytest.raises(LimitExceeded, match="Rs 5,000"):
        _send(shop, beneficiary.id, 500_001)
    for _ in range(5):
        _send(shop, beneficiary.id, 500_000)
    with pytest.raises(LimitExceeded, match="monthly"):
        _send(shop, beneficiary.id, 100)
    assert run(shop.transfers.sender(principal(shop.db), SENDER)).remaining == inr(0)
