"""Helpers of the voucher stock tests: GnuPG homes with real keys, a small stock world
(supplier, three voucher products, a vendor), stock files, sales, and table counts."""

from __future__ import annotations

import itertools
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fixed_clock import NOW, TODAY
from sqlalchemy import func, select

from tools.gen_stock import ProductSpec, StockRow, generate_rows, render_csv
from vending.accounts import ensure_house_accounts
from vending.keyring import Keyring
from vending.ledger import verify_ledger
from vending.money import Money
from vending.requests import Claim, claim_request
from vending.storage.database import Database, Txn
from vending.storage.schema import ledger_entries, notifications, sales, transfers
from vending.vendors import adjust_vendor_balance, create_vendor, get_vendor
from vending.vouchers.gpg import StockGpg
from vending.vouchers.importer import ImportSummary, StockImporter, StockUpload
from vending.vouchers.products import create_voucher_product
from vending.vouchers.selling import VoucherSale, reverse_voucher_sale, sell_voucher
from vending.vouchers.suppliers import SupplierKey, add_supplier
from vending.vouchers.tables import stock_imports, voucher_batches, vouchers

ZAR = "ZAR"
SUPPLIER = "ACME"
VENDOR = "V1"
THRESHOLD = 3
PRODUCTS = {
    "AIR-10": ProductSpec("AIR-10", "10.00", 16),
    "AIR-30": ProductSpec("AIR-30", "30.00", 16),
    "DATA-1GB": ProductSpec("DATA-1GB", "1GB", 12),
}


def zar(text: str) -> Money:
    return Money.parse(text, ZAR)


@dataclass
class GpgKeys:
    """Three real GnuPG homes: this server's (operator), the supplier's and a stranger's."""

    operator: StockGpg
    operator_fpr: str
    supplier: StockGpg
    supplier_fpr: str
    stranger: StockGpg
    stranger_fpr: str

    def supplier_key(self) -> SupplierKey:
        return SupplierKey(self.supplier_fpr, self.supplier.export_public_key(self.supplier_fpr))

    def encrypt(
        self, plaintext: bytes, *, sign: str | None = "supplier", to: str = "operator"
    ) -> bytes:
        """Encrypt as the supplier would (signing as ``sign``: supplier, stranger or None)."""
        sender = self.stranger if sign == "stranger" else self.supplier
        signer = {"supplier": self.supplier_fpr, "stranger": self.stranger_fpr, None: None}[sign]
        recipient = self.operator_fpr if to == "operator" else self.stranger_fpr
        return sender.encrypt(plaintext, recipient, sign_with=signer)


def make_gpg_keys(base: Path) -> GpgKeys:
    operator, supplier, stranger = (StockGpg(base / name) for name in ("op", "sup", "str"))
    keys = GpgKeys(
        operator,
        operator.generate_key("EVD test stock <stock@test>"),
        supplier,
        supplier.generate_key("Test supplier <supplier@test>"),
        stranger,
        stranger.generate_key("Stranger <stranger@test>"),
    )
    for home in (supplier, stranger):
        home.import_public_key(operator.export_public_key(keys.operator_fpr))
    # The stranger is known to this server (say, another supplier) but is not ACME.
    operator.import_public_key(stranger.export_public_key(keys.stranger_fpr))
    # Both senders can encrypt to the stranger too (the "wrong recipient" file).
    supplier.import_public_key(stranger.export_public_key(keys.stranger_fpr))
    stranger.import_public_key(supplier.export_public_key(keys.supplier_fpr))
    return keys


@contextmanager
def gpg_keys_in(base: Path) -> Iterator[GpgKeys]:
    """:func:`make_gpg_keys`, their gpg agents shut down afterwards."""
    keys = make_gpg_keys(base)
    try:
        yield keys
    finally:
        for home in (keys.operator, keys.supplier, keys.stranger):
            home.shutdown()


def stock_world(
    database: Database, keyring: Keyring, gpg_keys: GpgKeys, sentinel: object
) -> StockWorld:
    """Supplier ACME (signed files required), AIR-10, AIR-30, DATA-1GB and vendor V1."""
    database.run_txn("stock_world", build_stock_world, gpg_keys.supplier_key())
    return StockWorld(database, keyring, sentinel, gpg_keys)


def build_stock_world(txn: Txn, key: SupplierKey | None) -> None:
    ensure_house_accounts(txn, ZAR, now=NOW)
    add_supplier(
        txn,
        code=SUPPLIER,
        name="Acme Airtime",
        account_code="supplier:ACME",
        currency=ZAR,
        key=key,
        require_signature=key is not None,
        actor="test",
        now=NOW,
    )
    for code, face, cost, network in (
        ("AIR-10", "10.00", "9.40", "Acme Mobile"),
        ("AIR-30", "30.00", "28.20", "Acme Mobile"),
        ("DATA-1GB", "99.00", "94.00", "Acme Data"),
    ):
        spec = PRODUCTS[code]
        create_voucher_product(
            txn,
            code=code,
            supplier_code=SUPPLIER,
            network=network,
            face_value=zar(face),
            cost_price=zar(cost),
            merchant_commission_bp=300,
            low_stock_threshold=THRESHOLD,
            denomination=spec.denomination,
            category="data" if code.startswith("DATA") else "airtime",
            pin_length=spec.pin_length,
            actor="test",
            now=NOW,
        )
    create_vendor(
        txn, client_id=VENDOR, name="Corner Cafe", currency=ZAR, credit_limit=zar("0"), now=NOW
    )
    adjust_vendor_balance(txn, VENDOR, zar("100000.00"), reason="deposit", actor="test", now=NOW)


