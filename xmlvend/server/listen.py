"""Listening sockets: one process, or several sharing the port with ``SO_REUSEPORT``.

The socket is made here (not by ``listenTCP``) so that every worker process can set
``SO_REUSEPORT`` before binding, and the kernel spreads new connections over the workers
(stack.md §1.4); the reactor adopts it. TLS wraps the site's factory in Twisted's memory-BIO
TLS, exactly what ``listenSSL`` does (plus a report of failed handshakes).
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory

from xmlvend.server.tls import HandshakeFailed, ObservedTLSFactory

BACKLOG = 1024


def bound_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to (host, port), not yet listening."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _type, _proto, _name, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def listen(
    reactor: Any,
    factory: Factory,
    host: str,
    port: int,
    *,
    tls_options: Any = None,
    reuse_port: bool = False,
    on_tls_failure: HandshakeFailed | None = None,
) -> IListeningPort:
    """Listen on (host, port) with ``factory`` (wrapped in TLS when ``tls_options``;
    failed handshakes are reported to ``on_tls_failure(peer, reason, detail)``)."""
    if tls_options is not None:
        factory = ObservedTLSFactory(tls_options, factory, on_tls_failure)
    sock = bound_socket(host, port, reuse_port=reuse_port)
    try:
        sock.listen(BACKLOG)
        sock.setblocking(False)
        return reactor.adoptStreamPort(sock.fileno(), sock.family, factory)
    finally:
        sock.close()  # the reactor adopted a duplicate of the descriptor
