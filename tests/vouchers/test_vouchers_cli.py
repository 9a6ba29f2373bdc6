"""The ``evd supplier``, ``evd voucher-product`` and ``evd stock`` commands end to end on
SQLite (in process), the stock-file generator's command line, and ``evd demo``."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from fixed_clock import NOW, TODAY
from sqlalchemy import func, select
from voucher_support import GpgKeys

from tools import gen_stock
from vending.cli.main import main
from vending.keyring import Keyring, MasterKey
from vending.storage.database import Database
from vending.vendors import get_vendor
from vending.vouchers import gpg as gpg_module
from vending.vouchers.selling import sell_voucher
from vending.vouchers.tables import vouchers


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str], sentinel: object) -> None:
        self.capsys = capsys
        self.sentinel = sentinel

    def __call__(self, *argv: str, code: int = 0, pins_allowed: bool = False) -> str:
        result = main(list(argv))
        out, err = self.capsys.readouterr()
        assert result == code, f"evd {' '.join(argv)} -> {result}\n{out}\n{err}"
        if not pins_allowed:
            self.sentinel.assert_absent(out + err, f"the output of evd {' '.join(argv[:2])}")
        return out + err


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gnupg_dir: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("EVD"):
            monkeypatch.delenv(name)
    master = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("EVD_DATABASE_URL", f"sqlite:///{tmp_path / 'evd.db'}")
    monkeypatch.setenv("EVD_MASTER_KEY", master)
    # The homes (this one, and the demo supplier's beside it) in a short directory: their
    # agents' sockets must fit a unix socket path (gnupg_dir stops the agents at the end).
    monkeypatch.setenv("EVD__VOUCHERS__GNUPG_HOME", str(gnupg_dir / "gnupg"))
    monkeypatch.setenv("EVD__SECURITY__SCRYPT_LOG_N", "10")
    monkeypatch.setenv("EVD_ACTOR", "alice")
    return tmp_path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], secrets_sentinel: object) -> Cli:
    return Cli(capsys, secrets_sentinel)


def _sell_one(tmp_path: Path, product: str) -> int:
    """A sale through the selling API on the CLI's database; its sale id."""
    db = Database(os.environ["EVD_DATABASE_URL"])
    keyring = Keyring(MasterKey.from_base64(os.environ["EVD_MASTER_KEY"]), clock=lambda: NOW)
    try:
        from vending.requests import claim_request

        def sell(txn):  # type: ignore[no-untyped-def]
            vendor = get_vendor(txn, "V9")
            claim = claim_request(
                txn,
                keyring,
                channel="test",
                client_id="V9",
                request_id="r1",
                operation="voucherVend",
                fingerprint=b"\x00" * 32,
                now=NOW,
            )
            return sell_voucher(
                txn,
                keyring,
                claim,  # type: ignore[arg-type]
                vendor_id=vendor.id,
                vendor_account_id=vendor.account_id,
                product_code=product,
                amount=None,
                terminal_id="T1",
                operator_id=None,
                created_by="test",
                now=NOW,
            ).sale.id

        return db.run_txn("sell", sell)
    finally:
        db.close()


def test_operator_workflow(env: Path, cli: Cli, gpg_keys: GpgKeys) -> None:
    tmp = env
    cli("db", "upgrade")
    out = cli("stock", "keygen", "--export", str(tmp / "operator.asc"))
    assert "created" in out and (tmp / "operator.asc").read_text().startswith("-----BEGIN PGP")
    assert "exists" in cli("stock", "keygen", "--export", str(tmp / "again.asc"))

    (tmp / "supplier.asc").write_text(gpg_keys.supplier.export_public_key(gpg_keys.supplier_fpr))
    out = cli(
        "supplier", "add", "ACME", "--name", "Acme Airtime", "--key", str(tmp / "supplier.asc")
    )
    assert gpg_keys.supplier_fpr in out and "signatures required" in out
    cli(
        "voucher-product", "add", "AIR-5", "--supplier", "ACME", "--network", "Acme",
        "--face-value", "5.00", "--cost-price", "4.70", "--merchant-discount-bp", "200",
        "--pin-length", "16", "--low-stock", "1",
    )  # fmt: skip
    assert "ACME" in cli("supplier", "list")

    stock = tmp / "stock.csv.gpg"
    gen_stock.main(
        [
            "--rows", "12", "--product", "AIR-5:5.00:16", "--batch-size", "5",
            "--recipient", str(tmp / "operator.asc"), "--sign-with", gpg_keys.supplier_fpr,
            "--gnupg-home", str(gpg_keys.supplier.home), "--out", str(stock), "--seed", "7",
        ]
    )  # fmt: skip
    cli.capsys.readouterr()
    out = cli("stock", "import", str(stock), "--supplier", "ACME", "--no-progress")
    assert "12 vouchers in 3 batches" in out and "total face value ZAR 60.00" in out
    assert "already imported" in cli("stock", "import", str(stock), "--supplier", "ACME", code=1)

    levels = json.loads(cli("stock", "levels", "--json"))
    assert [(row["product"], row["sellable"]) for row in levels] == [("AIR-5", 12)]
    assert "remaining at face ZAR 60.00" in cli("stock", "report")
    assert "AIR-5" in cli("stock", "expiring", "--days", "400", "--notify")

    serials = _serials(env)
    cli("stock", "quarantine", serials[0], "--supplier", "ACME", "--reason", "lost")
    assert "1 voucher(s) returned" in cli(
        "stock", "release", serials[0], "--supplier", "ACME", "--reason", "found"
    )
    cli("stock", "threshold", "AIR-5", "4")

    cli("vendor", "add", "V9", "--name", "Spaza")
    cli("vendor", "credit", "V9", "100.00", "--reason", "deposit")
    sale_id = _sell_one(tmp, "AIR-5")
    out = cli("stock", "reprint", str(sale_id), pins_allowed=True)
    assert "PIN " in out and "AIR-5" in out


