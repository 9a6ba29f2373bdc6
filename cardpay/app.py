"""The card checkout assembled around the built application: the ISO 8583 switch client
on the reactor, the checkout service, the ``card`` renderer, ``POST /checkout``.
``evd serve`` mounts it through the ``evd.web`` entry point when ``[cards] enabled``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.internet.task import deferLater
from twisted.web.resource import Resource

from cardpay.client import SwitchClient
from cardpay.renderer import CardRenderer, render_checkout
from cardpay.resource import CheckoutResource
from vending.services.card_checkout import CardCheckout, CardSwitch

SEGMENT = b"checkout"


@dataclass
class CardMount:
    checkout: CardCheckout
    switch: Any
    resource: Resource
    background: list[Deferred]
    segment: bytes = SEGMENT

    def stop(self) -> Deferred:
        stop = getattr(self.switch, "stop", None)
        if stop is not None:
            stop()
        return succeed(None)


def build_cards(
    app: Any, *, reactor: Any, clock: Any = None, switch: CardSwitch | None = None
) -> CardMount:
    config = app.config
    cards = config.cards
    clock = clock or app.services.clock
    background: list[Deferred] = []

    def run_in_background(coroutine: Any) -> None:
        running = ensureDeferred(coroutine)
        background.append(running)
        running.addBoth(lambda result: background.remove(running) or result)

    client = switch or SwitchClient(
        reactor,
        cards.switch_host,
        cards.switch_port,
        terminal_id=cards.terminal_id,
        merchant_id=cards.merchant_id,
        acquirer_id=cards.acquirer_id,
        timeout=cards.response_timeout_seconds,
        echo_seconds=cards.echo_seconds,
        clock=clock,
    )
    renderer = CardRenderer()
    app.services.register_renderer("card", renderer)
    checkout = CardCheckout(
        app.runner,
        app.keyring,
        clock,
        app.services,
        client,
        renderer=renderer,
        render=render_checkout,
        sleep=lambda seconds: deferLater(reactor, seconds, lambda: None),
        background=run_in_background,
        vendor_client_id=cards.checkout_vendor,
        operator_name=cards.checkout_operator,
        reversal_retry_seconds=cards.reversal_retry_seconds,
    )
    if isinstance(client, SwitchClient):
        client.on_unmatched = lambda doc: run_in_background(
            checkout.late_answer(doc.get("11", ""), doc.get("7", ""), doc.get("39", ""))
        )
    # The JSON API's POST /api/v1/checkout finds it here (the adapters never import each
    # other; the Application is what both are given).
    app._evd_card_checkout = checkout
    resource = CheckoutResource(checkout, config.currency.default)
    return CardMount(checkout, client, resource, background)


class _Off(Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setResponseCode(503)
        request.setHeader(b"content-type", b"application/json")
        return b'{"error": "card payments are off: set [cards] enabled = true (docs/CARDS.md)"}'


@dataclass
class _OffMount:
    resource: Resource
    segment: bytes = SEGMENT

    def stop(self) -> Deferred:
        return succeed(None)


def build_for_serve(app: Any, *, reactor: Any, background: bool = True) -> Any:
    if not app.config.cards.enabled:
        return _OffMount(_Off())
    built = build_cards(app, reactor=reactor)
    built.switch.start()
    if background:
        ensureDeferred(built.checkout.resume())
    return built


def banner_lines(base_url: str, curl_options: str = "", config: Any = None) -> list[str]:
    if config is None or not config.cards.enabled:
        return [
            "Cards     off. To try them: `evd simulate-switch --port 8583`, then",
            "          EVD__CARDS__ENABLED=true (docs/CARDS.md).",
            "",
        ]
    return [f"Cards     checkout {base_url}/checkout (POST JSON; docs/CARDS.md)", ""]
