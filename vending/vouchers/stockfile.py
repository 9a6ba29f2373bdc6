"""The stock file layout (see docs/STOCK-FILES.md) and row validation.

A stock file is CSV in ASCII/UTF-8 with a header line naming its columns::

    serial_number,pin,product_code,denomination,batch_number,expiry_date
    7700123400000001,4839201746153820,AIR-DEMO-10,10.00,B2026-11-001,2027-11-30

Rows are checked one at a time, as they stream past, against a :class:`Catalog` of the
supplier's voucher products. A bad row becomes a :class:`LineProblem` naming its line and
what is wrong, never the PIN or a value that might be one (a supplier who swaps two
columns must not get PINs printed into a terminal or a log).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from vending.errors import VendingError
from vending.money import Money

# Canonical column names and the spellings accepted for them in a header.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "serial_number": ("serial_number", "serial_no", "serial"),
    "pin": ("pin", "pin_code"),
    "product_code": ("product_code", "product"),
    "denomination": ("denomination", "value"),
    "batch_number": ("batch_number", "batch_no", "batch"),
    "expiry_date": ("expiry_date", "expiry"),
}
REQUIRED_COLUMNS = ("serial_number", "pin", "batch_number", "expiry_date")

SERIAL_PATTERN = re.compile(rb"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
BATCH_PATTERN = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._/-]{0,31}")
DATE_PATTERN = re.compile(rb"\d{4}-\d{2}-\d{2}")
PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 32

# Values echoed in a problem must not look like a PIN: short, and no long run of digits.
_LONG_DIGIT_RUN = re.compile(r"\d{6}")


@dataclass(frozen=True, order=True)
class LineProblem:
    """One bad line of a stock file (line 1 is the header)."""

    line: int
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


class StockLayoutError(ValueError):
    """The file has no usable header; the whole file is unreadable."""

    def __init__(self, problem: LineProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def shown(value: bytes | str) -> str:
    """``value`` quoted for a problem message, or a placeholder when it could be a PIN."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if len(text) > 16 or _LONG_DIGIT_RUN.search(text):
        return "(value not shown)"
    return repr(text)


@dataclass(frozen=True)
class StockLayout:
    """Where each column is in a row; ``None`` for an absent optional column."""

    width: int
    serial_number: int
    pin: int
    product_code: int | None
    denomination: int | None
    batch_number: int
    expiry_date: int


def parse_header(line: bytes) -> StockLayout:
    names = [
        name.decode("utf-8", "replace").strip().lower().replace(" ", "_") for name in _split(line)
    ]
    canonical = {alias: name for name, aliases in COLUMN_ALIASES.items() for alias in aliases}
    positions: dict[str, int] = {}
    for index, raw in enumerate(names):
        name = canonical.get(raw)
        if name is None:
            raise StockLayoutError(
                LineProblem(
                    1, f"unknown column {shown(raw)} (expected {', '.join(COLUMN_ALIASES)})"
                )
            )
        if name in positions:
            raise StockLayoutError(LineProblem(1, f"column {name} appears twice"))
        positions[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if "product_code" not in positions and "denomination" not in positions:
        missing.append("product_code or denomination")
    if missing:
        raise StockLayoutError(LineProblem(1, f"the header lacks column(s): {', '.join(missing)}"))
    return StockLayout(
        width=len(names),
        serial_number=positions["serial_number"],
        pin=positions["pin"],
        product_code=positions.get("product_code"),
        denomination=positions.get("denomination"),
        batch_number=positions["batch_number"],
        expiry_date=positions["expiry_date"],
    )


def _split(line: bytes) -> list[bytes]:
    if b'"' not in line:
        return line.split(b",")
    # Quoted fields (a spreadsheet's export): the csv module handles the quoting rules.
    return [field.encode("utf-8") for field in next(csv.reader([line.decode("utf-8", "replace")]))]


def count_rows(plaintext: bytes) -> int:
    """Roughly the number of data rows (for a progress bar)."""
    return max(plaintext.count(b"\n") - 1 + (not plaintext.endswith(b"\n")), 0)


def read_stock_file(plaintext: bytes) -> tuple[StockLayout, Iterator[tuple[int, list[bytes]]]]:
    """The layout and an iterator of ``(line number, fields)``; skips blank and ``#`` lines.

    Raises StockLayoutError when the header is missing or unusable.
    """
    if plaintext.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark from a spreadsheet
        plaintext = plaintext[3:]
    lines = plaintext.split(b"\n")
    header_at = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith(b"#")), None
    )
    if header_at is None:
        raise StockLayoutError(LineProblem(1, "the file is empty (no header line)"))
    layout = parse_header(lines[header_at].rstrip(b"\r"))

    def records() -> Iterator[tuple[int, list[bytes]]]:
        for number in range(header_at + 1, len(lines)):
            line = lines[number]
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line or line.startswith(b"#") or not line.strip():
                continue
            yield number + 1, _split(line)

    return layout, records()


@dataclass(frozen=True)
class CatalogProduct:
    """What row validation needs to know about one voucher product of the supplier."""

    id: int
    code: str
    currency: str
    face_value: int
    cost_price: int
    # The product's own label for its denomination ("1GB"), when it has one.
    denomination: str | None
    pin_length: int | None

    def matches_denomination(self, text: str) -> bool:
        text = text.strip()
        if self.denomination is not None and text.casefold() == self.denomination.casefold():
            return True
        try:
            return Money.parse(text, self.currency).amount == self.face_value
        except VendingError:
            return False


