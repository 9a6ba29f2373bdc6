"""What the menu-driven channels (USSD) offer: active voucher products grouped by network,
in a stable order (the menu's numbers must not move between two screens of a session)."""

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


def _by_network(txn: Txn) -> OrderedDict[str, list[Product]]:
    grouped: OrderedDict[str, list[Product]] = OrderedDict()
    products = sorted(list_products(txn, kind="voucher", active_only=True), key=lambda p: p.code)
    for product in products:
        network = str(product.attributes.get("network") or "Other")
        grouped.setdefault(network, []).append(product)
    return OrderedDict(sorted(grouped.items()))


__all__ = ["ChannelProducts"]
