"""The WSDL: its shape, loading it in zeep offline, and what the server publishes.

zeep runs with a transport that refuses network access; documents the "server" publishes
(wsdl_document / schema_document) are fed to zeep from memory under made-up URLs, the way
a client would fetch them from our endpoint.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path

import pytest
import zeep
from lxml import etree
from zeep.transports import Transport

from xmlvend.codec import schema
from xmlvend.codec.namespaces import BASE, EXT, METER, REVENUE, SOAP11, SOAP_BIND, WSDL, XSD

WSDL_DIR = Path(str(importlib.resources.files("wsdl")))
WSDL_PATH = WSDL_DIR / schema.WSDL_FILE
NS = {"wsdl": WSDL, "soap": SOAP_BIND, "xs": XSD}

STANDARD_OPERATIONS = {
    "CreditVendRequest": (REVENUE, "creditVendReq", "creditVendResp"),
    "ConfirmCustomerRequest": (REVENUE, "confirmCustomerReq", "confirmCustomerResp"),
    "TrialCreditVendRequest": (REVENUE, "trialCreditVendReq", "trialCreditVendResp"),
    "AdviceRequest": (BASE, "adviceReq", "adviceResp"),
    "ReprintRequest": (REVENUE, "reprintReq", "reprintResp"),
    "FBERequest": (REVENUE, "fbeReq", "fbeResp"),
    "FreeIssueRequest": (REVENUE, "freeIssueReq", "freeIssueResp"),
    "MeterCreditTransferRequest": (REVENUE, "meterCreditTransferReq", "meterCreditTransferResp"),
    "CancelVendRequest": (REVENUE, "cancelVendReq", "cancelVendResp"),
    "VerifyRequest": (REVENUE, "verifyReq", "verifyResp"),
    "PayAccRequest": (REVENUE, "payAccReq", "payAccResp"),
    "DepositRequest": (REVENUE, "depositReq", "depositResp"),
    "ReprintDepRequest": (REVENUE, "reprintDepReq", "reprintDepResp"),
    "VendorStatementRequest": (REVENUE, "vendorStatementReq", "vendorStatementResp"),
    "StartBatchRequest": (REVENUE, "startBatchReq", "startBatchResp"),
    "EndBatchRequest": (REVENUE, "endBatchReq", "endBatchResp"),
    "TotalBatchRequest": (REVENUE, "totalBatchReq", "totalBatchResp"),
    "ReprintEndBatchRequest": (REVENUE, "reprintEndBatchReq", "reprintEndBatchResp"),
    "ConfirmMeterRequest": (METER, "confirmMeterReq", "confirmMeterResp"),
    "CustReportFaultRequest": (METER, "custReportFaultReq", "custReportFaultResp"),
    "MeterSpecificEngRequest": (METER, "meterSpecificEngReq", "meterSpecificEngResp"),
    "NonMeterSpecificEngRequest": (METER, "nonMeterSpecificEngReq", "nonMeterSpecificEngResp"),
    "UpdateMeterKeyRequest": (METER, "updateMeterKeyReq", "updateMeterKeyResp"),
}

# Ours (docs/EXTENSION-NAMESPACE.md), after the standard ones.
EXTENSION_OPERATIONS = {
    "BillFetchRequest": (EXT, "billFetchReq", "billFetchResp"),
    "InsuranceQuoteRequest": (EXT, "insuranceQuoteReq", "insuranceQuoteResp"),
    "TripSearchRequest": (EXT, "tripSearchReq", "tripSearchResp"),
    "SeatHoldRequest": (EXT, "seatHoldReq", "seatHoldResp"),
    "BookingRequest": (EXT, "bookingReq", "bookingResp"),
    "CancellationRequest": (EXT, "cancellationReq", "bookingResp"),
}
OPERATIONS = {**STANDARD_OPERATIONS, **EXTENSION_OPERATIONS}


class OfflineTransport(Transport):
    """Serves local files and an in-memory URL map; any other URL is refused."""

    def __init__(self, documents: Mapping[str, bytes] | None = None) -> None:
        super().__init__()
        self.documents = dict(documents or {})
        self.requested: list[str] = []

    def load(self, url: str) -> bytes:
        self.requested.append(url)
        if url in self.documents:
            return self.documents[url]
        if "://" in url and not url.startswith("file://"):
            raise ConnectionRefusedError(f"test transport refuses network access: {url}")
        return super().load(url)


def served(endpoint: str, xsd_base: str, operations: list[str] | None) -> dict[str, bytes]:
    """What the server would publish: the WSDL at ``endpoint?wsdl`` plus every XSD."""
    documents = {endpoint + "?wsdl": schema.wsdl_document(endpoint, operations, xsd_base)}
    for name in schema.SCHEMA_FILES:
        documents[xsd_base + name] = schema.schema_document(name, xsd_base)
    return documents


def port_operations(client: zeep.Client) -> set[str]:
    port = client.wsdl.services["XMLVendService2.1"].ports["XMLVendServicePort"]
    return set(port.binding._operations)


@pytest.fixture(scope="module")
def client() -> zeep.Client:
    return zeep.Client(str(WSDL_PATH), transport=OfflineTransport())


# --- The file as written ---------------------------------------------------------------


def test_wsdl_shape() -> None:
    root = etree.parse(str(WSDL_PATH)).getroot()
    assert root.get("targetNamespace") == schema.SERVICE_NS
    (service,) = root.findall("wsdl:service", NS)
    assert service.get("name") == "XMLVendService2.1"
    assert service.findtext("wsdl:documentation", namespaces=NS) == (
        "NRS Compliant Online Vending Service."
    )
    (port,) = service.findall("wsdl:port", NS)
    assert port.get("name") == "XMLVendServicePort"
    assert port.get("binding") == "tns:XMLVendServiceSoap"
    (port_type,) = root.findall("wsdl:portType", NS)
    assert port_type.get("name") == "XMLVendServiceSoap"
    (binding,) = root.findall("wsdl:binding", NS)
    assert binding.find("soap:binding", NS).attrib == {
        "transport": "http://schemas.xmlsoap.org/soap/http",
        "style": "document",
    }
    # The types section only imports our four files, by relative name.
    imports = {
        imp.get("namespace"): imp.get("schemaLocation")
        for imp in root.iterfind("wsdl:types/xs:schema/xs:import", NS)
    }
    assert imports == dict(schema.SCHEMA_NAMESPACES)


def test_every_operation_is_bare_document_literal_with_the_nrs_fault() -> None:
    root = etree.parse(str(WSDL_PATH)).getroot()
    messages = {m.get("name"): m for m in root.iterfind("wsdl:message", NS)}

    def element_of(message_ref: str) -> str:
        (part,) = messages[message_ref.split(":")[1]].findall("wsdl:part", NS)
        assert part.get("name") == "messagePart"
        prefix, local = part.get("element").split(":")
        return f"{{{part.nsmap[prefix]}}}{local}"

    port_ops = root.findall("wsdl:portType/wsdl:operation", NS)
    assert [op.get("name") for op in port_ops] == list(OPERATIONS)
    for op in port_ops:
        ns, request, response = OPERATIONS[op.get("name")]
        assert element_of(op.find("wsdl:input", NS).get("message")) == f"{{{ns}}}{request}"
        assert element_of(op.find("wsdl:output", NS).get("message")) == f"{{{ns}}}{response}"
        fault = op.find("wsdl:fault", NS)
        assert fault.get("name") == "xmlvendFaultResp"
        assert fault.get("message") == "tns:NRSFaultResponseSoapOut"
        assert element_of(fault.get("message")) == f"{{{BASE}}}xmlvendFaultResp"

    bound = root.findall("wsdl:binding/wsdl:operation", NS)
    assert [op.get("name") for op in bound] == list(OPERATIONS)
    for op in bound:
        assert op.find("soap:operation", NS).get("soapAction") == ""
        assert op.find("wsdl:input/soap:body", NS).get("use") == "literal"
        assert op.find("wsdl:output/soap:body", NS).get("use") == "literal"
        fault = op.find("wsdl:fault/soap:fault", NS)
        assert (fault.get("name"), fault.get("use")) == ("xmlvendFaultResp", "literal")


def test_wsdl_operations_map() -> None:
    expected = {
        name: (f"{{{ns}}}{request}", f"{{{ns}}}{response}")
        for name, (ns, request, response) in OPERATIONS.items()
    }
    assert dict(schema.wsdl_operations()) == expected


# --- zeep -----------------------------------------------------------------------------


def test_zeep_loads_the_wsdl_offline_and_lists_every_operation(client: zeep.Client) -> None:
    assert port_operations(client) == set(OPERATIONS)
    assert all(not url.startswith("http") for url in client.transport.requested)


def test_zeep_builds_a_schema_valid_credit_vend_request(client: zeep.Client) -> None:
    def xsd_type(ns: str, name: str) -> Callable[..., object]:
        return client.get_type(f"{{{ns}}}{name}")

    envelope = client.create_message(
        client.service,
        "CreditVendRequest",
        clientID=xsd_type(BASE, "EANDeviceID")(ean="6004708000090"),
        terminalID=xsd_type(BASE, "GenericDeviceID")(id="1"),
        msgID={"dateTime": "20250101120000", "uniqueNumber": 100001},
        authCred={"opName": "OP1", "password": "secret1"},
        resource=xsd_type(BASE, "Electricity")(),
        idMethod={"meterIdentifier": xsd_type(BASE, "MeterNumber")(msno="01234567890")},
        purchaseValue=xsd_type(REVENUE, "PurchaseValueCurrency")(
            amt={"value": Decimal("100.00"), "symbol": "ZAR"}
        ),
        payType=xsd_type(BASE, "Cash")(tenderAmt={"value": Decimal("100.00"), "symbol": "ZAR"}),
    )
    request = envelope.find(f"{{{SOAP11}}}Body")[0]
    assert request.tag == f"{{{REVENUE}}}creditVendReq"
    # zeep qualifies children by the schema that declares them (reference §1.1).
    assert [etree.QName(child).namespace for child in request] == [BASE] * 6 + [REVENUE] * 2
    validator = schema.strict_schema()
    assert validator.validate(request), validator.error_log


def test_zeep_knows_the_extension_types(client: zeep.Client) -> None:
    voucher = client.get_type(f"{{{EXT}}}Voucher")(productCode="VOD-R10")
    assert voucher.productCode == "VOD-R10"
    client.get_type(f"{{{EXT}}}DuplicateMsgIDEx")


# --- What the server publishes --------------------------------------------------------

ENDPOINT = "https://vend.example.test:8443/xmlvend"
XSD_BASE = ENDPOINT + "?xsd="


def test_wsdl_document_sets_endpoint_and_schema_locations() -> None:
    root = etree.fromstring(schema.wsdl_document(ENDPOINT, schema_base_url=XSD_BASE))
    (address,) = root.findall("wsdl:service/wsdl:port/soap:address", NS)
    assert address.get("location") == ENDPOINT
    locations = [imp.get("schemaLocation") for imp in root.iterfind(".//xs:import", NS)]
    assert locations == [XSD_BASE + name for name in schema.SCHEMA_FILES]
    # Everything else is untouched.
    assert len(root.findall("wsdl:portType/wsdl:operation", NS)) == len(OPERATIONS)


def test_wsdl_document_without_base_keeps_relative_locations() -> None:
    root = etree.fromstring(schema.wsdl_document("http://h/x"))
    locations = [imp.get("schemaLocation") for imp in root.iterfind(".//xs:import", NS)]
    assert locations == list(schema.SCHEMA_FILES)


def test_wsdl_document_is_rewritable_again() -> None:
    once = schema.wsdl_document(ENDPOINT, schema_base_url="https://old.test/xsd/")
    root = etree.fromstring(once)
    schema._rewrite_schema_locations(root, XSD_BASE)
    locations = [imp.get("schemaLocation") for imp in root.iterfind(".//xs:import", NS)]
    assert locations == [XSD_BASE + name for name in schema.SCHEMA_FILES]


def test_wsdl_document_filters_operations_and_their_messages() -> None:
    keep = ["CreditVendRequest", "AdviceRequest", "ConfirmMeterRequest"]
    root = etree.fromstring(schema.wsdl_document(ENDPOINT, keep))
    for path in ("wsdl:portType/wsdl:operation", "wsdl:binding/wsdl:operation"):
        assert [op.get("name") for op in root.iterfind(path, NS)] == keep
    messages = {m.get("name") for m in root.iterfind("wsdl:message", NS)}
    assert messages == {
        *(f"{op}Soap{direction}" for op in keep for direction in ("In", "Out")),
        "NRSFaultResponseSoapOut",
    }


def test_wsdl_document_rejects_unknown_operations() -> None:
    with pytest.raises(ValueError, match="LoginRequest"):
        schema.wsdl_document(ENDPOINT, ["CreditVendRequest", "LoginRequest"])


def test_schema_document_rewrites_imports() -> None:
    for name in schema.SCHEMA_FILES:
        root = etree.fromstring(schema.schema_document(name, XSD_BASE))
        for imp in root.iterfind("xs:import", NS):
            assert (
                imp.get("schemaLocation")
                == XSD_BASE + schema.SCHEMA_NAMESPACES[imp.get("namespace")]
            )
    ext = etree.fromstring(schema.schema_document("evd-ext.xsd", XSD_BASE))
    assert len(ext.findall("xs:import", NS)) == 2


def test_schema_document_without_base_is_the_file() -> None:
    for name in schema.SCHEMA_FILES:
        assert schema.schema_document(name) == (WSDL_DIR / name).read_bytes()


@pytest.mark.parametrize("name", ["xmlvend.wsdl", "../pyproject.toml", "BASE.XSD", ""])
def test_schema_document_unknown_name(name: str) -> None:
    with pytest.raises(KeyError):
        schema.schema_document(name)


def test_schema_files_reads_the_package() -> None:
    files = schema.schema_files()
    assert list(files) == list(schema.SCHEMA_FILES)
    assert all(content.startswith(b"<?xml") for content in files.values())
    files["base.xsd"] = b"changed"  # a copy: the cache is not affected
    assert schema.schema_files()["base.xsd"].startswith(b"<?xml")


def test_served_documents_load_in_zeep_from_the_server_urls() -> None:
    documents = served(ENDPOINT, XSD_BASE, None)
    transport = OfflineTransport(documents)
    client = zeep.Client(ENDPOINT + "?wsdl", transport=transport)
    assert port_operations(client) == set(OPERATIONS)
    # Every schema came from the server's URLs, nothing from disk or elsewhere.
    assert set(transport.requested) == set(documents)
    assert client.service._binding_options["address"] == ENDPOINT


def test_served_subset_loads_in_zeep() -> None:
    keep = ["ConfirmCustomerRequest", "CreditVendRequest", "AdviceRequest"]
    documents = served(ENDPOINT, XSD_BASE, keep)
    client = zeep.Client(ENDPOINT + "?wsdl", transport=OfflineTransport(documents))
    assert port_operations(client) == set(keep)
    # The full schema is still there: a client can decode any response type.
    client.get_type(f"{{{METER}}}ConfirmMeterResp")
    with pytest.raises(AttributeError):
        client.service.ConfirmMeterRequest  # noqa: B018 - the attribute access is the test


def test_compile_schema_needs_the_complete_set() -> None:
    files = schema.schema_files()
    del files["meter.xsd"]
    with pytest.raises(KeyError, match=r"meter\.xsd"):
        schema.compile_schema(files)


def test_compile_schema_refuses_foreign_imports(tmp_path: Path) -> None:
    """An import of anything but our four files is refused, even if it exists on disk."""
    foreign = tmp_path / "foreign.xsd"
    foreign.write_text(
        f'<xs:schema xmlns:xs="{XSD}" targetNamespace="urn:foreign">'
        '<xs:element name="x" type="xs:string"/></xs:schema>'
    )
    files = schema.schema_files()
    files["meter.xsd"] = files["meter.xsd"].replace(
        b"<xs:import ",
        f'<xs:import namespace="urn:foreign" schemaLocation="{foreign.as_uri()}"/>'
        "<xs:import ".encode(),
        1,
    )
    with pytest.raises(etree.XMLSchemaParseError, match="Failed to parse the XML resource"):
        schema.compile_schema(files)
