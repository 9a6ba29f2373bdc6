"""XMLVend fault classes by name, and the client-side view of a received SOAP Fault."""

from __future__ import annotations

import dataclasses

from xmlvend.codec import types_base as b
from xmlvend.codec import types_ext  # noqa: F401  (registers the ext fault classes)
from xmlvend.codec.binding import all_types, is_abstract, type_qname
from xmlvend.codec.envelope import SoapVersion
from xmlvend.codec.namespaces import BASE, EXT


def _concrete_faults() -> dict[str, type[b.Fault]]:
    found: dict[str, type[b.Fault]] = {}
    # Standard classes first, so that a bare name always means the b: class.
    for (ns, name), cls in sorted(all_types().items(), key=lambda kv: kv[0][0] != BASE):
        if isinstance(cls, type) and issubclass(cls, b.Fault) and not is_abstract(cls):
            found.setdefault(name, cls)
            prefix = "b" if ns == BASE else "ext" if ns == EXT else None
            if prefix:
                found[f"{prefix}:{name}"] = cls
    return found


# "VendorCreditEx", "b:VendorCreditEx", "DuplicateMsgIDEx", "ext:DuplicateMsgIDEx", ...
FAULT_CLASSES: dict[str, type[b.Fault]] = _concrete_faults()

# The faults the server maps its failures to most often.
SCHEMA_FAULT = "XMLVendSchemaEx"  # soap:Client: malformed or schema-invalid request
UNSUPPORTED_FAULT = "UseCaseSupportEx"
DUPLICATE_FAULT = "DuplicateMsgIDEx"  # ours: same msgID, different request
DELAYED_FAULT = "TransactionDelayedEx"  # ours: still in progress, ask with a last-response advice


def fault_class_named(name: str) -> type[b.Fault]:
    """The concrete fault class for ``name`` (``"VendorCreditEx"`` or ``"ext:..."``)."""
    try:
        return FAULT_CLASSES[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a concrete XMLVend fault class") from None


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class SoapFault:
    """A SOAP Fault received from a server (client side).

    ``detail`` is the bound ``xmlvendFaultResp`` when the server sent one (its header may be
    ``None``: Hexing omits it). ``vendor_fault_code`` is Hexing's non-standard
    ``b:fault/b:faultCode`` (e.g. ``VD.17020012``), kept because clients map on it.
    """

    soap_version: SoapVersion
    faultcode: str  # as written, e.g. "soap:Server"
    faultstring: str
    faultactor: str | None = None
    detail: b.XMLVendFaultResp | None = None
    vendor_fault_code: str | None = None

    @property
    def code(self) -> str:
        """The faultcode's local part: Client/Server (1.1) or Sender/Receiver (1.2)."""
        return self.faultcode.rpartition(":")[2]

    @property
    def fault_class(self) -> str | None:
        """The xsi:type name of ``detail.fault`` (e.g. ``"UnknownMeterEx"``), if any."""
        if self.detail is None or self.detail.fault is None:
            return None
        return type_qname(type(self.detail.fault))[1]

    @property
    def desc(self) -> str | None:
        if self.detail is None or self.detail.fault is None:
            return None
        return self.detail.fault.desc
