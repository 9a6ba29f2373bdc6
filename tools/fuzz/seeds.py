"""Real requests the fuzzer mutates: one of every request type the server implements, built
with the conformance kit's builders for the demo vendor and demo meters (so that a mutation
that keeps the header intact reaches the deep paths: pricing, tokens, PINs, the ledger),
plus the request documents of ``tests/data/xmlvend-samples.xml`` (wire captures and
reconstructions of deployed clients, with their own prefixes and whitespace)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from tools.conformance import builders as build
from tools.conformance.profile import Credentials
from xmlvend.codec import render_request
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.codec.types_base import BaseReq, Electricity, MeterType, MsgID

SAMPLES_FILE = Path(__file__).resolve().parents[2] / "tests" / "data" / "xmlvend-samples.xml"

CAFE = Credentials("6004708000090", "1", "cashier1", "demo1234")
PLATFORM = Credentials("6004708000106", "1", "platform", "demo5678")
NORMAL_METER = "04100000019"
MISTY_METER = "04100000027"
KEY_CHANGE_METER = "04100000050"
DEBT_METER = "04100000076"
SERVICE_METER = "04100000084"
FBE_METER = "04100000068"
VOUCHER_PRODUCT = "AIR-DEMO-10"
# The msgID every seed carries; the fuzzer gives each case a fresh one (see target.py).
SEED_MSG_ID = MsgID(date_time="20261122100000", unique_number="100001")
EARLIER_MSG_ID = MsgID(date_time="20261122095959", unique_number="100000")


def typed_requests(client: Credentials = CAFE) -> list[BaseReq]:
    """One request of every implemented type (and every concrete xsi:type of the abstract
    ones), valid for the demo data."""
    h = build.request_header(client, SEED_MSG_ID)
    zar = Decimal("25.00")
    requests: list[BaseReq] = [
        build.confirm_customer(h, NORMAL_METER),
        build.confirm_meter(h, MISTY_METER),
        build.credit_vend(h, NORMAL_METER, zar, "ZAR"),
        build.credit_vend(h, MISTY_METER, Decimal("100.00"), "ZAR", tender=Decimal("100.00")),
        build.credit_vend(h, KEY_CHANGE_METER, zar, "ZAR"),
        build.credit_vend(h, DEBT_METER, zar, "ZAR"),
        build.credit_vend(h, SERVICE_METER, Decimal("150.00"), "ZAR"),
        build.credit_vend(h, NORMAL_METER, zar, "ZAR", trial=True),
        build.voucher_vend(h, VOUCHER_PRODUCT, Decimal("10.00"), "ZAR"),
        build.voucher_vend(h, VOUCHER_PRODUCT, Decimal("10.00"), "ZAR", trial=True),
        build.fbe(h, FBE_METER),
        build.free_issue(h, NORMAL_METER),
        build.reprint(h, NORMAL_METER),
        build.vendor_statement(h),
        build.last_response(h, EARLIER_MSG_ID),
        build.reversal(h, EARLIER_MSG_ID),
        build.confirmation(h, EARLIER_MSG_ID),
        build.pay_debt(h, DEBT_METER, zar, "ZAR"),
        build.pay_service_charge(h, SERVICE_METER, Decimal("115.00"), "ZAR"),
        build.verify(h, NORMAL_METER, "12345678901234567890"),
        build.update_meter_key(h, KEY_CHANGE_METER, "123456", "1", "01"),
        build.vend_with_key_data(h, NORMAL_METER, "123456", "2", "01", zar, "ZAR"),
        build.power_limit(h, NORMAL_METER),
        build.test_all(h),
        build.meter_credit_transfer(h, NORMAL_METER, MISTY_METER, Decimal("5.0")),
        build.meter_fault(h, NORMAL_METER, "no lights on the keypad"),
        build.network_fault(h, "no supply in the street"),
        m.ClearTamperReq(header=h, resource=Electricity(), id_method=build.by_meter(NORMAL_METER)),
        m.DispKRNReq(header=h, meter_type=MeterType(at=build.STS_AT, tt=build.STS_TT)),
    ]
    for kind in ("Bank", "Sales", "Shift"):
        requests += [
            getattr(r, f"Start{kind}BatchReq")(header=h),
            getattr(r, f"Total{kind}BatchReq")(header=h),
            getattr(r, f"End{kind}BatchReq")(header=h),
        ]
    requests += [r.StartAllBatchesReq(header=h), r.TotalAllBatchesReq(header=h)]
    requests += [r.EndAllBatchesReq(header=h), r.ReprintEndShiftBatchReq(header=h)]
    return requests


def sample_requests(path: Path = SAMPLES_FILE) -> list[bytes]:
    """The request documents (…Req) of the samples file, split on its banners."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"=== DOC (\d+) ===", text)
    found = []
    for i in range(1, len(parts), 2):
        body = parts[i + 1]
        title = body[: body.find("\n")]
        if "Req" not in title or "Resp" in title:
            continue
        start = body.index("-->") + 3
        end = body.find("<!--", start)
        found.append(body[start : end if end != -1 else None].strip().encode())
    return found


def seed_documents() -> list[bytes]:
    """Every seed as request bytes (rendered requests first, then the samples)."""
    rendered = [render_request(request) for request in typed_requests()]
    rendered += [render_request(request) for request in typed_requests(PLATFORM)[:6]]
    return rendered + sample_requests()
