"""Typed errors of the codec. Each carries what the server needs to answer with a fault: the
request header when one could be salvaged, and the SOAP version to answer in."""

from __future__ import annotations

from typing import ClassVar

from xmlvend.codec.envelope import SOAP_1_1, FaultCode, SoapVersion
from xmlvend.codec.types_base import RequestHeader


class CodecError(ValueError):
    """Base class. ``header`` is the salvaged request header (or None).

    ``fault_class`` / ``faultcode`` say how the server answers it (see
    :func:`xmlvend.codec.api.render_codec_error`).
    """

    fault_class: ClassVar[str] = "XMLVendSchemaEx"
    faultcode: ClassVar[FaultCode] = "Client"

    def __init__(
        self,
        message: str,
        *,
        header: RequestHeader | None = None,
        soap_version: SoapVersion = SOAP_1_1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.header = header
        self.soap_version = soap_version


class MalformedRequest(CodecError):
    """Not XML, refused XML (DTD, entities, processing instructions, too big/deep), or not a
    SOAP envelope. Answer: faultcode soap:Client, fault XMLVendSchemaEx."""


class SchemaViolation(CodecError):
    """A well-formed XMLVend request that breaks the (lenient) schema; the message names the
    element and the problem. Answer: faultcode soap:Client, fault XMLVendSchemaEx."""


class UnknownOperation(CodecError):
    """The Body's first element is not an XMLVend request (``element`` is its Clark name).
    Answer: faultcode soap:Client, fault XMLVendSchemaEx (the message is not XMLVend at all;
    known-but-unimplemented requests come back as UnsupportedRequest instead)."""

    def __init__(
        self,
        message: str,
        *,
        element: str,
        header: RequestHeader | None = None,
        soap_version: SoapVersion = SOAP_1_1,
    ) -> None:
        super().__init__(message, header=header, soap_version=soap_version)
        self.element = element


class MalformedResponse(CodecError):
    """Client side: a server's answer we cannot read at all."""