class Catalog:
    """The supplier's voucher products, and why other product codes are refused."""

    def __init__(self, supplier_code: str, products: list[CatalogProduct], refused: dict[str, str]):
        self.supplier_code = supplier_code
        self.by_code = {product.code: product for product in products}
        # Product codes that exist but are not this supplier's vouchers → reason.
        self.refused = refused

    def by_denomination(self, text: str) -> CatalogProduct | str:
        found = [p for p in self.by_code.values() if p.matches_denomination(text)]
        if len(found) == 1:
            return found[0]
        if not found:
            return f"no voucher product of {self.supplier_code} has denomination {shown(text)}"
        codes = ", ".join(sorted(p.code for p in found))
        return f"denomination {shown(text)} fits several products ({codes}); give product_code"


CheckedRow = tuple[bytes, bytes, CatalogProduct, str, date | None]


class RowChecker:
    """Validates rows one by one; caches the per-value checks that repeat across rows."""

    def __init__(self, layout: StockLayout, catalog: Catalog, today: date) -> None:
        self.layout = layout
        self.catalog = catalog
        self.today = today
        self._products: dict[tuple[bytes, bytes], CatalogProduct | str] = {}
        self._batches: dict[bytes, str | None] = {}
        self._expiries: dict[bytes, date | str | None] = {}

    def check(
        self, line: int, fields: list[bytes], problems: list[LineProblem]
    ) -> CheckedRow | None:
        """The row's (serial, PIN, product, batch, expiry), or None after adding a problem."""
        layout = self.layout
        if len(fields) != layout.width:
            problems.append(
                LineProblem(line, f"expected {layout.width} fields, found {len(fields)}")
            )
            return None
        serial = fields[layout.serial_number].strip()
        if not serial:
            problems.append(LineProblem(line, "missing serial_number"))
            return None
        if SERIAL_PATTERN.fullmatch(serial) is None:
            problems.append(
                LineProblem(line, "malformed serial_number (1-32 letters, digits or '-')")
            )
            return None
        pin = fields[layout.pin].strip()
        if not pin:
            problems.append(LineProblem(line, "missing pin"))
            return None
        product = self._product(fields)
        if isinstance(product, str):
            problems.append(LineProblem(line, product))
            return None
        if not pin.isdigit() or not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS:
            problems.append(
                LineProblem(line, f"malformed pin ({PIN_MIN_DIGITS}-{PIN_MAX_DIGITS} digits)")
            )
            return None
        if product.pin_length is not None and len(pin) != product.pin_length:
            problems.append(
                LineProblem(
                    line, f"malformed pin ({product.code} PINs have {product.pin_length} digits)"
                )
            )
            return None
        batch = self._batch(fields[layout.batch_number])
        if batch is None:
            problems.append(
                LineProblem(line, "missing or malformed batch_number (1-32 letters, digits, ._/-)")
            )
            return None
        expiry = self._expiry(fields[layout.expiry_date])
        if isinstance(expiry, str):
            problems.append(LineProblem(line, expiry))
            return None
        return serial, pin, product, batch, expiry

    def _product(self, fields: list[bytes]) -> CatalogProduct | str:
        layout = self.layout
        code = fields[layout.product_code].strip() if layout.product_code is not None else b""
        denomination = (
            fields[layout.denomination].strip() if layout.denomination is not None else b""
        )
        key = (code, denomination)
        cached = self._products.get(key)
        if cached is None:
            cached = self._products[key] = self._resolve_product(code, denomination)
        return cached

    def _resolve_product(self, code: bytes, denomination: bytes) -> CatalogProduct | str:
        catalog = self.catalog
        if not code and not denomination:
            return "missing product_code and denomination"
        text = denomination.decode("utf-8", "replace")
        if not code:
            return catalog.by_denomination(text)
        name = code.decode("utf-8", "replace")
        product = catalog.by_code.get(name)
        if product is None:
            reason = catalog.refused.get(name)
            return reason or f"unknown product {shown(name)}"
        if denomination and not product.matches_denomination(text):
            return f"wrong denomination {shown(text)} for {product.code}"
        return product

    def _batch(self, raw: bytes) -> str | None:
        if raw not in self._batches:
            value = raw.strip()
            self._batches[raw] = (
                value.decode("ascii") if BATCH_PATTERN.fullmatch(value) is not None else None
            )
        return self._batches[raw]

    def _expiry(self, raw: bytes) -> date | str | None:
        if raw not in self._expiries:
            self._expiries[raw] = self._parse_expiry(raw.strip())
        return self._expiries[raw]

    def _parse_expiry(self, value: bytes) -> date | str | None:
        if not value:
            return None  # the voucher does not expire
        if DATE_PATTERN.fullmatch(value) is None:
            return f"malformed expiry_date {shown(value)} (expected YYYY-MM-DD)"
        try:
            expiry = date.fromisoformat(value.decode("ascii"))
        except ValueError:
            return f"malformed expiry_date {shown(value)} (no such date)"
        if expiry < self.today:
            return f"expiry_date {expiry.isoformat()} is in the past"
        return expiry
