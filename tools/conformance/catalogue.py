"""The catalogue of XMLVend 2.1 conformance cases, as data.

Each case names what it needs from the server (WSDL operations: without them it is skipped),
what it sends and what it expects, in words for people (``evd conformance --list``,
docs/CONFORMANCE.md), and the scenario that does it (``run``: a small function of
:mod:`cases_happy`, :mod:`cases_protocol`, :mod:`cases_faults` or :mod:`cases_wire`,
built from :mod:`checks` and :mod:`steps`).

Besides its own expectations, every answer of every case must pass the envelope checks
(:func:`checks.check_envelope`): HTTP status, schema validity, header echo, serverID,
respDateTime, faultcode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tools.conformance import cases_batches as bt
from tools.conformance import cases_ext as x
from tools.conformance import cases_faults as f
from tools.conformance import cases_happy as h
from tools.conformance import cases_protocol as p
from tools.conformance import cases_wire as w
from tools.conformance.session import Session

DEFAULT_BUDGET = 9.5  # seconds per case: under the 10 s a vending client waits


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    category: str
    needs: tuple[str, ...]  # WSDL operations (standard names) the case uses
    sends: str
    expects: str
    run: Callable[[Session], str]
    budget: float = DEFAULT_BUDGET


CV, CC, AD = "CreditVendRequest", "ConfirmCustomerRequest", "AdviceRequest"

CATEGORIES: dict[str, str] = {
    "wsdl": "WSDL and HTTP",
    "happy": "Happy paths",
    "msgid": "msgID rules",
    "duplicate": "Duplicate requests",
    "advice": "Advices: last response, reversal, confirmation",
    "fault": "Fault classes",
    "malformed": "Malformed and hostile requests",
    "extension": "Our extension namespace (vouchers, bill payment)",
    "tls": "TLS client certificates",
}

CATALOGUE: tuple[Case, ...] = (
    # ---------------------------------------------------------------- WSDL and HTTP
    Case("WS-001", "WSDL is served and describes XMLVend 2.1", "wsdl", (),
         "GET URL?wsdl",
         "HTTP 200; wsdl:definitions in the 2.1 service namespace; document/literal SOAP "
         "binding; a soap:address; every operation's input is an XMLVend request element",
         w.wsdl_document),
    Case("WS-002", "A request without SOAPAction is answered", "wsdl", (CC,),
         "confirmCustomerReq (normal meter), no SOAPAction header",
         "confirmCustomerResp", w.no_soap_action),
    Case("WS-003", "Any SOAPAction value is accepted", "wsdl", (CC,),
         'confirmCustomerReq with SOAPAction "urn:not-an-operation", then CreditVendRequest',
         "confirmCustomerResp both times (dispatch is on the Body element)", w.any_soap_action),
    Case("WS-004", "gzip answer when the client accepts it", "wsdl", (CC,),
         "confirmCustomerReq with Accept-Encoding: gzip",
         "Content-Encoding: gzip", w.gzip_response),
    Case("WS-005", "No gzip unless the client accepts it", "wsdl", (CC,),
         "confirmCustomerReq without Accept-Encoding", "an uncompressed answer",
         w.identity_unless_asked),
    Case("WS-006", "gzip-compressed request body", "wsdl", (CC,),
         "confirmCustomerReq, Content-Encoding: gzip", "confirmCustomerResp", w.gzip_request),
    # ---------------------------------------------------------------- happy paths
    Case("CC-001", "Confirm customer", "happy", (CC,),
         "confirmCustomerReq (normal meter)",
         "confirmCustomerResp: custVendDetail with a name, canVend true, min <= max vend, "
         "meterDetail of our meter", h.confirm_customer),
    Case("CC-002", "Confirm customer of a blocked meter", "happy", (CC,),
         "confirmCustomerReq (blocked meter)", "canVend false, or BlockedMeterEx",
         h.blocked_confirm),
    Case("CM-001", "Confirm meter", "happy", ("ConfirmMeterRequest",),
         "confirmMeterReq (normal meter)",
         "confirmMeterResp: our msno, 6-digit SGC, 1-digit KRN, 2-digit TI", h.confirm_meter),
    Case("CV-001", "Credit vend", "happy", (CV,),
         "creditVendReq (normal meter, the profile's amount)",
         "creditVendResp: 20-digit non-zero token, receipt arithmetic, our meter, units > 0, "
         "availCredit in our currency", h.credit_vend),
    Case("CV-002", "Credit vend with cash tender and change", "happy", (CV,),
         "creditVendReq, payType Cash tenderAmt = amount + 30.00",
         "tenderAmt = tender; change = 30.00; receipt arithmetic", h.credit_vend_with_change),
    Case("CV-003", "Credit vend that needs a key change", "happy", (CV,),
         "creditVendReq (key change meter, identified by b:MeterDetail with its old key data)",
         "the sale with kcTokenIssue (kctData from = sent key, to = another; two 20-digit "
         "tokens), or LatestKRNEx", h.key_change_vend),
    Case("CV-004", "Credit vend with debt recovery", "happy", (CV,),
         "creditVendReq (debt meter)",
         "a DebtRecoveryTx next to the sale; receipt arithmetic", h.debt_vend),
    Case("TV-001", "Trial credit vend", "happy", ("TrialCreditVendRequest",),
         "trialCreditVendReq (normal meter); vendorStatementReq before and after",
         "trialCreditVendResp: every token 20 zeros, receipt arithmetic, available credit "
         "unchanged (by statement, else by a second trial)", h.trial_vend),
    Case("FB-001", "Free basic electricity when due", "happy", (CC, "FBERequest"),
         "confirmCustomerReq (FBE meter), fbeReq, confirmCustomerReq",
         "fbeDue true: fbeResp with an FBECredTokenIssue, nothing charged, then fbeDue false; "
         "fbeDue false: FBEEx", h.fbe_when_due),
    Case("FI-001", "Free issue", "happy", ("FreeIssueRequest",),
         "freeIssueReq (normal meter)",
         "freeIssueResp: FreeCredTokenIssue, real token, nothing charged", h.free_issue),
    Case("MC-001", "Meter credit transfer", "happy", ("MeterCreditTransferRequest",),
         "meterCreditTransferReq: 12.5 kWh from the (unregistered) unknown meter",
         "meterCreditTransferResp: MCTCredTokenIssue, 20-digit token, oldMSNO echoed",
         h.meter_credit_transfer),
    Case("RP-001", "Reprint", "happy", (CV, "ReprintRequest"),
         "creditVendReq, then reprintReq (normal meter)",
         "reprintResp containing the sale just made, unchanged (original reqMsgID, receipt, "
         "token)", h.reprint),
    Case("VS-001", "Vendor statement", "happy", (CV, "VendorStatementRequest"),
         "vendorStatementReq, creditVendReq, vendorStatementReq",
         "statement in our currency; the sale lowers availCredit by more than 0 and at most "
         "the amount; the vend's clientStatus equals the new statement", h.vendor_statement),
    Case("PA-001", "Pay account (debt)", "happy", ("PayAccRequest",),
         "payAccReq DebtRecovery 10.00 (debt meter)",
         "payAccResp with a DebtRecoveryTx; receipt arithmetic", h.pay_debt),
    Case("VF-001", "Verify a token", "happy", (CV, "VerifyRequest"),
         "creditVendReq, then verifyReq with its token",
         "verifyResp: the same token, STS1TokenInfo", h.verify_token),
    Case("UK-001", "Update meter key", "happy", ("UpdateMeterKeyRequest",),
         "updateMeterKeyReq (key change meter, b:MeterDetail with its old key data)",
         "updateMeterKeyResp: kctData from = sent key, to = another; 20-digit key change "
         "tokens", h.update_meter_key),
    Case("EN-001", "Test token (non-meter-specific engineering)", "happy",
         ("NonMeterSpecificEngRequest",),
         "nonMeterSpecificEngReq TestAllReq, meterType 07/02",
         "TestAllResp: 20-digit token, meterType echoed", h.test_token),
    Case("EN-002", "Power limit token (meter-specific engineering)", "happy",
         ("MeterSpecificEngRequest",),
         "meterSpecificEngReq PwrLmtReq 10.0 kW (normal meter)",
         "PwrLmtResp: 20-digit token for our meter", h.power_limit),
    Case("BT-001", "Shift batch: start, sell, total, end, reprint", "happy",
         ("StartBatchRequest", CV, "TotalBatchRequest", "EndBatchRequest",
          "ReprintEndBatchRequest"),
         "startBatchReq StartShiftBatchReq (a terminalID of its own), two creditVendReq, "
         "totalBatchReq, endBatchReq, reprintEndBatchReq",
         "a ShiftStartBatch; running and closing ShiftBatch batchTot = the two sales; the "
         "end has the started seqNo; the reprint shows the same batch and total",
         bt.shift_batch),
    Case("RF-001", "Customer fault report", "happy", ("CustReportFaultRequest",),
         "custReportFaultReq MeterFaultReport (normal meter), the same again, then a "
         "NetworkFaultReport",
         "custReportFaultResp: custFaultLog echoing custDetail and the report (same xsi:type, "
         "our meter) with a refNo; the resend gets the same refNo, the second report another",
         h.fault_report),
    # ---------------------------------------------------------------- msgID
    Case("MI-001", "Header echo", "msgid", (CC,),
         "confirmCustomerReq from terminal GenericDeviceID CONF-TERM-07",
         "clientID, terminalID (same xsi:type) and msgID as reqMsgID echoed verbatim",
         p.terminal_echo),
    Case("MI-002", "Different msgIDs are different sales", "msgid", (CV,),
         "two creditVendReq, same content, fresh msgIDs",
         "two receipts, two tokens", p.distinct_sales),
    Case("MI-003", "A used msgID with a different request is refused", "msgid", (CV,),
         "creditVendReq, then another amount under the same msgID",
         "a fault; no money moves; a last-response advice still returns the first sale",
         p.duplicate_with_other_body),
    Case("MI-004", "msgIDs are unique per client", "msgid", (CV,),
         "creditVendReq, then the other client's creditVendReq with the same msgID",
         "the other client's own sale (msgID + clientID is the key)",
         p.same_msg_id_other_client),
    Case("MI-005", "A lenient msgID is echoed verbatim or refused", "msgid", (CC,),
         "confirmCustomerReq with a 7-digit uniqueNumber",
         "an answer whose reqMsgID is that msgID verbatim (the one schema exception), or a "
         "soap:Client XMLVendSchemaEx", p.lenient_msg_id),
    # ---------------------------------------------------------------- duplicates
    Case("DU-001", "Exact resend is a replay", "duplicate", (CV,),
         "creditVendReq twice (same bytes)",
         "the same answer (byte- or canonically identical), charged once", p.exact_resend),
    Case("DU-002", "Equivalent resend is a replay", "duplicate", (CV,),
         "creditVendReq, then the same request with other prefixes, whitespace, attribute "
         "order", "the same answer", p.equivalent_resend),
    # ---------------------------------------------------------------- advices
    Case("LR-001", "Last response after a read answer", "advice", (CV, AD),
         "creditVendReq, then LastRespAdviceReq for its msgID",
         "LastRespAdviceResp: adviceReqMsgID = original; lastResponse = the original "
         "creditVendResp unchanged", p.last_response_after_answer),
    Case("LR-002", "Last response after a client timeout", "advice", (CV, AD),
         "creditVendReq and hang up unread, then LastRespAdviceReq, then the vend again",
         "the sale (original reqMsgID, real token) and the resend returns the same; or "
         "LastResponseEx with no money moved", p.last_response_after_timeout),
    Case("LR-003", "Last response for an unknown msgID", "advice", (AD,),
         "LastRespAdviceReq for a msgID never used", "LastResponseEx (soap:Server)",
         p.last_response_unknown),
    Case("LR-004", "Last response for another client's msgID", "advice", (CV, AD),
         "creditVendReq, then the other client's LastRespAdviceReq for its msgID",
         "LastResponseEx: nothing disclosed", p.last_response_other_client),
    Case("RV-001", "Reversal advice", "advice", (CV, AD),
         "creditVendReq, then ReversalAdviceReq (statements around)",
         "ReversalAdviceResp naming the msgID; txReversed true: credit restored; false: "
         "nothing moved", p.reversal),
    Case("RV-002", "Reversal of an unknown msgID", "advice", (AD,),
         "ReversalAdviceReq for a msgID never used", "ReversalEx", p.reversal_unknown),
    Case("RV-003", "Repeated reversal", "advice", (CV, AD),
         "creditVendReq, then ReversalAdviceReq twice",
         "the same txReversed; money moves at most once", p.reversal_repeated),
    Case("CF-001", "Confirmation advice", "advice", (CV, AD),
         "creditVendReq, then ConfirmationAdviceReq",
         "ConfirmationAdviceResp naming the msgID, txConfirmed true, no money moved",
         p.confirmation),
    Case("CF-002", "Confirmation of an unknown msgID", "advice", (AD,),
         "ConfirmationAdviceReq for a msgID never used", "ConfirmationEx",
         p.confirmation_unknown),
    # ---------------------------------------------------------------- faults
    Case("FT-001", "Blocked meter", "fault", (CV,), "creditVendReq (blocked meter)",
         "BlockedMeterEx", f.blocked_meter),
    Case("FT-002", "Unknown meter", "fault", (CV,), "creditVendReq (unknown meter)",
         "UnknownMeterEx", f.unknown_meter),
    Case("FT-003", "Meter number check digit", "fault", (CV,),
         "creditVendReq (check digit meter)", "MSNOCheckDigitEx", f.check_digit),
    Case("FT-004", "Supply group not authorised", "fault", (CV,),
         "creditVendReq (restricted supply group meter)", "SGCAuthorisationEx",
         f.sgc_not_authorised),
    Case("FT-005", "Insufficient vendor credit", "fault", (CV, CC),
         "creditVendReq for twice the available credit (within maxVendAmt)",
         "VendorCreditEx", f.vendor_credit),
    Case("FT-006", "Wrong operator password", "fault", (CC,),
         "confirmCustomerReq with a wrong password",
         "RequestAuthorisationEx or ClientIDAuthorisationEx", f.wrong_password),
    Case("FT-007", "Unknown clientID", "fault", (CC,),
         "confirmCustomerReq from an EAN no vendor has",
         "ClientIDAuthorisationEx or RequestAuthorisationEx", f.unknown_client),
    Case("FT-008", "FBE for a meter without FBE", "fault", ("FBERequest",),
         "fbeReq (normal meter)", "FBEEx", f.fbe_not_eligible),
    Case("FT-009", "Utility unavailable", "fault", (CV,),
         "creditVendReq (upstream failure meter)", "SystemEx", f.upstream_failure),
    Case("FT-010", "Upstream slower than the deadline", "fault", (CV,),
         "creditVendReq (slow meter), then LastRespAdviceReq until the sale is there",
         "an answer within 10 s: the sale, or a SystemEx (e.g. TransactionDelayedEx) and "
         "later the sale by last-response advice", f.slow_upstream, budget=40.0),
    Case("FT-011", "Debt payment without debt", "fault", ("PayAccRequest",),
         "payAccReq DebtRecovery (normal meter)", "DebtEx", f.no_debt),
    Case("FT-012", "Verify a token never issued", "fault", ("VerifyRequest",),
         "verifyReq 12345678901234567890 (normal meter)", "VerifyTokenEx",
         f.verify_unknown_token),
    Case("FT-013", "Key update for an unknown meter", "fault", ("UpdateMeterKeyRequest",),
         "updateMeterKeyReq (unknown meter)", "UnknownMeterUpdateMtrKeyEx (or UnknownMeterEx)",
         f.key_update_unknown_meter),
    Case("FT-014", "Key update to the current key", "fault",
         ("UpdateMeterKeyRequest", "ConfirmMeterRequest"),
         "confirmMeterReq, then updateMeterKeyReq with the key data it returned",
         "UpdateMtrKeySameEx", f.key_update_same),
    Case("FT-015", "Key data of another supply group", "fault", (CV,),
         "creditVendReq, b:MeterDetail SGC 999999 (normal meter)", "STSDataEx",
         f.wrong_supply_group),
    Case("FT-016", "Nothing to reprint", "fault", ("ReprintRequest",),
         "reprintReq (unknown meter)", "ReprintEx or UnknownMeterEx", f.reprint_nothing),
    Case("FT-017", "Confirm an unknown customer", "fault", (CC,),
         "confirmCustomerReq (unknown meter)", "UnknownMeterEx or ConfirmCustomerEx",
         f.unknown_meter_confirm),
    Case("FT-018", "A use case the server does not offer", "fault", (),
         "depositReq (or another bare catalogue request the WSDL does not advertise)",
         "UseCaseSupportEx (soap:Server)", f.unsupported_use_case),
    Case("BT-002", "Start a batch that is open already", "fault",
         ("StartBatchRequest", "EndBatchRequest"),
         "startBatchReq StartShiftBatchReq twice (a terminalID of its own), then endBatchReq",
         "StartBatchEx for the second start; the batch still ends normally",
         bt.batch_started_twice),
    Case("BT-003", "End, total or reprint without a batch", "fault",
         ("EndBatchRequest", "TotalBatchRequest", "ReprintEndBatchRequest"),
         "endBatchReq, totalBatchReq, reprintEndBatchReq for shift batches of a new terminalID",
         "EndBatchEx, CheckBatchTotalEx, ReprintEndBatchEx", bt.no_batch_open),
    Case("FT-019", "Service charge payment when none is due", "fault",
         (CV, "PayAccRequest"),
         "trialCreditVendReq R120 (service charge meter); if the charge is due, the sale; "
         "then payAccReq ServiceChrg R115",
         "a due charge comes as a ServiceChrgTx with the month's first sale; then "
         "ServiceChrgEx", f.service_charge_not_due),
    # ---------------------------------------------------------------- malformed
    Case("MF-001", "Not well-formed XML", "malformed", (),
         "a creditVendReq cut off after two thirds", "soap:Client XMLVendSchemaEx, HTTP 500",
         w.not_well_formed),
    Case("MF-002", "Wrong namespace", "malformed", (),
         "creditVendReq in the XMLVend 2.0 namespaces", "soap:Client XMLVendSchemaEx",
         w.wrong_namespace),
    Case("MF-003", "External entity (XXE)", "malformed", (),
         "creditVendReq with a DOCTYPE declaring file:///etc/hostname as an entity",
         "soap:Client XMLVendSchemaEx; the file is not read", w.external_entity),
    Case("MF-004", "Required element missing", "malformed", (),
         "creditVendReq without purchaseValue",
         "soap:Client XMLVendSchemaEx echoing the intact header", w.missing_element),
    Case("MF-005", "Value of the wrong type", "malformed", (),
         'creditVendReq with amt value="ten rand"',
         "soap:Client XMLVendSchemaEx echoing the intact header", w.invalid_value),
    Case("MF-006", "No SOAP envelope", "malformed", (),
         "a bare creditVendReq element", "soap:Client XMLVendSchemaEx", w.not_soap),
    Case("MF-007", "Empty SOAP Body", "malformed", (), "an Envelope with an empty Body",
         "soap:Client XMLVendSchemaEx", w.empty_body),
    Case("MF-008", "Not an XMLVend request", "malformed", (),
         "r:buyEverythingReq (a creditVendReq renamed)", "soap:Client XMLVendSchemaEx",
         w.unknown_element),
    Case("MF-009", "Oversized request", "malformed", (),
         "a creditVendReq padded to 2 MiB", "HTTP 413, or a fault", w.oversized),
    # ---------------------------------------------------------------- our extension
    Case("EX-001", "Voucher sale (extension namespace)", "extension", (CV,),
         "creditVendReq: resource ext:Voucher, meterIdentifier ext:ProductIdentifier, the "
         "voucher's face value",
         "creditVendResp with an ext:VoucherVendTx: the product, a 4-32 digit PIN (not "
         "zeros), a serial number; receipt arithmetic", x.voucher_sale),
    Case("EX-002", "Voucher trial sale", "extension", ("TrialCreditVendRequest",),
         "trialCreditVendReq for the voucher product",
         "an all-zero PIN, serial 0, nothing charged", x.voucher_trial),
    Case("EX-003", "Reversal of a voucher sale", "extension", (CV, AD),
         "voucher creditVendReq, then ReversalAdviceReq (statements around)",
         "txReversed true: credit restored; false: nothing moved", x.voucher_reversal),
    Case("EX-004", "Trial vend of a bill payment is refused", "extension",
         ("TrialCreditVendRequest", "BillFetchRequest"),
         "trialCreditVendReq with ext:BillIdentifier",
         "UseCaseSupportEx (the fetch is how to learn the amount); nothing charged",
         x.bill_trial_refused),
    Case("EX-005", "Bill fetch with a malformed biller id", "extension", ("BillFetchRequest",),
         "ext:billFetchReq whose billerId has 13 characters", "soap:Client XMLVendSchemaEx",
         x.bill_schema_fault),
    Case("EX-006", "Bill fetch, then its payment", "extension", ("BillFetchRequest", CV),
         "ext:billFetchReq for --bill, then creditVendReq with ext:BillIdentifier quoting "
         "its refId and amount, twice",
         "billFetchResp (refId, amount); creditVendResp with an ext:BillPaymentTx of that "
         "biller and amount, the same bytes again (or TransactionDelayedEx both times)",
         x.bill_fetch_and_pay),
    # ---------------------------------------------------------------- TLS
    Case("TL-001", "Client certificate matches the clientID", "tls", (CC,),
         "confirmCustomerReq over TLS with --cert/--key", "confirmCustomerResp",
         w.cert_matches),
    Case("TL-002", "Client certificate of another clientID", "tls", (CC,),
         "confirmCustomerReq from the other client's clientID with our certificate",
         "ClientIDSSLEx", w.cert_for_other_client),
    Case("TL-003", "No client certificate", "tls", (CC,),
         "confirmCustomerReq over TLS without a certificate",
         "refused: TLS handshake failure, or ClientIDSSLEx / an authorisation fault",
         w.no_client_cert),
)  # fmt: skip


def case_ids() -> list[str]:
    return [case.id for case in CATALOGUE]


def select(ids: Iterable[str] | None) -> list[Case]:
    """The cases named in ``ids`` (case ids, or category names), in catalogue order; all
    cases for None. Unknown names raise ValueError."""
    if ids is None:
        return list(CATALOGUE)
    known_ids = set(case_ids())
    wanted: set[str] = set()
    unknown: list[str] = []
    for raw in ids:
        name = raw.strip()
        if not name:
            continue
        if name.upper() in known_ids:
            wanted.add(name.upper())
        elif name.lower() in CATEGORIES:
            wanted.add(name.lower())
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(f"unknown case id(s) or categories: {', '.join(unknown)}")
    return [c for c in CATALOGUE if c.id in wanted or c.category in wanted]


def catalogue_markdown() -> str:
    """The catalogue as Markdown tables, one per category (docs/CONFORMANCE.md embeds it)."""
    lines: list[str] = []
    for category, heading in CATEGORIES.items():
        cases = [c for c in CATALOGUE if c.category == category]
        lines += [f"### {heading} (`{category}`)", ""]
        lines += ["| ID | Case | Needs | Sends | Expects |", "|---|---|---|---|---|"]
        for c in cases:
            needs = ", ".join(c.needs) or "-"
            lines.append(
                f"| {c.id} | {c.title} | {needs} | {_cell(c.sends)} | {_cell(c.expects)} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
