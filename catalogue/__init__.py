"""The multi-service catalogue (issue 14): PIN-less recharge and BBPS-like bill payment
through upstream providers, beside ``utilities/`` (electricity).

Domain modules (no Twisted, no ``xmlvend``): ``interface`` (the provider contract),
``errors``, ``tables`` (this package's storage, migration ``0011_catalogue``), ``providers``
(registry, product <-> provider code mappings), ``routing`` (priority, failover, success
rate), ``orders`` (suspense holds, attempts, settle/refund), ``callbacks`` (IP allow-list +
HMAC, idempotent), ``fulfilment`` (hold -> execute -> poll/callback -> settle or refund),
``recharge`` (operators, the 22 circles, number lookup, plans cache), ``bbps`` (biller
registry, customer parameters, amount rules, fetches, complaints), ``demo``, ``cli``.

``catalogue.adapters`` holds the Twisted provider clients and protocol codecs; they are
injected at wiring and never imported by the domain or by ``vending/``.
"""
