"""The per-process cache of configuration and product reads a sale batch uses (issue 16):
a change is seen once the cache is invalidated -- by the writing function itself after its
commit, or explicitly -- and an entry of another process's change expires."""

from __future__ import annotations

from typing import Any

from fixed_clock import NOW
from sqlalchemy import update

from vending import read_cache
from vending.batch_plan import BatchPlan, install
from vending.demo import seed_core
from vending.money import Money
from vending.products import get_product, set_active, set_vendor_commission, vendor_commission_bp
from vending.storage.database import Database, Txn
from vending.storage.schema import products

PRODUCT = "AIR-DEMO-10"


def in_batch(txn: Txn, read: Any) -> Any:
    """``read(txn)`` as a sale batch runs it (a plan installed: reads go through the cache)."""
    install(txn, BatchPlan())
    try:
        return read(txn)
    finally:
        install(txn, None)


def product(database: Database) -> Any:
    return database.run_txn("read", in_batch, lambda txn: get_product(txn, PRODUCT))


def test_a_change_is_seen_after_invalidation(pg_database: Database) -> None:
    pg_database.run_txn("seed", seed_core, now=NOW, password_log_n=10)
    read_cache.invalidate()
    assert product(pg_database).active
    # Changed behind the cache's back (another process, a plain UPDATE): not seen yet ...
    pg_database.run_txn(
        "deactivate",
        lambda txn: txn.execute(
            update(products).where(products.c.code == PRODUCT).values(active=False)
        ),
    )
    assert product(pg_database).active
    # ... until the cache is invalidated.
    read_cache.invalidate()
    assert not product(pg_database).active
    # The product's own writer invalidates after its commit: seen at once.
    pg_database.run_txn("activate", set_active, PRODUCT, True, actor="test", now=NOW)
    assert product(pg_database).active


def test_a_commission_override_is_seen_at_once(pg_database: Database) -> None:
    pg_database.run_txn("seed", seed_core, now=NOW, password_log_n=10)
    read_cache.invalidate()

    def commission(txn: Txn) -> int:
        vendor_id = txn.conn.exec_driver_sql("SELECT min(id) FROM vendors").scalar_one()
        return vendor_commission_bp(txn, vendor_id, get_product(txn, PRODUCT))

    before = pg_database.run_txn("read", in_batch, commission)
    vendor_id = pg_database.run_txn(
        "vendor", lambda txn: txn.conn.exec_driver_sql("SELECT min(id) FROM vendors").scalar_one()
    )
    product_id = product(pg_database).id
    pg_database.run_txn("override", set_vendor_commission, vendor_id, product_id, before - 1)
    assert pg_database.run_txn("read", in_batch, commission) == before - 1


def test_each_vendor_gets_its_own_override_from_the_products_entry(
    pg_database: Database,
) -> None:
    """The batch caches one entry per product with every vendor's override: a vendor with
    an override gets it, one without gets the product's commission, as the single path
    reads them."""
    pg_database.run_txn("seed", seed_core, now=NOW, password_log_n=10)
    read_cache.invalidate()
    vendor_ids = pg_database.run_txn(
        "vendors",
        lambda txn: txn.conn.exec_driver_sql("SELECT id FROM vendors ORDER BY id").scalars().all(),
    )
    assert len(vendor_ids) >= 2
    first, second = vendor_ids[:2]
    default = product(pg_database).merchant_commission_bp
    pg_database.run_txn("override", set_vendor_commission, first, product(pg_database).id, 7)

    def both(txn: Txn) -> list[int]:
        item = get_product(txn, PRODUCT)
        return [vendor_commission_bp(txn, vendor, item) for vendor in (first, second)]

    assert pg_database.run_txn("batch", in_batch, both) == [7, default]
    assert pg_database.run_txn("single", both) == [7, default]


def test_an_entry_expires(pg_database: Database) -> None:
    """Another process's change is seen after TTL_SECONDS (the cache's own monotonic time,
    injected here: no sleep)."""
    ticks = [100.0]
    calls: list[int] = []

    def read() -> int:
        calls.append(1)
        return len(calls)

    def cached(txn: Txn) -> int:
        return read_cache.cached(txn, ("test", 1), read, monotonic=lambda: ticks[0])

    read_cache.invalidate()
    assert pg_database.run_txn("a", cached) == 1
    ticks[0] += read_cache.TTL_SECONDS / 2
    assert pg_database.run_txn("b", cached) == 1
    ticks[0] += read_cache.TTL_SECONDS
    assert pg_database.run_txn("c", cached) == 2


def test_the_single_path_does_not_cache(pg_database: Database) -> None:
    pg_database.run_txn("seed", seed_core, now=NOW, password_log_n=10)
    read_cache.invalidate()
    assert product(pg_database).active
    pg_database.run_txn(
        "deactivate",
        lambda txn: txn.execute(
            update(products).where(products.c.code == PRODUCT).values(active=False)
        ),
    )
    assert not pg_database.run_txn("read", get_product, PRODUCT).active


def test_a_reward_rule_is_seen_at_once(pg_database: Database) -> None:
    from distribution import rewards

    pg_database.run_txn("seed", seed_core, now=NOW, password_log_n=10)
    read_cache.invalidate()
    holder = rewards.Holder("merchant", 1, 1, "ZAR")

    def earned(txn: Txn) -> Any:
        return rewards.plan_earning(
            txn, product_code=PRODUCT, holder=holder, amount=Money(1000, "ZAR"), now=NOW
        )

    assert pg_database.run_txn("earn", in_batch, earned) is None  # no rule: cached as such
    # The rule's writer invalidates after its commit: the next batch earns by it at once.
    pg_database.run_txn(
        "rule",
        rewards.set_rule,
        product_code=PRODUCT,
        holder="merchant",
        per_amount=100,
        point_value=1,
        valid_days=30,
        actor="test",
        now=NOW,
    )
    earning = pg_database.run_txn("earn", in_batch, earned)
    assert (earning.points, earning.point_value) == (10, 1)
    # The liability account was created on first use; its id comes from the cache after.
    again = pg_database.run_txn("earn", in_batch, earned)
    assert again.liability_account == earning.liability_account
