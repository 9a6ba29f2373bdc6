"""Issue 10 §2 at the server: no request body can block the reactor.

Bodies above ``server.inline_parse_max_bytes`` are parsed on the server's parse pool (real
threads): a DOCTYPE naming a FIFO or a loopback URL, in UTF-16/32, is refused without
opening anything while /healthz keeps answering, and a request that waits too long for a
parse thread is answered "busy" without being read. Smaller bodies (issue 16) are parsed at
once on the reactor thread by the same hardened parser: a DOCTYPE is refused there too,
without opening anything."""

from __future__ import annotations

import gzip
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_support import (
    CAFE,
    DEBT_METER,
    NORMAL_METER,
    World,
    build_world,
    credit_vend,
    make_config,
    vend_id,
    zar,
)

from tests.xmlvend.codec.fifo_watch import FifoWatch
from vending.keyring import Keyring
from vending.storage.database import Database
from xmlvend.codec import render_request
from xmlvend.codec import types_revenue as r


@pytest.fixture
def pooled(database: Database, keyring: Keyring, secrets_sentinel: object) -> Iterator[World]:
    world = build_world(
        database,
        keyring,
        secrets_sentinel,
        vouchers=0,
        # Every body on the pool, however small: these tests are about the pool.
        config=make_config(parse_threads=1, parse_wait_seconds=1.0, inline_parse_max_bytes=0),
        parse_pool=True,
    )
    try:
        yield world
    finally:
        if world.server.parse_pool is not None:
            world.server.parse_pool.stop()


@pytest.fixture
def inline(database: Database, keyring: Keyring, secrets_sentinel: object) -> Iterator[World]:
    """The real parse pool with the default bound: small bodies parsed on this thread."""
    world = build_world(
        database,
        keyring,
        secrets_sentinel,
        vouchers=0,
        config=make_config(parse_threads=1, parse_wait_seconds=1.0),
        parse_pool=True,
    )
    try:
        yield world
    finally:
        if world.server.parse_pool is not None:
            world.server.parse_pool.stop()


def _vend_text(world: World) -> str:
    body = render_request(credit_vend(world.header(), NORMAL_METER, "20.00")).decode()
    return body.partition("?>")[2].lstrip()


ENCODINGS = {
    "utf-16le-bom": ("UTF-16", "utf-16-le", b"\xff\xfe"),
    "utf-16be": ("UTF-16", "utf-16-be", b""),
    "utf-32": ("UTF-32", "utf-32-le", b"\xff\xfe\x00\x00"),
}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("target", ["fifo", "http"])
def test_a_doctype_never_blocks_the_server(
    pooled: World, tmp_path: Path, encoding: str, target: str
) -> None:
    world = pooled
    label, codec, bom = ENCODINGS[encoding]
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    before = world.balance(CAFE)
    with FifoWatch(tmp_path / "pipe") as fifo, listener:
        url = (
            fifo.path.as_uri()
            if target == "fifo"
            else f"http://127.0.0.1:{listener.getsockname()[1]}/x.dtd"
        )
        text = f'<?xml version="1.0" encoding="{label}"?><!DOCTYPE x SYSTEM "{url}">' + _vend_text(
            world
        )
        connection = world.connect()
        connection.post(bom + text.encode(codec), wait=False)
        # The reactor thread is free: the body is on the parse pool, nothing answered yet...
        assert connection.transport.value() == b"", "the body was parsed on the reactor thread"
        # ...and the server keeps answering while that request is in flight.
        health = world.get("/healthz")
        assert health.status == 200
        world.reactor.run_thread_calls(until=connection.responses)
        response = connection.last()
        assert not fifo.opened, "the parser opened the FIFO"
        with pytest.raises(BlockingIOError):
            listener.accept()  # no connection was made
    assert response.status == 500
    assert response.fault_class() == "XMLVendSchemaEx"
    desc = response.parsed().desc
    assert "DTD" in desc
    assert "pipe" not in desc and "127.0.0.1" not in desc and str(tmp_path) not in desc
    assert world.balance(CAFE) == before


def test_a_request_waiting_too_long_for_a_parser_is_answered_busy_unread(pooled: World) -> None:
    world = pooled
    pool = world.server.parse_pool
    assert pool is not None
    before = world.balance(CAFE)
    gate = threading.Event()
    held = pool.run(gate.wait, 60)  # the only parse thread is busy until the gate opens
    request = credit_vend(world.header(), NORMAL_METER, "20.00")
    connection = world.connect()
    connection.post(render_request(request), wait=False)
    assert connection.transport.value() == b""
    assert world.get("/healthz").status == 200  # the reactor is free meanwhile
    world.reactor.advance(1.0)  # server.parse_wait_seconds
    response = connection.last()
    assert response.status == 500
    assert response.fault_class() == "SystemEx"
    assert "busy" in response.parsed().desc
    gate.set()
    world.reactor.run_thread_calls(until=lambda: held.called)
    assert world.balance(CAFE) == before  # never read, nothing sold
    # The same request sent again is read and sold.
    again = world.connect()
    again.post(render_request(request), wait=False)
    world.reactor.run_thread_calls(until=again.responses)
    assert again.last().status == 200
    assert world.balance(CAFE) != before


