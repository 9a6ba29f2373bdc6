"""Migration 0003_vouchers: down to 0002 removes exactly its tables, up brings them back."""

from __future__ import annotations

from sqlalchemy import inspect

from vending.storage import migrate
from vending.storage.database import Database

VOUCHER_TABLES = {
    "suppliers",
    "stock_imports",
    "voucher_batches",
    "vouchers",
    "stock_thresholds",
    "wrapped_secrets",
}


def test_0003_downgrades_and_upgrades(migrated_back: Database) -> None:
    engine = migrated_back.engine
    before = set(inspect(engine).get_table_names())
    assert before >= VOUCHER_TABLES
    migrate.downgrade(engine, "0002_utilities")
    # The later migrations' tables go with them (0005 fault reports, 0006 vendor batches,
    # 0007 login throttle, 0009 API keys, consumers and webhooks, 0010 SMS merchants, the MT
    # outbox and card payments).
    later = {
        "fault_reports",
        "vendor_batches",
        "login_failures",
        "api_keys",
        "consumers",
        "consumer_sessions",
        "webhook_deliveries",
        "webhook_attempts",
        "sms_merchants",
        "sms_messages",
        "card_payments",
    }
    # 0011 the catalogue's (issue 14), 0013 deposits and the distribution network.
    later |= {
        "deposits",
        "deposit_alerts",
        "deposit_merchants",
        "deposit_payers",
        "distribution_nodes",
        "fund_requests",
        # 0016 commission slabs and reward points.
        "commission_slabs",
        "reward_rules",
        "reward_lots",
        "reward_moves",
    }
    # 0014 the admin suite's users, sessions, logins and approvals.
    later |= {"staff_users", "staff_sessions", "staff_logins", "approvals"}
    # 0017 bulk files and their rows, XMLVend deposit slips.
    later |= {"bulk_batches", "bulk_rows", "deposit_slips"}
    from catalogue.tables import ALL_TABLES

    later |= {table.name for table in ALL_TABLES}
    assert set(inspect(engine).get_table_names()) == before - VOUCHER_TABLES - later
    migrate.upgrade(engine)
    assert set(inspect(engine).get_table_names()) == before
    indexes = {index["name"] for index in inspect(engine).get_indexes("vouchers")}
    assert {"ix_vouchers_available", "uq_vouchers_sale_id"} <= indexes
