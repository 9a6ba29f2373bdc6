"""Application services: the only entry every channel (XMLVend, the JSON API, SMS, USSD,
admin) calls. One module per use-case family; each takes a channel-neutral typed request
(principal, request key with its channel, product, target, amount) and answers a typed
result or the channel's stored answer, through the one idempotency path
(:mod:`vending.services.idempotency`). :mod:`vending.services.wiring` builds them.

Modules: ``context`` (RequestContext, TxnRunner), ``idempotency``, ``rendering`` (the
channel renderer protocol and registry), ``results``, ``errors``, ``electricity_sales``,
``voucher_sales``, ``meters``, ``advices`` (+ ``reversal_policy``), ``reprints``,
``statements``, ``batches``, ``fault_reports``, ``accounts``, ``answers``, ``recovery``,
``wiring``. Nothing here imports Twisted or a channel adapter: services are ``async def``
awaiting the injected transaction runner.
"""
