"""Failed TLS handshakes are logged (client address, reason) and counted in /metrics: real
handshakes between Python's ``ssl`` client and the server's TLS layer, their bytes carried
in memory (no socket, no reactor)."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
from server_support import CAFE, MemoryTransport, World
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.python.failure import Failure

from vending.config import Config, TLSConfig
from xmlvend.server.certs import write_dev_certificates
from xmlvend.server.tls import ObservedTLSFactory, handshake_failure_reason, server_options


class TCPMemoryTransport(MemoryTransport):
    """What HTTPChannel asks of a TCP transport once the handshake is done."""

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Our CA's certificates, and a client certificate of another CA."""
    ours = write_dev_certificates(tmp_path_factory.mktemp("ours"), (CAFE,)).directory
    theirs = write_dev_certificates(tmp_path_factory.mktemp("theirs"), (CAFE,)).directory
    return Path(ours), Path(theirs)


def _handshake(
    world: World, ours: Path, client: ssl.SSLContext
) -> tuple[MemoryTransport, Exception | None]:
    """One handshake: the server's TLS layer over the world's site, the client in memory."""
    config = Config(
        tls=TLSConfig(
            enabled=True,
            cert=str(ours / "server.pem"),
            key=str(ours / "server.key"),
            client_ca=str(ours / "ca.pem"),
        )
    )
    factory = ObservedTLSFactory(
        server_options(config), world.server.site, world.server.tls_handshake_failed
    )
    server = factory.buildProtocol(IPv4Address("TCP", "10.0.0.7", 50000))
    transport = TCPMemoryTransport()
    server.makeConnection(transport)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client.wrap_bio(incoming, outgoing, server_hostname="localhost")
    sent = 0
    error: Exception | None = None
    for _ in range(20):
        try:
            tls.do_handshake()
            tls.read(1)  # TLS 1.3: the server's verdict on our certificate comes after
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
        except (ssl.SSLError, OSError) as exc:
            error = exc
        data = outgoing.read()
        if data and not transport.disconnecting:
            server.dataReceived(data)
        written = transport.value()
        if len(written) > sent:
            incoming.write(written[sent:])
            sent = len(written)
        if transport.disconnecting and not data and error is not None:
            break
    server.connectionLost(Failure(ConnectionDone()))
    return transport, error


def _client(ca: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    return context


def _failures(world: World) -> dict[str, int]:
    found = {}
    for line in world.server.metrics.render().decode().splitlines():
        if line.startswith("evd_tls_handshake_failures_total{"):
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            found[reason] = int(line.rsplit(" ", 1)[1])
    return found


def test_a_client_without_a_certificate_is_logged_and_counted(
    lite_world: World, certs: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    ours, _ = certs
    with caplog.at_level(logging.WARNING, logger="evd.xmlvend"):
        transport, error = _handshake(lite_world, ours, _client(ours / "ca.pem"))
    assert transport.disconnecting and error is not None
    assert _failures(lite_world) == {"no_certificate": 1}
    [record] = [r for r in caplog.records if "TLS handshake failed" in r.getMessage()]
    assert "peer 10.0.0.7" in record.getMessage()
    assert "reason no_certificate" in record.getMessage()


def test_a_certificate_of_an_unknown_ca_is_logged_and_counted(
    lite_world: World, certs: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    ours, theirs = certs
    client = _client(ours / "ca.pem")
    client.load_cert_chain(theirs / f"client-{CAFE}.pem", theirs / f"client-{CAFE}.key")
    with caplog.at_level(logging.WARNING, logger="evd.xmlvend"):
        _handshake(lite_world, ours, client)
    assert _failures(lite_world) == {"unknown_ca": 1}
    assert any("reason unknown_ca" in r.getMessage() for r in caplog.records)


def test_an_old_protocol_is_logged_and_counted(lite_world: World, certs: tuple[Path, Path]) -> None:
    ours, _ = certs
    client = _client(ours / "ca.pem")
    client.minimum_version = ssl.TLSVersion.TLSv1
    client.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        client.set_ciphers("DEFAULT:@SECLEVEL=0")
    except ssl.SSLError:
        pytest.skip("this OpenSSL cannot offer TLS 1.1 at all")
    _handshake(lite_world, ours, client)
    failures = _failures(lite_world)
    if not failures:
        pytest.skip("this OpenSSL sent no TLS 1.1 ClientHello")
    assert failures == {"protocol_version": 1}


def test_a_good_handshake_is_not_counted(lite_world: World, certs: tuple[Path, Path]) -> None:
    ours, _ = certs
    client = _client(ours / "ca.pem")
    client.load_cert_chain(ours / f"client-{CAFE}.pem", ours / f"client-{CAFE}.key")
    _handshake(lite_world, ours, client)
    assert _failures(lite_world) == {}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[('SSL routines', '', 'peer did not return a certificate')]", "no_certificate"),
        ("[('SSL routines', '', 'certificate verify failed')]", "unknown_ca"),
        ("[('SSL routines', '', 'unsupported protocol')]", "protocol_version"),
        ("[('SSL routines', '', 'something new')]", "other"),
    ],
)
def test_reasons_are_a_closed_set(text: str, reason: str) -> None:
    assert handshake_failure_reason(Exception(text)) == reason
