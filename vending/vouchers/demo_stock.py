"""Realistic voucher stock (docs/STOCK-FILES.md) for demos, tests and benchmarks: serial
numbers run in sequence from a prefix (as card series do), PINs are random digits of each
product's length and unique within the file, batches expire a day apart. ``evd demo`` seeds
its stock with it; ``python -m tools.gen_stock`` is its command line."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from vending.vouchers.gpg import StockGpg
from vending.vouchers.stockfile import COLUMN_ALIASES

HEADER = ",".join(COLUMN_ALIASES)


@dataclass(frozen=True)
class ProductSpec:
    """A product to generate stock of: ``CODE[:DENOMINATION[:PIN_LENGTH]]``."""

    code: str
    denomination: str = ""
    pin_length: int = 16

    @classmethod
    def parse(cls, text: str) -> ProductSpec:
        code, _, rest = text.partition(":")
        denomination, _, length = rest.partition(":")
        return cls(code, denomination, int(length) if length else 16)


@dataclass(frozen=True)
class StockRow:
    serial_number: str
    pin: str = field(repr=False)
    product_code: str
    denomination: str
    batch_number: str
    expiry_date: str

    def csv_line(self) -> str:
        return (
            f"{self.serial_number},{self.pin},{self.product_code},{self.denomination},"
            f"{self.batch_number},{self.expiry_date}\n"
        )


def generate_rows(
    products: Sequence[ProductSpec],
    rows: int,
    *,
    serial_start: int = 7_700_000_000_000_001,
    batch_size: int = 5000,
    expiry: date | None = None,
    seed: int | None = None,
) -> Iterator[StockRow]:
    """``rows`` vouchers split evenly over ``products`` in consecutive batches.

    With ``seed`` the file is reproducible (tests); without, PINs come from the OS's
    random source like real ones.
    """
    if not products:
        raise ValueError("give at least one product")
    rng: random.Random = random.Random(seed) if seed is not None else secrets.SystemRandom()
    first_expiry = expiry or (datetime.now(UTC).date() + timedelta(days=365))
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    seen: set[str] = set()
    per_product = [rows // len(products) + (i < rows % len(products)) for i in range(len(products))]
    serial = serial_start
    batch_index = 0
    for spec, count in zip(products, per_product, strict=True):
        bound = 10**spec.pin_length
        for offset in range(count):
            if offset % batch_size == 0:
                batch_index += 1
                batch = f"B{stamp}-{batch_index:04d}"
                expiry_text = (first_expiry + timedelta(days=batch_index - 1)).isoformat()
            pin = f"{rng.randrange(bound // 10, bound):0{spec.pin_length}d}"
            while pin in seen:
                pin = f"{rng.randrange(bound // 10, bound):0{spec.pin_length}d}"
            seen.add(pin)
            yield StockRow(str(serial), pin, spec.code, spec.denomination, batch, expiry_text)
            serial += 1


def render_csv(rows: Iterator[StockRow] | Sequence[StockRow]) -> bytes:
    """The stock file's plaintext: header line plus one line per voucher."""
    return (HEADER + "\n" + "".join(row.csv_line() for row in rows)).encode("ascii")


def encrypt_stock(
    plaintext: bytes,
    *,
    gnupg_home: str | Path,
    recipient: str,
    sign_with: str | None = None,
    armor: bool = False,
) -> bytes:
    """Encrypt to ``recipient`` (a fingerprint in ``gnupg_home``, or a public key file that
    is imported there first), signing with ``sign_with`` (a secret key in that home)."""
    gpg = StockGpg(gnupg_home)
    key_file = Path(recipient)
    if key_file.is_file():
        recipient = gpg.import_public_key(key_file.read_text(encoding="ascii"))
    return gpg.encrypt(plaintext, recipient, sign_with=sign_with, armor=armor)
