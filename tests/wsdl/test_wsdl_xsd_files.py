"""The XSD files themselves: they compile (lxml and xmlschema), are complete and clean.

Completeness is checked against the message catalogue and fault tree of the reference fact
sheet (§2, §4.1), written out here independently of the schema files.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from xmlvend.codec import schema
from xmlvend.codec.namespaces import BASE, EXT, METER, REVENUE, XSD

WSDL_DIR = Path(str(importlib.resources.files("wsdl")))
NAMESPACE_OF = {name: ns for ns, name in schema.SCHEMA_NAMESPACES.items()}

EXPECTED_ELEMENTS = {
    BASE: {"adviceReq", "adviceResp", "xmlvendFaultResp"},
    REVENUE: {
        f"{stem}{suffix}"
        for stem in (
            "confirmCustomer",
            "creditVend",
            "trialCreditVend",
            "fbe",
            "freeIssue",
            "meterCreditTransfer",
            "cancelVend",
            "verify",
            "payAcc",
            "reprint",
            "deposit",
            "reprintDep",
            "vendorStatement",
            "startBatch",
            "endBatch",
            "totalBatch",
            "reprintEndBatch",
        )
        for suffix in ("Req", "Resp")
    },
    METER: {
        f"{stem}{suffix}"
        for stem in (
            "confirmMeter",
            "custReportFault",
            "meterSpecificEng",
            "nonMeterSpecificEng",
            "updateMeterKey",
        )
        for suffix in ("Req", "Resp")
    },
    # Ours: the read-only steps before a bill payment and a policy issue.
    EXT: {
        "billFetchReq",
        "billFetchResp",
        "insuranceQuoteReq",
        "insuranceQuoteResp",
        "tripSearchReq",
        "tripSearchResp",
        "seatHoldReq",
        "seatHoldResp",
        "bookingReq",
        "cancellationReq",
        "bookingResp",
    },
}

# Fault class -> parent (fact sheet §4.1, including the 2.1 additions).
FAULT_TREE = {
    "SystemEx": "Fault",
    "BusinessRuleEx": "Fault",
    "XMLVendFaultEx": "Fault",
    **dict.fromkeys(
        (
            "RequestAuthorisationEx",
            "ClientIDAuthorisationEx",
            "MSNOCheckDigitEx",
            "SGCAuthorisationEx",
            "LatestKRNEx",
            "FBEEx",
            "BlockedMeterEx",
            "STSDataEx",
            "VendorCreditEx",
            "UnknownMeterEx",
            "InsufficientMeterDataEx",
            "RequireMeterCardEx",
            "ConfirmCustomerEx",
            "CancelEx",
            "DebtEx",
            "ServiceChrgEx",
            "ReprintEx",
            "ReprintDepositSlipEx",
            "ReprintEndBatchEx",
            "StartBatchEx",
            "EndBatchEx",
            "CheckBatchTotalEx",
            "VerifyTokenEx",
            "UnknownMeterUpdateMtrKeyEx",
            "UpdateMtrKeySameEx",
        ),
        "BusinessRuleEx",
    ),
    **dict.fromkeys(
        (
            "UseCaseSupportEx",
            "ClientIDSSLEx",
            "XMLVendSchemaEx",
            "LastResponseEx",
            "ConfirmationEx",
            "ReversalEx",
        ),
        "XMLVendFaultEx",
    ),
}

# Subtypes of the abstract standard types that must all be present (fact sheet §2-§3).
EXPECTED_SUBTYPES = {
    (BASE, "DeviceID"): {"EANDeviceID", "GenericDeviceID"},
    (BASE, "IDMethod"): {"VendIDMethod", "CustIDMethod"},
    (BASE, "MeterIdentifier"): {"MeterNumber", "MeterConfig", "MeterCard", "MeterDetail"},
    (BASE, "CustIdentifier"): {"CustName", "CustAddress", "CustAccountNo", "CustIDNumber"},
    (BASE, "Resource"): {"Electricity", "Water", "Gas", "ConnectionTime", "CurrencyResource"},
    (BASE, "PayType"): {"Cash", "Cheque", "Card", "CreditCard", "DebitCard", "Unknown"},
    (BASE, "Token"): {"STS1Token", "KCToken"},
    (BASE, "TokenInfo"): {"STS1TokenInfo"},
    (BASE, "Tax"): {"VAT"},
    (BASE, "CreditTokenIssue"): {
        "SaleCredTokenIssue",
        "FBECredTokenIssue",
        "FreeCredTokenIssue",
        "MCTCredTokenIssue",
    },
    (BASE, "MeterSpecificEngTokenIssue"): {
        "KCTokenIssue",
        "PwrLmtTokenIssue",
        "PhUnbalTokenIssue",
        "WaterFactorTokenIssue",
        "ClearCreditTokenIssue",
        "ClearTamperTokenIssue",
    },
    (BASE, "AdviceReq"): {"ConfirmationAdviceReq", "ReversalAdviceReq", "LastRespAdviceReq"},
    (BASE, "AdviceResp"): {"ConfirmationAdviceResp", "ReversalAdviceResp", "LastRespAdviceResp"},
    (REVENUE, "PurchaseValue"): {"PurchaseValueCurrency", "PurchaseValueUnits"},
    (REVENUE, "Tx"): {"CreditVendTx", "PayAccTx", "DebtRecoveryTx", "ServiceChrgTx"},
    (REVENUE, "Receipt"): {"CreditVendReceipt", "PayAccReceipt"},
    (REVENUE, "PayAccount"): {"DebtRecovery", "ServiceChrg"},
    (REVENUE, "CreditVendResp"): {"TrialCreditVendResp", "FBEResp", "FreeIssueResp"},
    (REVENUE, "StartBatchReq"): {
        "StartBankBatchReq",
        "StartSalesBatchReq",
        "StartShiftBatchReq",
        "StartAllBatchesReq",
    },
    (REVENUE, "EndBatchReq"): {
        "EndBankBatchReq",
        "EndSalesBatchReq",
        "EndShiftBatchReq",
        "EndAllBatchesReq",
    },
    (REVENUE, "TotalBatchReq"): {
        "TotalBankBatchReq",
        "TotalSalesBatchReq",
        "TotalShiftBatchReq",
        "TotalAllBatchesReq",
    },
    (REVENUE, "ReprintEndBatchReq"): {
        "ReprintEndBankingBatchReq",
        "ReprintEndSalesBatchReq",
        "ReprintEndShiftBatchReq",
    },
    (REVENUE, "StartBatch"): {"BankStartBatch", "SalesStartBatch", "ShiftStartBatch"},
    (REVENUE, "Batch"): {"BankBatch", "SalesBatch", "ShiftBatch"},
    (REVENUE, "TxTotal"): {
        "NormalSaleTotal",
        "FreeIssueTotal",
        "MeterCreditTransferTotal",
        "CancellationTotal",
        "AccPaymentTotal",
        "DebtRecoveryTotal",
        "ServiceChrgTotal",
    },
    (REVENUE, "PayTypeTotal"): {
        "CashTotal",
        "ChequeTotal",
        "CreditCardTotal",
        "DebitCardTotal",
        "OtherTotal",
    },
    (REVENUE, "ResourceTotal"): {
        "ElectricityTotal",
        "WaterTotal",
        "GasTotal",
        "ConnectionTimeTotal",
        "CurrencyTotal",
    },
    (METER, "MeterSpecificEngReq"): {
        "PwrLmtReq",
        "PhUnbalReq",
        "ClearCreditReq",
        "ClearTamperReq",
        "DefCreditReq",
        "EngKCTReq",
        "SetWaterFactorReq",
    },
    (METER, "MeterSpecificEngResp"): {
        "PwrLmtResp",
        "PhUnbalResp",
        "ClearCreditResp",
        "ClearTamperResp",
        "DefCreditResp",
        "EngKCTResp",
        "SetWaterFactorResp",
    },
    (METER, "NonMeterSpecificEngReq"): {
        f"{n}Req"
        for n in (
            "TestAll",
            "TestBreaker",
            "TestDisplay",
            "DispPwrLmt",
            "DispTI",
            "DispKRN",
            "DispTamper",
            "DispInstPwr",
            "DispConsTot",
            "DispPhUnbalance",
            "DispVer",
        )
    },
    (METER, "CustFaultReport"): {"MeterFaultReport", "NetworkFaultReport"},
}

# Simple types the codec relaxes by name for its lenient input schema.
LENIENT_HOOKS = ("MsgIDDateTime", "MsgIDUniqueNumber", "EAN", "CurrencySymbol", "ResourceSIUnit")


@pytest.fixture(scope="module")
def xs_schema() -> xmlschema.XMLSchema10:
    """All four files loaded together by xmlschema, offline (sandboxed to wsdl/)."""
    sources = [str(WSDL_DIR / name) for name in schema.SCHEMA_FILES]
    return xmlschema.XMLSchema10(sources, allow="sandbox", base_url=str(WSDL_DIR))


@pytest.mark.parametrize("name", schema.SCHEMA_FILES)
def test_each_file_compiles_with_lxml(name: str) -> None:
    # Compile from the package directory so relative imports resolve next to the file.
    etree.XMLSchema(etree.parse(str(WSDL_DIR / name)))


@pytest.mark.parametrize("name", schema.SCHEMA_FILES)
def test_each_file_passes_the_xsd10_meta_schema(name: str) -> None:
    meta = xmlschema.XMLSchema10.meta_schema
    meta.build()
    meta.validate(str(WSDL_DIR / name))


@pytest.mark.parametrize("name", schema.SCHEMA_FILES)
def test_file_header_conventions(name: str) -> None:
    root = etree.fromstring(schema.schema_files()[name])
    assert root.get("targetNamespace") == NAMESPACE_OF[name]
    assert root.get("elementFormDefault") == "qualified"
    assert root.get("attributeFormDefault") == "unqualified"
    # Imports only ever refer to our own files, by relative name.
    for imp in root.iterfind(f"{{{XSD}}}import"):
        assert imp.get("schemaLocation") == schema.SCHEMA_NAMESPACES[imp.get("namespace")]


def test_all_four_load_together_in_xmlschema(xs_schema: xmlschema.XMLSchema10) -> None:
    assert xs_schema.built
    assert xs_schema.validity == "valid"
    namespaces = {key.split("}")[0][1:] for key in xs_schema.maps.types}
    assert {BASE, REVENUE, METER, EXT} <= namespaces


def test_global_elements_are_the_standard_catalogue(xs_schema: xmlschema.XMLSchema10) -> None:
    for ns, expected in EXPECTED_ELEMENTS.items():
        found = {
            key.split("}")[1] for key in xs_schema.maps.elements if key.startswith(f"{{{ns}}}")
        }
        assert found == expected, ns


def test_fault_class_tree(xs_schema: xmlschema.XMLSchema10) -> None:
    for name, parent in FAULT_TREE.items():
        xsd_type = xs_schema.maps.types[f"{{{BASE}}}{name}"]
        assert xsd_type.base_type.name == f"{{{BASE}}}{parent}", name
    for abstract in ("Fault", "XMLVendFaultEx"):
        assert xs_schema.maps.types[f"{{{BASE}}}{abstract}"].abstract
    # Everything derived from b:Fault in the base namespace is in the tree above: no vendor
    # additions (DuplicateMsgIDEx & co. live in our extension namespace).
    fault = xs_schema.maps.types[f"{{{BASE}}}Fault"]
    derived = {
        key.split("}")[1]
        for key, xsd_type in xs_schema.maps.types.items()
        if key.startswith(f"{{{BASE}}}") and xsd_type is not fault and xsd_type.is_derived(fault)
    }
    assert derived == set(FAULT_TREE)


def test_extension_faults_extend_the_standard_classes(xs_schema: xmlschema.XMLSchema10) -> None:
    types = xs_schema.maps.types
    assert types[f"{{{EXT}}}DuplicateMsgIDEx"].base_type.name == f"{{{BASE}}}BusinessRuleEx"
    assert types[f"{{{EXT}}}TransactionDelayedEx"].base_type.name == f"{{{BASE}}}SystemEx"


# Our extension types -> the standard type each is carried as (by xsi:type, or extending
# the standard request and response bases).
EXTENSION_BASES = {
    "BillIdentifier": (BASE, "MeterIdentifier"),
    "BeneficiaryIdentifier": (BASE, "MeterIdentifier"),
    "PolicyIdentifier": (BASE, "MeterIdentifier"),
    "BillPaymentTx": (REVENUE, "Tx"),
    "TransferTx": (REVENUE, "Tx"),
    "PolicyTx": (REVENUE, "Tx"),
    "BillFetchReq": (BASE, "BaseReq"),
    "InsuranceQuoteReq": (BASE, "BaseReq"),
    "BillFetchResp": (BASE, "BaseResp"),
    "InsuranceQuoteResp": (BASE, "BaseResp"),
    "TripSearchReq": (BASE, "BaseReq"),
    "SeatHoldReq": (BASE, "BaseReq"),
    "BookingReq": (BASE, "BaseReq"),
    "CancellationReq": (BASE, "BaseReq"),
    "TripSearchResp": (BASE, "BaseResp"),
    "BookingResp": (BASE, "BaseResp"),
    "SeatHoldResp": (EXT, "BookingResp"),
}


@pytest.mark.parametrize(("name", "base"), sorted(EXTENSION_BASES.items()))
def test_extension_types_extend_the_standard_ones(
    xs_schema: xmlschema.XMLSchema10, name: str, base: tuple[str, str]
) -> None:
    types = xs_schema.maps.types
    assert types[f"{{{EXT}}}{name}"].is_derived(types["{{{}}}{}".format(*base)])


def _stable_id(value: object) -> str:
    # Sets print in hash order, which differs per process: xdist workers must agree on ids.
    return ",".join(sorted(value)) if isinstance(value, set) else str(value)


@pytest.mark.parametrize(("base", "subtypes"), EXPECTED_SUBTYPES.items(), ids=_stable_id)
def test_polymorphic_subtypes_exist(
    xs_schema: xmlschema.XMLSchema10, base: tuple[str, str], subtypes: set[str]
) -> None:
    ns, name = base
    parent = xs_schema.maps.types[f"{{{ns}}}{name}"]
    for sub in subtypes:
        assert xs_schema.maps.types[f"{{{ns}}}{sub}"].is_derived(parent), sub


def test_lenient_hooks_are_named_simple_types(xs_schema: xmlschema.XMLSchema10) -> None:
    for name in LENIENT_HOOKS:
        assert xs_schema.maps.types[f"{{{BASE}}}{name}"].is_simple(), name
    # b:resource is the element the lenient variant makes optional.
    base_vend_req = xs_schema.maps.types[f"{{{BASE}}}BaseVendReq"]
    children = [el.name for el in base_vend_req.content.iter_elements()]
    assert f"{{{BASE}}}resource" in children


@pytest.mark.parametrize("name", ("base.xsd", "revenue.xsd", "meter.xsd"))
def test_no_vendor_additions_in_standard_namespaces(name: str) -> None:
    text = schema.schema_files()[name].decode()
    for vendor_name in (
        "faultCode",
        "loginReq",
        "maxVendEng",
        "DuplicateMsgIDEx",
        "getOrderStatus",
        "tariffBreakdown",
        "vendingServerID",
    ):
        assert f'"{vendor_name}"' not in text, vendor_name


def test_meter_detail_has_no_hexing_limits(xs_schema: xmlschema.XMLSchema10) -> None:
    meter_detail = xs_schema.maps.types[f"{{{BASE}}}MeterDetail"]
    children = [el.local_name for el in meter_detail.content.iter_elements()]
    assert children == ["meterType"]


def test_unknown_facets_are_flagged_as_our_choice() -> None:
    root = etree.fromstring(schema.schema_files()["revenue.xsd"])
    for name in ("ReceiptNo", "TxSeqNo", "ShiftSalesBatchSeqNo", "BankBatchSeqNo", "BankRegNo"):
        (doc,) = root.xpath(
            "xs:simpleType[@name=$n]/xs:annotation/xs:documentation", n=name, namespaces={"xs": XSD}
        )
        assert "our choice" in doc.text.lower(), name
