"""Mutual TLS with certificates made by ``evd certs dev``: the right client certificate is
accepted, one for another clientID is answered ClientIDSSLEx, none is refused at the
handshake."""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from live_support import ServerProcess, evd, write_config
from server_support import (
    CAFE,
    NORMAL_METER,
    PLATFORM,
    HTTPResponse,
    check_response,
    confirm_meter,
)

from xmlvend.codec import SoapFault, parse_response, render_request
from xmlvend.codec import types_base as b

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    directory = tmp_path_factory.mktemp("evd-tls")
    certs = directory / "var" / "certs"
    config = write_config(directory)
    output = evd(
        config, "certs", "dev", "--out", str(certs), "--client-id", CAFE, "--client-id", PLATFORM
    )
    assert "client_ca" in output
    config = write_config(
        directory,
        f'[tls]\nenabled = true\ncert = "{certs}/server.pem"\nkey = "{certs}/server.key"\n'
        f'client_ca = "{certs}/ca.pem"\nclient_id_field = "CN"\n',
    )
    evd(config, "db", "upgrade")
    evd(config, "demo", env={"EVD__VOUCHERS__GNUPG_HOME": str(directory / "var" / "gnupg")})
    server = ServerProcess.start(config)
    assert server.url.startswith("https://127.0.0.1:")
    try:
        yield server, certs
    finally:
        server.kill()


def post(server: ServerProcess, certs: Path, client: str | None, body: bytes) -> HTTPResponse:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs / "ca.pem"))
    if client is not None:
        context.load_cert_chain(certs / f"client-{client}.pem", certs / f"client-{client}.key")
    url = urlsplit(server.url)
    connection = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
    try:
        connection.request("POST", url.path, body, {"Content-Type": "text/xml; charset=utf-8"})
        answer = connection.getresponse()
        response = HTTPResponse(
            answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        )
    finally:
        connection.close()
    check_response(response)
    return response


def request_as(client_id: str) -> bytes:
    header = b.RequestHeader(
        client_id=b.EANDeviceID(ean=client_id),
        terminal_id=b.GenericDeviceID(id="1"),
        msg_id=b.MsgID(date_time="20261122100000", unique_number="1"),
        auth_cred=b.AuthCred(op_name="cashier1", password="demo1234"),
    )
    return render_request(confirm_meter(header, NORMAL_METER))


def test_the_clients_own_certificate_is_accepted(tls_server: Any) -> None:
    server, certs = tls_server
    response = post(server, certs, CAFE, request_as(CAFE))
    assert response.status == 200, response.body


def test_a_certificate_of_another_client_id(tls_server: Any) -> None:
    server, certs = tls_server
    response = post(server, certs, PLATFORM, request_as(CAFE))
    assert response.status == 500
    fault = parse_response(response.body)
    assert isinstance(fault, SoapFault)
    assert fault.fault_class == "ClientIDSSLEx"
    assert fault.detail.header.client_id == b.EANDeviceID(ean=CAFE)


def test_no_client_certificate_is_refused(tls_server: Any) -> None:
    server, certs = tls_server
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
        post(server, certs, None, request_as(CAFE))
    # ... and the refusal is logged with the client's address and counted.
    metrics = get(server, certs, CAFE, "/metrics").body.decode()
    assert 'evd_tls_handshake_failures_total{reason="no_certificate"}' in metrics
    deadline = time.monotonic() + 10
    while "TLS handshake failed" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "TLS handshake failed: peer 127.0.0.1, reason no_certificate" in server.output()


def get(server: ServerProcess, certs: Path, client: str, path: str) -> HTTPResponse:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(certs / "ca.pem"))
    context.load_cert_chain(certs / f"client-{client}.pem", certs / f"client-{client}.key")
    url = urlsplit(server.url)
    connection = http.client.HTTPSConnection(url.hostname, url.port, context=context, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return HTTPResponse(
            answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        )
    finally:
        connection.close()


def test_dev_certificates_carry_the_client_id(tls_server: Any) -> None:
    _server, certs = tls_server
    certificate = x509.load_pem_x509_certificate((certs / f"client-{CAFE}.pem").read_bytes())
    cn = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == CAFE
    assert (certs / f"client-{CAFE}.key").stat().st_mode & 0o077 == 0
    server_cert = x509.load_pem_x509_certificate((certs / "server.pem").read_bytes())
    names = server_cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
