"""Benchmark: generate, encrypt and import a stock file on PostgreSQL, against a raw COPY.

    .venv/bin/python -m tools.bench_stock [--rows 1000000] [--url postgresql://...]

Creates its own database (dropped at the end), real GnuPG keys in a temporary directory,
a supplier requiring signatures and three voucher products; generates ``--rows`` PINs,
encrypts and signs them like a supplier, and imports the file through ``StockImporter``
(decrypt, verify, validate, encrypt every PIN, COPY, all in one transaction). In the same
run it COPYs the same plaintext rows into a bare table (text columns, no keys, no
indexes) and prints both rates and their ratio.

It also measures what bounds the import: PostgreSQL's own share. The rows the import wrote
(already encrypted and hashed) are copied out and COPYed again into an empty table of the
same shape -- same columns, indexes, unique and foreign keys -- so that time is what any
import into this table costs with no Python work at all.
"""

from __future__ import annotations

import argparse
import io
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tools.gen_stock import ProductSpec, generate_rows, render_csv
from vending.accounts import ensure_house_accounts
from vending.clock import system_clock
from vending.keyring import Keyring, MasterKey
from vending.money import Money
from vending.storage import migrate
from vending.storage.database import Database, Txn, normalize_url
from vending.vouchers.gpg import StockGpg
from vending.vouchers.importer import StockImporter
from vending.vouchers.products import create_voucher_product
from vending.vouchers.suppliers import SupplierKey, add_supplier

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PRODUCTS = (
    ("BENCH-AIR-10", "10.00", "9.40", 16),
    ("BENCH-AIR-30", "30.00", "28.20", 16),
    ("BENCH-DATA-1GB", "99.00", "94.00", 12),
)
BARE_TABLE = (
    "CREATE TABLE bare_stock (serial_number text, pin text, product_code text, "
    "denomination text, batch_number text, expiry_date date)"
)


def _setup(txn: Txn, key: SupplierKey) -> None:
    ensure_house_accounts(txn, "ZAR", now=system_clock())
    add_supplier(
        txn,
        code="BENCH",
        name="Benchmark supplier",
        account_code="supplier:BENCH",
        currency="ZAR",
        key=key,
        require_signature=True,
        actor="bench",
        now=system_clock(),
    )
    for code, face, cost, digits in PRODUCTS:
        create_voucher_product(
            txn,
            code=code,
            supplier_code="BENCH",
            network="Bench",
            face_value=Money.parse(face, "ZAR"),
            cost_price=Money.parse(cost, "ZAR"),
            merchant_commission_bp=300,
            low_stock_threshold=50,
            denomination=face,
            pin_length=digits,
            actor="bench",
            now=system_clock(),
        )