def test_requests_are_served_through_the_pool(pooled: World) -> None:
    world = pooled
    before = world.balance(CAFE)
    connection = world.connect()
    connection.post(render_request(credit_vend(world.header(), NORMAL_METER, "20.00")), wait=False)
    assert connection.transport.value() == b""  # parsed on a pool thread, not this one
    world.reactor.run_thread_calls(until=connection.responses)
    assert connection.last().status == 200
    assert world.balance(CAFE) != before


# --- issue 10 §6: lenient in -----------------------------------------------------------------


def test_an_account_payment_with_a_trailing_server_id_is_served(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """The deployed client of the report: a server-id element after the standard content of
    an account payment. Ignored (debug log with the client id), the payment is made."""
    before = world.balance()
    request = r.PayAccReq(
        header=world.header(),
        req_amt=zar("100.00"),
        pay_account=r.DebtRecovery(id_method=vend_id(DEBT_METER)),
    )
    body = render_request(request).replace(
        b"</r:payAccReq>",
        b'<b:serverID xsi:type="b:EANDeviceID" ean="6004708000007"/>'
        b"<vendingServerID>7</vendingServerID></r:payAccReq>",
    )
    with caplog.at_level(logging.DEBUG, logger="evd.xmlvend.codec"):
        response = world.post(body)
    assert response.status == 200, response.body
    assert world.balance() < before
    logged = [rec.getMessage() for rec in caplog.records if rec.name == "evd.xmlvend.codec"]
    assert len(logged) == 1
    assert CAFE in logged[0] and "b:serverID" in logged[0] and "vendingServerID" in logged[0]


def test_a_failure_on_a_parse_thread_reaches_the_reactor(pooled: World) -> None:
    pool = pooled.server.parse_pool
    assert pool is not None
    failed = pool.run(int, "not a number")
    pooled.reactor.run_thread_calls(until=lambda: failed.called)
    errors: list[BaseException] = []
    failed.addErrback(lambda failure: errors.append(failure.value))
    assert len(errors) == 1 and isinstance(errors[0], ValueError)


# --- issue 16: small bodies are parsed on the reactor thread ----------------------------------


def _padded_vend(world: World, padding: bytes) -> bytes:
    """A creditVendReq with ``padding`` in an unknown element after its standard content
    (what a client may send; dropped by the lenient reading)."""
    return render_request(credit_vend(world.header(), NORMAL_METER, "20.00")).replace(
        b"</r:creditVendReq>", b"<pad>" + padding + b"</pad></r:creditVendReq>"
    )


def test_a_small_body_is_parsed_at_once_without_the_pool(inline: World) -> None:
    world = inline
    assert world.server.config.server.inline_parse_max_bytes == 4096
    body = render_request(credit_vend(world.header(), NORMAL_METER, "20.00"))
    assert len(body) <= 4096
    before = world.balance(CAFE)
    connection = world.connect()
    connection.post(body, wait=False)
    # Answered within the post: no thread call was needed (none is run here).
    assert connection.responses()
    assert connection.last().status == 200
    assert world.balance(CAFE) != before


def test_a_body_above_the_bound_goes_to_the_pool(inline: World) -> None:
    world = inline
    body = _padded_vend(world, b"x" * 4096)
    before = world.balance(CAFE)
    connection = world.connect()
    connection.post(body, wait=False)
    assert connection.transport.value() == b""  # on a pool thread, not this one
    world.reactor.run_thread_calls(until=connection.responses)
    assert connection.last().status == 200
    assert world.balance(CAFE) != before


def test_the_bound_counts_the_decompressed_body(inline: World) -> None:
    """A gzip body that is small on the wire but large once decompressed keeps the pool."""
    world = inline
    body = _padded_vend(world, b" " * 8192)
    packed = gzip.compress(body)
    assert len(packed) < 4096 < len(body)
    connection = world.connect()
    connection.post(packed, wait=False, headers={"Content-Encoding": "gzip"})
    assert connection.transport.value() == b""
    world.reactor.run_thread_calls(until=connection.responses)
    assert connection.last().status == 200


_SMALL_ENVELOPE = (
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soap:Body/></soap:Envelope>"
)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_a_small_doctype_is_refused_inline_without_opening_anything(
    inline: World, tmp_path: Path, encoding: str
) -> None:
    world = inline
    label, codec, bom = ENCODINGS[encoding]
    before = world.balance(CAFE)
    with FifoWatch(tmp_path / "pipe") as fifo:
        text = (
            f'<?xml version="1.0" encoding="{label}"?>'
            f'<!DOCTYPE x SYSTEM "{fifo.path.as_uri()}">' + _SMALL_ENVELOPE
        )
        body = bom + text.encode(codec)
        assert len(body) <= 4096
        connection = world.connect()
        connection.post(body, wait=False)
        assert connection.responses(), "a small body waited for the pool"
        response = connection.last()
        assert not fifo.opened, "the parser opened the FIFO"
    assert response.status == 500
    assert response.fault_class() == "XMLVendSchemaEx"
    assert "DTD" in response.parsed().desc and "pipe" not in response.parsed().desc
    assert world.balance(CAFE) == before
