"""``make run`` for real: ``evd db upgrade``, ``evd demo`` and ``evd serve`` on a loopback
port in subprocesses; zeep, an independent SOAP client, loads the served WSDL and runs
confirm -> vend -> last-response advice -> reprint -> (voucher) vend -> reversal; the
printed first vend works as pasted; SIGTERM stops the server cleanly."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from live_support import EVD, ServerProcess, evd, write_config
from lxml import etree
from server_support import CAFE, CAFE_OPERATOR, NORMAL_METER, assert_strictly_valid, credit_vend

from tests.xmlvend.codec.fifo_watch import FifoWatch
from xmlvend.codec import render_request
from xmlvend.codec import types_base as b

zeep = pytest.importorskip("zeep")

pytestmark = pytest.mark.slow

B = "{http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema}"
R = "{http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema}"
EXT = "{urn:evd:xmlvend:ext:1.0}"
SOAP = "{http://schemas.xmlsoap.org/soap/envelope/}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("evd-live")
    config = write_config(directory, '[vouchers]\ngnupg_home = "var/gnupg"\n')
    evd(config, "db", "upgrade")
    evd(config, "demo")
    server = ServerProcess.start(config)
    try:
        yield server
    finally:
        server.kill()


class XsiTypeOfRoot(zeep.Plugin):
    """zeep writes no xsi:type on a Body element whose declared type is abstract
    (``b:adviceReq``); a client names the concrete advice, as every XMLVend client must."""

    def __init__(self) -> None:
        self.type_name: str | None = None

    def egress(self, envelope: Any, http_headers: Any, operation: Any, binding_options: Any) -> Any:
        if self.type_name:
            root = envelope.find(f"{SOAP}Body")[0]
            root.set(XSI_TYPE, f"{root.prefix}:{self.type_name}")
            self.type_name = None
        return envelope, http_headers


class Checked(zeep.Plugin):
    """Every response zeep receives must be strictly schema-valid."""

    def ingress(self, envelope: Any, http_headers: Any, operation: Any) -> Any:
        assert_strictly_valid(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))
        return envelope, http_headers


def test_zeep_runs_the_vend_cycle_against_the_served_wsdl(live_server: ServerProcess) -> None:
    advice_type = XsiTypeOfRoot()
    client = zeep.Client(live_server.url + "?wsdl", plugins=[advice_type, Checked()])
    # The WSDL's address is the running server's.
    assert client.service._binding_options["address"] == live_server.url
    new = client.get_type
    unique = iter(random.sample(range(1, 999_999), 20))

    def msg_id() -> Any:
        return new(B + "MsgID")(dateTime=time.strftime("%Y%m%d%H%M%S"), uniqueNumber=next(unique))

    common = {
        "clientID": new(B + "EANDeviceID")(ean=CAFE),
        "terminalID": new(B + "GenericDeviceID")(id="1"),
        "authCred": new(B + "AuthCred")(opName=CAFE_OPERATOR[0], password=CAFE_OPERATOR[1]),
    }
    meter = new(B + "VendIDMethod")(meterIdentifier=new(B + "MeterNumber")(msno=NORMAL_METER))

    confirmed = client.service.ConfirmCustomerRequest(msgID=msg_id(), idMethod=meter, **common)
    assert confirmed.confirmCustResult[0].custVendConfig.canVend is True

    vend_id = msg_id()
    vend = client.service.CreditVendRequest(
        msgID=vend_id,
        resource=new(B + "Electricity")(),
        idMethod=meter,
        purchaseValue=new(R + "PurchaseValueCurrency")(
            amt=new(B + "Currency")(value="25.00", symbol="ZAR")
        ),
        **common,
    )
    token = vend.creditVendReceipt.transactions.tx[0].creditTokenIssue.token.stsCipher
    assert re.fullmatch(r"\d{20}", token)

    advice_type.type_name = "LastRespAdviceReq"
    last = client.service.AdviceRequest(msgID=msg_id(), adviceReqMsgID=vend_id, **common)
    assert (
        last.lastResponse.creditVendReceipt.transactions.tx[0].creditTokenIssue.token.stsCipher
        == token
    )
    assert last.lastResponse.reqMsgID.uniqueNumber == vend_id.uniqueNumber

    reprinted = client.service.ReprintRequest(msgID=msg_id(), idMethod=meter, **common)
    assert reprinted.reprint[-1].creditVendReceipt.receiptNo == vend.creditVendReceipt.receiptNo

    product = "AIR-DEMO-10"
    voucher_id = msg_id()
    voucher = client.service.CreditVendRequest(
        msgID=voucher_id,
        resource=new(EXT + "Voucher")(productCode=product),
        idMethod=new(B + "VendIDMethod")(
            meterIdentifier=new(EXT + "ProductIdentifier")(productCode=product)
        ),
        purchaseValue=new(R + "PurchaseValueCurrency")(
            amt=new(B + "Currency")(value="10.00", symbol="ZAR")
        ),
        **common,
    )
    tx = voucher.creditVendReceipt.transactions.tx[0]
    assert tx.voucher.productCode == product and re.fullmatch(r"\d{16}", tx.voucher.pin)

    advice_type.type_name = "ReversalAdviceReq"
    reversed_ = client.service.AdviceRequest(msgID=msg_id(), adviceReqMsgID=voucher_id, **common)
    assert reversed_.txReversed is True

    with pytest.raises(zeep.exceptions.Fault) as fault:
        client.service.CreditVendRequest(
            msgID=msg_id(),
            resource=new(B + "Electricity")(),
            idMethod=new(B + "VendIDMethod")(
                meterIdentifier=new(B + "MeterNumber")(msno="04100000043")
            ),
            purchaseValue=new(R + "PurchaseValueCurrency")(
                amt=new(B + "Currency")(value="25.00", symbol="ZAR")
            ),
            **common,
        )
    assert fault.value.code == "soap:Server"
    detail = fault.value.detail.find(f"{B}xmlvendFaultResp/{B}fault")
    assert detail.get(XSI_TYPE).endswith(":UnknownMeterEx")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_printed_first_vend_works_as_pasted(live_server: ServerProcess) -> None:
    banner = "".join(live_server.stdout)
    start = banner.index("curl -s")
    script = banner[start : banner.index("\nEOF", start) + 4]
    done = subprocess.run(["bash", "-c", script], check=False, capture_output=True, timeout=30)
    assert b"<r:creditVendResp>" in done.stdout, done.stdout + done.stderr
    assert_strictly_valid(done.stdout)


def test_a_doctype_naming_a_fifo_does_not_freeze_the_server(
    live_server: ServerProcess, tmp_path: Path
) -> None:
    """Issue 10 §2 on the real reactor: a UTF-16 body whose DOCTYPE names a FIFO used to
    block the reactor thread in libxml2's open() until the FIFO was written."""
    header = b.RequestHeader(
        client_id=b.EANDeviceID(ean=CAFE),
        terminal_id=b.GenericDeviceID(id="1"),
        msg_id=b.MsgID(date_time="20260101120000", unique_number=str(random.randrange(10**6))),
        auth_cred=b.AuthCred(op_name=CAFE_OPERATOR[0], password=CAFE_OPERATOR[1]),
    )
    envelope = render_request(credit_vend(header, NORMAL_METER, "20.00")).decode()
    with FifoWatch(tmp_path / "pipe") as fifo:
        text = (
            f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x SYSTEM "{fifo.path.as_uri()}">'
            + envelope.partition("?>")[2]
        )
        post = urllib.request.Request(
            live_server.url,
            data=text.encode("utf-16"),
            headers={"Content-Type": "text/xml; charset=utf-16"},
        )
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(post, timeout=20)
        body = info.value.read()
        health = urllib.request.urlopen(live_server.url.replace("/xmlvend", "/healthz"), timeout=20)
        assert not fifo.opened, "the server opened the FIFO"
    assert info.value.code == 500 and b"XMLVendSchemaEx" in body
    assert b"pipe" not in body
    assert health.status == 200


def test_sigterm_stops_the_server_cleanly(live_server: ServerProcess) -> None:
    assert live_server.stop() == 0
    assert "finishing in-flight requests" in "".join(live_server.stderr)
    # One access line per request went to stdout.
    assert sum('"operation":"creditVend"' in line for line in live_server.stdout) >= 3


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = subprocess.run(
        [*EVD, "--config", str(config), "serve"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "not migrated" in done.stderr and "evd db upgrade" in done.stderr


def test_several_workers_need_postgresql(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    evd(config, "db", "upgrade")
    done = subprocess.run(
        [*EVD, "--config", str(config), "serve", "--workers", "2"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "PostgreSQL" in done.stderr