def _raw_copy(url: str, plaintext: bytes) -> float:
    """Seconds to COPY the plaintext CSV into a bare table (and commit)."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text(BARE_TABLE))
            conn.commit()
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            started = time.perf_counter()
            cursor.copy_expert(
                "COPY bare_stock FROM STDIN WITH (FORMAT csv, HEADER true)", io.BytesIO(plaintext)
            )
            conn.connection.dbapi_connection.commit()  # type: ignore[union-attr]
            return time.perf_counter() - started
    finally:
        engine.dispose()


_COLUMNS = (
    "supplier_id, product_id, import_id, batch_seq, serial_no, pin_key_id, pin_ciphertext, "
    "pin_hash, expiry"
)


def _database_floor(url: str) -> float:
    """Seconds PostgreSQL alone needs to ingest the imported rows into an empty table shaped
    like ``vouchers`` (indexes, unique and foreign keys included) and commit."""
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE vouchers_floor (LIKE vouchers INCLUDING ALL)"))
            foreign = conn.execute(
                text(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'vouchers'::regclass AND contype = 'f'"
                )
            ).scalars()
            for definition in foreign:
                conn.execute(text(f"ALTER TABLE vouchers_floor ADD {definition}"))
            conn.commit()
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            rows = io.BytesIO()
            cursor.copy_expert(f"COPY (SELECT {_COLUMNS} FROM vouchers) TO STDOUT", rows)
            rows.seek(0)
            conn.connection.dbapi_connection.commit()  # type: ignore[union-attr]
            started = time.perf_counter()
            cursor.copy_expert(f"COPY vouchers_floor ({_COLUMNS}) FROM STDIN", rows)
            conn.connection.dbapi_connection.commit()  # type: ignore[union-attr]
            return time.perf_counter() - started
    finally:
        engine.dispose()


def _index_costs(url: str) -> list[tuple[str, float]]:
    """What each part of the ``vouchers`` shape costs PostgreSQL: the imported rows COPYed
    into a table with only the columns and defaults, then into one with the check
    constraints, then one per index (alone), then one per foreign key (alone); then the
    PIN-hash index alone and the whole shape with the rows sorted by PIN hash, against the
    whole shape in file order."""
    engine = create_engine(normalize_url(url))
    costs: list[tuple[str, float]] = []
    try:
        with engine.connect() as conn:
            dbapi = conn.connection.dbapi_connection
            cursor = dbapi.cursor()  # type: ignore[union-attr]
            rows = io.BytesIO()
            cursor.copy_expert(f"COPY (SELECT {_COLUMNS} FROM vouchers) TO STDOUT", rows)
            dbapi.commit()  # type: ignore[union-attr]
            indexes = conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vouchers'")
            ).all()
            foreign = conn.execute(
                text(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = 'vouchers'::regclass AND contype = 'f'"
                )
            ).all()
            conn.commit()
            # (label, LIKE options, statements, rows sorted by PIN hash?)
            variants: list[tuple[str, str, list[str], bool]] = [
                ("columns and defaults only", "INCLUDING DEFAULTS", [], False),
                ("+ check constraints", "INCLUDING DEFAULTS INCLUDING CONSTRAINTS", [], False),
            ]
            pin_hash_index: list[str] = []
            for index_name, definition in indexes:
                statement = definition.replace(f"INDEX {index_name} ON", "INDEX ON", 1)
                statement = statement.replace(" public.vouchers ", " {table} ", 1)
                variants.append((f"+ index {index_name}", "INCLUDING DEFAULTS", [statement], False))
                if "(pin_hash)" in statement:
                    pin_hash_index = [statement]
            foreign_keys = [f"ALTER TABLE {{table}} ADD {definition}" for _, definition in foreign]
            for (constraint, _definition), statement in zip(foreign, foreign_keys, strict=True):
                variants.append(
                    (f"+ foreign key {constraint}", "INCLUDING DEFAULTS", [statement], False)
                )
            # Sorting the rows by PIN hash first makes that index's inserts sequential, and
            # every other index's random: what it does to the one and to the whole.
            if pin_hash_index:
                variants.append(
                    ("+ index on the PIN hash, rows sorted by hash", "INCLUDING DEFAULTS",
                     pin_hash_index, True)
                )  # fmt: skip
            variants.append(("everything (the floor), rows in file order", "INCLUDING ALL",
                             foreign_keys, False))  # fmt: skip
            variants.append(("everything, rows sorted by PIN hash", "INCLUDING ALL",
                             foreign_keys, True))  # fmt: skip
            lines = rows.getvalue().splitlines(keepends=True)
            by_hash = b"".join(sorted(lines, key=lambda line: line.split(b"\t")[7]))
            for label, like, statements, by_pin_hash in variants:
                conn.execute(text(f"CREATE TABLE vouchers_part (LIKE vouchers {like})"))
                for statement in statements:
                    conn.execute(text(statement.format(table="vouchers_part")))
                conn.commit()
                data = io.BytesIO(by_hash) if by_pin_hash else rows
                data.seek(0)
                started = time.perf_counter()
                cursor.copy_expert(f"COPY vouchers_part ({_COLUMNS}) FROM STDIN", data)
                dbapi.commit()  # type: ignore[union-attr]
                costs.append((label, time.perf_counter() - started))
                conn.execute(text("DROP TABLE vouchers_part"))
                conn.commit()
    finally:
        engine.dispose()
    return costs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_stock", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--url",
        default=os.environ.get("EVD_BENCH_POSTGRES_URL", DEFAULT_URL),
        help="PostgreSQL server (a database is created and dropped there); "
        "default $EVD_BENCH_POSTGRES_URL or the local server",
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also time the COPY into the table shape piece by piece (each index and "
        "constraint alone), to show what bounds the import",
    )
    args = parser.parse_args(argv)
    command = "python -m tools.bench_stock " + shlex.join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    name = f"evd_bench_stock_{os.getpid()}"
    admin = create_engine(normalize_url(args.url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(args.url)).set(database=name).render_as_string(False)
    database = Database(url, pool_size=2)
    scratch = tempfile.TemporaryDirectory(prefix="evd-bench-stock-")
    homes: list[StockGpg] = []
    try:
        migrate.upgrade(database.engine)
        operator = StockGpg(Path(scratch.name) / "operator")
        supplier = StockGpg(Path(scratch.name) / "supplier")
        homes += [operator, supplier]
        operator_fpr = operator.generate_key("Bench stock <stock@bench>")
        supplier_fpr = supplier.generate_key("Bench supplier <supplier@bench>")
        supplier.import_public_key(operator.export_public_key(operator_fpr))
        database.run_txn(
            "bench_setup",
            _setup,
            SupplierKey(supplier_fpr, supplier.export_public_key(supplier_fpr)),
        )

        mark = time.perf_counter()
        specs = [ProductSpec(code, face, digits) for code, face, _cost, digits in PRODUCTS]
        plaintext = render_csv(
            generate_rows(specs, args.rows, batch_size=10_000, today=system_clock().date())
        )
        generated = time.perf_counter() - mark

        mark = time.perf_counter()
        stock_file = Path(scratch.name) / "stock.csv.gpg"
        stock_file.write_bytes(supplier.encrypt(plaintext, operator_fpr, sign_with=supplier_fpr))
        encrypted = time.perf_counter() - mark

        importer = StockImporter(
            database,
            Keyring(MasterKey.generate(), clock=system_clock),
            operator,
            clock=system_clock,
        )
        mark = time.perf_counter()
        summary = importer.import_file(stock_file, supplier_code="BENCH", actor="bench")
        imported = time.perf_counter() - mark
        assert summary.rows == args.rows

        end_to_end = generated + encrypted + imported
        copied = _raw_copy(url, plaintext)
        floor = _database_floor(url)
        breakdown = _index_costs(url) if args.breakdown else []
        import_rate = args.rows / imported
        copy_rate = args.rows / copied
        total = time.perf_counter() - started
        print(f"command:        {command}")
        print(f"rows:           {args.rows} ({len(plaintext) / 1e6:.1f} MB plaintext, "
              f"{stock_file.stat().st_size / 1e6:.1f} MB encrypted and signed)")  # fmt: skip
        print(f"generate:       {generated:.2f} s")
        print(f"encrypt+sign:   {encrypted:.2f} s")
        print(f"import:         {imported:.2f} s  {import_rate:,.0f} rows/s "
              "(decrypt, verify, validate, encrypt PINs, COPY, commit)")  # fmt: skip
        print(f"raw COPY:       {copied:.2f} s  {copy_rate:,.0f} rows/s (bare table)")
        print(f"ratio:          {import_rate / copy_rate:.3f} (import / raw COPY)")
        floor_rate = args.rows / floor
        print(f"database floor: {floor:.2f} s  {floor_rate:,.0f} rows/s (the same rows COPYed "
              "again into an empty table shaped like vouchers)")  # fmt: skip
        print(f"floor ratio:    {floor_rate / copy_rate:.3f} (the best any import into this "
              "table can reach)")  # fmt: skip
        print(f"end to end:     {end_to_end:.1f} s (generate + encrypt and sign + import; "
              "target 30 s)")  # fmt: skip
        if breakdown:
            print("the same rows COPYed into the vouchers shape, piece by piece:")
            for label, seconds in breakdown:
                print(f"  {label:<44} {seconds:6.2f} s  {seconds / copied:5.2f} x raw COPY")
        print(f"total:          {total:.1f} s (this whole run, measurements included)")
    finally:
        for home in homes:
            home.shutdown()
        scratch.cleanup()
        database.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
