"""Provider sales (issue 14) in the distribution network (issue 13): a held sale is checked
against its node's limits at the hold (a refused one never reaches a provider) and pays its
ancestors' commissions and earns points only when it is delivered (in the settlement's own
transfer); a failed provider sale pays nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from catalogue_support import NOW, VENDOR, answer, inr, ledger_ok
from network_support import Level, build_chain, points_rule, set_limits
from test_catalogue_fulfilment import sell

from catalogue.interface import Outcome, ProviderResult
from distribution import commissions, nodes, rewards
from vending.errors import ProductNotAllowed


def _network(shop: Any, **limits: Any) -> None:
    def build(txn: Any) -> None:
        build_chain(
            txn, Level("DL", "Dealer"), Level("R1", "Retailer", VENDOR), currency="INR", now=NOW
        )
        if limits:
            set_limits(txn, "R1", now=NOW, **limits)
        commissions.set_slabs(
            txn, {"RCH-AIRTEL": {"1": [{"min": 0, "flat": 300}]}}, actor="t", now=NOW
        )
        points_rule(txn, "RCH-AIRTEL", holder="merchant", per_amount=1000, now=NOW)

    shop.db.run_txn("network", build)


def _dealer(shop: Any) -> int:
    return shop.db.run_txn("dl", nodes.get_node, "DL").balance.amount


def _points(shop: Any) -> int:
    def points(txn: Any) -> int:
        holder = rewards.holder_for(txn, "merchant", nodes.get_node(txn, "R1").vendor_id)
        return rewards.balance(txn, holder, now=NOW).points

    return shop.db.run_txn("points", points)


def test_delivered_sale_pays_commission_and_points(shop) -> None:
    _network(shop)
    assert answer(sell(shop, "9810000010"))["state"] == "success"
    assert _dealer(shop) == 300
    assert _points(shop) == 19
    ledger_ok(shop.db)


def test_failed_sale_pays_nothing(shop) -> None:
    _network(shop)
    assert answer(sell(shop, "9810000011"))["state"] == "failed"
    assert _dealer(shop) == 0 and _points(shop) == 0
    ledger_ok(shop.db)


def test_pending_pays_at_settlement(shop) -> None:
    _network(shop)
    body = answer(sell(shop, "9810000012"))
    assert body["state"] == "pending" and _dealer(shop) == 0
    shop.providers["alpha"].statuses[body["order_id"]] = ProviderResult(
        Outcome.SUCCESS, "ALPHA1", "OPREF77", "000", "Recharge done"
    )
    shop.reactor.advance(2.0)
    assert _dealer(shop) == 300 and _points(shop) == 19
    ledger_ok(shop.db)


def test_refused_by_the_node_never_reaches_a_provider(shop) -> None:
    _network(shop, allowed_products=["RCH-JIO"])
    with pytest.raises(ProductNotAllowed):
        sell(shop, "9810000010")
    assert shop.providers["alpha"].executed == []
    ledger_ok(shop.db)


def test_daily_limit_counts_held_sales_and_a_failure_gives_it_back(shop) -> None:
    _network(shop, daily_sale_limit=inr(30_000))
    assert answer(sell(shop, "9810000011"))["state"] == "failed"  # counted, then given back
    assert answer(sell(shop, "9810000010"))["state"] == "success"
    with pytest.raises(Exception, match="more today"):
        sell(shop, "9810000010")
    ledger_ok(shop.db)
