"""The XMLVend 2.1 server on Twisted: the product's front door.

Third-party EVD platforms and POS terminals speak XMLVend 2.1 (SOAP 1.1, document/literal;
SOAP 1.2 answered in kind) to ``POST /xmlvend``; the WSDL and XSDs are served at
``GET /xmlvend?wsdl``. Start with :mod:`xmlvend.server.app` (the composition root) and
``evd serve`` (:mod:`xmlvend.cli`).

Modules, outside in:

* ``listen``, ``workers`` -- sockets (``SO_REUSEPORT`` for ``--workers N``), the supervisor;
* ``http`` -- Site/channel/request: body size limit (413 while reading), read and idle
  timeouts, no form parsing; ``encoding`` -- gzip both ways, decompression capped;
  ``tls`` -- server TLS, the client certificate's clientID, failed handshakes;
  ``certs`` -- dev certificates;
* ``resource`` -- the one ``isLeaf`` resource: SOAP, WSDL/XSD, /healthz, /metrics;
* ``endpoint`` -- one request: parse, authenticate, dispatch, answer; ``deadline`` -- the
  race against ``server.deadline_seconds``; ``auth`` -- the Authenticator's steps on the
  database pool and on a password-hashing pool of their own, failed-login throttling;
* ``handlers/`` -- one module per group of operations, calling the utility service, the
  voucher stock and the core; ``txns`` -- our own transaction functions;
* ``renderer`` -- the ResponseRenderer (domain results -> exact bytes); ``convert`` --
  values between wire and domain; ``faults`` -- THE failure -> fault mapping table;
  ``errors`` -- the server's own failures;
* ``metrics`` (Prometheus text), ``accesslog`` (one JSON line per request), ``banner``.
"""
