"""What the menu-driven channels (USSD) offer: active voucher products grouped by network,
in a stable order (the menu's numbers must not move between two screens of a session); and
what an app may buy over the JSON API (vouchers and electricity, the kinds its sales take)."""

from __future__ import annotations

from collections import OrderedDict

from vending.products import Product, list_products
from vending.services.context import TxnRunner
from vending.storage.database import Txn


class ChannelProducts:
    def __init__(self, runner: TxnRunner) -> None:
        self._runner = runner

    async def vouchers_by_network(self) -> OrderedDict[str, list[Product]]:
        return await self._runner.run("channel_products", _by_network)

    async def for_sale(self, currency: str) -> list[Product]:
        """Active voucher and electricity products in ``currency``, electricity first."""
        return await self._runner.run("app_products", _for_sale, currency)


def _by_network(txn: Txn) -> OrderedDict[str, list[Product]]:
    grouped: OrderedDict[str, list[Product]] = OrderedDict()
    products = sorted(list_products(txn, kind="voucher", active_only=True), key=lambda p: p.code)
    for product in products:
        network = str(product.attributes.get("network") or "Other")
        grouped.setdefault(network, []).append(product)
    return OrderedDict(sorted(grouped.items()))


# The kinds POST /api/v1/sales sells (jsonapi): a meter's token or a voucher's PIN.
APP_KINDS = ("electricity", "voucher")


def _for_sale(txn: Txn, currency: str) -> list[Product]:
    found = [
        product
        for kind in APP_KINDS
        for product in sorted(list_products(txn, kind=kind, active_only=True), key=lambda p: p.code)
        if product.currency == currency
    ]
    return found


__all__ = ["ChannelProducts"]
