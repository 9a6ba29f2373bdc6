"""Happy paths: one scenario per XMLVend operation (the catalogue says which WSDL operation
each needs, so unadvertised operations skip). Each returns a short note for the report."""

from __future__ import annotations

import re
from decimal import Decimal

from tools.conformance import builders, steps
from tools.conformance.checks import (
    check,
    check_meter_echo,
    check_real_token,
    check_receipt_arithmetic,
    check_tokens_20_digits,
    check_trial_tokens,
    credit_txs,
    expect_fault,
    expect_response,
    fail,
    parse_xs_datetime,
    receipt_total,
)
from tools.conformance.session import Session, Skip
from xmlvend.codec.canonical import canonical_content
from xmlvend.codec.namespaces import REVENUE
from xmlvend.codec.types_base import (
    FBECredTokenIssue,
    FreeCredTokenIssue,
    KCToken,
    KCTokenIssue,
    MCTCredTokenIssue,
    STS1TokenInfo,
)
from xmlvend.codec.types_meter import (
    ConfirmMeterResp,
    CustReportFaultResp,
    MeterFaultReport,
    NetworkFaultReport,
    PwrLmtResp,
    TestAllResp,
    UpdateMeterKeyResp,
)
from xmlvend.codec.types_revenue import (
    ConfirmCustomerResp,
    DebtRecoveryTx,
    FBEResp,
    FreeIssueResp,
    MeterCreditTransferResp,
    PayAccResp,
    ReprintResp,
    TrialCreditVendResp,
    VerifyResp,
)

ZERO = Decimal("0")


def confirm_customer(s: Session) -> str:
    msno = s.meter("normal")
    reply = s.exchange(builders.confirm_customer(s.header(), msno), label="confirmCustomerReq")
    resp = expect_response(reply, ConfirmCustomerResp)
    result = resp.confirm_cust_result[0]
    check(result.cust_vend_config.can_vend is True, "canVend is not true for the normal meter")
    check(bool((result.cust_vend_detail.name or "").strip()), "custVendDetail has no name")
    config = result.cust_vend_config
    if config.min_vend_amt is not None and config.max_vend_amt is not None:
        check(
            config.min_vend_amt.value <= config.max_vend_amt.value,
            f"minVendAmt {config.min_vend_amt.value} above maxVendAmt {config.max_vend_amt.value}",
        )
    if result.meter_detail is not None:
        check_meter_echo(reply.payload, msno)  # type: ignore[arg-type]
    return f"customer {result.cust_vend_detail.name!r}, canVend true"


def confirm_meter(s: Session) -> str:
    msno = s.meter("normal")
    reply = s.exchange(builders.confirm_meter(s.header(), msno), label="confirmMeterReq")
    resp = expect_response(reply, ConfirmMeterResp)
    detail = resp.confirm_meter_result.meter_detail
    check(detail.msno == msno, f"meterDetail msno {detail.msno}, asked for {msno}")
    check(re.fullmatch(r"\d{6}", detail.sgc or "") is not None, f"SGC {detail.sgc!r}")
    check(re.fullmatch(r"\d", detail.krn or "") is not None, f"KRN {detail.krn!r}")
    check(re.fullmatch(r"\d{2}", detail.ti or "") is not None, f"TI {detail.ti!r}")
    return f"SGC {detail.sgc} KRN {detail.krn} TI {detail.ti}"


def credit_vend(s: Session) -> str:
    sale = steps.vend(s)
    status = sale.resp.client_status
    check(
        status.avail_credit.symbol == s.profile.currency,
        f"availCredit symbol {status.avail_credit.symbol}",
    )
    issue = credit_txs(sale.resp.credit_vend_receipt)[-1].credit_token_issue
    check(issue.units.value > ZERO, f"the sale credited {issue.units.value} {issue.units.si_unit}")
    units = f"{issue.units.value} {issue.units.si_unit}"
    return f"receipt {sale.receipt_no}, token {sale.token}, {units}"


def credit_vend_with_change(s: Session) -> str:
    amount = s.profile.amount
    tender = amount + Decimal("30.00")
    sale = steps.vend(s, amount=amount, tender=tender)
    change = sale.resp.credit_vend_receipt.transactions.change
    check(change is not None, "cash tender above the amount but no change on the receipt")
    return f"tender {tender}, change {change.value}"  # type: ignore[union-attr]


def _key_change_from(s: Session) -> tuple[str, str, str]:
    key = s.profile.key_change_from
    if key is None:
        raise Skip("no key data to start a key change from (--key-change-from SGC:KRN:TI)")
    return key


