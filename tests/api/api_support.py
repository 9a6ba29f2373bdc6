"""The JSON API test world: the XMLVend test world's data and server, the JSON API mounted
at /api in its Site (as ``evd serve`` does), an in-memory HTTP client whose every answer is
validated against the served OpenAPI document, and an in-memory webhook receiver."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import jsonschema
from fixed_clock import NOW
from server_support import (
    CAFE,
    MemoryTransport,
    World,
    build_world,
    parse_http,
)
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred

from jsonapi.app import JsonApiMount, build_json_api
from jsonapi.openapi import DOCUMENT
from jsonapi.renderer import JsonCall
from jsonapi.webhooks import verify_signature
from vending.api_keys import create_api_key
from vending.ledger import verify_ledger
from vending.money import Money
from vending.requests import RequestKey
from vending.services.context import RequestContext
from vending.storage.schema import sales
from xmlvend.server.mounts import mount

BASE = "/api/v1"
# Answers that carry a PIN by design: a sale's, and a bulk batch's results (its vouchers).
_SALE_ANSWER = re.compile(r"^/api/v1/(sales(/by-key/[^/?]+|/[0-9]+)?|bulk/[0-9]+/results)$")


# --- validation of every answer against the OpenAPI document ----------------------------------


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")


_PATHS = [(template, _template_regex(BASE + template)) for template in DOCUMENT["paths"]]


_PROBLEM = ("application/problem+json", {"$ref": "#/components/schemas/Problem"})


def _response_schema(method: str, path: str, status: int) -> tuple[str, dict[str, Any] | None]:
    for template, pattern in _PATHS:
        if pattern.match(path):
            operation = DOCUMENT["paths"][template].get(method.lower())
            if operation is None:  # a method the path does not have: 405, a problem
                assert status == 405, f"{method} {template} is not in the document"
                return _PROBLEM
            responses = operation["responses"]
            response = responses.get(str(status)) or responses["default"]
            if str(status) not in responses:
                assert status >= 400, f"{method} {template}: {status} is not documented"
            content = response.get("content") or {}
            if not content:
                return "", None
            media, spec = next(iter(content.items()))
            return media, spec.get("schema")
    assert status == 404, f"{path} matches no documented path"
    return _PROBLEM


def check_against_document(method: str, path: str, response: Response) -> None:
    media, schema = _response_schema(method, path.partition("?")[0], response.status)
    if response.status == 204:
        assert response.body == b""
        return
    assert response.headers.get("content-type") == media, (media, response.headers)
    if schema is None:
        return
    root = {**schema, "components": DOCUMENT["components"]}
    jsonschema.validate(
        response.json(),
        root,
        cls=jsonschema.Draft202012Validator,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


# --- in-memory HTTP ------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def problem_type(self) -> str | None:
        if self.headers.get("content-type") != "application/problem+json":
            return None
        return self.json()["type"].rsplit("/", 1)[1]


class Client:
    """Requests to the world's Site over in-memory connections."""

    def __init__(self, world: ApiWorld) -> None:
        self.world = world

    def open(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        key: str | None = None,
        idempotency_key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[MemoryTransport, Any]:
        transport = MemoryTransport()
        protocol = self.world.xml.server.site.buildProtocol(IPv4Address("TCP", "10.0.0.7", 5000))
        protocol.makeConnection(transport)
        data = raw if raw is not None else b"" if body is None else json.dumps(body).encode()
        all_headers = {"Host": "vend.example:8080", "Content-Length": str(len(data))}
        if data:
            all_headers["Content-Type"] = "application/json"
        if key is not None:
            all_headers["Authorization"] = f"Bearer {key}"
        if idempotency_key is not None:
            all_headers["Idempotency-Key"] = idempotency_key
        all_headers.update(headers or {})
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in all_headers.items()
        )
        protocol.dataReceived(head.encode("latin-1") + b"\r\n" + data)
        return transport, protocol

    def answer(self, method: str, path: str, transport: MemoryTransport) -> Response:
        found = parse_http(transport.value())
        assert found, f"no answer yet to {method} {path}"
        raw = found[-1]
        response = Response(raw.status, raw.headers, raw.raw_body)
        check_against_document(method, path, response)
        # A sale's own answer carries its PIN by design; nothing else may carry a secret.
        if not _SALE_ANSWER.match(path) or response.status >= 400:
            self.world.sentinel.assert_absent(response.body, f"{method} {path}")
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        transport, _ = self.open(method, path, **kwargs)
        return self.answer(method, path, transport)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", BASE + path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", BASE + path, body=body, **kwargs)


