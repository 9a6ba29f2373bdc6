"""Consumers' wallets: registration (by a vendor's key or staff), merchant cash-in and staff
credit. A cash-in is a change like a sale: claimed under the request key, the principal
re-checked, one balanced transfer, the answer stored for replay -- all one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vending import consumers
from vending.errors import NotAuthorised
from vending.keyring import Keyring
from vending.ledger import PostedTransfer
from vending.money import Money
from vending.requests import Claim, Processed, RequestKey, StoredResponse
from vending.services import idempotency
from vending.services.api_access import Caller, Clock, Runner, recheck_caller
from vending.storage.database import Txn


@dataclass(frozen=True)
class TopUp:
    consumer: consumers.Consumer
    amount: Money
    commission: Money
    transfer_id: int
    # The merchant's balance and available credit after the cash-in.
    vendor_balance: Money
    vendor_available: Money


def _vendor_only(caller: Caller) -> None:
    if caller.is_consumer:
        raise NotAuthorised("only a vendor's API key may do this")


class Wallets:
    def __init__(self, runner: Runner, keyring: Keyring, clock: Clock, *, pin_log_n: int) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self._pin_log_n = pin_log_n

    async def register(
        self, caller: Caller, *, msisdn: str, name: str, pin: str
    ) -> consumers.Consumer:
        """A vendor registers a consumer at KYC level 0 (staff raise it with ``evd``)."""
        _vendor_only(caller)
        pin_hash = consumers.hash_pin(pin, log_n=self._pin_log_n)
        return await self._runner.run(
            "api_register_consumer",
            consumers.register_consumer,
            msisdn=msisdn,
            name=name,
            currency=caller.principal.currency,
            pin_hash=pin_hash,
            kyc_level=0,
            actor=f"vendor:{caller.principal.client_id}:{caller.principal.operator_name}",
            now=self._clock(),
        )

    async def consumer(self, caller: Caller, msisdn: str) -> consumers.Consumer:
        if caller.is_consumer and caller.msisdn != consumers.normalize_msisdn(msisdn):
            raise consumers.UnknownConsumer(f"no consumer with mobile number {msisdn}")
        return await self._runner.run("api_consumer", consumers.get_consumer, msisdn)

    async def check_spend(self, caller: Caller, amount: Money) -> None:
        """Before a consumer's purchase: the consumer is active and the amount fits the
        day's spend limit of its KYC level. (Checked in its own transaction: two purchases
        of one consumer racing each other may together pass the daily limit by one sale;
        the wallet's zero floor, kept by the ledger in the sale's transaction, always
        holds.)"""
        if caller.consumer_id is None:
            return
        await self._runner.run(
            "api_consumer_check_spend",
            consumers.check_spend,
            caller.consumer_id,
            amount,
            self._clock(),
        )

    async def cash_in(
        self,
        caller: Caller,
        key: RequestKey,
        *,
        msisdn: str,
        amount: Money,
        render: Callable[[TopUp], StoredResponse],
    ) -> Processed:
        _vendor_only(caller)
        now = self._clock()
        principal = caller.principal

        def change(txn: Txn, claim: Claim) -> TopUp:
            recheck_caller(txn, caller)
            consumer, posted, commission = consumers.cash_in(
                txn,
                vendor_account_id=principal.account_id,
                vendor_client_id=principal.client_id,
                msisdn=msisdn,
                amount=amount,
                reference=f"request:{claim.request_pk}",
                now=now,
            )
            return _top_up(consumer, amount, commission, posted, principal.account_id)

        return await self._runner.run(
            "api_consumer_cash_in",
            idempotency.run_once,
            self._keyring,
            key,
            principal,
            change,
            render,
            now=now,
        )


def _top_up(
    consumer: consumers.Consumer,
    amount: Money,
    commission: Money,
    posted: PostedTransfer,
    vendor_account_id: int,
) -> TopUp:
    currency = amount.currency
    return TopUp(
        consumer=consumer,
        amount=amount,
        commission=commission,
        transfer_id=posted.id,
        vendor_balance=posted.balance_of(vendor_account_id, currency),
        vendor_available=posted.available_of(vendor_account_id, currency),
    )