def _check_key_change(issue: KCTokenIssue, sgc: str, krn: str, ti: str) -> str:
    data = issue.kct_data
    check(
        (data.from_sgc, data.from_krn, data.from_ti) == (sgc, krn, ti),
        f"kctData from {data.from_sgc}/{data.from_krn}/{data.from_ti}, the meter holds "
        f"{sgc}/{krn}/{ti}",
    )
    check(
        (data.to_sgc, data.to_krn, data.to_ti) != (sgc, krn, ti),
        "kctData to equals from: that is no key change",
    )
    token = issue.token
    check(isinstance(token, KCToken), "the key change token is not a KCToken")
    for part in (token.set1st_meter_key, token.set2nd_meter_key):  # type: ignore[union-attr]
        check(
            len(part.sts_cipher) == 20 and part.sts_cipher.isdigit(),
            f"key change token {part.sts_cipher!r} is not 20 digits",
        )
    return f"KRN {data.from_krn} -> {data.to_krn}"


def key_change_vend(s: Session) -> str:
    msno = s.meter("key_change")
    sgc, krn, ti = _key_change_from(s)
    amount = s.profile.amount
    request = builders.vend_with_key_data(
        s.header(), msno, sgc, krn, ti, amount, s.profile.currency
    )
    reply = s.exchange(request, label="creditVendReq (old key data)")
    if reply.is_fault:
        expect_fault(reply, {"LatestKRNEx"}, what="key change due, no tokens")
        return "server refuses with LatestKRNEx (update the key first)"
    resp, _token = steps.check_vend_response(s, reply, msno, amount, None, "creditVendReq")
    issues = [tx.kc_token_issue for tx in credit_txs(resp.credit_vend_receipt) if tx.kc_token_issue]
    check(bool(issues), "key change due but the receipt has no kcTokenIssue")
    return "key change with the sale: " + _check_key_change(issues[0], sgc, krn, ti)


def debt_vend(s: Session) -> str:
    sale = steps.vend(s, s.meter("debt"))
    debts = [
        tx for tx in sale.resp.credit_vend_receipt.transactions.tx if isinstance(tx, DebtRecoveryTx)
    ]
    check(bool(debts), "debt outstanding but the receipt has no DebtRecoveryTx")
    balance = debts[0].balance
    return f"recovered {debts[0].amt.value}, debt left {balance.value if balance else '?'}"


def trial_vend(s: Session) -> str:
    msno = s.meter("normal")
    before = steps.available_credit(s)
    amount = s.profile.amount
    request = builders.credit_vend(s.header(), msno, amount, s.profile.currency, trial=True)
    reply = s.exchange(request, label="trialCreditVendReq")
    resp = expect_response(reply, TrialCreditVendResp)
    check_trial_tokens(reply.payload)  # type: ignore[arg-type]
    check_receipt_arithmetic(
        resp.credit_vend_receipt, amount=amount, tender=None, currency=s.profile.currency
    )
    if before is not None:
        after = steps.available_credit(s)
        check(after == before, f"a trial vend moved money: available credit {before} -> {after}")
        return f"zero token, available credit unchanged at {after}"
    # No statements: a second trial must report the same available credit.
    second = steps.available_credit_by_trial(s)
    first = resp.client_status.avail_credit.value
    check(second == first, f"trial vends moved money: availCredit {first} then {second}")
    return f"zero token, availCredit unchanged at {first}"


def fbe_when_due(s: Session) -> str:
    msno = s.meter("fbe")
    confirm = s.exchange(builders.confirm_customer(s.header(), msno), label="confirmCustomerReq")
    due = (
        expect_response(confirm, ConfirmCustomerResp)
        .confirm_cust_result[0]
        .cust_vend_config.fbe_due
    )
    reply = s.exchange(builders.fbe(s.header(), msno), label="fbeReq")
    if not due:
        expect_fault(reply, {"FBEEx"}, what="fbeDue is not true")
        return "FBE not due this month: FBEEx"
    resp = expect_response(reply, FBEResp, what="fbeDue is true")
    issues = [tx.credit_token_issue for tx in credit_txs(resp.credit_vend_receipt)]
    check(
        any(isinstance(i, FBECredTokenIssue) for i in issues), "no FBECredTokenIssue on the receipt"
    )
    check_tokens_20_digits(reply.payload)  # type: ignore[arg-type]
    total = receipt_total(resp.credit_vend_receipt)
    check(total == ZERO, f"free basic electricity charged {total}")
    again = s.exchange(builders.confirm_customer(s.header(), msno), label="confirmCustomerReq")
    after = expect_response(again, ConfirmCustomerResp).confirm_cust_result[0]
    check(after.cust_vend_config.fbe_due is not True, "fbeDue still true after the FBE token")
    return "FBE token issued, fbeDue now false"


