"""Every implemented operation end to end through the server (in memory, fake clock): request
bytes in, response bytes out, compared with golden files where the answer is deterministic,
and every response checked against the strict schema (server_support.check_response)."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from fixed_clock import NOW
from server_support import (
    CAFE,
    DEBT_METER,
    FBE_METER,
    KEY_CHANGE_METER,
    MISTY_METER,
    NORMAL_METER,
    PLATFORM,
    PLATFORM_OPERATOR,
    SERVICE_METER,
    VOUCHER_PRODUCT,
    World,
    advice,
    assert_strictly_valid,
    confirm_customer,
    confirm_meter,
    credit_vend,
    reprint,
    trial_vend,
    vend_id,
    voucher_vend,
    zar,
)
from sqlalchemy import select

from utilities.keys import import_vending_key
from vending.money import Money
from vending.vouchers.tables import vouchers
from xmlvend.codec import SoapFault
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "xmlvend-server"
UPDATE = os.environ.get("EVD_UPDATE_GOLDEN") == "1"


# STS tokens carry a random field, and the demo data's opening deposits are dated when the
# test runs: the parts of our answers that differ between runs.
_TOKEN = re.compile(rb"<b:stsCipher>(?!0{20})\d{20}</b:stsCipher>")
_DEPOSIT_DATE = re.compile(rb"(Demo opening deposit</r:desc>.*?<r:appliedDate>)[^<]*")


def golden(name: str, body: bytes) -> None:
    """``body`` must equal the golden file (EVD_UPDATE_GOLDEN=1 rewrites it), tokens aside."""
    body = _TOKEN.sub(b"<b:stsCipher>TOKEN</b:stsCipher>", body)
    body = _DEPOSIT_DATE.sub(rb"\1DATE", body)
    path = GOLDEN / f"{name}.xml"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    assert path.exists(), f"golden file {path} missing (run with EVD_UPDATE_GOLDEN=1)"
    assert body == path.read_bytes(), f"response differs from {path.name}"


# --- meters and customers --------------------------------------------------------------------


def test_confirm_customer(world: World) -> None:
    response = world.call(confirm_customer(world.header(), NORMAL_METER))
    assert response.status == 200
    golden("confirm-customer", response.body)
    result = response.parsed().confirm_cust_result[0]
    assert result.meter_detail.msno == NORMAL_METER
    assert result.cust_vend_config.can_vend is True
    assert result.cust_vend_config.min_vend_amt == zar("5.00")


def test_confirm_meter(world: World) -> None:
    response = world.call(confirm_meter(world.header(), NORMAL_METER))
    assert response.status == 200
    golden("confirm-meter", response.body)
    detail = response.parsed().confirm_meter_result.meter_detail
    assert (detail.sgc, detail.krn, detail.ti) == ("123456", "2", "01")


# --- electricity vends -----------------------------------------------------------------------


def test_credit_vend_debits_the_vendor_and_replays_byte_for_byte(world: World) -> None:
    before = world.balance()
    request = credit_vend(world.header(), NORMAL_METER, "100.00")
    first = world.call(request)
    assert first.status == 200
    golden("credit-vend", first.body)
    vend = first.parsed()
    assert isinstance(vend, r.CreditVendResp)
    tx = vend.credit_vend_receipt.transactions.tx[0]
    assert isinstance(tx.credit_token_issue, b.SaleCredTokenIssue)
    assert len(tx.credit_token_issue.token.sts_cipher) == 20
    # 100.00 less 2 % commission.
    assert world.balance() == before - Money.parse("98.00", "ZAR")
    assert vend.client_status.avail_credit.value == world.balance().to_decimal()

    world.clock.advance(60)  # a retry later: the same bytes, no second sale
    again = world.call(request)
    assert again.body == first.body
    assert world.balance() == before - Money.parse("98.00", "ZAR")


def test_a_lenient_msg_id_is_echoed_verbatim(world: World) -> None:
    """A Hexing client's 15-digit dateTime and a 7-digit uniqueNumber (reference §3.2):
    accepted, and echoed as sent -- the one documented exception to strict output."""
    msg_id = b.MsgID(date_time="201911270000296", unique_number="2209001")
    request = credit_vend(world.header(msg_id=msg_id), NORMAL_METER)
    response = world.call(request, lenient_msg_id=True)
    assert response.status == 200
    assert response.parsed().header.req_msg_id == msg_id
    with pytest.raises(AssertionError, match="reqMsgID"):
        assert_strictly_valid(response.body)  # strict output but for the echoed msgID
    advised = world.call(advice(b.LastRespAdviceReq, world.header(), msg_id), lenient_msg_id=True)
    assert advised.parsed().last_response.header.req_msg_id == msg_id


def test_credit_vend_with_key_change_and_cash_tender(world: World) -> None:
    request = credit_vend(
        world.header(),
        KEY_CHANGE_METER,
        "50.00",
        pay_type=b.Cash(tender_amt=zar("60.00")),
    )
    response = world.call(request)
    assert response.status == 200
    golden("credit-vend-key-change", response.body)
    receipt = response.parsed().credit_vend_receipt
    tx = receipt.transactions.tx[0]
    assert tx.kc_token_issue is not None
    assert tx.kc_token_issue.kct_data.to_krn == "2"
    assert receipt.transactions.change == zar("10.00")


def test_credit_vend_accepts_client_currency_aliases(world: World) -> None:
    response = world.call(credit_vend(world.header(), NORMAL_METER, "20.00", symbol="R"))
    assert response.status == 200
    amounts = response.parsed().credit_vend_receipt.transactions
    assert amounts.tender_amt == zar("20.00")  # ISO code out, whatever came in


def test_trial_credit_vend_moves_no_money(world: World) -> None:
    before = world.balance()
    response = world.call(trial_vend(world.header(), NORMAL_METER, "100.00"))
    assert response.status == 200
    golden("trial-credit-vend", response.body)
    trial = response.parsed()
    assert isinstance(trial, r.TrialCreditVendResp)
    issue = trial.credit_vend_receipt.transactions.tx[0].credit_token_issue
    assert issue.token.sts_cipher == "0" * 20
    assert world.balance() == before
    # The same breakdown as the real vend.
    real = world.call(credit_vend(world.header(), NORMAL_METER, "100.00")).parsed()
    real_tx = real.credit_vend_receipt.transactions.tx[0]
    trial_tx = trial.credit_vend_receipt.transactions.tx[0]
    assert (real_tx.amt, real_tx.tax) == (trial_tx.amt, trial_tx.tax)
    assert real_tx.credit_token_issue.units == issue.units


# --- vouchers --------------------------------------------------------------------------------


def test_voucher_vend_sells_a_pin_from_stock(world: World) -> None:
    before = world.balance()
    response = world.call(voucher_vend(world.header()))
    assert response.status == 200
    vend = response.parsed()
    tx = vend.credit_vend_receipt.transactions.tx[0]
    assert isinstance(tx, ext.VoucherVendTx)
    assert tx.voucher.pin in world.pins
    assert tx.voucher.product_code == VOUCHER_PRODUCT
    assert tx.amt == zar("10.00")
    # R10 less 4 % commission.
    assert world.balance() == before - Money.parse("9.60", "ZAR")


def test_voucher_trial_vend_shows_a_zero_pin(world: World) -> None:
    before = world.balance()
    response = world.call(voucher_vend(world.header(), trial=True))
    assert response.status == 200
    tx = response.parsed().credit_vend_receipt.transactions.tx[0]
    assert tx.voucher.pin == "0" * 16
    assert tx.voucher.serial_no == "0"
    assert world.balance() == before


# --- advices and reprints ---------------------------------------------------------------------


def test_last_response_advice_replays_the_original_inside_last_response(world: World) -> None:
    vend_request = credit_vend(world.header(), NORMAL_METER)
    original = world.call(vend_request)
    response = world.call(advice(b.LastRespAdviceReq, world.header(), vend_request.header.msg_id))
    assert response.status == 200
    golden("last-response-advice", response.body)
    parsed = response.parsed()
    assert isinstance(parsed, b.LastRespAdviceResp)
    assert parsed.advice_req_msg_id == vend_request.header.msg_id
    embedded = parsed.last_response
    assert isinstance(embedded, r.CreditVendResp)
    assert embedded.header.req_msg_id == vend_request.header.msg_id
    assert embedded == original.parsed()  # the original content, unchanged


def test_reprint_returns_the_original_responses_oldest_first(world: World) -> None:
    first = credit_vend(world.header(), NORMAL_METER, "10.00")
    second = credit_vend(world.header(), NORMAL_METER, "20.00")
    originals = [world.call(first).parsed(), world.call(second).parsed()]
    response = world.call(reprint(world.header(), NORMAL_METER))
    assert response.status == 200
    golden("reprint", response.body)
    reprinted = response.parsed().reprint
    assert list(reprinted) == originals
    assert [x.header.req_msg_id for x in reprinted] == [
        first.header.msg_id,
        second.header.msg_id,
    ]


def test_reprint_of_a_voucher_sale_returns_its_original_receipt(world: World) -> None:
    """A voucher sale is reprinted (authorised: the same vendor) by its product code."""
    sale = voucher_vend(world.header())
    original = world.call(sale).parsed()
    request = r.ReprintReq(
        header=world.header(),
        id_method=b.VendIDMethod(
            meter_identifier=ext.ProductIdentifier(product_code=VOUCHER_PRODUCT)
        ),
    )
    response = world.call(request)
    assert response.status == 200
    (reprinted,) = response.parsed().reprint
    assert reprinted == original
    assert reprinted.header.req_msg_id == sale.header.msg_id


def test_reprint_only_shows_the_vendors_own_sales(world: World) -> None:
    world.call(credit_vend(world.header(), NORMAL_METER, "10.00"))
    response = world.call(reprint(world.header(PLATFORM, PLATFORM_OPERATOR), NORMAL_METER))
    assert response.status == 500
    assert response.fault_class() == "ReprintEx"


def test_voucher_reversal_refunds_the_vendor_and_is_idempotent(world: World) -> None:
    before = world.balance()
    sale = voucher_vend(world.header())
    sold = world.call(sale).parsed().credit_vend_receipt.transactions.tx[0].voucher
    reversal = advice(b.ReversalAdviceReq, world.header(), sale.header.msg_id)
    response = world.call(reversal)
    assert response.status == 200
    parsed = response.parsed()
    assert isinstance(parsed, b.ReversalAdviceResp)
    assert parsed.tx_reversed is True
    assert world.balance() == before
    # The same advice again: the stored answer. A new advice for the same sale: reversed.
    assert world.call(reversal).body == response.body
    again = world.call(advice(b.ReversalAdviceReq, world.header(), sale.header.msg_id))
    assert again.parsed().tx_reversed is True
    assert world.balance() == before
    # The PIN the customer may have seen is quarantined, never sold again.
    state = world.database.run_txn(
        "voucher_state",
        lambda txn: txn.execute(
            select(vouchers.c.state).where(vouchers.c.serial_no == sold.serial_no)
        ).scalar_one(),
    )
    assert state == "quarantined"


def test_electricity_is_not_reversible(world: World) -> None:
    sale = credit_vend(world.header(), NORMAL_METER)
    world.call(sale)
    balance = world.balance()
    response = world.call(advice(b.ReversalAdviceReq, world.header(), sale.header.msg_id))
    assert response.status == 200
    parsed = response.parsed()
    assert parsed.tx_reversed is False
    assert "cannot be reversed" in parsed.header.operator_msg
    assert world.balance() == balance


def test_confirmation_advice(world: World) -> None:
    sale = voucher_vend(world.header())
    world.call(sale)
    response = world.call(
        b.ConfirmationAdviceReq(
            header=world.header(),
            advice_req_msg_id=sale.header.msg_id,
            pay_type=b.Cash(tender_amt=zar("10.00")),
        )
    )
    assert response.status == 200
    assert response.parsed().tx_confirmed is True


# --- accounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meter", "account", "amount", "tx_type"),
    [
        (DEBT_METER, r.DebtRecovery, "100.00", r.DebtRecoveryTx),
        (SERVICE_METER, r.ServiceChrg, "115.00", r.ServiceChrgTx),
    ],
)
def test_pay_account(world: World, meter: str, account: type, amount: str, tx_type: type) -> None:
    before = world.balance()
    request = r.PayAccReq(
        header=world.header(),
        req_amt=zar(amount),
        pay_account=account(id_method=vend_id(meter)),
    )
    response = world.call(request)
    assert response.status == 200, response.body
    receipt = response.parsed().pay_acc_receipt
    assert isinstance(receipt.transactions.tx[0], tx_type)
    assert world.balance() < before


def test_vendor_statement(world: World) -> None:
    world.call(credit_vend(world.header(), NORMAL_METER, "100.00"))
    response = world.call(r.VendorStatementReq(header=world.header()))
    assert response.status == 200
    golden("vendor-statement", response.body)
    statement = response.parsed().statement
    assert statement.acc_no == CAFE
    assert statement.acc_bal.value == world.balance().to_decimal()
    # The sale's two lines on the vendor's account: the price and the commission.
    assert sorted(line.amt.value for line in statement.line_item[-2:]) == [
        Decimal("-100.00"),
        Decimal("2.00"),
    ]


# --- the utility side's other operations ----------------------------------------------------------


def test_fbe_free_issue_and_meter_credit_transfer(world: World) -> None:
    fbe = world.call(
        r.FBEReq(header=world.header(), resource=b.Electricity(), id_method=vend_id(FBE_METER))
    )
    assert fbe.status == 200
    issue = fbe.parsed().credit_vend_receipt.transactions.tx[0].credit_token_issue
    assert isinstance(issue, b.FBECredTokenIssue)

    free = world.call(
        r.FreeIssueReq(
            header=world.header(), resource=b.Electricity(), id_method=vend_id(NORMAL_METER)
        )
    )
    assert free.status == 200
    assert isinstance(free.parsed(), r.FreeIssueResp)

    transfer = world.call(
        r.MeterCreditTransferReq(
            header=world.header(),
            resource=b.Electricity(),
            id_method=vend_id(NORMAL_METER),
            chg_out_units=r.PurchaseValueUnits(units=b.Units(value=Decimal("12.5"), si_unit="kWh")),
            credit_transfer_detail=r.CreditTransferDetail(old_msno="04100000126"),
        )
    )
    assert transfer.status == 200, transfer.body
    tx = transfer.parsed().credit_transfer_tx
    assert isinstance(tx.credit_token_issue, b.MCTCredTokenIssue)


def test_verify_a_token_we_issued(world: World) -> None:
    vend = world.call(credit_vend(world.header(), NORMAL_METER)).parsed()
    token = vend.credit_vend_receipt.transactions.tx[0].credit_token_issue.token
    response = world.call(
        r.VerifyReq(header=world.header(), token=token, id_method=vend_id(NORMAL_METER))
    )
    assert response.status == 200, response.body
    info = response.parsed().token_info
    assert info.token_class.credit == "Electricity Token"


def test_update_meter_key(world: World) -> None:
    field_key = b.MeterDetail(
        meter_type=b.MeterType(at="07", tt="02"),
        msno=KEY_CHANGE_METER,
        sgc="123456",
        krn="1",
        ti="01",
    )
    response = world.call(m.UpdateMeterKeyReq(header=world.header(), id_method=field_key))
    assert response.status == 200, response.body
    issue = response.parsed().update_meter_key
    assert isinstance(issue.token, b.KCToken)
    assert (issue.kct_data.from_krn, issue.kct_data.to_krn) == ("1", "2")


@pytest.mark.parametrize(
    ("request_type", "extra", "response_type"),
    [
        (m.PwrLmtReq, {"pwr_lmt": b.PwrLmt(value="5.0", si_unit="kW")}, m.PwrLmtResp),
        (m.ClearCreditReq, {}, m.ClearCreditResp),
        (m.ClearTamperReq, {}, m.ClearTamperResp),
        (m.DefCreditReq, {}, m.DefCreditResp),
    ],
)
def test_meter_specific_engineering(
    world: World, request_type: type, extra: dict, response_type: type
) -> None:
    request = request_type(
        header=world.header(), resource=b.Electricity(), id_method=vend_id(NORMAL_METER), **extra
    )
    response = world.call(request)
    assert response.status == 200, response.body
    assert isinstance(response.parsed(), response_type)


def test_a_misty1_key_change_carries_four_tokens(world: World) -> None:
    """A 128-bit key change needs 4 tokens: b:KCToken holds two, ext:MISTY1KCToken all four,
    each a valid key change token for the meter (entered in order, they install the new key)."""
    world.database.run_txn(
        "second_misty1_key",
        lambda txn: import_vending_key(
            txn, world.keyring, sgc="123457", krn=2, key=bytes(range(20)), dkga=4,
            base_date=2014, ea=11, now=NOW,
        ),
    )  # fmt: skip
    request = m.EngKCTReq(
        header=world.header(),
        resource=b.Electricity(),
        id_method=vend_id(MISTY_METER),
        kct_data=b.KCTData(
            from_sgc="123457", from_krn="1", from_ti="01", to_sgc="123457", to_krn="2", to_ti="01"
        ),
    )
    response = world.call(request)
    assert response.status == 200, response.body
    token = response.parsed().eng_kc_token.token
    assert isinstance(token, ext.MISTY1KCToken)
    digits = [
        key.sts_cipher
        for key in (token.set1st_meter_key, token.set2nd_meter_key,
                    token.set3rd_meter_key, token.set4th_meter_key)
    ]  # fmt: skip
    assert len(set(digits)) == 4
    assert all(len(d) == 20 and d.isdigit() for d in digits)
    assert b"ext:MISTY1KCToken" in response.body


def test_non_meter_specific_engineering(world: World) -> None:
    request = m.TestAllReq(header=world.header(), meter_type=b.MeterType(at="07", tt="02"))
    response = world.call(request)
    assert response.status == 200, response.body
    assert isinstance(response.parsed(), m.TestAllResp)


# --- the rest of the catalogue ------------------------------------------------------------------


def test_unimplemented_catalogue_requests_answer_use_case_support(world: World) -> None:
    request = r.VendorStatementReq(header=world.header())
    from xmlvend.codec import render_request

    body = render_request(request).replace(b"vendorStatementReq", b"depositReq")
    response = world.post(body)
    assert response.status == 500
    fault = response.parsed()
    assert isinstance(fault, SoapFault)
    assert (fault.fault_class, fault.code) == ("UseCaseSupportEx", "Server")
    assert fault.detail.header.req_msg_id == request.header.msg_id
