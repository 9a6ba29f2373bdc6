"""Our extension namespace (docs/EXTENSION-NAMESPACE.md): voucher sales through the standard
creditVendReq, and bill payment (ext:billFetchReq, then creditVendReq with
ext:BillIdentifier). These cases run only against servers whose WSDL imports the
namespace (and, for bills, advertises BillFetchRequest)."""

from __future__ import annotations

from decimal import Decimal

from tools.conformance import builders, steps
from tools.conformance.cases_protocol import check_reversal
from tools.conformance.checks import (
    check,
    check_receipt_arithmetic,
    expect_fault,
    expect_response,
)
from tools.conformance.reply import Reply
from tools.conformance.session import Session, Skip
from xmlvend.codec import render_request
from xmlvend.codec.types_ext import BillFetchResp, BillPaymentTx, VoucherDetail, VoucherVendTx
from xmlvend.codec.types_revenue import CreditVendResp, TrialCreditVendResp


def _voucher(s: Session) -> tuple[str, Decimal]:
    if not s.wsdl.extension:
        raise Skip("the server's WSDL does not import our extension namespace")
    if s.profile.voucher is None:
        raise Skip("no voucher product (--voucher CODE=AMOUNT)")
    return s.profile.voucher


def _voucher_of(
    reply: Reply, cls: type, code: str, amount: Decimal, currency: str
) -> VoucherDetail:
    resp = expect_response(reply, cls)
    receipt = resp.credit_vend_receipt  # type: ignore[attr-defined]
    txs = [tx for tx in receipt.transactions.tx if isinstance(tx, VoucherVendTx)]
    check(bool(txs), "the receipt has no ext:VoucherVendTx")
    check_receipt_arithmetic(receipt, amount=amount, tender=None, currency=currency)
    voucher = txs[0].voucher
    check(voucher.product_code == code, f"voucher of product {voucher.product_code}, sold {code}")
    check(
        voucher.pin.isdigit() and 4 <= len(voucher.pin) <= 32,
        f"PIN of {len(voucher.pin)} characters is not 4-32 digits",
    )
    return voucher


def sell_voucher(s: Session) -> Reply:
    code, amount = _voucher(s)
    request = builders.voucher_vend(s.header(), code, amount, s.profile.currency)
    return s.exchange(request, label=f"creditVendReq (voucher {code})")


def voucher_sale(s: Session) -> str:
    code, amount = _voucher(s)
    voucher = _voucher_of(sell_voucher(s), CreditVendResp, code, amount, s.profile.currency)
    check(set(voucher.pin) != {"0"}, "a real sale returned the all-zero trial PIN")
    check(voucher.serial_no not in ("", "0"), f"serial number {voucher.serial_no!r}")
    # The PIN is money: the report shows its last digits only.
    return f"PIN ...{voucher.pin[-4:]}, serial {voucher.serial_no}"


def voucher_trial(s: Session) -> str:
    code, amount = _voucher(s)
    before = steps.available_credit(s)
    request = builders.voucher_vend(s.header(), code, amount, s.profile.currency, trial=True)
    reply = s.exchange(request, label=f"trialCreditVendReq (voucher {code})")
    voucher = _voucher_of(reply, TrialCreditVendResp, code, amount, s.profile.currency)
    check(set(voucher.pin) == {"0"}, "a trial returned a real-looking PIN")
    check(voucher.serial_no == "0", f"a trial returned serial {voucher.serial_no}, not 0")
    _check_credit_unchanged(s, before, "a trial voucher sale")
    return "zero PIN, serial 0, nothing charged"


def _check_credit_unchanged(s: Session, before: Decimal | None, what: str) -> None:
    """The client's available credit is what it was before ``what`` (when it can be read)."""
    if before is not None:
        after = steps.available_credit(s)
        check(after == before, f"{what} moved money: {before} -> {after}")


def voucher_reversal(s: Session) -> str:
    _voucher(s)

    def sell() -> Reply:
        reply = sell_voucher(s)
        expect_response(reply, CreditVendResp)
        return reply

    return check_reversal(s, sell)


# --- bill payment --------------------------------------------------------------------------

# A biller id of the right shape that no network knows: the trial and schema cases need no
# real biller (neither may reach a network).
_ANY_BILL = ("NOBILLER000001", "Customer ID", "1234567890")


def _bills(s: Session) -> None:
    if not s.wsdl.extension:
        raise Skip("the server's WSDL does not import our extension namespace")


def bill_trial_refused(s: Session) -> str:
    _bills(s)
    before = steps.available_credit(s)
    identifier = builders.bill_identifier(_ANY_BILL, s.profile.bill_mobile)
    request = builders.bill_payment(
        s.header(), identifier, Decimal("100.00"), s.profile.currency, trial=True
    )
    reply = s.exchange(request, label="trialCreditVendReq (ext:BillIdentifier)")
    expect_fault(reply, {"UseCaseSupportEx"}, what="a trial bill payment")
    _check_credit_unchanged(s, before, "a refused trial")
    return "UseCaseSupportEx, nothing charged"


def bill_schema_fault(s: Session) -> str:
    _bills(s)
    request = builders.bill_fetch(s.header(), _ANY_BILL, s.profile.bill_mobile)
    body = render_request(request).replace(
        b'billerId="NOBILLER000001"', b'billerId="NOBILLER00001"'
    )
    reply = s.exchange_raw(body, request.header, label="billFetchReq (13-character billerId)")
    expect_fault(reply, {"XMLVendSchemaEx"}, what="a billerId of 13 characters")
    return "XMLVendSchemaEx"


def bill_fetch_and_pay(s: Session) -> str:
    _bills(s)
    if s.profile.bill is None:
        raise Skip("no biller (--bill BILLERID:PARAMETER=VALUE)")
    mobile = s.profile.bill_mobile
    fetched = s.exchange(
        builders.bill_fetch(s.header(), s.profile.bill, mobile), label="billFetchReq"
    )
    bill = expect_response(fetched, BillFetchResp, what="the bill fetch")
    check(0 < len(bill.ref_id) <= 35, f"refId of {len(bill.ref_id)} characters")
    check(bill.amt.value > 0, f"a bill of {bill.amt.value}")
    identifier = builders.bill_identifier(s.profile.bill, mobile, bill.ref_id)
    request = builders.bill_payment(s.header(), identifier, bill.amt.value, bill.amt.symbol)
    paid = s.exchange(request, label="creditVendReq (ext:BillIdentifier)")
    again = s.exchange(request, label="the same creditVendReq again")
    if paid.is_fault:
        expect_fault(paid, {"TransactionDelayedEx"}, what="a bill payment not answered")
        expect_fault(again, {"TransactionDelayedEx"}, what="its retry while pending")
        return f"pending with the biller (refId {bill.ref_id})"
    resp = expect_response(paid, CreditVendResp, what="the bill payment")
    receipt = resp.credit_vend_receipt
    lines = [tx for tx in receipt.transactions.tx if isinstance(tx, BillPaymentTx)]
    check(bool(lines), "the receipt has no ext:BillPaymentTx")
    line = lines[0]
    check(line.amt == bill.amt, f"paid {line.amt.value}, the bill is {bill.amt.value}")
    check(line.bill.biller_id == s.profile.bill[0], f"receipt of biller {line.bill.biller_id}")
    check(again.raw == paid.raw, "the same msgID was answered with other bytes")
    return f"order {line.bill.order_id}, approval {line.bill.approval_ref}"
