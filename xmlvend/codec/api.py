"""The codec's entry points: bytes in -> typed objects, typed objects -> bytes.

Server side: :func:`parse_request`, :func:`render_response`, :func:`render_fault`,
:func:`render_last_response_advice`, :func:`render_reprint_response`,
:func:`salvage_header`, :func:`response_header`.
Client side: :func:`render_request`, :func:`parse_response`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from copy import deepcopy
from datetime import UTC, datetime

from lxml import etree

from xmlvend.codec.binding import (
    PREFIXES,
    XSI_TYPE,
    BindingError,
    from_xml,
    local_name,
    lookup_type,
    qname_text,
    render_fields,
    resolve_qname,
    short_name,
    to_xml,
    type_qname,
)
from xmlvend.codec.envelope import (
    ENVELOPE_CLOSE,
    ENVELOPE_OPEN,
    SOAP_1_1,
    EnvelopeError,
    FaultCode,
    SoapVersion,
    add_fault,
    is_fault,
    new_envelope,
    open_envelope,
    read_fault,
    serialize,
    soap_version_of,
)
from xmlvend.codec.errors import (
    CodecError,
    MalformedRequest,
    MalformedResponse,
    SchemaViolation,
    UnknownOperation,
)
from xmlvend.codec.faults import SoapFault, fault_class_named
from xmlvend.codec.lenient import lenient_schema, normalise, validation_error
from xmlvend.codec.messages import (
    REQUEST_ELEMENTS,
    RESPONSE_ELEMENTS,
    UNSUPPORTED_REQUEST_ELEMENTS,
    WITHOUT_CREDENTIALS,
    UnsupportedRequest,
    element_for,
)
from xmlvend.codec.namespaces import BASE, REVENUE
from xmlvend.codec.parser import (
    MAX_ELEMENTS,
    MAX_REQUEST_BYTES,
    MAX_RESPONSE_BYTES,
    XmlRejected,
    parse_document,
)
from xmlvend.codec.plans import compile_all, render_element
from xmlvend.codec.types_base import (
    AuthCred,
    BaseReq,
    BaseResp,
    BaseVendReq,
    BaseVendResp,
    DeviceID,
    EANDeviceID,
    GenericDeviceID,
    MsgID,
    RequestHeader,
    ResponseHeader,
    XMLVendFaultResp,
)
from xmlvend.codec.types_revenue import DepositResp

Request = BaseReq | UnsupportedRequest
Response = BaseResp

_B = f"{{{BASE}}}"
_MSG_MAX = 160  # b:Msg maxLength

log = logging.getLogger("evd.xmlvend.codec")

# Schema-valid stand-ins for header fields we could not read from the request.
PLACEHOLDER_DEVICE_ID = GenericDeviceID(id="UNKNOWN")
PLACEHOLDER_MSG_ID = MsgID(date_time="00000000000000", unique_number="1")


# --------------------------------------------------------------------------------------------
# Server side: requests in


def warm_up() -> None:
    """Compile the lenient input schema for the calling thread now (a few ms), so that the
    first request does not pay for it. Binding specs are built at import."""
    lenient_schema()


def compile_plans() -> int:
    """Compile every class's parse, render and fingerprint plan now (~130 ms for some 275
    classes), so that no request compiles one on the thread that serves it (a few ms for
    each kind's first request). ``evd serve`` calls it at start-up, before the start-up
    heap is frozen. Returns the number of classes."""
    return compile_all(skips=(WITHOUT_CREDENTIALS,))


def parse_request(body: bytes) -> Request:
    """Parse, normalise, validate (lenient schema) and bind one request.

    Dispatches on the QName of the first element child of the SOAP Body (SOAP 1.1 or 1.2).
    Raises :class:`MalformedRequest`, :class:`SchemaViolation` or :class:`UnknownOperation`,
    each carrying the request header when one could be salvaged.
    """
    try:
        root = parse_document(body, max_bytes=MAX_REQUEST_BYTES, max_elements=MAX_ELEMENTS)
    except XmlRejected as exc:
        header = _salvage_broken(body) if exc.salvageable else None
        raise MalformedRequest(str(exc), header=header) from None
    try:
        version, payload = open_envelope(root)
    except EnvelopeError as exc:
        raise MalformedRequest(
            str(exc),
            header=_header_anywhere(root),
            soap_version=soap_version_of(root) or SOAP_1_1,
        ) from None

    entry = REQUEST_ELEMENTS.get(payload.tag)
    if entry is None:
        return _unsupported_or_unknown(payload, version)
    declared = entry[0]
    # lxml makes a python proxy for an element each time one is visited and drops it after:
    # held here, the proxies normalisation makes serve the binding too (~10 % of a parse).
    elements = list(payload.iter())
    dropped = normalise(
        payload, declared, vend_request=issubclass(declared, BaseVendReq), request=True
    )
    error = validation_error(payload)
    if error is not None:
        raise SchemaViolation(error, header=_header_of(payload), soap_version=version)
    try:
        request = from_xml(declared, payload)
    except BindingError as exc:  # only if the schema and the binding disagree
        raise SchemaViolation(str(exc), header=_header_of(payload), soap_version=version) from None
    if version != SOAP_1_1:
        object.__setattr__(request, "soap_version", version)
    if dropped:
        _log_dropped(request, dropped)
    del elements
    return request


def _log_dropped(request: BaseReq, dropped: list[str]) -> None:
    """Deployed clients add vendor elements; ignored, but worth knowing who sends what.
    Element names only: their content may carry anything."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    client = request.header.client_id
    client_id = getattr(client, "ean", None) or getattr(client, "id", None)
    names = ", ".join(short_name(tag) for tag in dropped[:10])
    more = f" and {len(dropped) - 10} more" if len(dropped) > 10 else ""
    log.debug(
        "ignored unknown elements in %s from client %s: %s%s",
        request.operation,
        client_id,
        names,
        more,
    )


def _unsupported_or_unknown(payload: etree._Element, version: SoapVersion) -> Request:
    header = _header_of(payload)
    operation = UNSUPPORTED_REQUEST_ELEMENTS.get(payload.tag)
    if operation is None:
        raise UnknownOperation(
            f"{payload.tag} is not an XMLVend request",
            element=payload.tag,
            header=header,
            soap_version=version,
        )
    if header is None:
        raise SchemaViolation(
            f"{payload.tag}: the request header (clientID, terminalID, msgID) is missing or "
            "invalid",
            soap_version=version,
        )
    return UnsupportedRequest(
        operation=operation, element=payload.tag, header=header, soap_version=version
    )


def salvage_header(body: bytes) -> RequestHeader | None:
    """Best effort: the request header of ``body`` even if the rest is broken, else None.

    Refused documents (DTDs, entities, processing instructions, oversize) yield None.
    """
    try:
        root = parse_document(body, max_bytes=MAX_REQUEST_BYTES, max_elements=MAX_ELEMENTS)
    except XmlRejected as exc:
        return _salvage_broken(body) if exc.salvageable else None
    except TypeError:
        return None
    return _header_anywhere(root)


def _salvage_broken(body: bytes) -> RequestHeader | None:
    try:
        root = parse_document(
            body, max_bytes=MAX_REQUEST_BYTES, max_elements=MAX_ELEMENTS, recover=True
        )
    except XmlRejected:
        return None
    return _header_anywhere(root)


def _header_anywhere(root: etree._Element) -> RequestHeader | None:
    # The request element is the parent of b:msgID, wherever it ended up.
    for msg_id in root.iter(f"{_B}msgID"):
        parent = msg_id.getparent()
        if parent is not None:
            header = _header_of(parent)
            if header is not None:
                return header
    return None


def _header_of(request_el: etree._Element) -> RequestHeader | None:
    """Bind clientID, terminalID, msgID (and authCred) of a request element, leniently."""
    found: dict[str, etree._Element] = {}
    for child in request_el:
        tag = child.tag
        if isinstance(tag, str) and tag.startswith(_B) and tag not in found:
            found[tag] = child
    try:
        values = {}
        for pyname, local, cls in (
            ("client_id", "clientID", DeviceID),
            ("terminal_id", "terminalID", DeviceID),
            ("msg_id", "msgID", MsgID),
        ):
            el = found.get(f"{_B}{local}")
            if el is None:
                return None
            values[pyname] = _bind_device(el) if cls is DeviceID else from_xml(MsgID, el)
        auth = found.get(f"{_B}authCred")
        if auth is not None:
            values["auth_cred"] = _bind_auth(auth)
        header = RequestHeader(**values)
    except BindingError:
        return None
    if header.msg_id.date_time is None or header.msg_id.unique_number is None:
        return None
    return header


def _bind_auth(el: etree._Element) -> AuthCred | None:
    try:
        auth = from_xml(AuthCred, el, lenient=True)
    except BindingError:
        return None
    return auth if auth.op_name is not None else None


def _bind_device(el: etree._Element) -> DeviceID:
    if el.get(XSI_TYPE) is None:
        # Missing xsi:type (normalisation has not run on a broken document).
        if el.get("ean") is not None:
            return EANDeviceID(ean=el.get("ean", ""))
        if el.get("id") is not None:
            return GenericDeviceID(id=el.get("id", ""))
    device = from_xml(DeviceID, el, lenient=True)
    if getattr(device, "ean", "") is None or getattr(device, "id", "") is None:
        raise BindingError("device ID without its value")
    return device


# --------------------------------------------------------------------------------------------
# Server side: responses out


def format_datetime(moment: datetime) -> str:
    """An xs:dateTime for ``respDateTime``: milliseconds and the UTC offset
    (``2025-01-01T12:00:01.000+02:00``). A naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="milliseconds")


def response_header(
    request_header: RequestHeader | None,
    *,
    server_id: DeviceID,
    resp_date_time: str | datetime | None = None,
    disp_header: str | None = None,
    operator_msg: str | None = None,
    cust_msg: str | None = None,
) -> ResponseHeader:
    """The BaseResp header answering ``request_header``.

    Echoes clientID, terminalID and msgID (as reqMsgID) verbatim. Placeholders when the
    request header is unknown: :data:`PLACEHOLDER_DEVICE_ID` (GenericDeviceID "UNKNOWN") for
    clientID/terminalID and :data:`PLACEHOLDER_MSG_ID` (``00000000000000``/``1``) for reqMsgID.
    An ``EANDeviceID`` whose ``ean`` is not 13 digits (accepted leniently on input) is echoed
    as ``GenericDeviceID`` with the same value, so the answer stays schema-valid; a device ID
    longer than ``b:Msg`` allows (salvaged from a refused request) gets the placeholder.
    ``resp_date_time`` defaults to now (UTC).
    """
    if resp_date_time is None:
        resp_date_time = datetime.now(UTC)
    if isinstance(resp_date_time, datetime):
        resp_date_time = format_datetime(resp_date_time)
    if request_header is None:
        client_id: DeviceID = PLACEHOLDER_DEVICE_ID
        terminal_id: DeviceID = PLACEHOLDER_DEVICE_ID
        msg_id = PLACEHOLDER_MSG_ID
    else:
        client_id = _echo_device(request_header.client_id)
        terminal_id = _echo_device(request_header.terminal_id)
        msg_id = request_header.msg_id
    return ResponseHeader(
        client_id=client_id,
        server_id=server_id,
        terminal_id=terminal_id,
        req_msg_id=msg_id,
        resp_date_time=resp_date_time,
        disp_header=disp_header,
        operator_msg=operator_msg,
        cust_msg=cust_msg,
    )


def _echo_device(device: DeviceID) -> DeviceID:
    if isinstance(device, EANDeviceID):
        ean = device.ean
        if not (len(ean) == 13 and ean.isascii() and ean.isdigit()):
            device = GenericDeviceID(id=ean)
    if isinstance(device, GenericDeviceID) and len(device.id) > _MSG_MAX:
        # Salvaged from a refused request: an id b:Msg cannot carry is not echoed.
        return PLACEHOLDER_DEVICE_ID
    return device


def render_response(response: Response, *, soap_version: SoapVersion = SOAP_1_1) -> bytes:
    """A complete SOAP envelope (UTF-8, XML declaration) carrying ``response``.

    Deterministic: the same object always gives the same bytes. Use :func:`render_fault` for
    faults, :func:`render_last_response_advice` / :func:`render_reprint_response` to embed
    stored original responses unchanged.
    """
    if isinstance(response, XMLVendFaultResp):
        raise TypeError("an XMLVendFaultResp travels in a SOAP Fault: use render_fault_response")
    tag, declared = element_for(type(response))
    if not issubclass(declared, BaseResp):
        raise TypeError(f"{type(response).__name__} is not a response")
    return _render_message(response, tag, declared, soap_version)


def _render_message(message: object, tag: str, declared: type, version: SoapVersion) -> bytes:
    envelope_open = ENVELOPE_OPEN[version]
    payload = render_element(message, short_name(tag), declared)
    return f"{envelope_open}{payload}{ENVELOPE_CLOSE}".encode()


def render_fault(
    fault_class: str,
    desc: str,
    *,
    header: ResponseHeader | None,
    faultcode: FaultCode = "Server",
    faultstring: str | None = None,
    faultactor: str | None = None,
    server_id: DeviceID | None = None,
    soap_version: SoapVersion = SOAP_1_1,
) -> bytes:
    """A SOAP Fault whose detail is ``b:xmlvendFaultResp`` with the full BaseResp header and
    ``b:fault xsi:type="<fault_class>"``.

    ``fault_class``: a concrete class of reference §4.1 (``"VendorCreditEx"``) or ours
    (``"DuplicateMsgIDEx"``, ``"TransactionDelayedEx"``; ``ext:`` prefix optional).
    ``header=None`` uses :func:`response_header` placeholders (``server_id`` or
    GenericDeviceID "UNKNOWN" as serverID, now as respDateTime). ``desc`` is cut to the
    160 characters b:Msg allows; ``faultstring`` defaults to ``desc``. ``faultcode``:
    "Client" (the request was at fault: malformed, schema) or "Server" (everything else);
    in SOAP 1.2 they become Sender/Receiver.
    """
    cls = fault_class_named(fault_class)
    if header is None:
        header = response_header(None, server_id=server_id or PLACEHOLDER_DEVICE_ID)
    fault_resp = XMLVendFaultResp(header=header, fault=cls(desc=desc[:_MSG_MAX]))
    return render_fault_response(
        fault_resp,
        faultcode=faultcode,
        faultstring=desc if faultstring is None else faultstring,
        faultactor=faultactor,
        soap_version=soap_version,
    )


def render_codec_error(
    error: CodecError | UnsupportedRequest,
    *,
    server_id: DeviceID,
    resp_date_time: str | datetime | None = None,
) -> bytes:
    """The fault answering a parse error or an :class:`UnsupportedRequest`: its
    ``fault_class`` and ``faultcode``, the salvaged header echoed (placeholders otherwise),
    in the SOAP version the request came in."""
    if isinstance(error, UnsupportedRequest):
        desc = f"The {error.operation} use case is not supported by this server"
    else:
        desc = error.message
    header = response_header(error.header, server_id=server_id, resp_date_time=resp_date_time)
    return render_fault(
        error.fault_class,
        desc,
        header=header,
        faultcode=error.faultcode,  # type: ignore[arg-type]
        faultstring=desc,
        soap_version=error.soap_version,
    )


def render_fault_response(
    fault_resp: XMLVendFaultResp,
    *,
    faultcode: FaultCode = "Server",
    faultstring: str,
    faultactor: str | None = None,
    soap_version: SoapVersion = SOAP_1_1,
) -> bytes:
    """Like :func:`render_fault`, from a ready :class:`XMLVendFaultResp`."""
    envelope, body = new_envelope(soap_version)
    detail = add_fault(
        body, soap_version, faultcode=faultcode, faultstring=faultstring, faultactor=faultactor
    )
    to_xml(fault_resp, detail, f"{_B}xmlvendFaultResp", XMLVendFaultResp)
    return serialize(envelope)


def render_last_response_advice(
    header: ResponseHeader,
    advice_req_msg_id: MsgID,
    original_response: bytes,
    *,
    soap_version: SoapVersion = SOAP_1_1,
) -> bytes:
    """``b:adviceResp xsi:type="b:LastRespAdviceResp"`` embedding the stored original response.

    ``original_response`` is the complete envelope we sent originally (a SOAP Fault is fine:
    its xmlvendFaultResp is embedded). Its content goes into ``b:lastResponse`` unchanged
    (original reqMsgID, respDateTime, receipt, tokens) with ``xsi:type`` = the original
    response type (e.g. ``r:CreditVendResp``).
    """
    envelope, body = new_envelope(soap_version)
    advice = etree.SubElement(body, f"{_B}adviceResp")
    advice.set(XSI_TYPE, "b:LastRespAdviceResp")
    render_fields(header, advice)
    to_xml(advice_req_msg_id, advice, f"{_B}adviceReqMsgID")
    original, type_qname_ = _stored_response(original_response)
    _embed(original, advice, f"{_B}lastResponse", type_qname_)
    return serialize(envelope)


def render_reprint_response(
    header: ResponseHeader,
    original_responses: Sequence[bytes],
    *,
    soap_version: SoapVersion = SOAP_1_1,
) -> bytes:
    """``r:reprintResp`` with one ``r:reprint`` per stored original vend response (oldest
    first, as given), each unchanged with ``xsi:type`` = its original type."""
    if not original_responses:
        raise ValueError("a reprint response needs at least one original response")
    envelope, body = new_envelope(soap_version)
    reprint = etree.SubElement(body, f"{{{REVENUE}}}reprintResp")
    render_fields(header, reprint)
    for stored in original_responses:
        original, qname = _stored_response(stored)
        cls = lookup_type(*qname)
        if cls is None or not issubclass(cls, BaseVendResp):
            raise ValueError(f"{qname} is not a vend response and cannot be reprinted")
        _embed(original, reprint, f"{{{REVENUE}}}reprint", qname)
    return serialize(envelope)


def render_reprint_deposit_response(
    header: ResponseHeader,
    original_responses: Sequence[bytes],
    *,
    soap_version: SoapVersion = SOAP_1_1,
) -> bytes:
    """``r:reprintDepResp`` with one ``r:reprint`` per stored original ``depositResp``
    (oldest first, as given), each unchanged: its original msgID, date and slip."""
    if not original_responses:
        raise ValueError("a deposit slip reprint needs at least one original response")
    envelope, body = new_envelope(soap_version)
    reprint = etree.SubElement(body, f"{{{REVENUE}}}reprintDepResp")
    render_fields(header, reprint)
    for stored in original_responses:
        original, qname = _stored_response(stored)
        cls = lookup_type(*qname)
        if cls is None or not issubclass(cls, DepositResp):
            raise ValueError(f"{qname} is not a deposit slip and cannot be reprinted")
        _embed(original, reprint, f"{{{REVENUE}}}reprint", qname)
    return serialize(envelope)


def _stored_response(stored: bytes) -> tuple[etree._Element, tuple[str, str]]:
    """(response element, its type QName) of one of our stored response envelopes."""
    try:
        root = parse_document(stored, max_bytes=MAX_RESPONSE_BYTES)
        _, payload = open_envelope(root)
    except (XmlRejected, EnvelopeError) as exc:
        raise ValueError(f"stored response unreadable: {exc}") from None
    if is_fault(payload):
        detail = read_fault(payload)[3]
        found = None if detail is None else detail.find(f"{_B}xmlvendFaultResp")
        if found is None:
            raise ValueError("stored fault has no xmlvendFaultResp")
        return found, type_qname(XMLVendFaultResp)
    xsi_type = payload.get(XSI_TYPE)
    if xsi_type is not None:
        uri, local = resolve_qname(payload, xsi_type)
        if uri is None:
            raise ValueError(f"stored response has an unresolvable xsi:type {xsi_type!r}")
        return payload, (uri, local)
    declared = RESPONSE_ELEMENTS.get(payload.tag)
    if declared is None:
        raise ValueError(f"stored document is not an XMLVend response: {payload.tag}")
    return payload, type_qname(declared)


_OUR_PREFIX = {uri: prefix for prefix, uri in PREFIXES.items()}


def _embed(
    original: etree._Element, parent: etree._Element, tag: str, qname: tuple[str, str]
) -> None:
    """Append ``tag`` to ``parent`` with the attributes and children of ``original`` (its
    content, unchanged) and ``xsi:type`` = ``qname``.

    xsi:type values inside are re-written against our fixed prefixes (they are QNames: the
    prefixes of the original document are not in scope here)."""
    el = etree.SubElement(parent, tag)
    for name, value in original.attrib.items():
        if name != XSI_TYPE:
            el.set(name, value)
    el.set(XSI_TYPE, qname_text(qname))
    el.text = original.text
    for child in original:
        if not isinstance(child.tag, str):
            continue
        copy = deepcopy(child)
        el.append(copy)
        for src, dst in zip(child.iter(), copy.iter(), strict=True):
            value = src.get(XSI_TYPE)
            if value is None:
                continue
            uri, local = resolve_qname(src, value)
            prefix = _OUR_PREFIX.get(uri or "")
            if prefix is not None:
                dst.set(XSI_TYPE, f"{prefix}:{local}")
            # else: a foreign type; deepcopy kept the declarations made on the copied
            # elements themselves, which is where foreign servers put them.


# --------------------------------------------------------------------------------------------
# Client side


def render_request(request: BaseReq) -> bytes:
    """A complete SOAP envelope (in ``request.soap_version``) carrying ``request``; strictly
    schema-valid when the request's values are."""
    if isinstance(request, UnsupportedRequest):
        raise TypeError("an UnsupportedRequest cannot be rendered")
    tag, declared = element_for(type(request))
    if issubclass(declared, BaseResp):
        raise TypeError(f"{type(request).__name__} is not a request")
    return _render_message(request, tag, declared, request.soap_version)


def parse_response(body: bytes) -> Response | SoapFault:
    """Read a server's answer leniently: SOAP 1.1 or 1.2, vendor additions skipped, missing
    required values left as None, unqualified/capitalised ``XMLVendFaultResp`` understood.

    Returns the bound response, or a :class:`SoapFault` for a SOAP Fault. Raises
    :class:`MalformedResponse` when there is nothing usable.
    """
    try:
        root = parse_document(body, max_bytes=MAX_RESPONSE_BYTES)
        version, payload = open_envelope(root)
    except (XmlRejected, EnvelopeError) as exc:
        raise MalformedResponse(str(exc)) from None
    if is_fault(payload):
        return _read_soap_fault(payload, version)
    declared = RESPONSE_ELEMENTS.get(payload.tag) or _response_by_local_name(payload.tag)
    if declared is None:
        raise MalformedResponse(f"{payload.tag} is not an XMLVend response", soap_version=version)
    normalise(payload, declared, vend_request=False)  # fills missing xsi:types, drops vendor tails
    try:
        response = from_xml(declared, payload, lenient=True)
    except BindingError as exc:
        raise MalformedResponse(str(exc), soap_version=version) from None
    if isinstance(response, XMLVendFaultResp):  # a bare fault response outside soap:Fault
        return SoapFault(soap_version=version, faultcode="", faultstring="", detail=response)
    return response


def _response_by_local_name(tag: str) -> type | None:
    local = local_name(tag).lower()
    for clark, cls in RESPONSE_ELEMENTS.items():
        if local_name(clark).lower() == local:
            return cls
    return None


def _read_soap_fault(payload: etree._Element, version: SoapVersion) -> SoapFault:
    faultcode, faultstring, faultactor, detail = read_fault(payload)
    fault_resp = None
    vendor_code = None
    if detail is not None:
        for child in detail:
            if isinstance(child.tag, str) and local_name(child.tag).lower() == "xmlvendfaultresp":
                normalise(child, XMLVendFaultResp, vend_request=False)
                try:
                    bound = from_xml(XMLVendFaultResp, child, lenient=True)
                except BindingError:
                    bound = None
                fault_resp = bound if isinstance(bound, XMLVendFaultResp) else None
                for el in child.iter():
                    if isinstance(el.tag, str) and local_name(el.tag) == "faultCode":
                        vendor_code = (el.text or "").strip() or None
                        break
                break
    return SoapFault(
        soap_version=version,
        faultcode=faultcode,
        faultstring=faultstring,
        faultactor=faultactor,
        detail=fault_resp,
        vendor_fault_code=vendor_code,
    )