# --- webhook receiver ----------------------------------------------------------------------------


@dataclass
class Receiver:
    """An in-memory callback endpoint: records what it got, answers the next statuses."""

    reactor: Any
    answers: list[int] = field(default_factory=list)
    received: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    secret: bytes = b""

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.received.append((url, body, headers))
        status = self.answers.pop(0) if self.answers else 204
        if status == 0:
            raise ConnectionRefusedError("connection refused")
        return status

    def verified(self, index: int = -1) -> dict[str, Any]:
        _url, body, headers = self.received[index]
        assert verify_signature(
            self.secret, headers["EVD-Signature"], body, now=self.reactor.seconds()
        ), "bad webhook signature"
        return json.loads(body)


# --- the world -----------------------------------------------------------------------------------


@dataclass
class ApiWorld:
    xml: World
    json_api: JsonApiMount
    receiver: Receiver
    sentinel: Any
    key: str = ""
    client: Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = Client(self)

    @property
    def database(self) -> Any:
        return self.xml.database

    def new_key(self, vendor: str = CAFE, operator: str = "cashier1") -> str:
        _, key = self.database.run_txn(
            "test_key",
            create_api_key,
            vendor_client_id=vendor,
            operator_name=operator,
            actor="test",
            now=NOW,
        )
        self.sentinel.register(key)
        return key

    def advance(self, seconds: float) -> None:
        """The reactor and the services' clock move together."""
        self.xml.clock.advance(seconds)
        self.xml.reactor.advance(seconds)

    def balance(self, client_id: str = CAFE) -> Money:
        return self.xml.balance(client_id)

    def sale_count(self) -> int:
        return self.database.run_txn(
            "test_sales", lambda txn: len(txn.execute(sales.select()).all())
        )

    def ledger_ok(self) -> bool:
        return self.database.run_txn("test_verify", verify_ledger).ok

    def sell(self, body: dict[str, Any], key: str | None = None, *, idem: str) -> Response:
        return self.client.post("/sales", body, key=key or self.key, idempotency_key=idem)


def build_api_world(
    database: Any, keyring: Any, sentinel: Any, *, wrap_utility: Any = None, **kwargs: Any
) -> ApiWorld:
    """``wrap_utility(service)``: a test utility side around the real one, for the JSON
    API's services (XMLVend keeps the real one)."""
    xml = build_world(database, keyring, sentinel, **kwargs)
    services = xml.server.services
    if wrap_utility is not None:
        services = services.with_utility(wrap_utility(services.utility))
    receiver = Receiver(xml.reactor)
    # What build_json_api reads of the Application the XMLVend world was built around.
    app = SimpleNamespace(
        config=xml.config,
        runner=services.runner,
        keyring=keyring,
        services=services,
        # Operators' app sign-in goes through the XMLVend server's one authenticator.
        authenticator=xml.server.authenticator,
    )
    built = build_json_api(app, reactor=xml.reactor, post=receiver.post, poll_seconds=5.0)
    mount(xml.server.site, built.segment, built.resource)
    built.start()
    world = ApiWorld(xml, built, receiver, sentinel)
    world.key = world.new_key()
    return world


def idem(text: str) -> str:
    """A readable, unique-enough Idempotency-Key for a test."""
    return "t-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def by_key_path(key: str) -> str:
    return "/sales/by-key/" + quote(key, safe="")


def wait(deferred: Deferred) -> Any:
    results: list[Any] = []
    deferred.addBoth(results.append)
    assert results, "the Deferred has not fired"
    return results[0]


def sale_context(
    api: ApiWorld, caller: Any, body: dict[str, Any], *, request_id: str, terminal_id: str
) -> RequestContext:
    """The context the JSON API makes of ``POST /api/v1/sales`` with ``body`` by ``caller``
    (an authenticated key or session): for tests that call the sale services directly,
    e.g. from racing threads."""
    call = JsonCall("POST", "/api/v1/sales", body)
    return RequestContext(
        key=RequestKey(
            channel="json",
            client_id=caller.scope,
            request_id=request_id,
            operation="sale",
            fingerprint=hashlib.sha256(request_id.encode()).digest(),
        ),
        principal=caller.principal,
        terminal_id=terminal_id,
        request=call,
        request_body=call.serialize(),
        received_at=api.xml.clock(),
        details={"channel": "json"},
    )
