"""The JSON API assembled around the built application (``vending.services.wiring``):
its own services (API access, accounts, sale queries, wallets, webhooks), the JSON renderer
registered for the ``json`` channel, the resource and the webhook deliverer.

``evd serve`` finds :func:`build_for_serve` through the ``evd.web`` entry point and mounts
the resource at ``/api`` in the XMLVend server's Site (``xmlvend.server.mounts``): same
process, same port, same limits. Tests build it with :func:`build_json_api` around a fake
reactor and an in-memory webhook poster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, DeferredList, ensureDeferred, maybeDeferred
from twisted.internet.threads import deferToThreadPool

from jsonapi.api import ApiServices, JsonApi
from jsonapi.openapi import document_bytes
from jsonapi.renderer import JsonRenderer
from jsonapi.resource import JsonApiResource
from jsonapi.webhooks import Poster, WebhookDeliverer, agent_poster
from vending.login_throttle import ThrottleSettings
from vending.requests import RequestKey, StoredResponse
from vending.services import idempotency
from vending.services.account_views import AccountViews
from vending.services.api_access import ApiAccess, OperatorLogin
from vending.services.channel_products import ChannelProducts
from vending.services.sale_queries import SaleQueries
from vending.services.sms import SmsOutbox
from vending.services.wallets import Wallets
from vending.services.webhooks import Webhooks

SEGMENT = b"api"


@dataclass
class JsonApiMount:
    api: JsonApi
    resource: JsonApiResource
    deliverer: WebhookDeliverer
    access: ApiAccess
    segment: bytes = SEGMENT

    def start(self) -> None:
        self.deliverer.start()
        self.resume_bulk()

    def resume_bulk(self) -> Deferred:
        """Batches a stopped process left unfinished are sold on (their rows already sold
        replay from their stored answers)."""
        from jsonapi.bulk import start_processing

        bulk = self.api._s.bulk

        async def resume() -> None:
            if bulk is None:
                return
            for batch_id in await bulk.unfinished():
                start_processing(bulk, batch_id, self.api.late)

        return ensureDeferred(resume())

    def stop(self) -> Deferred:
        """Stop pushing; fires when running deliveries and late answers have ended."""
        waits = [self.deliverer.stop(), *list(self.api.late)]
        return DeferredList(waits, consumeErrors=True)


def build_json_api(
    app: Any,
    *,
    reactor: Any,
    post: Poster | None = None,
    poll_seconds: float = 5.0,
) -> JsonApiMount:
    """``app``: a ``vending.services.wiring.Application``; everything here stamps with
    its one clock (``app.services.clock``)."""
    config = app.config
    clock = app.services.clock
    runner, keyring, services = app.runner, app.keyring, app.services
    renderer = JsonRenderer()
    services.register_renderer("json", renderer)
    access = ApiAccess(
        runner,
        clock,
        cache_seconds=config.security.auth_cache_seconds,
        pin_log_n=config.security.scrypt_log_n,
        operator_login=_operator_login(getattr(app, "authenticator", None), reactor),
        throttle=ThrottleSettings.from_config(config.security),
    )
    webhooks = Webhooks(runner, keyring, clock)
    deliverer = WebhookDeliverer(
        webhooks, post or agent_poster(reactor), reactor, poll_seconds=poll_seconds
    )

    async def store_if_unanswered(key: RequestKey, response: StoredResponse) -> bool:
        return await runner.run(
            "api_store_late_problem",
            idempotency.store_if_unanswered,
            keyring,
            key,
            response,
            now=clock(),
        )

    api = JsonApi(
        ApiServices(
            sales=services,
            access=access,
            accounts=AccountViews(runner),
            sale_queries=SaleQueries(runner, keyring),
            wallets=Wallets(runner, keyring, clock, pin_log_n=config.security.scrypt_log_n),
            webhooks=webhooks,
            electricity_product=config.utilities.product_code,
            currency=config.currency.default,
            clock=clock,
            store_if_unanswered=store_if_unanswered,
            on_webhook_queued=deliverer.kick,
            # Built by the card adapter when [cards] is on (it owns the switch client).
            card_checkout=lambda: getattr(app, "_evd_card_checkout", None),
            sms_outbox=SmsOutbox(runner, keyring, clock, config.sms.short_code),
            products=ChannelProducts(runner),
            distribution=services.distribution,
            rewards=services.rewards,
            bulk=getattr(services, "bulk", None),
        ),
        reactor=reactor,
        deadline_seconds=config.server.deadline_seconds,
        openapi_document=document_bytes(),
        renderer=renderer,
    )
    return JsonApiMount(api, JsonApiResource(api), deliverer, access)


def _operator_login(authenticator: Any, reactor: Any) -> OperatorLogin | None:
    """Operators' app sign-in through the one authenticator (scrypt, throttling and
    lockout per operator and per address, as on XMLVend). It blocks (database, scrypt), so
    under a real reactor it runs on the reactor's thread pool; a test's fake reactor has
    none and the (immediate) database answers at once."""
    if authenticator is None:
        return None
    pool = getattr(reactor, "getThreadPool", None)

    def login(client_id: str, operator: str, password: str, address: str | None) -> Deferred:
        call = authenticator.authenticate
        if pool is None:
            return maybeDeferred(call, client_id, operator, password, None, address)
        return deferToThreadPool(
            reactor, pool(), call, client_id, operator, password, None, address
        )

    return login


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> JsonApiMount:
    """The ``evd.web`` entry point: the resource ``evd serve`` mounts at ``/api``
    (``segment``); with ``background`` (one worker of ``evd serve --workers N``) webhooks
    are delivered from this process too."""
    built = build_json_api(app, reactor=reactor)
    if background:
        built.start()
    return built


def banner_lines(base_url: str, curl_options: str = "") -> list[str]:
    """``evd serve``'s banner: the JSON API and a first sale with ``evd demo``'s key."""
    from vending.api_demo import DEMO_API_KEY

    options = f" {curl_options}" if curl_options else ""
    return [
        f"JSON API  {base_url}/api/v1  (OpenAPI: {base_url}/api/v1/openapi.json)",
        "",
        "First JSON sale (the demo API key `evd demo` seeds; demo data only):",
        "",
        f"curl -s{options} {base_url}/api/v1/sales -H 'Authorization: Bearer {DEMO_API_KEY}' "
        "-H \"Idempotency-Key: $(date +%s%N)\" -H 'Content-Type: application/json' "
        """-d '{"product": "ELEC-DEMO", "meter": "04100000019", "amount": "100.00"}'""",
        "",
    ]
