"""A scripted XMLVend utility server for the upstream-route tests (codec only): it vends
a fixed receipt, remembers its responses for last-response advices, answers reversals, and
can be slowed down (after vending: the answer is late, the vend is real), fault, or be
down."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from xmlvend.codec import (
    parse_request,
    render_fault,
    render_last_response_advice,
    render_response,
    response_header,
)
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r

SERVER = b.EANDeviceID(ean="6004708000007")
TOKEN = "12345678901234567890"


def receipt(request: r.CreditVendReq, receipt_no: str) -> r.CreditVendResp:
    amt = request.purchase_value.amt  # type: ignore[attr-defined]
    total = Decimal(amt.value)
    tax = (total * 15 / 115).quantize(Decimal("0.01"))
    meter = request.id_method.meter_identifier
    return r.CreditVendResp(
        header=response_header(request.header, server_id=SERVER),
        client_status=b.ClientStatus(avail_credit=b.Currency(value=Decimal("1000"), symbol="ZAR")),
        utility=b.UtilityDetail(
            name="Upstream Utility", address="2 Grid Road", tax_ref="4111111111"
        ),
        cust_vend_detail=b.CustVendDetail(name="Upstream Customer", address="3 Wire Lane"),
        credit_vend_receipt=r.CreditVendReceipt(
            receipt_no=receipt_no,
            transactions=r.Transactions(
                tx=(
                    r.CreditVendTx(
                        amt=b.Currency(value=total - tax, symbol="ZAR"),
                        tax=(b.VAT(amt=b.Currency(value=tax, symbol="ZAR"), rate=Decimal("15")),),
                        credit_token_issue=b.SaleCredTokenIssue(
                            desc="Prepayment Sale",
                            meter_detail=b.MeterDetail(
                                meter_type=b.MeterType(at="07", tt="02"),
                                msno=meter.msno,  # type: ignore[attr-defined]
                                sgc="777777",
                                krn="1",
                                ti="01",
                            ),
                            token=b.STS1Token(sts_cipher=TOKEN),
                            units=b.Units(value=Decimal("40.2"), si_unit="kWh"),
                            resource=b.Electricity(),
                        ),
                        tariff=b.Tariff(name="Upstream Flat"),
                    ),
                ),
                tender_amt=b.Currency(value=total, symbol="ZAR"),
            ),
        ),
    )


@dataclass
class Script:
    """What the fake does; change it between (or during) tests."""

    mode: str = "ok"  # ok | fault | down503 | unreadable | notoken
    fault_class: str = "UnknownMeterEx"
    answer_delay: float = 0.0  # seconds to hold an answer after vending
    advice_mode: str = "ok"  # ok | down503 | lastresponse_ex
    reversal_answer: bool = True


@dataclass
class FakeUtility(Resource):
    reactor: IReactorTime
    script: Script = field(default_factory=Script)
    stored: dict[tuple[str, str], bytes] = field(default_factory=dict)
    vends: list[str] = field(default_factory=list)
    reversals: list[tuple[str, str]] = field(default_factory=list)
    advices: int = 0
    verifies: int = 0

    isLeaf = True

    def __post_init__(self) -> None:
        Resource.__init__(self)

    def render_POST(self, request: Any) -> Any:
        body = request.content.read()
        parsed = parse_request(body)
        request.setHeader(b"Content-Type", b"text/xml; charset=utf-8")
        if isinstance(parsed, b.LastRespAdviceReq):
            return self._advice(request, parsed)
        if isinstance(parsed, b.ReversalAdviceReq):
            key = (parsed.advice_req_msg_id.date_time, parsed.advice_req_msg_id.unique_number)
            self.reversals.append(key)
            header = response_header(parsed.header, server_id=SERVER)
            return render_response(
                b.ReversalAdviceResp(
                    header=header,
                    advice_req_msg_id=parsed.advice_req_msg_id,
                    tx_reversed=self.script.reversal_answer,
                )
            )
        if isinstance(parsed, r.VerifyReq):
            return self._verify(request, parsed)
        assert isinstance(parsed, r.CreditVendReq), parsed
        script = self.script
        if script.mode == "down503":
            request.setResponseCode(503)
            return b"service unavailable"
        key = (parsed.header.msg_id.date_time, parsed.header.msg_id.unique_number)
        header = response_header(parsed.header, server_id=SERVER)
        if script.mode == "fault":
            request.setResponseCode(500)
            answer = render_fault(script.fault_class, "010038 Meter information not found",
                                  header=header)  # fmt: skip
        elif script.mode == "unreadable":
            answer = b"<html>oops</html>"
        else:
            self.vends.append(key[1])
            response = receipt(parsed, f"UP{len(self.vends):06d}")
            if script.mode == "notoken":
                tx = response.credit_vend_receipt.transactions.tx[0]
                issue = tx.credit_token_issue  # type: ignore[attr-defined]
                import dataclasses

                issue = dataclasses.replace(issue, token=b.STS1Token(sts_cipher="123"))
                tx = dataclasses.replace(tx, credit_token_issue=issue)
                transactions = dataclasses.replace(
                    response.credit_vend_receipt.transactions, tx=(tx,)
                )
                response = dataclasses.replace(
                    response,
                    credit_vend_receipt=dataclasses.replace(
                        response.credit_vend_receipt, transactions=transactions
                    ),
                )
            answer = render_response(response)
        self.stored[key] = answer
        if script.answer_delay:
            self.reactor.callLater(script.answer_delay, self._late, request, answer)  # type: ignore[attr-defined]
            return NOT_DONE_YET
        return answer

    @staticmethod
    def _late(request: Any, answer: bytes) -> None:
        if not request.finished and not getattr(request, "_disconnected", False):
            request.write(answer)
            request.finish()

    def _verify(self, request: Any, verify: r.VerifyReq) -> bytes:
        """Verifies TOKEN once it has vended (each fake vend issues that one token)."""
        self.verifies += 1
        header = response_header(verify.header, server_id=SERVER)
        token = getattr(verify.token, "sts_cipher", None)
        if token != TOKEN or not self.vends:
            request.setResponseCode(500)
            return render_fault("VerifyTokenEx", "token not issued by this utility",
                                header=header)  # fmt: skip
        msno = verify.id_method.meter_identifier.msno  # type: ignore[attr-defined]
        tx = r.CreditVendTx(
            amt=b.Currency(value=Decimal("86.96"), symbol="ZAR"),
            tax=(b.VAT(amt=b.Currency(value=Decimal("13.04"), symbol="ZAR"), rate=Decimal("15")),),
            receipt_no="UP000001",
            credit_token_issue=b.SaleCredTokenIssue(
                desc="Prepayment Sale",
                meter_detail=b.MeterDetail(
                    meter_type=b.MeterType(at="07", tt="02"), msno=msno, sgc="777777",
                    krn="1", ti="01",
                ),
                token=b.STS1Token(sts_cipher=TOKEN),
                units=b.Units(value=Decimal("40.2"), si_unit="kWh"),
                resource=b.Electricity(),
            ),
            tariff=b.Tariff(name="Upstream Flat"),
        )  # fmt: skip
        return render_response(
            r.VerifyResp(
                header=header,
                client_status=b.ClientStatus(
                    avail_credit=b.Currency(value=Decimal("1000"), symbol="ZAR")
                ),
                utility=b.UtilityDetail(
                    name="Upstream Utility", address="2 Grid Road", tax_ref="4111111111"
                ),
                cust_vend_detail=b.CustVendDetail(name="Upstream Customer", address="3 Wire Lane"),
                credit_vend_tx=tx,
                token_info=b.STS1TokenInfo(
                    token_id=Decimal(1234567),
                    transfer_amt=Decimal("402"),
                    token_class=b.TokenSubClassType(credit="Electricity Token"),
                ),
            )
        )

    def _advice(self, request: Any, advice: b.LastRespAdviceReq) -> bytes:
        self.advices += 1
        header = response_header(advice.header, server_id=SERVER)
        if self.script.advice_mode == "down503":
            request.setResponseCode(503)
            return b"down"
        key = (advice.advice_req_msg_id.date_time, advice.advice_req_msg_id.unique_number)
        stored = self.stored.get(key)
        if stored is None or self.script.advice_mode == "lastresponse_ex":
            request.setResponseCode(500)
            return render_fault("LastResponseEx", "no such transaction", header=header)
        return render_last_response_advice(header, advice.advice_req_msg_id, stored)


def now() -> datetime:
    return datetime.now(UTC)
