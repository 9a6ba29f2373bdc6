"""The bench's own PostgreSQL database: created, migrated and seeded for load, then dropped.

Seeded like ``evd demo`` (vendors, products, vending keys, tariffs, test meters), plus what a
load test needs and the demo lacks: more vendors (each vendor's float is a row every one of
its sales updates, so one vendor would serialise all vends on that row lock), more normal
STA meters (each vend locks its meter row), deep floats and enough voucher stock.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tools.conformance.profile import Credentials
from tools.gen_stock import ProductSpec, generate_rows, render_csv
from utilities.demo import SGC_STA, seed_utilities
from utilities.registry import MeterSpec, add_meter
from utilities.sts.pan import luhn_check_digit
from vending.clock import system_clock
from vending.demo import seed_core
from vending.keyring import Keyring, MasterKey
from vending.money import Money
from vending.passwords import hash_password
from vending.storage import migrate
from vending.storage.database import Database, Txn, normalize_url
from vending.vendors import adjust_vendor_balance, create_operator, create_vendor
from vending.vouchers.importer import StockImporter, StockUpload
from vending.vouchers.suppliers import add_supplier

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
VOUCHER_PRODUCT = "AIR-DEMO-10"
BENCH_PASSWORD = "bench1234"
FLOAT = Money.parse("100000000.00", "ZAR")  # no bench run can spend it


def ean13(first12: str) -> str:
    """An EAN-13 with its check digit (clientIDs are EAN-13 device ids)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def bench_meters(count: int) -> list[str]:
    """``count`` 11-digit STA meter numbers with valid Luhn digits (manufacturer 05)."""
    return [
        body + luhn_check_digit(body) for body in (f"05{serial:08d}" for serial in range(count))
    ]


def bench_vendors(count: int) -> list[Credentials]:
    return [
        Credentials(ean13(f"60047089{index:04d}"), "1", f"bench{index}", BENCH_PASSWORD)
        for index in range(count)
    ]


@dataclass(frozen=True)
class BenchDatabase:
    url: str  # the bench database (psycopg2 URL with password)
    name: str
    master_key: MasterKey
    vendors: tuple[Credentials, ...]
    meters: tuple[str, ...]


@contextmanager
def bench_database(server_url: str, prefix: str = "evd_bench") -> Iterator[tuple[str, str]]:
    """CREATE a fresh database on ``server_url``'s server; DROP it afterwards."""
    name = f"{prefix}_{os.getpid()}"
    admin = create_engine(normalize_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(server_url)).set(database=name).render_as_string(False)
    try:
        yield url, name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed_load(
    txn: Txn, vendors: list[Credentials], meters: list[str], password_hash: str, *, now: datetime
) -> None:
    for index, vendor in enumerate(vendors):
        create_vendor(
            txn,
            client_id=vendor.client_id,
            name=f"Bench vendor {index}",
            currency="ZAR",
            credit_limit=Money.zero("ZAR"),
            actor="bench",
            now=now,
        )
        adjust_vendor_balance(
            txn, vendor.client_id, FLOAT, reason="bench float", actor="bench", now=now
        )
        create_operator(
            txn,
            name=vendor.op_name or "",
            password_hash=password_hash,
            vendor_client_id=vendor.client_id,
            actor="bench",
            now=now,
        )
    for msno in meters:
        add_meter(
            txn,
            MeterSpec(
                msno=msno,
                sgc=SGC_STA,
                krn=2,
                tariff="DEMO-FLAT",
                customer_name="Bench Customer",
                customer_address="1 Bench Street",
                account_no=f"B{msno}",
            ),
            actor="bench",
            now=now,
        )


def _bench_supplier(txn: Txn, *, now: datetime) -> None:
    add_supplier(
        txn,
        code="BENCH",
        name="Bench voucher supplier",
        account_code="supplier:VOUCHERS",
        currency="ZAR",
        key=None,
        require_signature=False,
        actor="bench",
        now=now,
    )


def seed(
    url: str,
    *,
    vendors: int,
    meters: int,
    vouchers: int,
    scrypt_log_n: int = 14,
) -> BenchDatabase:
    """Migrate and seed ``url`` (see the module docstring)."""
    master = MasterKey.generate()
    now = system_clock()
    keyring = Keyring(master, clock=system_clock)
    database = Database(url, pool_size=2)
    try:
        migrate.upgrade(database.engine)
        database.run_txn("bench_core", seed_core, now=now, password_log_n=scrypt_log_n)
        database.run_txn("bench_utilities", seed_utilities, keyring, now=now)
        people = bench_vendors(vendors)
        numbers = bench_meters(meters)
        database.run_txn(
            "bench_load",
            _seed_load,
            people,
            numbers,
            hash_password(BENCH_PASSWORD, log_n=scrypt_log_n),
            now=now,
        )
        if vouchers:
            database.run_txn("bench_supplier", _bench_supplier, now=now)
            rows = generate_rows(
                [ProductSpec(VOUCHER_PRODUCT, "10.00", 16)],
                vouchers,
                today=now.date(),
                batch_size=50_000,
            )
            plaintext = render_csv(rows)
            digest = hashlib.sha256(plaintext).hexdigest()
            StockImporter(database, keyring, clock=system_clock).import_upload(
                StockUpload("BENCH", "bench-stock.csv", digest, plaintext), actor="bench"
            )
        with database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    finally:
        database.close()
    return BenchDatabase(url, make_url(url).database or "", master, tuple(people), tuple(numbers))