def _serials(env: Path) -> list[str]:
    db = Database(os.environ["EVD_DATABASE_URL"])
    try:
        return db.run_txn(
            "serials",
            lambda txn: list(
                txn.execute(select(vouchers.c.serial_no).order_by(vouchers.c.id)).scalars()
            ),
        )
    finally:
        db.close()


def test_a_bad_file_prints_its_bad_lines_and_imports_nothing(
    env: Path, cli: Cli, gpg_keys: GpgKeys
) -> None:
    tmp = env
    cli("db", "upgrade")
    cli("stock", "keygen", "--export", str(tmp / "operator.asc"))
    (tmp / "supplier.asc").write_text(gpg_keys.supplier.export_public_key(gpg_keys.supplier_fpr))
    cli("supplier", "add", "ACME", "--name", "Acme", "--key", str(tmp / "supplier.asc"))
    cli(
        "voucher-product", "add", "AIR-5", "--supplier", "ACME", "--network", "Acme",
        "--face-value", "5.00", "--cost-price", "4.70",
    )  # fmt: skip
    rows = list(gen_stock.generate_rows([gen_stock.ProductSpec("AIR-5", "5.00")], 4, today=TODAY))
    cli.sentinel.register(*(row.pin for row in rows))  # type: ignore[attr-defined]
    text = gen_stock.render_csv(rows).decode().replace(rows[2].expiry_date, "2001-01-01")
    path = tmp / "bad.gpg"
    path.write_bytes(
        gen_stock.encrypt_stock(
            text.encode(),
            gnupg_home=gpg_keys.supplier.home,
            recipient=str(tmp / "operator.asc"),
            sign_with=gpg_keys.supplier_fpr,
        )
    )
    out = cli("stock", "import", str(path), "--supplier", "ACME", code=1)
    assert "line 2: expiry_date 2001-01-01 is in the past" in out
    assert "4 bad line(s); nothing was imported" in out
    assert json.loads(cli("stock", "levels", "--json"))[0]["sellable"] == 0


def test_missing_gpg_is_a_clear_error(env: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpg_module.shutil, "which", lambda name: None)
    assert "sudo apt-get install gnupg" in cli("stock", "keygen", code=1)


def test_demo_imports_signed_stock_once(env: Path, cli: Cli) -> None:
    cli("db", "upgrade")
    out = cli("demo")
    assert "300 demo vouchers imported" in out and "voucher supplier DEMO" in out
    assert "demo data already present" in cli("demo")
    db = Database(os.environ["EVD_DATABASE_URL"])
    try:
        count = db.run_txn(
            "count", lambda txn: txn.execute(select(func.count()).select_from(vouchers)).scalar()
        )
    finally:
        db.close()
    assert count == 300


def test_generated_rows_are_realistic_and_unique() -> None:
    specs = [gen_stock.ProductSpec("A", "10.00", 16), gen_stock.ProductSpec("B", "1GB", 12)]
    rows = list(gen_stock.generate_rows(specs, 25, batch_size=10, seed=1, today=TODAY))
    assert [row.product_code for row in rows].count("A") == 13
    assert len({row.pin for row in rows}) == 25 and len({row.serial_number for row in rows}) == 25
    assert {len(row.pin) for row in rows if row.product_code == "B"} == {12}
    assert len({row.batch_number for row in rows}) == 4  # A: 10 + 3, B: 10 + 2
    assert rows[0].expiry_date < rows[-1].expiry_date
    assert gen_stock.ProductSpec.parse("X:1GB:12") == gen_stock.ProductSpec("X", "1GB", 12)
