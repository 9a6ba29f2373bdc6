"""Lenient in: each documented relaxation is accepted; everything else is still rejected with
a SchemaViolation whose message names the element."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xmlvend.codec import SchemaViolation, parse_request, parse_response
from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext as ext
from xmlvend.codec import types_revenue as r
from xmlvend.codec.lenient import relaxed_schema_files

B = "http://www.nrs.eskom.co.za/xmlvend/base/2.1/schema"
R = "http://www.nrs.eskom.co.za/xmlvend/revenue/2.1/schema"
ESKOM_EXT = "http://www.eskom.co.za/xmlvend/base-ext/2.1.1/schema"

CLIENT = '<b:clientID xsi:type="b:EANDeviceID" ean="6004708000090"/>'
TERMINAL = '<b:terminalID xsi:type="b:GenericDeviceID" id="1"/>'
MSG_ID = '<b:msgID dateTime="20250101120000" uniqueNumber="100001"/>'
AUTH = "<b:authCred><b:opName>OPNAME</b:opName><b:password>secret1</b:password></b:authCred>"
RESOURCE = '<b:resource xsi:type="b:Electricity"/>'
ID_METHOD = (
    '<b:idMethod><b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567890"/></b:idMethod>'
)
PURCHASE = (
    '<r:purchaseValue xsi:type="r:PurchaseValueCurrency">'
    '<r:amt value="100.00" symbol="ZAR"/></r:purchaseValue>'
)
PAY_TYPE = '<r:payType xsi:type="b:Cash"><b:tenderAmt value="100.00" symbol="ZAR"/></r:payType>'


def credit_vend(
    *,
    client: str = CLIENT,
    terminal: str = TERMINAL,
    msg_id: str = MSG_ID,
    auth: str = AUTH,
    resource: str = RESOURCE,
    id_method: str = ID_METHOD,
    purchase: str = PURCHASE,
    pay_type: str = PAY_TYPE,
    tail: str = "",
    order: tuple[str, ...] | None = None,
) -> bytes:
    parts = [client, terminal, msg_id, auth, resource, id_method, purchase, pay_type, tail]
    if order is not None:
        named = dict(
            zip(
                (
                    "client",
                    "terminal",
                    "msg_id",
                    "auth",
                    "resource",
                    "id_method",
                    "purchase",
                    "pay_type",
                    "tail",
                ),
                parts,
                strict=True,
            )
        )
        parts = [named[name] for name in order]
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
        "<soapenv:Body>"
        f'<r:creditVendReq xmlns:b="{B}" xmlns:r="{R}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        + "".join(parts)
        + "</r:creditVendReq></soapenv:Body></soapenv:Envelope>"
    ).encode()


def parsed(document: bytes) -> r.CreditVendReq:
    request = parse_request(document)
    assert isinstance(request, r.CreditVendReq)
    return request


BASELINE = parsed(credit_vend())


# --------------------------------------------------------------------------------------------
# Accepted


@pytest.mark.parametrize("date_time", ["201911270000296", "22222222222222222", "18102019172825"])
def test_msgid_datetime_of_14_15_or_17_characters_kept_raw(date_time: str) -> None:
    request = parsed(credit_vend(msg_id=f'<b:msgID dateTime="{date_time}" uniqueNumber="1"/>'))
    assert request.header.msg_id.date_time == date_time


@pytest.mark.parametrize("unique", ["2209001", "123456789012", "000042"])
def test_unique_number_up_to_12_digits_kept_raw(unique: str) -> None:
    request = parsed(
        credit_vend(msg_id=f'<b:msgID dateTime="20250101120000" uniqueNumber="{unique}"/>')
    )
    assert request.header.msg_id.unique_number == unique


def test_non_ean_ean() -> None:
    request = parsed(credit_vend(client='<b:clientID xsi:type="b:EANDeviceID" ean="VUPSB"/>'))
    assert request.header.client_id == b.EANDeviceID(ean="VUPSB")


def test_missing_resource_defaults_to_electricity() -> None:
    request = parsed(credit_vend(resource=""))
    assert request.resource == b.Electricity()
    assert request == BASELINE and request.fingerprint == BASELINE.fingerprint


def test_missing_xsi_types_are_filled_in_where_only_one_type_fits() -> None:
    request = parsed(
        credit_vend(
            client='<b:clientID ean="6004708000090"/>',
            terminal='<b:terminalID id="1"/>',
            resource="<b:resource/>",
            id_method='<b:idMethod><b:meterIdentifier msno="01234567890"/></b:idMethod>',
            purchase='<r:purchaseValue><r:amt value="100.00" symbol="ZAR"/></r:purchaseValue>',
            pay_type='<r:payType><b:tenderAmt value="100.00" symbol="ZAR"/></r:payType>',
        )
    )
    assert request == BASELINE


def test_missing_xsi_type_purchase_value_units() -> None:
    request = parsed(
        credit_vend(
            purchase='<r:purchaseValue><r:units value="12.5" siUnit="KWH"/></r:purchaseValue>'
        )
    )
    assert request.purchase_value == r.PurchaseValueUnits(
        units=b.Units(value=Decimal("12.5"), si_unit="KWH")
    )


def test_missing_xsi_type_on_revenue_id_method_and_meter_detail() -> None:
    document = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<confirmCustomerReq xmlns="{R}" xmlns:b="{B}">'
        '<b:clientID ean="6004708000090"/><b:terminalID id="1"/>'
        '<b:msgID dateTime="20250101120000" uniqueNumber="5"/>'
        '<idMethod><b:meterIdentifier msno="01234567890" sgc="123456" krn="1" ti="01">'
        '<b:meterType at="07" tt="02"/></b:meterIdentifier></idMethod>'
        "</confirmCustomerReq></s:Body></s:Envelope>"
    ).encode()
    request = parse_request(document)
    assert isinstance(request, r.ConfirmCustomerReq)
    assert request.id_method == b.VendIDMethod(
        meter_identifier=b.MeterDetail(
            meter_type=b.MeterType(at="07", tt="02"),
            msno="01234567890",
            sgc="123456",
            krn="1",
            ti="01",
        )
    )


def test_missing_xsi_type_voucher_product_identifier() -> None:
    request = parsed(
        credit_vend(
            resource='<b:resource productCode="AIR10"/>',
            id_method='<b:idMethod><b:meterIdentifier productCode="AIR10" recipient="27821234567"/>'
            "</b:idMethod>",
        )
    )
    assert request.resource == ext.Voucher(product_code="AIR10")
    assert request.id_method.meter_identifier == ext.ProductIdentifier(
        product_code="AIR10", recipient="27821234567"
    )


def test_xsi_type_filled_in_when_only_the_default_namespace_is_bound() -> None:
    """payType is revenue, Cash is base: a prefix for base must be found or declared."""
    document = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<creditVendReq xmlns="{R}">'
        f'<clientID xmlns="{B}" ean="6004708000090"/><terminalID xmlns="{B}" id="1"/>'
        f'<msgID xmlns="{B}" dateTime="20250101120000" uniqueNumber="100001"/>'
        f'<authCred xmlns="{B}"><opName>OPNAME</opName><password>secret1</password></authCred>'
        f'<idMethod xmlns="{B}"><meterIdentifier msno="01234567890"/></idMethod>'
        '<purchaseValue><amt value="100.00" symbol="ZAR"/></purchaseValue>'
        f'<payType><tenderAmt xmlns="{B}" value="100.00" symbol="ZAR"/></payType>'
        "</creditVendReq></s:Body></s:Envelope>"
    ).encode()
    assert parsed(document) == BASELINE


def test_unknown_trailing_vendor_elements_are_dropped() -> None:
    vendor = f'<esk:tokenDeliveryMethod xmlns:esk="{ESKOM_EXT}">SMS</esk:tokenDeliveryMethod>'
    request = parsed(
        credit_vend(
            tail=vendor + '<x:extra xmlns:x="urn:vendor"><x:deep/></x:extra>',
            id_method='<b:idMethod><b:meterIdentifier xsi:type="b:MeterNumber" msno="01234567890"/>'
            f"{vendor}</b:idMethod>",
        )
    )
    assert request == BASELINE
    assert request.fingerprint == BASELINE.fingerprint


@pytest.mark.parametrize("symbol", ["R", "AZM", "XCG"])
def test_non_iso_currency_symbols_kept_raw(symbol: str) -> None:
    request = parsed(credit_vend(purchase=PURCHASE.replace('symbol="ZAR"', f'symbol="{symbol}"')))
    assert isinstance(request.purchase_value, r.PurchaseValueCurrency)
    assert request.purchase_value.amt.symbol == symbol


@pytest.mark.parametrize("unit", ["kWh", "KWH", "KWh", "kwh"])
def test_si_unit_case_variants(unit: str) -> None:
    request = parsed(
        credit_vend(
            purchase='<r:purchaseValue xsi:type="r:PurchaseValueUnits">'
            f'<r:units value="1" siUnit="{unit}"/></r:purchaseValue>'
        )
    )
    assert isinstance(request.purchase_value, r.PurchaseValueUnits)
    assert request.purchase_value.units.si_unit == unit


def test_vat_rate_as_fraction_is_kept_as_sent() -> None:
    from codec_samples import all_responses

    from xmlvend.codec import render_response

    document = render_response(all_responses()[2]).replace(b'rate="15"', b'rate="0.1500"')
    resp = parse_response(document)
    assert isinstance(resp, r.CreditVendResp)
    vat = resp.credit_vend_receipt.transactions.tx[0].tax[0]
    assert isinstance(vat, b.VAT) and vat.rate == Decimal("0.1500")


def test_empty_new_password_is_dropped() -> None:
    auth = (
        "<b:authCred><b:opName>OPNAME</b:opName><b:password>secret1</b:password>"
        "<b:newPassword/></b:authCred>"
    )
    assert parsed(credit_vend(auth=auth)) == BASELINE


def test_any_xsi_prefix_and_any_namespace_prefix() -> None:
    document = credit_vend().replace(b"xsi:", b"d3p1:").replace(b"xmlns:xsi=", b"xmlns:d3p1=")
    document = document.replace(b"b:", b"ns1:").replace(b"xmlns:b=", b"xmlns:ns1=")
    assert parsed(document) == BASELINE


# --------------------------------------------------------------------------------------------
# Rejected


def _rejected(document: bytes, *names: str) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as info:
        parse_request(document)
    for name in names:
        assert name in info.value.message, info.value.message
    return info.value


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        # wrong namespace on a child
        ({"client": CLIENT.replace("b:clientID", "r:clientID")}, ["clientID"]),
        ({"purchase": PURCHASE.replace("r:purchaseValue", "b:purchaseValue")}, ["purchaseValue"]),
        ({"purchase": PURCHASE.replace("r:amt", "b:amt")}, ["amt"]),
        ({"auth": '<authCred xmlns=""><opName>OPNAME</opName></authCred>'}, ["authCred"]),
        (
            {"auth": '<v:authCred xmlns:v="urn:vendor"><v:opName>OPNAME</v:opName></v:authCred>'},
            ["authCred"],
        ),
        # missing required fields
        ({"msg_id": ""}, ["msgID"]),
        ({"purchase": ""}, ["purchaseValue"]),
        ({"id_method": ""}, ["idMethod"]),
        (
            {"id_method": '<b:idMethod><b:meterIdentifier xsi:type="b:MeterNumber"/></b:idMethod>'},
            ["msno"],
        ),
        ({"msg_id": '<b:msgID dateTime="20250101120000"/>'}, ["uniqueNumber"]),
        # malformed numbers and values
        ({"purchase": PURCHASE.replace("100.00", "100,00")}, ["amt", "value"]),
        ({"purchase": PURCHASE.replace("100.00", "1e3")}, ["amt", "value"]),
        ({"purchase": PURCHASE.replace("100.00", "abc")}, ["amt", "value"]),
        ({"msg_id": '<b:msgID dateTime="20250101120000" uniqueNumber="0"/>'}, ["uniqueNumber"]),
        (
            {"msg_id": '<b:msgID dateTime="20250101120000" uniqueNumber="1234567890123"/>'},
            ["uniqueNumber"],
        ),
        ({"msg_id": '<b:msgID dateTime="20250101120000" uniqueNumber="12a"/>'}, ["uniqueNumber"]),
        ({"msg_id": '<b:msgID dateTime="2025010112000" uniqueNumber="1"/>'}, ["dateTime"]),
        ({"msg_id": '<b:msgID dateTime="2025010112000000" uniqueNumber="1"/>'}, ["dateTime"]),
        ({"msg_id": '<b:msgID dateTime="2025-01-01T12:00" uniqueNumber="1"/>'}, ["dateTime"]),
        ({"id_method": ID_METHOD.replace("01234567890", "012345678901234")}, ["msno"]),
        ({"purchase": PURCHASE.replace('symbol="ZAR"', 'symbol="ZARX"')}, ["symbol"]),
        # types
        ({"client": '<b:clientID xsi:type="b:FooDeviceID" ean="6004708000090"/>'}, ["clientID"]),
        ({"client": '<b:clientID ean="6004708000090" id="1"/>'}, ["clientID"]),
        ({"client": '<b:clientID xsi:type="b:DeviceID"/>'}, ["clientID"]),
        ({"pay_type": '<r:payType><b:cardAmt value="1" symbol="ZAR"/></r:payType>'}, ["payType"]),
        # order and unexpected content
        (
            {
                "order": (
                    "client",
                    "terminal",
                    "msg_id",
                    "auth",
                    "resource",
                    "purchase",
                    "id_method",
                    "pay_type",
                    "tail",
                )
            },
            ["purchaseValue"],
        ),
        (
            {
                "order": (
                    "terminal",
                    "client",
                    "msg_id",
                    "auth",
                    "resource",
                    "id_method",
                    "purchase",
                    "pay_type",
                    "tail",
                )
            },
            ["terminalID"],
        ),
        # Unknown elements at the end are ignored (test_codec_unknown_tail), not inside.
        ({"resource": RESOURCE + "<r:unknownThing/>"}, ["unknownThing"]),
        ({"tail": PAY_TYPE}, ["payType"]),
    ],
)
def test_rejections(kwargs: dict[str, object], names: list[str]) -> None:
    error = _rejected(credit_vend(**kwargs), *names)  # type: ignore[arg-type]
    if "msg_id" not in kwargs and "client" not in kwargs and "order" not in kwargs:
        assert error.header is not None  # salvaged for the fault answer
        assert error.header.msg_id == b.MsgID(date_time="20250101120000", unique_number="100001")


def test_vendor_element_in_the_middle_is_rejected() -> None:
    vendor = f'<esk:tokenDeliveryMethod xmlns:esk="{ESKOM_EXT}">SMS</esk:tokenDeliveryMethod>'
    _rejected(credit_vend(resource=RESOURCE + vendor), "tokenDeliveryMethod")


def test_lenient_schema_relaxes_only_the_documented_types() -> None:
    from xmlvend.codec.schema import schema_files

    strict, relaxed = schema_files(), relaxed_schema_files()
    assert strict["revenue.xsd"] == relaxed["revenue.xsd"]
    assert strict["meter.xsd"] == relaxed["meter.xsd"]
    assert strict["evd-ext.xsd"] == relaxed["evd-ext.xsd"]
    assert strict["base.xsd"] != relaxed["base.xsd"]


def test_missing_resource_in_a_trial_vend_like_ende() -> None:
    document = credit_vend(resource="").replace(b"creditVendReq", b"trialCreditVendReq")
    request = parse_request(document)
    assert isinstance(request, r.TrialCreditVendReq)
    assert request.resource == b.Electricity()


def test_inferred_xsi_type_needing_a_new_declaration_keeps_qnames_below_intact() -> None:
    """r:idMethod (abstract IDMethod) has no xsi:type and no prefix for the base namespace in
    scope; its child declares base itself and uses it in its own xsi:type."""
    document = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<ns0:confirmCustomerReq xmlns:ns0="{R}">'
        f'<ns1:clientID xmlns:ns1="{B}" ean="6004708000090"/>'
        f'<ns2:terminalID xmlns:ns2="{B}" id="1"/>'
        f'<ns3:msgID xmlns:ns3="{B}" dateTime="20250101120000" uniqueNumber="5"/>'
        f'<ns0:idMethod><ns4:meterIdentifier xmlns:ns4="{B}" '
        'xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:type="ns4:MeterNumber" '
        'msno="01234567890"/></ns0:idMethod>'
        "</ns0:confirmCustomerReq></s:Body></s:Envelope>"
    ).encode()
    request = parse_request(document)
    assert isinstance(request, r.ConfirmCustomerReq)
    assert request.id_method == b.VendIDMethod(meter_identifier=b.MeterNumber(msno="01234567890"))


def test_advice_without_xsi_type_is_rejected_but_one_with_pay_type_is_inferred() -> None:
    advice = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<b:adviceReq xmlns:b="{B}">'
        + CLIENT.replace(' xsi:type="b:EANDeviceID"', "")
        + TERMINAL.replace(' xsi:type="b:GenericDeviceID"', "")
        + MSG_ID
        + '<b:adviceReqMsgID dateTime="20250101110000" uniqueNumber="9"/>{pay}'
        "</b:adviceReq></s:Body></s:Envelope>"
    )
    _rejected(advice.format(pay="").encode(), "adviceReq", "abstract")
    cash = '<b:payType><b:tenderAmt value="1" symbol="ZAR"/></b:payType>'
    request = parse_request(advice.format(pay=cash).encode())
    assert isinstance(request, b.ConfirmationAdviceReq)