def free_issue(s: Session) -> str:
    msno = s.meter("normal")
    reply = s.exchange(builders.free_issue(s.header(), msno), label="freeIssueReq")
    resp = expect_response(reply, FreeIssueResp)
    issue = credit_txs(resp.credit_vend_receipt)[-1].credit_token_issue
    check(isinstance(issue, FreeCredTokenIssue), f"{type(issue).__name__}, not FreeCredTokenIssue")
    check_real_token(resp)
    total = receipt_total(resp.credit_vend_receipt)
    check(total == ZERO, f"a free issue charged {total}")
    return f"{issue.units.value} {issue.units.si_unit} free"


def meter_credit_transfer(s: Session) -> str:
    msno = s.meter("normal")
    old = s.meter("unknown")  # a valid number that is not registered: the replaced meter
    request = builders.meter_credit_transfer(s.header(), msno, old, Decimal("12.5"))
    reply = s.exchange(request, label="meterCreditTransferReq")
    resp = expect_response(reply, MeterCreditTransferResp)
    issue = resp.credit_transfer_tx.credit_token_issue
    check(isinstance(issue, MCTCredTokenIssue), f"{type(issue).__name__}, not MCTCredTokenIssue")
    check_tokens_20_digits(reply.payload)  # type: ignore[arg-type]
    check(
        resp.credit_transfer_detail.old_msno == old,
        f"creditTransferDetail oldMSNO {resp.credit_transfer_detail.old_msno}, sent {old}",
    )
    return f"{issue.units.value} {issue.units.si_unit} moved from {old}"


def reprint(s: Session) -> str:
    sale = steps.vend(s)
    msno = s.meter("normal")
    reply = s.exchange(builders.reprint(s.header(), msno), label="reprintReq")
    expect_response(reply, ReprintResp)
    assert reply.payload is not None and sale.reply.payload is not None
    reprints = reply.payload.findall(f"{{{REVENUE}}}reprint")
    ours = [
        el
        for el in reprints
        if any(
            r.get("receiptNo") == sale.receipt_no
            for r in el.iter(f"{{{REVENUE}}}creditVendReceipt")
        )
    ]
    check(bool(ours), f"receipt {sale.receipt_no} of the sale just made is not among the reprints")
    check(
        canonical_content(ours[0], ignore_xsi_type=True)
        == canonical_content(sale.reply.payload, ignore_xsi_type=True),
        "the reprint is not the original response unchanged",
    )
    return f"{len(reprints)} transaction(s), ours unchanged"


def vendor_statement(s: Session) -> str:
    before = steps.statement(s).statement
    symbols = {before.acc_bal.symbol, before.avail_credit.symbol} | {
        line.amt.symbol for line in before.line_item
    }
    check(symbols == {s.profile.currency}, f"statement currency symbols {sorted(symbols)}")
    for line in before.line_item:
        parse_xs_datetime(line.applied_date)
    sale = steps.vend(s)
    after = steps.statement(s).statement
    spent = before.avail_credit.value - after.avail_credit.value
    check(
        ZERO < spent <= s.profile.amount,
        f"a sale of {s.profile.amount} changed the available credit by {-spent}",
    )
    reported = sale.resp.client_status.avail_credit.value
    check(
        reported == after.avail_credit.value,
        f"the vend reported availCredit {reported}, the statement {after.avail_credit.value}",
    )
    return f"available credit {before.avail_credit.value} -> {after.avail_credit.value}"


def pay_debt(s: Session) -> str:
    msno = s.meter("debt")
    amount = Decimal("10.00")
    request = builders.pay_debt(s.header(), msno, amount, s.profile.currency)
    reply = s.exchange(request, label="payAccReq")
    resp = expect_response(reply, PayAccResp)
    txs = resp.pay_acc_receipt.transactions.tx
    check(any(isinstance(tx, DebtRecoveryTx) for tx in txs), "no DebtRecoveryTx on the receipt")
    check_receipt_arithmetic(
        resp.pay_acc_receipt, amount=amount, tender=amount, currency=s.profile.currency
    )
    return f"receipt {resp.pay_acc_receipt.receipt_no}"


