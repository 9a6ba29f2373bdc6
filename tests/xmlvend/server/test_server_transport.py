"""HTTP: body limits (413 before buffering), gzip both ways (and gzip bombs), read and idle
timeouts, keep-alive, the WSDL and XSDs, /healthz, /metrics, wrong paths and methods."""

from __future__ import annotations

import gzip
import json

import pytest
from lxml import etree
from server_support import (
    NORMAL_METER,
    MemoryTransport,
    World,
    build_world,
    confirm_meter,
    credit_vend,
    make_config,
    parse_http,
)

from xmlvend.codec import SoapFault, render_request
from xmlvend.codec.namespaces import SOAP_BIND, WSDL
from xmlvend.server.handlers import WSDL_OPERATIONS

LIMIT = 256 * 1024


# --- body size -----------------------------------------------------------------------------------


def test_a_declared_oversized_body_is_refused_before_it_is_sent(lite_world: World) -> None:
    connection = lite_world.connect()
    connection.send(
        b"POST /xmlvend HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1)
    )
    written = connection.transport.value()
    assert written.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in written
    assert connection.transport.disconnecting
    connection.send(b"x" * 1000)  # the rest is ignored, nothing more is written
    assert connection.transport.value() == written
    assert "refused_413" in lite_world.server.metrics.render().decode()


