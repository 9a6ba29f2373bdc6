"""The wire: the WSDL, HTTP details (SOAPAction, gzip), malformed and hostile requests,
TLS client certificates (reference §1.3, §6, §9.2)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tools.conformance import builders, malformed
from tools.conformance.cases_faults import UNKNOWN_CLIENT_EAN
from tools.conformance.checks import (
    check,
    check_envelope,
    expect_fault,
    expect_response,
    fail,
)
from tools.conformance.session import LogEntry, Session, Skip
from tools.conformance.transport import TLSFiles, TransportError
from xmlvend.codec import render_request
from xmlvend.codec.schema import SERVICE_NS
from xmlvend.codec.types_base import EANDeviceID, RequestHeader
from xmlvend.codec.types_revenue import ConfirmCustomerResp, CreditVendReq

SCHEMA_FAULT = {"XMLVendSchemaEx"}

# --------------------------------------------------------------------------------------------
# WSDL and HTTP


def wsdl_document(s: Session) -> str:
    info = s.wsdl
    if info.problem is not None:
        fail(f"WSDL at {info.url}: {info.problem}")
    check(
        info.target_namespace == SERVICE_NS,
        f"WSDL targetNamespace {info.target_namespace!r}, expected {SERVICE_NS}",
    )
    check(bool(info.operations), "the WSDL binds no XMLVend operation")
    check(
        not info.unknown_operations,
        f"operations with non-XMLVend input elements: {', '.join(info.unknown_operations)}",
    )
    check(info.document_literal, "the SOAP binding is not document/literal")
    check(bool(info.soap_address), "the WSDL has no soap:address")
    from tools.conformance.catalogue import CATALOGUE  # the catalogue imports this module

    covered = {operation for case in CATALOGUE for operation in case.needs}
    uncovered = sorted(set(info.operations) - covered)
    note = f"{len(info.operations)} operations: {', '.join(sorted(info.operations))}"
    if uncovered:  # say so: a PASS must not suggest they were tested
        note += f"; not exercised by this kit: {', '.join(uncovered)}"
    return note


def _confirm(s: Session, label: str, **post_options: object):  # type: ignore[no-untyped-def]
    request = builders.confirm_customer(s.header(), s.meter("normal"))
    reply = s.exchange(request, label=label, **post_options)
    expect_response(reply, ConfirmCustomerResp, what=label)
    return reply


def no_soap_action(s: Session) -> str:
    _confirm(s, "confirmCustomerReq without SOAPAction", soap_action=None)
    return "answered without a SOAPAction header"


def any_soap_action(s: Session) -> str:
    for value in ('"urn:not-an-operation"', "CreditVendRequest"):
        _confirm(s, f"confirmCustomerReq with SOAPAction {value}", soap_action=value)
    return "SOAPAction ignored"


def gzip_response(s: Session) -> str:
    reply = _confirm(s, "confirmCustomerReq (Accept-Encoding: gzip)", accept_gzip=True)
    encoding = reply.http.content_encoding
    check(encoding == "gzip", f"Accept-Encoding: gzip answered with {encoding or 'identity'}")
    return "gzip response"


def identity_unless_asked(s: Session) -> str:
    reply = _confirm(s, "confirmCustomerReq (no Accept-Encoding)", accept_gzip=False)
    check(
        reply.http.content_encoding in ("", "identity"),
        f"the server sent {reply.http.content_encoding} although the client did not accept it",
    )
    return "plain response"


def gzip_request(s: Session) -> str:
    _confirm(s, "confirmCustomerReq (gzip body)", gzip_body=True)
    return "gzip request body understood"


# --------------------------------------------------------------------------------------------
# Malformed and hostile requests: a client fault, never a crash


def _client_fault(s: Session, body: bytes, label: str, *, sent: RequestHeader | None = None) -> str:
    """A soap:Client XMLVendSchemaEx; with ``sent``, the intact header must be echoed."""
    reply = s.exchange_raw(body, sent, label=label)
    name = expect_fault(reply, SCHEMA_FAULT, what=label)
    return f"{reply.fault.faultcode} {name}"  # type: ignore[union-attr]


def _vend_request(s: Session) -> CreditVendReq:
    return builders.credit_vend(s.header(), s.meter("normal"), s.profile.amount, s.profile.currency)


def not_well_formed(s: Session) -> str:
    return _client_fault(s, malformed.truncated(_vend_request(s)), "truncated creditVendReq")


def wrong_namespace(s: Session) -> str:
    body = malformed.in_wrong_namespace(_vend_request(s))
    return _client_fault(s, body, "creditVendReq in the 2.0 namespaces")


def external_entity(s: Session) -> str:
    body = malformed.with_external_entity(_vend_request(s))
    result = _client_fault(s, body, "creditVendReq with an external entity")
    marker = Path("/etc/hostname")
    secret = marker.read_text().strip() if marker.exists() else ""
    if len(secret) >= 4:
        check(secret.encode() not in s.log[-1].response, "the answer contains the entity's file")
    return result


def missing_element(s: Session) -> str:
    request = _vend_request(s)
    body = malformed.without_child(request, "purchaseValue")
    return _client_fault(s, body, "creditVendReq without purchaseValue", sent=request.header)


def invalid_value(s: Session) -> str:
    request = _vend_request(s)
    body = malformed.with_attribute(request, "amt", "value", "ten rand")
    return _client_fault(s, body, 'creditVendReq with amt value="ten rand"', sent=request.header)


def not_soap(s: Session) -> str:
    return _client_fault(s, malformed.not_soap(_vend_request(s)), "creditVendReq without envelope")


def empty_body(s: Session) -> str:
    return _client_fault(s, malformed.empty_soap_body(), "empty soap:Body")


def unknown_element(s: Session) -> str:
    body = malformed.renamed_element(_vend_request(s), "buyEverythingReq")
    return _client_fault(s, body, "r:buyEverythingReq")


def oversized(s: Session) -> str:
    body = malformed.oversized(_vend_request(s))
    label = f"creditVendReq padded to {len(body) // 1024} KiB"
    result = s.post(body, label=label)
    if result.status == 413:
        return "HTTP 413"
    reply = s.read(result, label=label)
    try:
        check_envelope(reply, None)
    except AssertionError as exc:
        fail(f"{label}: {exc}")
    check(reply.is_fault, f"{label}: the oversized request was processed ({reply.describe()})")
    return f"fault {reply.fault.class_name}"  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------
# TLS client certificates


def _needs_client_cert(s: Session) -> None:
    if not s.profile.url.startswith("https://") or not s.profile.tls.has_client_cert:
        raise Skip("needs an https URL and a client certificate (--cert/--key)")


def cert_matches(s: Session) -> str:
    _needs_client_cert(s)
    _confirm(s, "confirmCustomerReq with the client's certificate")
    return "the certificate's clientID is accepted"


def cert_for_other_client(s: Session) -> str:
    _needs_client_cert(s)
    other = s.profile.other_client
    if other is not None and other.client_id != s.profile.client.client_id:
        header = s.header(other)
    else:
        header = dataclasses.replace(s.header(), client_id=EANDeviceID(ean=UNKNOWN_CLIENT_EAN))
    request = builders.confirm_customer(header, s.meter("normal"))
    label = f"confirmCustomerReq as {header.client_id.ean} over our certificate"  # type: ignore[attr-defined]
    reply = s.exchange(request, label=label, client=s.http)
    return expect_fault(reply, {"ClientIDSSLEx"}, what="clientID not in the certificate")


def no_client_cert(s: Session) -> str:
    _needs_client_cert(s)
    anonymous = s.http.with_tls(TLSFiles(ca=s.profile.tls.ca))
    request = builders.confirm_customer(s.header(), s.meter("normal"))
    body = render_request(request)
    label = "confirmCustomerReq without a client certificate"
    try:
        result = anonymous.post(body, timeout=min(s.profile.timeout, max(s.remaining(), 0.1)))
    except TransportError as exc:
        s.log.append(LogEntry(label, body, None, b"", str(exc)))
        return f"refused at the TLS layer ({exc})"
    s.log.append(LogEntry(label, body, result.status, result.body))
    reply = s.read(result, label=label)
    return expect_fault(
        reply,
        {"ClientIDSSLEx", "RequestAuthorisationEx", "ClientIDAuthorisationEx"},
        what="no client certificate",
    )
