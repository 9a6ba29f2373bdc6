"""Faults: the one mapping table entry by entry, and every fault class provoked by a real
cause through the server, with the request's header echoed and nothing written."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from fixed_clock import NOW
from server_support import (
    BAD_CHECK_DIGIT_METER,
    BLOCKED_METER,
    CAFE,
    FAILING_METER,
    KEY_CHANGE_METER,
    NORMAL_METER,
    RESTRICTED_METER,
    UNKNOWN_METER,
    World,
    advice,
    assert_strictly_valid,
    build_world,
    confirm_meter,
    credit_vend,
    make_config,
    payload_of,
    reprint,
    vend_id,
    voucher_vend,
    zar,
)
from sqlalchemy import func, select
from twisted.internet.defer import fail

from utilities import errors as utility_errors
from vending import batches
from vending import errors as core
from vending.auth import CredentialsChanged
from vending.config import UtilitiesConfig
from vending.services.recovery import Abandoned
from vending.storage.schema import requests, sales
from vending.vendors import get_operator, set_operator_blocked, set_vendor_blocked
from xmlvend.codec import (
    FAULT_CLASSES,
    MalformedRequest,
    SchemaViolation,
    SoapFault,
    UnknownOperation,
    render_request,
)
from xmlvend.codec import types_base as b
from xmlvend.codec import types_meter as m
from xmlvend.codec import types_revenue as r
from xmlvend.codec.errors import CodecError
from xmlvend.codec.namespaces import BASE, XSI
from xmlvend.server import errors as server
from xmlvend.server.faults import FAULT_TABLE, fault_for
from xmlvend.server.renderer import XMLVendRenderer

# --- the table ---------------------------------------------------------------------------------

EXPECTED: dict[type[BaseException], str] = {
    CodecError: "XMLVendSchemaEx",
    server.UseCaseNotSupported: "UseCaseSupportEx",
    server.ClientIDMismatch: "ClientIDSSLEx",
    core.UnknownVendor: "ClientIDAuthorisationEx",
    core.VendorBlocked: "ClientIDAuthorisationEx",
    core.AccountBlocked: "ClientIDAuthorisationEx",
    core.AuthenticationFailed: "RequestAuthorisationEx",
    CredentialsChanged: "RequestAuthorisationEx",
    core.OperatorBlocked: "RequestAuthorisationEx",
    core.NotAuthorised: "RequestAuthorisationEx",
    server.OperationNotAllowed: "RequestAuthorisationEx",
    core.IdempotencyConflict: "DuplicateMsgIDEx",
    core.RequestInProgress: "TransactionDelayedEx",
    server.TransactionDelayed: "TransactionDelayedEx",
    server.NoLastResponse: "LastResponseEx",
    server.UnknownReversal: "ReversalEx",
    server.UnknownConfirmation: "ConfirmationEx",
    server.NothingToReprint: "ReprintEx",
    server.NoDepositSlips: "ReprintDepositSlipEx",
    server.DepositsOff: "UseCaseSupportEx",
    batches.BatchAlreadyOpen: "StartBatchEx",
    batches.BatchNotOpen: "EndBatchEx",
    batches.NoBatchTotals: "CheckBatchTotalEx",
    batches.UnknownBatch: "ReprintEndBatchEx",
    server.DeadlinePassed: "SystemEx",
    Abandoned: "SystemEx",
    server.ParserBusy: "SystemEx",
    core.InsufficientFunds: "VendorCreditEx",
    core.NetworkRefusal: "BusinessRuleEx",
    core.OutOfStock: "BusinessRuleEx",
    core.AmountOutOfRange: "BusinessRuleEx",
    core.InvalidAmount: "BusinessRuleEx",
    core.UnknownCurrency: "BusinessRuleEx",
    core.CurrencyMismatch: "BusinessRuleEx",
    core.UnknownProduct: "BusinessRuleEx",
    core.ReversalRefused: "BusinessRuleEx",
    core.InvalidState: "BusinessRuleEx",
    core.LedgerImbalance: "SystemEx",
    utility_errors.UnknownMeter: "UnknownMeterEx",
    utility_errors.MeterBlocked: "BlockedMeterEx",
    utility_errors.MeterNumberCheckDigit: "MSNOCheckDigitEx",
    utility_errors.MeterDataInvalid: "STSDataEx",
    utility_errors.KeyRevisionExpired: "LatestKRNEx",
    utility_errors.NotFBEEligible: "FBEEx",
    utility_errors.FBEAlreadyIssued: "FBEEx",
    utility_errors.KeyAlreadyCurrent: "UpdateMtrKeySameEx",
    utility_errors.UnknownMeterForKeyUpdate: "UnknownMeterUpdateMtrKeyEx",
    utility_errors.InsufficientMeterData: "InsufficientMeterDataEx",
    utility_errors.SGCNotAuthorised: "SGCAuthorisationEx",
    utility_errors.NoDebt: "DebtEx",
    utility_errors.ServiceChargeNotDue: "ServiceChrgEx",
    utility_errors.TokenNotVerifiable: "VerifyTokenEx",
    utility_errors.OperationNotSupported: "UseCaseSupportEx",
    utility_errors.UpstreamUnavailable: "SystemEx",
    utility_errors.UpstreamFault: "BlockedMeterEx",  # the utility's own class, passed on
    utility_errors.UtilityError: "SystemEx",
    core.InvalidRequest: "BusinessRuleEx",
    core.NotFound: "BusinessRuleEx",
    core.VendingError: "BusinessRuleEx",
    BaseException: "SystemEx",
}


def _instance(cls: type[BaseException]) -> BaseException:
    if cls is utility_errors.UpstreamFault:
        return cls("BlockedMeterEx", "meter 123 is blocked at the utility")
    if cls is server.TransactionDelayed:
        return cls("20250101120000/100001")
    if cls is BaseException:
        return RuntimeError("a bug")
    return cls("what happened")


def test_the_table_has_exactly_the_expected_entries() -> None:
    assert set(FAULT_TABLE) == set(EXPECTED)


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda c: c.__name__)
def test_every_table_entry(cls: type[BaseException]) -> None:
    error = _instance(cls)
    fault = fault_for(error, "abc123")
    assert fault.fault_class.split(":")[-1] == EXPECTED[cls]
    assert fault.http_status == 500
    assert fault.faultcode == ("Client" if cls is CodecError else "Server")
    if fault.internal:
        assert fault.desc.endswith("incident abc123)")
        assert "a bug" not in fault.desc and "what happened" not in fault.desc
    else:
        upstream = cls is utility_errors.UpstreamFault
        assert fault.desc == ("meter 123 is blocked at the utility" if upstream else str(error))
    # Rendered: schema-valid with the request's header, xsi:type the fault class.
    renderer = XMLVendRenderer(server_id="6004708000007", currencies=None, clock=lambda: NOW)  # type: ignore[arg-type]
    request = r.VendorStatementReq(
        header=b.RequestHeader(
            client_id=b.EANDeviceID(ean=CAFE),
            terminal_id=b.GenericDeviceID(id="7"),
            msg_id=b.MsgID(date_time="20250101120000", unique_number="42"),
        )
    )
    body, _ = renderer.fault(request, error, "abc123")
    assert_strictly_valid(body)
    detail = payload_of(body)
    assert detail.findtext(f"{{{BASE}}}reqMsgID") is not None
    assert detail.find(f"{{{BASE}}}reqMsgID").get("uniqueNumber") == "42"
    xsi_type = detail.find(f"{{{BASE}}}fault").get(f"{{{XSI}}}type")
    assert xsi_type.split(":")[-1] == EXPECTED[cls]


def test_an_unlisted_utility_error_names_its_own_class() -> None:
    class NewUtilityError(core.InvalidRequest, utility_errors.UtilityError):
        fault_class = "LatestKRNEx"

    assert fault_for(NewUtilityError("x")).fault_class == "LatestKRNEx"


def test_codec_errors_keep_their_faultcode() -> None:
    for error in (MalformedRequest("x"), SchemaViolation("x"), UnknownOperation("x", element="e")):
        fault = fault_for(error)
        assert (fault.fault_class, fault.faultcode) == ("XMLVendSchemaEx", "Client")


def test_every_fault_class_we_name_exists_in_the_codec() -> None:
    for spec in FAULT_TABLE.values():
        if spec.fault_class is not None:
            assert spec.fault_class in FAULT_CLASSES


# --- helpers -------------------------------------------------------------------------------------


def written(world: World) -> tuple[int, int]:
    """(requests, sales) rows: what a refused request must not add to."""

    def count(txn: Any) -> tuple[int, int]:
        return (
            txn.execute(select(func.count()).select_from(requests)).scalar_one(),
            txn.execute(select(func.count()).select_from(sales)).scalar_one(),
        )

    return world.database.run_txn("test_count", count)


def assert_fault(
    world: World,
    request: b.BaseReq | bytes,
    fault_class: str,
    *,
    code: str = "Server",
    echoed: bool = True,
    **post: Any,
) -> SoapFault:
    """Send ``request``; it must be answered with ``fault_class``, header echoed, nothing
    written."""
    before = written(world)
    balance = world.balance()
    body = request if isinstance(request, bytes) else render_request(request)
    response = world.post(body, **post)
    assert response.status == 500, response.body
    fault = response.parsed()
    assert isinstance(fault, SoapFault), response.body
    assert (fault.fault_class, fault.code) == (fault_class, code), fault.desc
    assert fault.detail is not None and fault.detail.header is not None
    if echoed and not isinstance(request, bytes):
        header = fault.detail.header
        assert header.client_id == request.header.client_id
        assert header.terminal_id == request.header.terminal_id
        assert header.req_msg_id == request.header.msg_id
    assert written(world) == before
    assert world.balance() == balance
    return fault


# --- the request itself ---------------------------------------------------------------------------


def test_malformed_xml_echoes_what_could_be_salvaged(lite_world: World) -> None:
    world = lite_world
    request = credit_vend(world.header(), NORMAL_METER)
    body = render_request(request)[:-40]  # cut off
    fault = assert_fault(world, body, "XMLVendSchemaEx", code="Client")
    assert fault.detail.header.req_msg_id == request.header.msg_id


def test_wrong_namespace(lite_world: World) -> None:
    body = render_request(credit_vend(lite_world.header(), NORMAL_METER))
    body = body.replace(b"revenue/2.1/schema", b"revenue/2.0/schema")
    assert_fault(lite_world, body, "XMLVendSchemaEx", code="Client")


def test_schema_invalid_request(lite_world: World) -> None:
    request = credit_vend(lite_world.header(), NORMAL_METER)
    body = render_request(request)
    start = body.index(b"<r:purchaseValue")
    end = body.index(b"</r:purchaseValue>") + len(b"</r:purchaseValue>")
    fault = assert_fault(lite_world, body[:start] + body[end:], "XMLVendSchemaEx", code="Client")
    assert "purchaseValue" in fault.desc
    assert fault.detail.header.req_msg_id == request.header.msg_id


def test_not_soap_at_all(lite_world: World) -> None:
    assert_fault(lite_world, b"hello", "XMLVendSchemaEx", code="Client")


@pytest.mark.parametrize(
    "prolog",
    [
        # XXE: an external entity pointing at a local file
        b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        # billion laughs
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    ],
    ids=["xxe", "billion-laughs"],
)
def test_entities_are_refused(lite_world: World, prolog: bytes) -> None:
    body = render_request(credit_vend(lite_world.header(), NORMAL_METER))
    body = body.replace(b"?>\n", b"?>\n" + prolog, 1).replace(b'id="1"', b'id="&d;"', 1)
    fault = assert_fault(lite_world, body, "XMLVendSchemaEx", code="Client", echoed=False)
    assert "root:" not in fault.desc and "aaaaaaaaaa" not in fault.desc


# --- who is asking -------------------------------------------------------------------------------


def test_unknown_client_id(world: World) -> None:
    assert_fault(
        world, credit_vend(world.header("6009999999990"), NORMAL_METER), "ClientIDAuthorisationEx"
    )


def test_blocked_client_id(world: World) -> None:
    world.database.run_txn("block", set_vendor_blocked, CAFE, True, actor="test", now=NOW)
    assert_fault(world, credit_vend(world.header(), NORMAL_METER), "ClientIDAuthorisationEx")


def test_wrong_password_and_missing_credentials(world: World) -> None:
    assert_fault(
        world,
        credit_vend(world.header(operator=("cashier1", "wrong-pass")), NORMAL_METER),
        "RequestAuthorisationEx",
    )
    assert_fault(
        world, credit_vend(world.header(operator=None), NORMAL_METER), "RequestAuthorisationEx"
    )


def test_blocked_operator(world: World) -> None:
    def block(txn: Any) -> None:
        operator = get_operator(txn, "cashier1", CAFE)
        set_operator_blocked(txn, operator.id, True, actor="test", now=NOW)

    world.call(confirm_meter(world.header(), NORMAL_METER))  # cached as valid first
    world.database.run_txn("block", block)
    # Refused at once: the vend's transaction re-checks the cached principal.
    assert_fault(world, credit_vend(world.header(), NORMAL_METER), "RequestAuthorisationEx")


def test_operation_the_vendor_is_not_allowed(
    database: Any, keyring: Any, secrets_sentinel: Any
) -> None:
    world = build_world(
        database,
        keyring,
        secrets_sentinel,
        vouchers=0,
        denied_operations=lambda client_id: {"freeIssue"} if client_id == CAFE else set(),
    )
    request = r.FreeIssueReq(
        header=world.header(), resource=b.Electricity(), id_method=vend_id(NORMAL_METER)
    )
    assert_fault(world, request, "RequestAuthorisationEx")


def test_client_certificate_of_another_client(lite_world: World) -> None:
    body = render_request(confirm_meter(lite_world.header(), NORMAL_METER))
    endpoint = lite_world.server.endpoint
    outcome = endpoint.handle(body, frozenset({"6004708000106"})).result
    assert (outcome.status, outcome.fault_class) == (500, "ClientIDSSLEx")
    assert_strictly_valid(outcome.body)
    assert endpoint.handle(body, frozenset({CAFE})).result.status == 200


# --- money, meters, products ----------------------------------------------------------------------


def test_insufficient_vendor_credit(world: World) -> None:
    assert world.call(credit_vend(world.header(), NORMAL_METER, "4990.00")).status == 200
    # 4990.00 less 2 % commission leaves 109.80.
    assert_fault(world, credit_vend(world.header(), NORMAL_METER, "200.00"), "VendorCreditEx")


@pytest.mark.parametrize(
    ("meter", "fault_class"),
    [
        (UNKNOWN_METER, "UnknownMeterEx"),
        (BLOCKED_METER, "BlockedMeterEx"),
        (BAD_CHECK_DIGIT_METER, "MSNOCheckDigitEx"),
        (RESTRICTED_METER, "SGCAuthorisationEx"),
        (FAILING_METER, "SystemEx"),
    ],
)
def test_meter_faults(world: World, meter: str, fault_class: str) -> None:
    assert_fault(world, credit_vend(world.header(), meter), fault_class)


def test_meter_data_that_does_not_fit(world: World) -> None:
    detail = b.MeterDetail(
        meter_type=b.MeterType(at="07", tt="02"), msno=NORMAL_METER, sgc="654321", krn="2", ti="01"
    )
    request = m.ConfirmMeterReq(
        header=world.header(), id_method=b.VendIDMethod(meter_identifier=detail)
    )
    assert_fault(world, request, "STSDataEx")


def test_key_update_faults(world: World) -> None:
    def update(msno: str, identifier: b.MeterConfig | None = None) -> m.UpdateMeterKeyReq:
        return m.UpdateMeterKeyReq(
            header=world.header(),
            id_method=identifier
            or b.MeterDetail(
                meter_type=b.MeterType(at="07", tt="02"), msno=msno, sgc="123456", krn="2", ti="01"
            ),
        )

    assert_fault(world, update(NORMAL_METER), "UpdateMtrKeySameEx")
    assert_fault(world, update(UNKNOWN_METER), "UnknownMeterUpdateMtrKeyEx")
    no_key_data = b.MeterCard(track2_data="600727041000000190===0702123456012")
    assert_fault(world, update(NORMAL_METER, no_key_data), "InsufficientMeterDataEx")


def test_key_revision_expired_without_auto_key_change(
    database: Any, keyring: Any, secrets_sentinel: Any
) -> None:
    config = dataclasses.replace(make_config(), utilities=UtilitiesConfig(auto_key_change=False))
    world = build_world(database, keyring, secrets_sentinel, vouchers=0, config=config)
    assert_fault(world, credit_vend(world.header(), KEY_CHANGE_METER), "LatestKRNEx")


def test_account_and_fbe_faults(world: World) -> None:
    def pay(account: type) -> r.PayAccReq:
        return r.PayAccReq(
            header=world.header(),
            req_amt=zar("10.00"),
            pay_account=account(id_method=vend_id(NORMAL_METER)),
        )

    assert_fault(world, pay(r.DebtRecovery), "DebtEx")
    assert_fault(world, pay(r.ServiceChrg), "ServiceChrgEx")
    fbe = r.FBEReq(header=world.header(), resource=b.Electricity(), id_method=vend_id(NORMAL_METER))
    assert_fault(world, fbe, "FBEEx")


def test_a_token_we_did_not_issue(world: World) -> None:
    request = r.VerifyReq(
        header=world.header(),
        token=b.STS1Token(sts_cipher="1" * 20),
        id_method=vend_id(NORMAL_METER),
    )
    assert_fault(world, request, "VerifyTokenEx")


@pytest.mark.parametrize(
    ("amount", "words"),
    [("10.005", "decimal places"), ("1.00", "amounts must be"), ("10.00 XXX", "currency")],
)
def test_amount_faults(world: World, amount: str, words: str) -> None:
    value, _, symbol = amount.partition(" ")
    fault = assert_fault(
        world,
        credit_vend(world.header(), NORMAL_METER, value, symbol=symbol or "ZAR"),
        "BusinessRuleEx",
    )
    assert words in fault.desc


def test_out_of_stock(world: World) -> None:
    fault = assert_fault(
        world, voucher_vend(world.header(), "AIR-DEMO-30", "30.00"), "BusinessRuleEx"
    )
    assert "out of stock" in fault.desc


# --- message identity and transaction control -----------------------------------------------------


def test_same_msg_id_different_request(world: World) -> None:
    first = credit_vend(world.header(), NORMAL_METER, "10.00")
    assert world.call(first).status == 200
    other = dataclasses.replace(
        first,
        purchase_value=r.PurchaseValueCurrency(
            amt=b.Currency(value=Decimal("20.00"), symbol="ZAR")
        ),
    )
    fault = assert_fault(world, other, "DuplicateMsgIDEx")
    assert "already used" in fault.desc


@pytest.mark.parametrize(
    ("advice_type", "fault_class"),
    [
        (b.LastRespAdviceReq, "LastResponseEx"),
        (b.ReversalAdviceReq, "ReversalEx"),
        (b.ConfirmationAdviceReq, "ConfirmationEx"),
    ],
)
def test_advice_for_an_unknown_msg_id(world: World, advice_type: type, fault_class: str) -> None:
    unknown = b.MsgID(date_time="20250101000000", unique_number="999999")
    assert_fault(world, advice(advice_type, world.header(), unknown), fault_class)


def test_advice_for_another_clients_transaction(world: World) -> None:
    sale = voucher_vend(world.header())
    world.call(sale)
    from server_support import PLATFORM, PLATFORM_OPERATOR

    other = world.header(PLATFORM, PLATFORM_OPERATOR)
    assert_fault(world, advice(b.ReversalAdviceReq, other, sale.header.msg_id), "ReversalEx")
    assert_fault(world, advice(b.LastRespAdviceReq, other, sale.header.msg_id), "LastResponseEx")


def test_nothing_to_reprint(world: World) -> None:
    assert_fault(world, reprint(world.header(), NORMAL_METER), "ReprintEx")


# --- the unexpected -------------------------------------------------------------------------------


class BrokenService:
    """A utility service with a bug."""

    def confirm_meter(self, meter: Any) -> Any:
        return fail(RuntimeError("boom: connection to db password=hunter2 failed"))


def test_an_unexpected_error_is_a_generic_system_fault(
    lite_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    services = dataclasses.replace(
        lite_world.server.endpoint.services,
        app=lite_world.server.endpoint.services.app.with_utility(BrokenService()),
    )
    lite_world.server.endpoint.services = services
    fault = assert_fault(lite_world, confirm_meter(lite_world.header(), NORMAL_METER), "SystemEx")
    assert "incident" in fault.desc
    assert "boom" not in fault.desc and "hunter2" not in fault.desc
    incident = fault.desc.rsplit(" ", 1)[-1].rstrip(")")
    errors = [rec for rec in caplog.records if rec.levelname == "ERROR"]
    assert any(incident in rec.getMessage() and rec.exc_info for rec in errors)


def test_a_bug_anywhere_is_still_a_soap_fault(lite_world: World, monkeypatch: Any) -> None:
    import xmlvend.server.parsing as parsing_module

    def broken_parser(body: bytes) -> Any:
        raise KeyError("parser bug")

    monkeypatch.setattr(parsing_module, "parse_request", broken_parser)
    response = lite_world.post(b"<anything/>")
    assert response.status == 500
    fault = response.parsed()
    assert fault.fault_class == "SystemEx" and "incident" in fault.desc

    def broken_handle(body: bytes, identities: Any = None) -> Any:
        raise ValueError("endpoint bug")

    monkeypatch.setattr(lite_world.server.endpoint, "handle", broken_handle)
    response = lite_world.post(b"<anything/>")
    assert response.status == 500
    assert response.parsed().fault_class == "SystemEx"
