"""Demo voucher stock for ``evd demo`` (entry point ``evd.demo``): the server's stock key,
a demo supplier with its own signing key, and a few hundred PINs for the demo voucher
products, imported through the real path (encrypted, signed, verified, all-or-nothing).

Idempotent: keys, supplier and stock are created only when missing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from vending.cli.context import Context
from vending.keyring import Keyring, load_master_key
from vending.storage.database import Txn
from vending.vouchers.errors import UnknownSupplier
from vending.vouchers.gpg import StockGpg
from vending.vouchers.importer import StockImporter
from vending.vouchers.suppliers import SupplierKey, add_supplier, get_supplier
from vending.vouchers.tables import stock_imports

SUPPLIER_CODE = "DEMO"
SUPPLIER_ACCOUNT = "supplier:VOUCHERS"  # opened by vending.demo.seed_core
SUPPLIER_USER_ID = "Demo Airtime Distributor <stock@demo-airtime.example>"
OPERATOR_USER_ID = "EVD stock files <stock@localhost>"
# product, denomination, PIN digits, vouchers
DEMO_STOCK = (
    ("AIR-DEMO-10", "10.00", 16, 120),
    ("AIR-DEMO-30", "30.00", 16, 100),
    ("DATA-DEMO-1GB", "99.00", 12, 80),
)


def _key(gpg: StockGpg, user_id: str) -> tuple[str, bool]:
    existing = gpg.secret_key_fingerprints()
    return (existing[0], False) if existing else (gpg.generate_key(user_id), True)


def _has_stock(txn: Txn, supplier_id: int) -> bool:
    found = txn.execute(
        select(stock_imports.c.id).where(stock_imports.c.supplier_id == supplier_id).limit(1)
    )
    return found.first() is not None


def seed(context: Context) -> list[str]:
    home = context.config.path(context.config.vouchers.gnupg_home)
    operator_gpg = StockGpg(home)
    # The supplier's private key lives in its own home, as it would on the supplier's side.
    supplier_gpg = StockGpg(Path(f"{home}-demo-supplier"))
    try:
        return _seed(context, operator_gpg, supplier_gpg)
    finally:  # leave no gpg-agent running behind the command
        operator_gpg.shutdown()
        supplier_gpg.shutdown()


def _seed(context: Context, operator_gpg: StockGpg, supplier_gpg: StockGpg) -> list[str]:
    # The stock-file generator the tests and benchmark use too (tools.gen_stock).
    from vending.vouchers.demo_stock import ProductSpec, generate_rows, render_csv

    config = context.config
    database = context.database
    created: list[str] = []
    home = operator_gpg.home
    operator_fpr, new = _key(operator_gpg, OPERATOR_USER_ID)
    if new:
        created.append(f"stock-file key {operator_fpr} in {home}")
    supplier_fpr, new = _key(supplier_gpg, SUPPLIER_USER_ID)
    if new:
        created.append(f"demo supplier signing key {supplier_fpr} in {supplier_gpg.home}")

    try:
        supplier = database.run_txn("demo_supplier", get_supplier, SUPPLIER_CODE)
    except UnknownSupplier:
        supplier = database.run_txn(
            "demo_supplier_add",
            add_supplier,
            code=SUPPLIER_CODE,
            name="Demo Airtime Distributor",
            account_code=SUPPLIER_ACCOUNT,
            currency="ZAR",
            key=SupplierKey(supplier_fpr, supplier_gpg.export_public_key(supplier_fpr)),
            require_signature=True,
            actor="demo",
        )
        created.append(f"voucher supplier {SUPPLIER_CODE} (signed stock files required)")
    if database.run_txn("demo_has_stock", _has_stock, supplier.id):
        return created

    rows = []
    serial = 7_700_100_000_000_001
    for code, denomination, digits, count in DEMO_STOCK:
        spec = ProductSpec(code, denomination, digits)
        rows += list(generate_rows([spec], count, serial_start=serial, batch_size=50))
        serial += 1_000_000
    supplier_gpg.import_public_key(operator_gpg.export_public_key(operator_fpr))
    message = supplier_gpg.encrypt(
        render_csv(rows), operator_fpr, sign_with=supplier_fpr, armor=True
    )
    stock_file = home.parent / "demo-stock.csv.asc"
    stock_file.write_bytes(message)
    importer = StockImporter(
        database,
        Keyring(load_master_key(config)),
        operator_gpg,
        low_stock_threshold=config.vouchers.low_stock_threshold,
    )
    summary = importer.import_file(stock_file, supplier_code=SUPPLIER_CODE, actor="demo")
    created.append(
        f"{summary.rows} demo vouchers imported from {stock_file} "
        f"(face value {summary.face_total}, signed by the demo supplier)"
    )
    return created
