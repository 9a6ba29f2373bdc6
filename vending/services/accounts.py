"""A vendor's account: its available credit, and payments into a meter customer's
account (debt, service charge) through the vendor. Consumer wallets join here later."""

from __future__ import annotations

from dataclasses import dataclass

from utilities.interface import AccountPayment, UtilityService
from vending.auth import Principal
from vending.money import Money
from vending.services.context import RequestContext, TxnRunner
from vending.services.rendering import ChannelRenderer
from vending.services.results import Outcome
from vending.storage.database import Txn
from vending.vendors import get_vendor_by_id


@dataclass(frozen=True)
class AccountPaymentRequest:
    ctx: RequestContext
    payment: AccountPayment


@dataclass(frozen=True)
class Balance:
    balance: Money
    # balance + credit limit (XMLVend's availCredit)
    available: Money


class Accounts:
    def __init__(self, runner: TxnRunner, utility: UtilityService) -> None:
        self._runner = runner
        self._utility = utility

    async def available(self, principal: Principal) -> Money:
        """What the vendor can still spend now (balance + credit limit)."""
        return (await self.balance(principal)).available

    async def balance(self, principal: Principal) -> Balance:
        return await self._runner.run("vendor_balance", _balance, principal)

    async def pay_account(
        self, request: AccountPaymentRequest, renderer: ChannelRenderer
    ) -> Outcome:
        """A meter customer's debt or service charge paid by the vendor (``renderer.payment``)."""
        processed = await self._utility.pay_account(request.ctx, request.payment, renderer)
        return Outcome.of(processed)


def _balance(txn: Txn, principal: Principal) -> Balance:
    vendor = get_vendor_by_id(txn, principal.vendor_id)
    return Balance(vendor.balance, vendor.available)


__all__ = ["AccountPaymentRequest", "Accounts", "Balance"]
