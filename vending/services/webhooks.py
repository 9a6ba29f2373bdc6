"""Pushed results: an API key's callback URL, the webhook outbox for the final results of
its delayed requests, and the delivery log. The signing and the HTTP posting are the
adapter's (``jsonapi.webhooks``); what is due, what was tried and when to retry is here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vending import api_keys, webhooks
from vending.errors import NotAuthorised
from vending.keyring import Keyring
from vending.requests import RequestRecord, find_request
from vending.services.api_access import Caller, Clock, Runner
from vending.storage.database import Txn

# (event name, JSON payload) of a request's final answer (its record and request id).
EventBuilder = Callable[[RequestRecord, str], tuple[str, str]]


@dataclass(frozen=True)
class DueDelivery:
    delivery: webhooks.Delivery
    secret: bytes


def _key_only(caller: Caller) -> int:
    if caller.api_key_id is None:
        raise NotAuthorised("only an API key can have a callback URL")
    return caller.api_key_id


def _result_ready(
    txn: Txn,
    keyring: Keyring,
    api_key_id: int,
    client_id: str,
    request_id: str,
    build: EventBuilder,
    now: object,
) -> int | None:
    callback = api_keys.callback_of(txn, keyring, api_key_id)
    if callback is None:
        return None
    record = find_request(txn, keyring, client_id=client_id, request_id=request_id)
    if record is None or record.response is None:
        return None
    event, payload = build(record, request_id)
    return webhooks.enqueue(
        txn,
        api_key_id=api_key_id,
        request_pk=record.request_pk,
        event=event,
        url=callback.url,
        payload=payload,
        now=now,  # type: ignore[arg-type]
    )


def _due(txn: Txn, keyring: Keyring, now: object, limit: int) -> list[DueDelivery]:
    out = []
    for delivery in webhooks.due(txn, now, limit):  # type: ignore[arg-type]
        callback = api_keys.callback_of(txn, keyring, delivery.api_key_id)
        if callback is not None:
            out.append(DueDelivery(delivery, callback.secret))
    return out


class Webhooks:
    def __init__(self, runner: Runner, keyring: Keyring, clock: Clock) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock

    async def set_callback(self, caller: Caller, url: str | None) -> str | None:
        """Register (None: remove) the key's callback URL; the new signing secret."""
        key_id = _key_only(caller)
        principal = caller.principal
        return await self._runner.run(
            "api_set_callback",
            api_keys.set_callback,
            self._keyring,
            key_id,
            url,
            actor=f"vendor:{principal.client_id}:{principal.operator_name}",
            now=self._clock(),
        )

    async def result_ready(
        self, caller: Caller, request_id: str, build: EventBuilder
    ) -> int | None:
        """Queue the final answer of the caller's request ``request_id`` for its callback
        URL (if the key has one). The delivery's id, or None."""
        if caller.api_key_id is None:
            return None
        return await self._runner.run(
            "api_webhook_enqueue",
            _result_ready,
            self._keyring,
            caller.api_key_id,
            caller.scope,
            request_id,
            build,
            self._clock(),
        )

    async def due(self, limit: int = 50) -> list[DueDelivery]:
        return await self._runner.run("api_webhooks_due", _due, self._keyring, self._clock(), limit)

    async def attempted(
        self, delivery_id: int, *, http_status: int | None, error: str | None
    ) -> webhooks.Delivery:
        return await self._runner.run(
            "api_webhook_attempt",
            webhooks.record_attempt,
            delivery_id,
            now=self._clock(),
            http_status=http_status,
            error=error,
        )

    async def log(
        self, caller: Caller, limit: int = 50
    ) -> list[tuple[webhooks.Delivery, list[webhooks.Attempt]]]:
        key_id = _key_only(caller)
        return await self._runner.run("api_webhook_log", webhooks.deliveries_of, key_id, limit)
