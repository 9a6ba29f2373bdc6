"""Domestic money transfer for every channel (issue 14 §4): senders with KYC-lite monthly
limits, beneficiaries validated by a penny drop, IMPS-like transfers returning a UTR
(:class:`catalogue.fulfilment.Fulfilment`: the customer's amount + fee held in suspense;
refunded automatically on a final failure, never on a timeout; never sent twice), status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from catalogue import transfers
from catalogue.errors import ProviderError
from catalogue.fulfilment import Fulfilment, Prepared
from catalogue.interface import ProviderUnavailable
from catalogue.orders import ProviderSale
from catalogue.routing import route
from vending.auth import Principal, revalidate
from vending.errors import NotAuthorised
from vending.money import Money
from vending.products import get_product
from vending.services.context import Clock, RequestContext, TxnRunner
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.storage.database import Txn

PRODUCT = "DMT-IMPS"


@dataclass(frozen=True)
class TransferRequest:
    ctx: RequestContext
    sender_mobile: str
    beneficiary_id: int
    amount: Money


@dataclass(frozen=True)
class SenderView:
    sender: transfers.Sender
    used: Money
    remaining: Money


@dataclass(frozen=True)
class SenderBeneficiaries:
    """What a merchant's transfer screen needs: the sender's limit left and beneficiaries."""

    view: SenderView
    beneficiaries: list[transfers.Beneficiary]


def own_sender(txn: Txn, principal: Principal, mobile: str) -> transfers.Sender:
    """The sender, if ``principal`` is the merchant that registered it (the one that may
    transfer for it). Another merchant's sender is answered as unknown -- the same error,
    word for word, as a mobile number never registered -- so no call (view, listing,
    beneficiary add, transfer) tells other callers which numbers are registered, nor lets
    them use them; consumers send nothing."""
    if principal.consumer_id is not None:
        raise NotAuthorised("money transfer is sent by a merchant for a walk-in sender")
    transfers.check_mobile(mobile)
    sender = transfers.get_sender(txn, mobile)
    if sender.vendor_id != principal.vendor_id:
        raise transfers.UnknownSender(f"no sender {mobile}: register the sender first")
    return sender


class MoneyTransfers:
    def __init__(
        self, runner: TxnRunner, fulfilment: Fulfilment, clock: Clock, product: str = PRODUCT
    ) -> None:
        self._runner = runner
        self._fulfilment = fulfilment
        self._clock = clock
        self._product = product

    async def register_sender(
        self, principal: Principal, mobile: str, name: str, kyc: str = "minimum"
    ) -> transfers.Sender:
        now = self._clock()

        def register(txn: Txn) -> transfers.Sender:
            revalidate(txn, principal)
            return transfers.register_sender(
                txn, mobile=mobile, name=name, kyc=kyc, vendor_id=principal.vendor_id, now=now
            )

        return await self._runner.run("dmt_register_sender", register)

    async def sender(self, principal: Principal, mobile: str) -> SenderView:
        now = self._clock()

        def view(txn: Txn) -> SenderView:
            revalidate(txn, principal)
            return self._view(txn, own_sender(txn, principal, mobile), now)

        return await self._runner.run("dmt_sender", view)

    def _view(self, txn: Txn, sender: transfers.Sender, now: datetime) -> SenderView:
        used = transfers.used_this_month(txn, sender.mobile, now)
        currency = get_product(txn, self._product).currency
        return SenderView(
            sender, Money(used, currency), Money(max(0, sender.monthly_limit - used), currency)
        )

    async def sender_beneficiaries(
        self, principal: Principal, mobile: str, limit: int = transfers.LISTED
    ) -> SenderBeneficiaries:
        """The sender's beneficiaries (up to ``limit``) and limit left, in one transaction,
        for the merchant that registered it."""
        now = self._clock()

        def listed(txn: Txn) -> SenderBeneficiaries:
            revalidate(txn, principal)
            sender = own_sender(txn, principal, mobile)
            return SenderBeneficiaries(
                self._view(txn, sender, now), transfers.list_beneficiaries(txn, mobile, limit)
            )

        return await self._runner.run("dmt_sender_beneficiaries", listed)

    @staticmethod
    def fee(amount: Money) -> Money:
        """The customer's fee for sending ``amount`` (shown before the transfer)."""
        return transfers.fee_for(amount)

    async def add_beneficiary(
        self, principal: Principal, sender_mobile: str, name: str, account_no: str, ifsc: str
    ) -> transfers.Beneficiary:
        """Validate the account with a penny drop, then register it (with the bank's name)."""
        now = self._clock()

        def check(txn: Txn) -> list[str]:
            revalidate(txn, principal)
            # Before the penny drop: another merchant's sender costs no bank call either.
            own_sender(txn, principal, sender_mobile)
            transfers.check_account(account_no, ifsc)
            product = get_product(txn, self._product)
            policy = self._fulfilment.policy.routing
            return [c.provider for c in route(txn, product.id, product.code, policy, now)]

        providers = await self._runner.run("dmt_beneficiary_check", check)
        verified: str | None = None
        for provider in providers:
            client = self._fulfilment.clients.get(provider)
            if client is None or not hasattr(client, "verify_account"):
                continue
            try:
                verified = await client.verify_account(account_no, ifsc.upper())  # type: ignore[attr-defined]
            except ProviderUnavailable:
                continue
            break
        else:
            raise ProviderError("no bank answered the account validation")
        if verified is None:
            raise ProviderError("the bank has no such account")

        def add(txn: Txn) -> transfers.Beneficiary:
            sender = own_sender(txn, principal, sender_mobile)
            return transfers.add_beneficiary(
                txn,
                sender=sender,
                name=name,
                account_no=account_no,
                ifsc=ifsc,
                verified_name=verified,
                now=now,
            )

        return await self._runner.run("dmt_beneficiary_add", add)

    async def transfer(self, request: TransferRequest, renderer: ChannelRenderer) -> Outcome:
        def prepare(txn: Txn, now: datetime) -> Prepared:
            # Checked in the sale's own transaction (every channel's transfer comes here).
            sender = own_sender(txn, request.ctx.principal, request.sender_mobile)
            beneficiary = transfers.get_beneficiary(
                txn, request.sender_mobile, request.beneficiary_id
            )
            product = get_product(txn, self._product)
            if request.amount.currency != product.currency or request.amount.amount <= 0:
                raise transfers.LimitExceeded(f"transfers are positive {product.currency}")
            transfers.check_limits(txn, sender, request.amount, now)
            pricing = transfers.pricing_for(request.amount)
            return Prepared(
                product=product,
                service="dmt",
                target=transfers.transfer_target(beneficiary),
                amount=request.amount,
                params={
                    "sender": sender.mobile,
                    "beneficiary_id": beneficiary.id,
                    "account": beneficiary.account_no,
                    "ifsc": beneficiary.ifsc,
                    "name": beneficiary.verified_name or beneficiary.name,
                    "amount": request.amount.amount,
                    "fee": pricing.price.amount - request.amount.amount,
                    "mode": "IMPS",
                },
                pricing=pricing,
            )

        return await self._fulfilment.sell(request.ctx, prepare, renderer)

    async def status(self, principal: Principal, order_id: str) -> ProviderSale:
        return await self._fulfilment.status_for(principal.vendor_id, order_id, "dmt", "transfer")


__all__ = [
    "MoneyTransfers",
    "SenderBeneficiaries",
    "SenderView",
    "TransferRequest",
    "own_sender",
]
