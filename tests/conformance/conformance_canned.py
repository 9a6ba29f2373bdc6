"""Canned XMLVend answers rendered with the codec, for unit tests of the kit's checks."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tools.conformance.reply import Reply, read_reply
from tools.conformance.transport import HttpResult
from xmlvend.codec import render_fault, render_response
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r

CLIENT = b.EANDeviceID(ean="6004708000090")
SERVER = b.EANDeviceID(ean="6004708000007")
TERMINAL = b.GenericDeviceID(id="1")
MSG_ID = b.MsgID(date_time="20250101120000", unique_number="100001")
MSNO = "04100000019"
TOKEN = "12345678901234567890"


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def request_header(**overrides: object) -> b.RequestHeader:
    values: dict[str, object] = {
        "client_id": CLIENT,
        "terminal_id": TERMINAL,
        "msg_id": MSG_ID,
        "auth_cred": b.AuthCred(op_name="cashier1", password="demo1234"),
    }
    values.update(overrides)
    return b.RequestHeader(**values)  # type: ignore[arg-type]


def response_header(**overrides: object) -> b.ResponseHeader:
    values: dict[str, object] = {
        "client_id": CLIENT,
        "server_id": SERVER,
        "terminal_id": TERMINAL,
        "req_msg_id": MSG_ID,
        "resp_date_time": now_text(),
    }
    values.update(overrides)
    return b.ResponseHeader(**values)  # type: ignore[arg-type]


def zar(value: str) -> b.Currency:
    return b.Currency(value=Decimal(value), symbol="ZAR")


def vend_response(
    *,
    token: str = TOKEN,
    energy: str = "17.39",
    vat: str = "2.61",
    less_round: str | None = "20.00",  # the rounded total (what deployed servers send)
    tender: str | None = "20.00",
    change: str | None = "0.00",
    header: b.ResponseHeader | None = None,
    trial: bool = False,
) -> r.CreditVendResp:
    meter = b.MeterDetail(
        meter_type=b.MeterType(at="07", tt="02"), msno=MSNO, sgc="123456", krn="2", ti="01"
    )
    tx = r.CreditVendTx(
        amt=zar(energy),
        tax=(b.VAT(amt=zar(vat), rate=Decimal("15")),),
        credit_token_issue=b.SaleCredTokenIssue(
            desc="Prepayment Sale",
            meter_detail=meter,
            token=b.STS1Token(sts_cipher=token),
            units=b.Units(value=Decimal("6.9"), si_unit="kWh"),
            resource=b.Electricity(),
        ),
    )
    cls = r.TrialCreditVendResp if trial else r.CreditVendResp
    return cls(
        header=header or response_header(),
        client_status=b.ClientStatus(avail_credit=zar("4980.40")),
        utility=b.UtilityDetail(name="Demo", address="1 Main Road", tax_ref="4000000000"),
        credit_vend_receipt=r.CreditVendReceipt(
            receipt_no="000123",
            transactions=r.Transactions(
                tx=(tx,),
                less_round=None if less_round is None else zar(less_round),
                tender_amt=None if tender is None else zar(tender),
                change=None if change is None else zar(change),
            ),
        ),
    )


def http(
    body: bytes, status: int = 200, content_type: str = "text/xml; charset=utf-8"
) -> HttpResult:
    return HttpResult(status=status, reason="", headers={"content-type": content_type}, body=body)


def reply_of(body: bytes, status: int | None = None) -> Reply:
    if status is None:
        status = 500 if b"Fault>" in body else 200
    return read_reply(http(body, status))


def vend_reply(**options: object) -> Reply:
    return reply_of(render_response(vend_response(**options)))  # type: ignore[arg-type]


def fault_reply(
    fault_class: str = "BlockedMeterEx",
    *,
    faultcode: str = "Server",
    status: int = 500,
    header: b.ResponseHeader | None = None,
) -> Reply:
    body = render_fault(
        fault_class,
        "Meter 04100000035 is blocked",
        header=header or response_header(),
        faultcode=faultcode,  # type: ignore[arg-type]
    )
    return reply_of(body, status)
