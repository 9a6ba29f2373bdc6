"""XMLVend 2.1 (NRS 009-6-10) codec, sans-IO: bytes in -> typed objects, typed objects ->
bytes. No sockets, no Twisted, no database: pure functions over bytes and frozen dataclasses
(only lxml and the standard library).

Server side (call :func:`warm_up` once per thread at start-up)::

    request = parse_request(body)   # a BaseReq subclass, or UnsupportedRequest
    request.operation               # "creditVend", "lastRespAdvice", ...
    request.header                  # RequestHeader(client_id, terminal_id, msg_id, auth_cred)
    request.header.msg_id           # MsgID(date_time, unique_number): raw wire strings
    request.fingerprint             # bytes: canonical content without authCred
    request.soap_version            # "1.1" or "1.2": answer in the same version

    header = response_header(request.header, server_id=EANDeviceID(ean=...))
    render_response(CreditVendResp(header=header, ...), soap_version=request.soap_version)
    render_fault("VendorCreditEx", "Insufficient vendor credit", header=header)
    render_last_response_advice(header, advice.advice_req_msg_id, stored_original_bytes)
    render_reprint_response(header, [stored_bytes, ...])
    salvage_header(body)            # best effort, for faults on broken input

Errors of :func:`parse_request` (all carry ``.header`` when salvageable and
``.soap_version``): :class:`MalformedRequest` and :class:`SchemaViolation` (answer
faultcode Client + XMLVendSchemaEx), :class:`UnknownOperation` (not an XMLVend request:
Client + XMLVendSchemaEx). :class:`UnsupportedRequest` is returned, not raised, for
catalogue requests we do not implement (Server + UseCaseSupportEx). Each carries
``fault_class``/``faultcode``; ``render_codec_error(error, server_id=...)`` renders the
answer.

Client side (our upstream client, the conformance kit, ``evd client``)::

    render_request(CreditVendReq(header=RequestHeader(...), ...))   # strict SOAP 1.1 bytes
    parse_response(body)            # a BaseResp subclass or a SoapFault (lenient)

Modules: ``binding`` (generic dataclass <-> XML), ``types_base`` / ``types_revenue`` /
``types_meter`` / ``types_ext`` (one dataclass per complexType), ``messages`` (element
catalogue, operations, fingerprints), ``parser`` (hardened parsing), ``envelope`` (SOAP
1.1/1.2), ``lenient`` (what we accept beyond the schema, and why), ``faults``, ``errors``,
``canonical`` (prefix-independent comparison), ``plans`` (renderers, canonical texts and
strict binders compiled per class from the binding specs: the hot paths), ``api`` (the
entry points above), ``schema`` (the strict XSD set; owned by the schema files).
"""

from xmlvend.codec.api import (
    PLACEHOLDER_DEVICE_ID,
    PLACEHOLDER_MSG_ID,
    Request,
    Response,
    compile_plans,
    format_datetime,
    parse_request,
    parse_response,
    render_codec_error,
    render_fault,
    render_fault_response,
    render_last_response_advice,
    render_reprint_deposit_response,
    render_reprint_response,
    render_request,
    render_response,
    response_header,
    salvage_header,
    warm_up,
)
from xmlvend.codec.envelope import CONTENT_TYPE, SOAP_1_1, SOAP_1_2, SoapVersion
from xmlvend.codec.errors import (
    CodecError,
    MalformedRequest,
    MalformedResponse,
    SchemaViolation,
    UnknownOperation,
)
from xmlvend.codec.faults import FAULT_CLASSES, SoapFault, fault_class_named
from xmlvend.codec.messages import UnsupportedRequest
from xmlvend.codec.types_base import MsgID, RequestHeader, ResponseHeader

__all__ = [
    "CONTENT_TYPE",
    "FAULT_CLASSES",
    "PLACEHOLDER_DEVICE_ID",
    "PLACEHOLDER_MSG_ID",
    "SOAP_1_1",
    "SOAP_1_2",
    "CodecError",
    "MalformedRequest",
    "MalformedResponse",
    "MsgID",
    "Request",
    "RequestHeader",
    "Response",
    "ResponseHeader",
    "SchemaViolation",
    "SoapFault",
    "SoapVersion",
    "UnknownOperation",
    "UnsupportedRequest",
    "compile_plans",
    "fault_class_named",
    "format_datetime",
    "parse_request",
    "parse_response",
    "render_codec_error",
    "render_fault",
    "render_fault_response",
    "render_last_response_advice",
    "render_reprint_deposit_response",
    "render_reprint_response",
    "render_request",
    "render_response",
    "response_header",
    "salvage_header",
    "warm_up",
]
