"""Our extension namespace (docs/EXTENSION-NAMESPACE.md): voucher sales through the standard
creditVendReq. These cases run only against servers whose WSDL imports the namespace."""

from __future__ import annotations

from decimal import Decimal

from tools.conformance import builders, steps
from tools.conformance.cases_protocol import check_reversal
from tools.conformance.checks import (
    check,
    check_receipt_arithmetic,
    expect_response,
)
from tools.conformance.reply import Reply
from tools.conformance.session import Session, Skip
from xmlvend.codec.types_ext import VoucherDetail, VoucherVendTx
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
    if before is not None:
        after = steps.available_credit(s)
        check(after == before, f"a trial voucher sale moved money: {before} -> {after}")
    return "zero PIN, serial 0, nothing charged"


def voucher_reversal(s: Session) -> str:
    _voucher(s)

    def sell() -> Reply:
        reply = sell_voucher(s)
        expect_response(reply, CreditVendResp)
        return reply

    return check_reversal(s, sell)
