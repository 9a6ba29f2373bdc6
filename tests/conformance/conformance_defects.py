"""The defects of the deliberately broken servers (see conformance_proxy.py): each breaks
exactly one rule of XMLVend, on the way in (``request``) or out (``response``)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from conformance_proxy import Defect, Exchange, element_of, is_fault

from xmlvend.codec import render_fault, response_header, salvage_header
from xmlvend.codec.types_base import EANDeviceID

CIPHER = re.compile(rb"(<(?:\w+:)?stsCipher>)(\d{20})(</)")
UNIQUE = re.compile(rb'uniqueNumber="(\d+)"')


def replace_in_responses(
    pattern: bytes,
    replacement: bytes | Callable[[re.Match[bytes]], bytes],
    element: str | None = None,
    *,
    count: int = 1,
) -> Defect:
    """Rewrite the first ``count`` matches (0: all) in the answers (to ``element`` only)."""

    class Rewrite(Defect):
        def response(self, exchange: Exchange) -> None:
            if exchange.method == "POST" and element in (None, element_of(exchange.request)):
                exchange.response = re.sub(pattern, replacement, exchange.response, count=count)

    return Rewrite()


def other_digit(match: re.Match[bytes]) -> bytes:
    """The match with its last character (a digit) changed."""
    text = match.group(0)
    return text[:-1] + str((int(text[-1:]) + 1) % 10).encode()


class ReplayChangesToken(Defect):
    """The second time a request arrives, its (replayed) token comes back altered."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()

    def response(self, exchange: Exchange) -> None:
        if exchange.request in self.seen:
            exchange.response = CIPHER.sub(
                lambda m: m.group(1) + m.group(2)[::-1] + m.group(3), exchange.response, count=1
            )
        self.seen.add(exchange.request)


class NoDuplicateDetection(Defect):
    """A msgID seen before is replaced by a fresh one on the way in (so the server processes
    the request again) and restored in the answer: a server without idempotency."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self.counter = 900_000
        self.renamed: bytes | None = None

    def request(self, exchange: Exchange) -> None:
        self.renamed = None
        if element_of(exchange.request) != "creditVendReq":
            return
        match = UNIQUE.search(exchange.request)
        assert match is not None
        if match.group(1) in self.seen:
            self.counter += 1
            self.renamed = match.group(1)
            exchange.request = UNIQUE.sub(
                f'uniqueNumber="{self.counter}"'.encode(), exchange.request, count=1
            )
        self.seen.add(match.group(1))

    def response(self, exchange: Exchange) -> None:
        if self.renamed is not None:
            exchange.response = exchange.response.replace(
                f'uniqueNumber="{self.counter}"'.encode(), b'uniqueNumber="' + self.renamed + b'"'
            )


class LastResponseAlwaysMissing(Defect):
    """Every last-response advice is answered LastResponseEx, although the vend exists."""

    def response(self, exchange: Exchange) -> None:
        if b"LastRespAdviceReq" in exchange.request:
            header = response_header(
                salvage_header(exchange.request), server_id=EANDeviceID(ean="6004708000007")
            )
            exchange.response = render_fault("LastResponseEx", "no such transaction", header=header)
            exchange.status = 500


class TrialSellsForReal(Defect):
    """A trial vend is processed as a real sale (money moves) but looks like a trial: the
    answer is renamed and (unless ``zero_tokens`` is off) its tokens zeroed, so that only
    the balance shows it."""

    def __init__(self, *, zero_tokens: bool = True) -> None:
        self.zero_tokens = zero_tokens

    def request(self, exchange: Exchange) -> None:
        if element_of(exchange.request) == "trialCreditVendReq":
            exchange.notes["trial"] = True
            exchange.request = exchange.request.replace(b"trialCreditVendReq", b"creditVendReq")

    def response(self, exchange: Exchange) -> None:
        if exchange.notes.get("trial"):
            body = exchange.response.replace(b"creditVendResp", b"trialCreditVendResp")
            if self.zero_tokens:
                body = CIPHER.sub(lambda m: m.group(1) + b"0" * 20 + m.group(3), body)
            exchange.response = body


class FaultsAnsweredWith200(Defect):
    def response(self, exchange: Exchange) -> None:
        if is_fault(exchange.response):
            exchange.status = 200


class CrashOnBrokenXml(Defect):
    """Malformed requests get an HTML error page, as from a crashed handler."""

    def response(self, exchange: Exchange) -> None:
        if b"XMLVendSchemaEx" in exchange.response:
            exchange.status = 500
            exchange.response = b"<html><body>Internal Server Error</body></html>"
            exchange.headers["Content-Type"] = "text/html"


class ProcessesOversizedRequests(Defect):
    """Padding is stripped before the server sees it: the oversized request is processed."""

    def request(self, exchange: Exchange) -> None:
        if len(exchange.request) > 1_000_000:
            exchange.request = re.sub(rb"\s{1000,}", b"", exchange.request)


class NeedsSoapAction(Defect):
    """Dispatches on SOAPAction: a request without one is refused."""

    def response(self, exchange: Exchange) -> None:
        if exchange.method == "POST" and "soapaction" not in exchange.request_headers:
            exchange.status = 400
            exchange.response = b"SOAPAction required"
            exchange.headers["Content-Type"] = "text/plain"


class NeverGzip(Defect):
    """Ignores Accept-Encoding: gzip."""

    def request(self, exchange: Exchange) -> None:
        exchange.request_headers.pop("accept-encoding", None)


class SlowVends(Defect):
    """Credit vends are answered after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def response(self, exchange: Exchange) -> None:
        if exchange.method == "POST" and element_of(exchange.request) == "creditVendReq":
            time.sleep(self.seconds)


class WsdlOfAnotherService(Defect):
    def response(self, exchange: Exchange) -> None:
        if exchange.method == "GET":
            exchange.response = exchange.response.replace(
                b'targetNamespace="http://www.nrs.eskom.co.za/xmlvend/service/2.1"',
                b'targetNamespace="urn:some-other-service"',
            )


class HidesCreditVend(Defect):
    """The WSDL does not advertise CreditVendRequest (a server without the operation)."""

    def response(self, exchange: Exchange) -> None:
        if exchange.method == "GET":
            exchange.response = re.sub(
                rb"<wsdl:operation name=\"CreditVendRequest\">.*?</wsdl:operation>",
                b"",
                exchange.response,
                flags=re.S,
            )
