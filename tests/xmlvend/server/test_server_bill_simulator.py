"""Bill payment over XMLVend end to end with real parts (marker ``providers``; never skipped
under CI=true): ``evd serve`` in its own process, the BBPS network simulator
(``evd simulate-provider bbps``) in another, on free loopback ports; the provider and an INR
shop set up with ``evd`` commands. A fetch then its payment gives the network's approval
number on an ``ext:BillPaymentTx`` receipt (the same bytes for the same msgID); a payment
the network refuses is a BusinessRuleEx and refunded; one pending at the biller is
``ext:TransactionDelayedEx`` until the simulator completes it and the server's status poll
settles it, when the last-response advice gets the receipt."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from live_support import EVD, ServerProcess, evd, write_config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "catalogue"))

from sim_processes import SimProcess, start_simulator

from xmlvend.codec import parse_response, render_request
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r
from xmlvend.codec.faults import SoapFault

pytestmark = pytest.mark.providers

SHOP = "6004708000996"
OPERATOR = ("meena", "pass1234")
BESCOM = "BESCOM000KAR01"
WAIT = 60.0
_numbers = itertools.count(500001)


class Live:
    def __init__(self, server: ServerProcess, bbps: SimProcess) -> None:
        self.server = server
        self.bbps = bbps

    def header(self) -> b.RequestHeader:
        return b.RequestHeader(
            client_id=b.EANDeviceID(ean=SHOP),
            terminal_id=b.GenericDeviceID(id="1"),
            msg_id=b.MsgID(date_time="20261206090000", unique_number=str(next(_numbers))),
            auth_cred=b.AuthCred(op_name=OPERATOR[0], password=OPERATOR[1]),
        )

    def post(self, request: b.BaseReq) -> tuple[bytes, Any]:
        data = render_request(request)
        http = urllib.request.Request(
            self.server.url, data=data, headers={"Content-Type": "text/xml; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(http, timeout=30) as answer:
                body = answer.read()
        except urllib.error.HTTPError as error:  # a SOAP Fault comes with HTTP 500
            body = error.read()
        return body, parse_response(body)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    bbps = start_simulator("bbps", "--hang", "30")
    server: ServerProcess | None = None
    try:
        directory = tmp_path_factory.mktemp("evd-bills")
        config = write_config(directory, '[vouchers]\ngnupg_home = "var/gnupg"\n')
        evd(config, "db", "upgrade")
        evd(config, "demo")
        evd(config, "provider", "add", "bbpsnet", "--protocol", "bbps-xml", "--url", bbps.url,
            "--timeout-ms", "3000")  # fmt: skip
        evd(config, "provider", "map", "BBPS-ELECTRICITY", "bbpsnet", "*")
        evd(config, "vendor", "add", SHOP, "--name", "Gupta Stores", "--currency", "INR")
        evd(config, "vendor", "credit", SHOP, "20000.00", "--reason", "float")
        done = subprocess.run(
            [*EVD, "--config", str(config), "operator", "add",
             OPERATOR[0], "--vendor", SHOP, "--password-stdin"],
            input=OPERATOR[1] + "\n", capture_output=True, text=True, timeout=120,
            cwd=config.parent.parent, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        server = ServerProcess.start(config)
        yield Live(server, bbps)
    finally:
        if server is not None:
            server.kill()
        bbps.stop()


def fault_class(answer: Any) -> str | None:
    if isinstance(answer, SoapFault) and answer.detail is not None:
        return type(answer.detail.fault).__name__
    return None


def identifier(customer: str, ref_id: str | None = None) -> ext.BillIdentifier:
    return ext.BillIdentifier(
        params=(ext.BillParam(name="Customer ID", value=customer),),
        biller_id=BESCOM,
        ref_id=ref_id,
        mobile="9810000010",
    )


def fetch_and_pay(live: Live, customer: str) -> tuple[ext.BillFetchResp, r.CreditVendReq]:
    _body, bill = live.post(
        ext.BillFetchReq(header=live.header(), bill_identifier=identifier(customer))
    )
    assert isinstance(bill, ext.BillFetchResp), bill
    pay = r.CreditVendReq(
        header=live.header(),
        resource=ext.Voucher(),
        id_method=b.VendIDMethod(meter_identifier=identifier(customer, bill.ref_id)),
        purchase_value=r.PurchaseValueCurrency(amt=bill.amt),
    )
    return bill, pay


def test_fetch_then_pay_through_the_simulated_network(live: Live) -> None:
    bill, pay = fetch_and_pay(live, "1234567890")
    assert bill.amt == b.Currency(value=Decimal("1000.00"), symbol="INR")
    body, paid = live.post(pay)
    assert isinstance(paid, r.CreditVendResp), paid
    (tx,) = paid.credit_vend_receipt.transactions.tx
    assert isinstance(tx, ext.BillPaymentTx) and tx.bill.ref_id == bill.ref_id
    assert tx.bill.approval_ref and tx.bill.order_id.startswith("EV")
    assert live.post(pay)[0] == body  # replayed, not paid twice


def test_refused_by_the_network(live: Live) -> None:
    _bill, pay = fetch_and_pay(live, "1234567891")
    body, refused = live.post(pay)
    assert fault_class(refused) == "BusinessRuleEx", body
    assert b"refunded" in body


def test_pending_at_the_biller_then_completed(live: Live) -> None:
    _bill, pay = fetch_and_pay(live, "1234567892")
    body, delayed = live.post(pay)
    assert fault_class(delayed) == "TransactionDelayedEx", body
    order_id = body.split(b"Bill payment ", 1)[1].split(b" ", 1)[0].decode()
    assert live.bbps.control("complete", order_id=order_id, status="SUCCESS")
    advice = b.LastRespAdviceReq(header=live.header(), advice_req_msg_id=pay.header.msg_id)
    deadline = time.monotonic() + WAIT
    while True:  # the server's status poll settles it (bounded wait)
        _raw, answer = live.post(advice)
        embedded = getattr(answer, "last_response", None)
        if isinstance(embedded, r.CreditVendResp):
            break
        assert time.monotonic() < deadline, answer
        time.sleep(0.5)
    (tx,) = embedded.credit_vend_receipt.transactions.tx
    assert isinstance(tx, ext.BillPaymentTx) and tx.bill.order_id == order_id
    _body, again = live.post(pay)
    assert again == embedded