@dataclass
class StockWorld:
    db: Database
    keyring: Keyring
    sentinel: Any
    keys: GpgKeys | None = None
    _serials: Any = field(default_factory=lambda: itertools.count(7_700_000_000_000_001, 100_000))

    # --- stock files ------------------------------------------------------------------------

    def rows(
        self, count: int, *products: str, expiry: date | None = None, batch_size: int = 5000
    ) -> list[StockRow]:
        """Fresh vouchers (serials never used before in this world); PINs registered."""
        specs = [PRODUCTS[code] for code in (products or ("AIR-10",))]
        made = list(
            generate_rows(
                specs,
                count,
                serial_start=next(self._serials),
                expiry=expiry,
                batch_size=batch_size,
                today=TODAY,
            )
        )
        self.sentinel.register(*(row.pin for row in made))
        return made

    def undated(self, count: int) -> tuple[list[StockRow], bytes]:
        """``count`` fresh AIR-10 vouchers and their stock file, without an expiry date."""
        made = self.rows(count)
        lines = self.upload(made).plaintext.decode().splitlines()
        for n in range(1, len(lines)):  # after the header: the sixth field, expiry, emptied
            lines[n] = ",".join([*lines[n].split(",")[:5], ""])
        return made, ("\n".join(lines) + "\n").encode()

    def upload(self, content: bytes | list[StockRow], name: str = "stock.csv") -> StockUpload:
        plaintext = content if isinstance(content, bytes) else render_csv(content)
        return StockUpload(SUPPLIER, name, uuid.uuid4().hex * 2, plaintext)

    def importer(self) -> StockImporter:
        return StockImporter(
            self.db,
            self.keyring,
            self.keys.operator if self.keys else None,
            low_stock_threshold=THRESHOLD,
            clock=lambda: NOW,
        )

    def import_rows(self, content: bytes | list[StockRow], **kwargs: Any) -> ImportSummary:
        return self.importer().import_upload(self.upload(content), actor="test", **kwargs)

    def import_file(self, path: Path, **kwargs: Any) -> ImportSummary:
        return self.importer().import_file(path, supplier_code=SUPPLIER, actor="test", **kwargs)

    # --- selling ------------------------------------------------------------------------------

    def claim(self, txn: Txn, request_id: str | None = None) -> Claim:
        claimed = claim_request(
            txn,
            self.keyring,
            channel="test",
            client_id=VENDOR,
            request_id=request_id or uuid.uuid4().hex,
            operation="voucherVend",
            fingerprint=b"\x02" * 32,
            now=NOW,
        )
        assert isinstance(claimed, Claim)
        return claimed

    def sell_txn(
        self, txn: Txn, product: str, *, amount: Money | None = None, now: datetime = NOW
    ) -> VoucherSale:
        vendor = get_vendor(txn, VENDOR)
        return sell_voucher(
            txn,
            self.keyring,
            self.claim(txn),
            vendor_id=vendor.id,
            vendor_account_id=vendor.account_id,
            product_code=product,
            amount=amount,
            terminal_id="T1",
            operator_id=None,
            created_by="test",
            now=now,
        )

    def sell(self, product: str = "AIR-10", **kwargs: Any) -> VoucherSale:
        return self.db.run_txn("sell_voucher", self.sell_txn, product, **kwargs)

    def reverse(self, sale_id: int, reason: str = "customer complaint") -> Any:
        return self.db.run_txn(
            "reverse_voucher_sale",
            reverse_voucher_sale,
            sale_id,
            reason=reason,
            created_by="test",
            now=NOW,
        )

    # --- inspection ---------------------------------------------------------------------------

    def count(self, table: Any, *conditions: Any) -> int:
        query = select(func.count()).select_from(table)
        for condition in conditions:
            query = query.where(condition)
        return int(self.db.run_txn("count", lambda txn: txn.execute(query).scalar_one()))

    def stock_counts(self) -> dict[str, int]:
        return {
            "vouchers": self.count(vouchers),
            "imports": self.count(stock_imports),
            "batches": self.count(voucher_batches),
            "sales": self.count(sales),
            "transfers": self.count(transfers),
            "entries": self.count(ledger_entries),
            "notifications": self.count(notifications),
        }

    def vendor_balance(self) -> Money:
        return self.db.run_txn("vendor", lambda txn: get_vendor(txn, VENDOR).balance)

    def assert_ledger_clean(self) -> None:
        report = self.db.run_txn("verify_ledger", verify_ledger)
        assert report.ok, report.problems()


def bad_signature_message(keys: GpgKeys, plaintext: bytes) -> bytes:
    """Signed by the supplier, then altered, then encrypted: gpg reports BADSIG.

    gpg cannot make such a file by itself, so the signed message is built first (no
    compression, so the literal data can be edited) and encrypted as raw packets.
    """
    gpg = keys.supplier.binary
    home = ["--homedir", str(keys.supplier.home), "--batch"]
    signed = subprocess.run(
        [gpg, *home, "-z", "0", "-u", keys.supplier_fpr, "--sign"],
        input=plaintext,
        capture_output=True,
        check=True,
    ).stdout
    at = signed.index(plaintext[-20:])
    altered = signed[:at] + bytes([signed[at] ^ 0x01]) + signed[at + 1 :]
    return subprocess.run(
        [
            gpg,
            *home,
            "--trust-model",
            "always",
            "-z",
            "0",
            "--no-literal",
            "-r",
            keys.operator_fpr,
            "--encrypt",
        ],
        input=altered,
        capture_output=True,
        check=True,
    ).stdout
