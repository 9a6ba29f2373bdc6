"""Bills, money transfer and insurance over XMLVend (docs/EXTENSION-NAMESPACE.md, issue 14
section 7), through the real handler stack on SQLite and PostgreSQL: the fetch and the
quote (``ext:billFetchReq``, ``ext:insuranceQuoteReq``), the sales as ``r:creditVendReq``
with ``ext:BillIdentifier`` / ``ext:BeneficiaryIdentifier`` / ``ext:PolicyIdentifier``.
Every answer is strictly schema-valid, replayed byte for byte for the same msgID and
refused (``ext:DuplicateMsgIDEx``) for the same msgID with other content; a refused sale is
refunded, a pending one ``ext:TransactionDelayedEx`` until the status poll resolves it and
a last-response advice fetches the final receipt; bad input changes nothing.

The providers are the provider interface's scripted test implementation (outcome by the
target's last digit: 0 success, 1 refused, 2 pending); the simulators over sockets are
tests/catalogue/test_catalogue_providers.py (marker ``providers``)."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from server_support import World, assert_strictly_valid
from twisted.internet.defer import succeed

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "catalogue"))

from catalogue_support import ScriptedProvider, attach_provider_sales, seed_shop

from catalogue import transfers
from catalogue.interface import InsuranceQuote, Outcome, ProviderResult
from catalogue.tables import provider_orders
from tools.conformance.builders import money
from vending.ledger import verify_ledger
from vending.money import Money
from vending.passwords import hash_password
from vending.storage.database import Txn
from vending.storage.schema import vendors
from vending.vendors import adjust_vendor_balance, create_operator, create_vendor
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r

SHOP = "6004708000992"
OPERATOR = ("meena", "pass1234")
FLOAT = 1_000_000  # Rs 10,000
BESCOM = "BESCOM000KAR01"
SENDER = "9810000010"


class Partner(ScriptedProvider):
    """The scripted provider, also an insurer."""

    def quote(self, plan: str, sum_insured: Money, age: int, term: int) -> Any:
        return succeed(InsuranceQuote("Q-42", plan, Money(52_000, "INR"), sum_insured, 30))


@pytest.fixture
def shop(world: World) -> tuple[World, Partner]:
    now = world.clock()
    mappings = (("BBPS-ELECTRICITY", "*"), ("DMT-IMPS", "IMPS"), ("INS-TERM", "TERM"))
    world.database.run_txn("seed_ext_shop", seed_shop, world.keyring, SHOP, mappings, now)

    def people(txn: Txn) -> None:
        adjust_vendor_balance(
            txn, SHOP, Money(FLOAT - 100_000, "INR"), reason="float", actor="t", now=now
        )
        create_operator(
            txn, name=OPERATOR[0], password_hash=hash_password(OPERATOR[1], log_n=10),
            vendor_client_id=SHOP, now=now,
        )  # fmt: skip
        vendor_id = txn.execute(
            vendors.select().with_only_columns(vendors.c.id).where(vendors.c.client_id == SHOP)
        ).scalar_one()
        sender = transfers.register_sender(
            txn, mobile=SENDER, name="Asha Verma", kyc="minimum", vendor_id=vendor_id, now=now
        )
        for account in ("501000123450", "501000123451", "501000123452"):
            transfers.add_beneficiary(
                txn, sender=sender, name="Ravi Kumar", account_no=account, ifsc="HDFC0001234",
                verified_name="RAVI KUMAR", now=now,
            )  # fmt: skip

    world.database.run_txn("seed_ext_people", people)
    partner = Partner("alpha")
    attach_provider_sales(world.server.services, world.database, world.keyring, world.clock,
                          world.reactor, {"alpha": partner})  # fmt: skip
    return world, partner


def inr(value: str) -> b.Currency:
    return money(Decimal(value), "INR")


def bill_identifier(customer: str, ref_id: str | None = None) -> ext.BillIdentifier:
    return ext.BillIdentifier(
        params=(ext.BillParam(name="Customer ID", value=customer),),
        biller_id=BESCOM,
        ref_id=ref_id,
        mobile="9810000010",
    )


def fetch(world: World, customer: str, msg_id: b.MsgID | None = None) -> ext.BillFetchReq:
    return ext.BillFetchReq(
        header=world.header(SHOP, OPERATOR, msg_id), bill_identifier=bill_identifier(customer)
    )


def vend(
    world: World, identifier: b.MeterIdentifier, amount: str, msg_id: b.MsgID | None = None
) -> r.CreditVendReq:
    return r.CreditVendReq(
        header=world.header(SHOP, OPERATOR, msg_id),
        resource=ext.Voucher(),
        id_method=b.VendIDMethod(meter_identifier=identifier),
        purchase_value=r.PurchaseValueCurrency(amt=inr(amount)),
    )


def fetched_ref(world: World, customer: str) -> str:
    response = world.call(fetch(world, customer))
    assert response.status == 200, response.body
    return response.parsed().ref_id


def fetched_payment(world: World, customer: str) -> r.CreditVendReq:
    """The payment of the customer's bill as fetched (its refId, the bill's Rs 1,540)."""
    return vend(world, bill_identifier(customer, fetched_ref(world, customer)), "1540.00")


def beneficiary_ids(world: World) -> dict[str, int]:
    from catalogue.tables import dmt_beneficiaries

    def read(txn: Txn) -> dict[str, int]:
        rows = txn.execute(dmt_beneficiaries.select())
        return {row.account_no: row.id for row in rows}

    return world.database.run_txn("beneficiaries", read)


def order_ids(world: World) -> list[str]:
    def read(txn: Txn) -> list[str]:
        return [row.order_id for row in txn.execute(provider_orders.select())]

    return world.database.run_txn("orders", read)


def last_response(world: World, request: b.BaseReq) -> Any:
    advice = b.LastRespAdviceReq(
        header=world.header(SHOP, OPERATOR), advice_req_msg_id=request.header.msg_id
    )
    response = world.call(advice)
    assert response.status == 200, response.body
    return response.parsed().last_response


def ledger_ok(world: World) -> None:
    problems = world.database.run_txn("verify", verify_ledger)
    assert problems.ok, problems


# --- bill payment ------------------------------------------------------------------------


def test_bill_fetch_then_pay_gives_a_bill_receipt_replayed_byte_for_byte(shop) -> None:
    world, partner = shop
    request = fetch(world, "1234567890")
    fetched = world.call(request)
    assert fetched.status == 200, fetched.body
    assert_strictly_valid(fetched.body, lenient_msg_id=True)
    bill = fetched.parsed()
    assert isinstance(bill, ext.BillFetchResp)
    assert (bill.customer_name, bill.bill_number) == ("R K Gupta", "B-2026-11")
    assert bill.amt == inr("1540.00") and len(bill.ref_id) == 35
    # The fetch is kept under its key like any read-only answer: a re-send gets the first
    # answer's bytes (its refId); other content under its msgID is refused.
    assert world.call(request).body == fetched.body
    other = fetch(world, "1234567899", request.header.msg_id)
    assert world.call(other).fault_class() == "DuplicateMsgIDEx"

    pay = vend(world, bill_identifier("1234567890", bill.ref_id), "1540.00")
    paid = world.call(pay)
    assert paid.status == 200, paid.body
    assert_strictly_valid(paid.body, lenient_msg_id=True)
    (tx,) = paid.parsed().credit_vend_receipt.transactions.tx
    assert isinstance(tx, ext.BillPaymentTx) and tx.amt == inr("1540.00")
    assert tx.bill.biller_id == BESCOM and tx.bill.ref_id == bill.ref_id
    assert tx.bill.approval_ref.startswith("OPALPHA") and tx.bill.customer_name == "R K Gupta"
    assert tx.bill.order_id.startswith("EV") and tx.bill.bill_number == "B-2026-11"
    paid_balance = world.balance(SHOP)
    assert paid_balance.amount < FLOAT - 150_000  # the bill, less the shop's commission

    assert world.call(pay).body == paid.body  # replayed: no second payment
    assert len(partner.executed) == 1 and world.balance(SHOP) == paid_balance
    changed = vend(world, bill_identifier("1234567890", bill.ref_id), "1500.00", pay.header.msg_id)
    assert world.call(changed).fault_class() == "DuplicateMsgIDEx"
    assert world.balance(SHOP) == paid_balance
    ledger_ok(world)


def test_bill_refused_by_the_network_is_refunded(shop) -> None:
    world, _partner = shop
    pay = fetched_payment(world, "1234567891")
    refused = world.call(pay)
    assert refused.fault_class() == "BusinessRuleEx"
    assert_strictly_valid(refused.body, lenient_msg_id=True)
    assert b"Bill payment EV" in refused.body and b"refunded" in refused.body
    assert world.balance(SHOP) == Money(FLOAT, "INR")
    assert world.call(pay).body == refused.body  # the refusal is stored, not re-tried
    ledger_ok(world)


def test_bill_pending_is_delayed_then_the_status_poll_gives_the_receipt(shop) -> None:
    world, partner = shop
    pay = fetched_payment(world, "1234567892")
    delayed = world.call(pay)
    assert delayed.fault_class() == "TransactionDelayedEx"
    assert_strictly_valid(delayed.body, lenient_msg_id=True)
    (order_id,) = order_ids(world)
    assert order_id.encode() in delayed.body
    held = world.balance(SHOP)
    assert held.amount < FLOAT  # the money is held while the biller works
    assert world.call(pay).fault_class() == "TransactionDelayedEx"  # a retry: still pending
    assert len(partner.executed) == 1

    partner.statuses[order_id] = ProviderResult(Outcome.SUCCESS, "P9", "APPR77", "000", "ok")
    world.reactor.advance(1.0)  # the status poll settles the order
    final = last_response(world, pay)
    assert isinstance(final, r.CreditVendResp)
    (tx,) = final.credit_vend_receipt.transactions.tx
    assert isinstance(tx, ext.BillPaymentTx) and tx.bill.approval_ref == "APPR77"
    assert world.call(pay).parsed() == final  # the retry now gets the receipt
    assert world.balance(SHOP) == held
    ledger_ok(world)


def test_bill_pending_then_refused_is_refunded(shop) -> None:
    world, partner = shop
    pay = fetched_payment(world, "1234567892")
    assert world.call(pay).fault_class() == "TransactionDelayedEx"
    (order_id,) = order_ids(world)
    partner.statuses[order_id] = ProviderResult(Outcome.FAILED, "P9", None, "BFR", "closed")
    world.reactor.advance(1.0)
    assert world.call(pay).fault_class() == "BusinessRuleEx"
    assert world.balance(SHOP) == Money(FLOAT, "INR")
    ledger_ok(world)


@pytest.mark.parametrize(
    ("identifier", "amount", "fault", "says"),
    [
        (bill_identifier("1234567890"), "1540.00", "BusinessRuleEx", b"fetch"),  # MANDATORY
        (bill_identifier("12345"), "1540.00", "BusinessRuleEx", b"Customer ID"),
        (
            ext.BillIdentifier(biller_id="NOSUCHBILLER01", mobile="9810000010"),
            "1540.00",
            "BusinessRuleEx",
            b"NOSUCHBILLER01",
        ),
        (
            ext.BillIdentifier(
                params=(
                    ext.BillParam(name="Customer ID", value="1234567890"),
                    ext.BillParam(name="Customer ID", value="1234567891"),
                ),
                biller_id=BESCOM,
                mobile="9810000010",
            ),
            "1540.00",
            "BusinessRuleEx",
            b"twice",
        ),
    ],
    ids=["no-fetch", "bad-param", "unknown-biller", "param-twice"],
)
def test_bad_bill_payments_change_nothing(shop, identifier, amount, fault, says) -> None:
    world, partner = shop
    response = world.call(vend(world, identifier, amount))
    assert response.fault_class() == fault, response.body
    assert says in response.body
    assert world.balance(SHOP) == Money(FLOAT, "INR") and not partner.executed
    assert order_ids(world) == []


def test_a_bill_amount_other_than_the_fetched_one_is_refused(shop) -> None:
    world, partner = shop
    ref_id = fetched_ref(world, "1234567890")
    response = world.call(vend(world, bill_identifier("1234567890", ref_id), "100.00"))
    assert response.fault_class() == "BusinessRuleEx" and b"exactly" in response.body
    assert world.balance(SHOP) == Money(FLOAT, "INR") and not partner.executed


def test_a_schema_invalid_biller_id_is_a_schema_fault(shop) -> None:
    world, _partner = shop
    from xmlvend.codec import render_request

    body = render_request(fetch(world, "1234567890")).replace(
        BESCOM.encode(), b"BESCOM000KAR0"
    )  # 13 characters
    response = world.post(body)
    assert response.fault_class() == "XMLVendSchemaEx"


@pytest.mark.parametrize("kind", ["bill", "transfer", "policy"])
def test_trial_vends_of_provider_sales_are_not_supported(shop, kind) -> None:
    world, partner = shop
    identifier = {
        "bill": bill_identifier("1234567890"),
        "transfer": ext.BeneficiaryIdentifier(sender=SENDER, beneficiary_id=1),
        "policy": ext.PolicyIdentifier(
            plan="INS-TERM", quote_id="Q-42", holder="Asha Verma", dob="1990-05-17",
            mobile="9810000010",
        ),
    }[kind]  # fmt: skip
    request = r.TrialCreditVendReq(
        header=world.header(SHOP, OPERATOR),
        resource=ext.Voucher(),
        id_method=b.VendIDMethod(meter_identifier=identifier),
        purchase_value=r.PurchaseValueCurrency(amt=inr("100.00")),
    )
    response = world.call(request)
    assert response.fault_class() == "UseCaseSupportEx"
    assert not partner.executed and not partner.fetched


# --- money transfer ----------------------------------------------------------------------


def test_money_transfer_receipt_refusal_and_pending(shop) -> None:
    world, partner = shop
    ids = beneficiary_ids(world)
    send = vend(
        world,
        ext.BeneficiaryIdentifier(sender=SENDER, beneficiary_id=ids["501000123450"]),
        "1000.00",
    )
    sent = world.call(send)
    assert sent.status == 200, sent.body
    assert_strictly_valid(sent.body, lenient_msg_id=True)
    (tx,) = sent.parsed().credit_vend_receipt.transactions.tx
    assert isinstance(tx, ext.TransferTx)
    fee = transfers.fee_for(Money(100_000, "INR"))
    assert tx.transfer.sent == inr("1000.00") and tx.transfer.fee == money(
        Decimal(fee.amount) / 100, "INR"
    )
    assert tx.amt == money(Decimal(100_000 + fee.amount) / 100, "INR")
    assert tx.transfer.utr.startswith("OPALPHA") and tx.transfer.beneficiary_name == "RAVI KUMAR"
    # The receipt shows the account's last four only.
    assert tx.transfer.desc == "Transfer to ****3450 (HDFC0001234)"
    assert b"501000123450" not in sent.body
    after_send = world.balance(SHOP)
    assert world.call(send).body == sent.body and world.balance(SHOP) == after_send

    refused = world.call(
        vend(
            world,
            ext.BeneficiaryIdentifier(sender=SENDER, beneficiary_id=ids["501000123451"]),
            "10.00",
        )
    )
    assert refused.fault_class() == "BusinessRuleEx" and b"Transfer EV" in refused.body
    assert world.balance(SHOP) == after_send

    pending = vend(
        world, ext.BeneficiaryIdentifier(sender=SENDER, beneficiary_id=ids["501000123452"]), "10.00"
    )
    assert world.call(pending).fault_class() == "TransactionDelayedEx"
    assert world.balance(SHOP).amount < after_send.amount  # held, never refunded on a wait
    order_id = order_ids(world)[-1]
    partner.statuses[order_id] = ProviderResult(Outcome.SUCCESS, "P9", "UTR999", "000", "ok")
    world.reactor.advance(1.0)
    final = last_response(world, pending)
    assert final.credit_vend_receipt.transactions.tx[0].transfer.utr == "UTR999"
    assert len(partner.executed) == 3
    ledger_ok(world)


def test_a_transfer_to_an_unknown_beneficiary_changes_nothing(shop) -> None:
    world, partner = shop
    response = world.call(
        vend(world, ext.BeneficiaryIdentifier(sender=SENDER, beneficiary_id=999), "10.00")
    )
    assert response.fault_class() == "BusinessRuleEx"
    assert world.balance(SHOP) == Money(FLOAT, "INR") and not partner.executed


RIVAL, RIVAL_OPERATOR = "6004708000993", ("ravi", "pass5678")


def test_another_merchants_sender_is_refused_as_unknown(shop) -> None:
    """A second merchant quoting this merchant's sender (and a real beneficiary id of it)
    is answered word for word as for a sender never registered; nothing is sold."""
    world, partner = shop
    now = world.clock()

    def rival(txn: Txn) -> None:
        create_vendor(txn, client_id=RIVAL, name="Gupta Telecom", currency="INR", now=now)
        adjust_vendor_balance(txn, RIVAL, Money(FLOAT, "INR"), reason="float", actor="t", now=now)
        create_operator(
            txn, name=RIVAL_OPERATOR[0], vendor_client_id=RIVAL, now=now,
            password_hash=hash_password(RIVAL_OPERATOR[1], log_n=10),
        )  # fmt: skip

    world.database.run_txn("rival_shop", rival)
    beneficiary = beneficiary_ids(world)["501000123450"]

    def attempt(sender: str) -> Any:
        request = r.CreditVendReq(
            header=world.header(RIVAL, RIVAL_OPERATOR),
            resource=ext.Voucher(),
            id_method=b.VendIDMethod(
                meter_identifier=ext.BeneficiaryIdentifier(
                    sender=sender, beneficiary_id=beneficiary
                )
            ),
            purchase_value=r.PurchaseValueCurrency(amt=inr("1000.00")),
        )
        response = world.call(request)
        assert response.status == 500 and response.fault_class(), response.body
        fault = response.parsed()
        shown = (fault.faultstring, fault.detail.fault.desc if fault.detail else "")
        return response.fault_class(), *(text.replace(sender, "<sender>") for text in shown)

    stolen, unknown = attempt(SENDER), attempt("9810000099")
    assert stolen == unknown and "register the sender first" in stolen[1]
    assert not partner.executed and world.balance(RIVAL) == Money(FLOAT, "INR")
    assert world.balance(SHOP) == Money(FLOAT, "INR") and order_ids(world) == []


# --- insurance ---------------------------------------------------------------------------


def quote(world: World) -> ext.InsuranceQuoteReq:
    return ext.InsuranceQuoteReq(
        header=world.header(SHOP, OPERATOR), sum_insured=inr("500000.00"), plan="INS-TERM",
        dob="1990-05-17", term_years=10,
    )  # fmt: skip


def policy(mobile: str, quote_id: str = "Q-42") -> ext.PolicyIdentifier:
    return ext.PolicyIdentifier(
        plan="INS-TERM", quote_id=quote_id, holder="Asha Verma", dob="1990-05-17", mobile=mobile
    )


def test_insurance_quote_then_issue_gives_the_policy(shop) -> None:
    world, partner = shop
    request = quote(world)
    quoted = world.call(request)
    assert quoted.status == 200, quoted.body
    assert_strictly_valid(quoted.body, lenient_msg_id=True)
    answer = quoted.parsed()
    assert isinstance(answer, ext.InsuranceQuoteResp)
    assert (answer.quote_id, answer.premium, answer.valid_minutes) == ("Q-42", inr("520.00"), 30)
    assert world.call(request).body == quoted.body

    issue = vend(world, policy("9810000010", answer.quote_id), "520.00")
    issued = world.call(issue)
    assert issued.status == 200, issued.body
    assert_strictly_valid(issued.body, lenient_msg_id=True)
    (tx,) = issued.parsed().credit_vend_receipt.transactions.tx
    assert isinstance(tx, ext.PolicyTx) and tx.amt == inr("520.00")
    assert tx.policy.policy_no.startswith("OPALPHA") and tx.policy.holder == "Asha Verma"
    assert world.call(issue).body == issued.body and len(partner.executed) == 1
    ledger_ok(world)


def test_insurance_refused_and_pending(shop) -> None:
    world, partner = shop
    refused = world.call(vend(world, policy("9810000011"), "520.00"))
    assert refused.fault_class() == "BusinessRuleEx" and b"Policy EV" in refused.body
    assert world.balance(SHOP) == Money(FLOAT, "INR")
    pending = vend(world, policy("9810000012"), "520.00")
    assert world.call(pending).fault_class() == "TransactionDelayedEx"
    order_id = order_ids(world)[-1]
    partner.statuses[order_id] = ProviderResult(
        Outcome.SUCCESS, "P9", "POL77", "000", "ok", details={"document_ref": "DOC-POL77"}
    )
    world.reactor.advance(1.0)
    tx = last_response(world, pending).credit_vend_receipt.transactions.tx[0]
    assert (tx.policy.policy_no, tx.policy.document_ref) == ("POL77", "DOC-POL77")
    ledger_ok(world)


def test_a_bad_policy_request_changes_nothing(shop) -> None:
    world, partner = shop
    response = world.call(vend(world, policy("5123456789"), "520.00"))
    assert response.fault_class() == "BusinessRuleEx"
    assert world.balance(SHOP) == Money(FLOAT, "INR") and not partner.executed
    bad_quote = world.call(
        ext.InsuranceQuoteReq(
            header=world.header(SHOP, OPERATOR),
            sum_insured=inr("500000.00"),
            plan="INS-NOSUCH",
            dob="1990-05-17",
            term_years=10,
        )
    )
    assert bad_quote.fault_class() == "BusinessRuleEx" and b"INS-NOSUCH" in bad_quote.body