def verify_token(s: Session) -> str:
    sale = steps.vend(s)
    msno = s.meter("normal")
    reply = s.exchange(builders.verify(s.header(), msno, sale.token), label="verifyReq")
    resp = expect_response(reply, VerifyResp)
    token = resp.credit_vend_tx.credit_token_issue.token
    check(
        getattr(token, "sts_cipher", None) == sale.token,
        f"verified token {getattr(token, 'sts_cipher', token)}, asked about {sale.token}",
    )
    check(isinstance(resp.token_info, STS1TokenInfo), "tokenInfo is not STS1TokenInfo")
    return f"token ID {resp.token_info.token_id}"  # type: ignore[union-attr]


def update_meter_key(s: Session) -> str:
    msno = s.meter("key_change")
    sgc, krn, ti = _key_change_from(s)
    reply = s.exchange(
        builders.update_meter_key(s.header(), msno, sgc, krn, ti), label="updateMeterKeyReq"
    )
    resp = expect_response(reply, UpdateMeterKeyResp)
    return _check_key_change(resp.update_meter_key, sgc, krn, ti)


def test_token(s: Session) -> str:
    reply = s.exchange(builders.test_all(s.header()), label="nonMeterSpecificEngReq TestAllReq")
    resp = expect_response(reply, TestAllResp)
    check_tokens_20_digits(reply.payload)  # type: ignore[arg-type]
    meter_type = resp.test_all.meter_type
    check(
        (meter_type.at, meter_type.tt) == (builders.STS_AT, builders.STS_TT),
        f"meterType {meter_type.at}/{meter_type.tt}, asked for 07/02",
    )
    return f"test token {resp.test_all.token.sts_cipher}"  # type: ignore[attr-defined]


def power_limit(s: Session) -> str:
    msno = s.meter("normal")
    reply = s.exchange(
        builders.power_limit(s.header(), msno), label="meterSpecificEngReq PwrLmtReq"
    )
    resp = expect_response(reply, PwrLmtResp)
    check_tokens_20_digits(reply.payload)  # type: ignore[arg-type]
    check_meter_echo(reply.payload, msno)  # type: ignore[arg-type]
    return f"power limit token {resp.pwr_lmt_token.token.sts_cipher}"  # type: ignore[attr-defined]


def fault_report(s: Session) -> str:
    msno = s.meter("normal")
    request = builders.meter_fault(s.header(), msno, "The meter display is blank")
    reply = s.exchange(request, label="custReportFaultReq MeterFaultReport")
    log = expect_response(reply, CustReportFaultResp).cust_fault_log
    sent = request.cust_detail
    check(
        (log.cust_detail.name, log.cust_detail.address) == (sent.name, sent.address),
        f"custDetail {log.cust_detail.name!r}, {log.cust_detail.address!r} is not the "
        f"customer sent ({sent.name!r}, {sent.address!r})",
    )
    report = log.fault_report
    check(
        isinstance(report, MeterFaultReport),
        f"faultReport is {type(report).__name__}, the report sent a MeterFaultReport",
    )
    echoed = getattr(report.meter_info.meter_identifier, "msno", None)  # type: ignore[attr-defined]
    check(echoed == msno, f"faultReport names meter {echoed}, the report was about {msno}")
    again = s.exchange(request, label="custReportFaultReq (resent)")
    resent = expect_response(again, CustReportFaultResp, what="resent").cust_fault_log.ref_no
    check(resent == log.ref_no, f"the resent report got refNo {resent}, first {log.ref_no}")
    network = s.exchange(
        builders.network_fault(s.header(), "No supply in the street"),
        label="custReportFaultReq NetworkFaultReport",
    )
    other = expect_response(network, CustReportFaultResp, what="network fault").cust_fault_log
    check(
        isinstance(other.fault_report, NetworkFaultReport),
        f"faultReport is {type(other.fault_report).__name__}, not NetworkFaultReport",
    )
    check(other.ref_no != log.ref_no, f"two reports got the same refNo {log.ref_no}")
    return f"refNo {log.ref_no} (meter, kept on resend), {other.ref_no} (network)"


def blocked_confirm(s: Session) -> str:
    msno = s.meter("blocked")
    reply = s.exchange(builders.confirm_customer(s.header(), msno), label="confirmCustomerReq")
    if reply.is_fault:
        expect_fault(reply, {"BlockedMeterEx"}, what="blocked meter, no canVend false")
        return "BlockedMeterEx"
    result = expect_response(reply, ConfirmCustomerResp).confirm_cust_result[0]
    if result.cust_vend_config.can_vend:
        fail("the blocked meter is reported with canVend true")
    return "canVend false"