def test_a_chunked_oversized_body_is_cut_off_at_the_limit(lite_world: World) -> None:
    connection = lite_world.connect()
    connection.send(b"POST /xmlvend HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"a" * 65536
    for _ in range(5):
        connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    assert connection.transport.value().startswith(b"HTTP/1.1 413 ")
    assert connection.transport.disconnecting


def test_a_body_at_the_limit_is_read(lite_world: World) -> None:
    body = render_request(confirm_meter(lite_world.header(), NORMAL_METER))
    padded = body.replace(b"?>\n", b"?>\n" + b" " * (LIMIT - len(body)), 1)
    assert len(padded) == LIMIT
    assert lite_world.post(padded).status == 200


# --- gzip ----------------------------------------------------------------------------------------


def test_gzip_request_body(lite_world: World) -> None:
    body = render_request(confirm_meter(lite_world.header(), NORMAL_METER))
    response = lite_world.post(gzip.compress(body), headers={"Content-Encoding": "gzip"})
    assert response.status == 200
    assert "content-encoding" not in response.headers  # not asked for


def test_gzip_response_when_accepted(lite_world: World) -> None:
    request = confirm_meter(lite_world.header(), NORMAL_METER)
    response = lite_world.call(request, headers={"Accept-Encoding": "gzip, deflate"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(response.raw_body).startswith(b"<?xml")
    refused = lite_world.call(
        confirm_meter(lite_world.header(), NORMAL_METER), headers={"Accept-Encoding": "gzip;q=0"}
    )
    assert "content-encoding" not in refused.headers


def test_gzip_bomb_is_refused_without_inflating_it(lite_world: World) -> None:
    bomb = gzip.compress(b"<" + b" " * (50 * 1024 * 1024))  # 50 MiB of spaces, ~50 KiB sent
    assert len(bomb) < LIMIT
    response = lite_world.post(bomb, headers={"Content-Encoding": "gzip"})
    assert response.status == 413


def test_invalid_gzip_is_a_schema_fault(lite_world: World) -> None:
    response = lite_world.post(b"not gzip at all", headers={"Content-Encoding": "gzip"})
    assert response.status == 500
    fault = response.parsed()
    assert isinstance(fault, SoapFault)
    assert (fault.fault_class, fault.code) == ("XMLVendSchemaEx", "Client")


def test_unknown_content_encoding(lite_world: World) -> None:
    response = lite_world.post(b"x", headers={"Content-Encoding": "br"})
    assert response.status == 415


# --- timeouts and connections --------------------------------------------------------------------


def test_a_slow_request_is_cut_after_the_read_timeout(
    database: object, keyring: object, secrets_sentinel: object
) -> None:
    world = build_world(
        database,
        keyring,
        secrets_sentinel,
        vouchers=0,
        config=make_config(read_timeout_seconds=5.0),
    )
    connection = world.connect()
    body = render_request(confirm_meter(world.header(), NORMAL_METER))
    connection.send(b"POST /xmlvend HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
    for index in range(8):  # trickling a byte a second does not keep the request alive
        world.reactor.advance(0.9)
        connection.send(body[index : index + 1])
    assert connection.transport.value().startswith(b"HTTP/1.1 408 ")
    assert connection.transport.disconnecting


def test_an_idle_connection_is_closed(lite_world: World) -> None:
    connection = lite_world.connect()
    lite_world.reactor.advance(lite_world.config.server.read_timeout_seconds + 1)
    assert connection.transport.disconnecting


def test_keep_alive_serves_several_requests(lite_world: World) -> None:
    connection = lite_world.connect()
    for _ in range(3):
        connection.post(render_request(confirm_meter(lite_world.header(), NORMAL_METER)))
    responses = connection.responses()
    assert [r.status for r in responses] == [200, 200, 200]
    assert not connection.transport.disconnecting


def test_a_connection_asks_for_its_local_address_once(lite_world: World) -> None:
    """Each request knows the local address (the WSDL's default endpoint is built from it),
    but the connection reads it from the socket once, not once per request."""
    transport = MemoryTransport()
    asked: list[int] = []
    own = transport.getHost

    def get_host():  # type: ignore[no-untyped-def]
        asked.append(1)
        return own()

    transport.getHost = get_host  # type: ignore[method-assign]
    connection = lite_world.connect(transport)
    for _ in range(3):
        connection.post(render_request(confirm_meter(lite_world.header(), NORMAL_METER)))
    connection.send(b"GET /xmlvend?wsdl HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
    responses = connection.responses()
    assert [r.status for r in responses] == [200, 200, 200, 200]
    assert b"127.0.0.1:8080" in responses[-1].body
    assert len(asked) == 1


# --- publishing -----------------------------------------------------------------------------------


def test_wsdl_has_our_address_and_only_our_operations(lite_world: World) -> None:
    response = lite_world.get("/xmlvend?wsdl")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.body)
    ns = {"wsdl": WSDL, "soap": SOAP_BIND}
    address = root.find("wsdl:service/wsdl:port/soap:address", ns)
    assert address.get("location") == "http://vend.example:8080/xmlvend"
    operations = {op.get("name") for op in root.iterfind("wsdl:portType/wsdl:operation", ns)}
    assert operations == set(WSDL_OPERATIONS)
    imports = [el.get("schemaLocation") for el in root.iter("{*}import")]
    assert "http://vend.example:8080/xmlvend?xsd=base.xsd" in imports
    # Case-insensitive, as .NET clients ask
    assert lite_world.get("/xmlvend?WSDL").body == response.body


def test_xsds_are_served_alongside(lite_world: World) -> None:
    response = lite_world.get("/xmlvend?xsd=revenue.xsd")
    assert response.status == 200
    schema = etree.fromstring(response.body)
    locations = [el.get("schemaLocation") for el in schema.iter("{*}import")]
    assert "http://vend.example:8080/xmlvend?xsd=base.xsd" in locations
    assert lite_world.get("/xmlvend?xsd=../etc/passwd").status == 404


def test_public_url_is_the_advertised_endpoint(
    database: object, keyring: object, secrets_sentinel: object
) -> None:
    world = build_world(
        database,
        keyring,
        secrets_sentinel,
        vouchers=0,
        config=make_config(public_url="https://vend.example.com"),
    )
    body = world.get("/xmlvend?wsdl").body
    assert b'location="https://vend.example.com/xmlvend"' in body


def test_healthz(lite_world: World) -> None:
    response = lite_world.get("/healthz")
    assert response.status == 200
    health = json.loads(response.body)
    assert health["status"] == "ok" and health["database"] == "ok"


def test_healthz_reports_an_unreachable_database(lite_world: World) -> None:
    from sqlalchemy import create_engine

    lite_world.database.engine = create_engine("sqlite:////nonexistent/dir/evd.db")
    response = lite_world.get("/healthz")
    assert response.status == 503
    health = json.loads(response.body)
    assert health["status"] == "unavailable"
    assert "nonexistent" not in health["error"]  # no connection details for anyone asking


def test_healthz_reports_an_unmigrated_database(lite_world: World) -> None:
    from sqlalchemy import text

    lite_world.database.run_txn("drop", lambda txn: txn.execute(text("DROP TABLE alembic_version")))
    response = lite_world.get("/healthz")
    assert response.status == 503
    assert "schema" in json.loads(response.body)["error"]


def test_metrics(lite_world: World) -> None:
    lite_world.call(credit_vend(lite_world.header(), NORMAL_METER))
    lite_world.call(credit_vend(lite_world.header(), "04100000043"))  # unknown meter
    text = lite_world.get("/metrics").body.decode()
    assert 'evd_xmlvend_requests_total{operation="creditVend",outcome="ok"} 1' in text
    assert 'evd_xmlvend_faults_total{operation="creditVend",fault_class="UnknownMeterEx"} 1' in text
    assert 'evd_vends_total{product="ELEC-DEMO"} 1' in text
    assert 'evd_xmlvend_request_seconds_count{operation="creditVend"} 2' in text
    assert "# TYPE evd_xmlvend_request_seconds histogram" in text
    assert 'evd_db_transactions_total{name="utility_credit_vend"}' in text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("PUT", "/xmlvend", 405), ("POST", "/other", 404)],
)
def test_wrong_paths_and_methods(lite_world: World, method: str, path: str, status: int) -> None:
    connection = lite_world.connect()
    connection.send(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    (response,) = parse_http(connection.transport.value())
    assert response.status == status


def test_behind_a_plain_site_a_big_body_is_still_refused(lite_world: World) -> None:
    """The resource wrapped by another Site (the utility simulator does): Twisted spools a
    big body to a temporary file, and the resource still answers 413."""
    from twisted.web.server import Site

    site = Site(lite_world.server.resource, reactor=lite_world.reactor)
    connection = lite_world.connect()
    connection.protocol = site.buildProtocol(None)
    connection.protocol.makeConnection(connection.transport)
    body = b"<" + b" " * (LIMIT + 10)
    connection.send(
        b"POST /xmlvend HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert connection.transport.value().startswith(b"HTTP/1.1 413 ")
    # ... and an ordinary request through that Site works.
    ok = render_request(confirm_meter(lite_world.header(), NORMAL_METER))
    connection = lite_world.connect()
    connection.protocol = site.buildProtocol(None)
    connection.protocol.makeConnection(connection.transport)
    assert connection.post(ok).status == 200
