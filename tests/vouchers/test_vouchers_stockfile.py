"""Stock file validation: every kind of bad row refuses the whole file, naming the line,
and imports nothing; the layout's tolerated variations import."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fixed_clock import NOW
from voucher_support import ZAR, StockWorld, zar

from tools.gen_stock import HEADER, render_csv
from vending.accounts import create_account
from vending.products import create_product
from vending.vouchers.errors import StockFileRejected
from vending.vouchers.tables import vouchers

BAD_LINE = 4  # the third voucher row (line 1 is the header)


def _lines(world: StockWorld, count: int = 6, *products: str) -> list[str]:
    return render_csv(world.rows(count, *products)).decode().splitlines()


def _field(line: str, index: int, value: str) -> str:
    fields = line.split(",")
    fields[index] = value
    return ",".join(fields)


def _refused(world: StockWorld, content: bytes) -> list[str]:
    before = world.stock_counts()
    with pytest.raises(StockFileRejected) as caught:
        world.import_rows(content)
    assert world.stock_counts() == before, "a refused file must import nothing"
    problems = [str(problem) for problem in caught.value.problems]
    world.sentinel.assert_absent("\n".join(problems), "the problem report")
    return problems


# Each case turns the lines of a good file into a bad one (changing line BAD_LINE).
Mutation = Callable[[StockWorld, list[str]], None]


def _set(index: int, value: str) -> Mutation:
    def mutate(_world: StockWorld, lines: list[str]) -> None:
        lines[BAD_LINE - 1] = _field(lines[BAD_LINE - 1], index, value)

    return mutate


def _copy_field(index: int, source_line: int) -> Mutation:
    def mutate(_world: StockWorld, lines: list[str]) -> None:
        value = lines[source_line - 1].split(",")[index]
        lines[BAD_LINE - 1] = _field(lines[BAD_LINE - 1], index, value)

    return mutate


def _from_stock(index: int) -> Mutation:
    """Give the bad line the serial (0) or PIN (1) of a voucher already in stock."""

    def mutate(world: StockWorld, lines: list[str]) -> None:
        existing = world.rows(3)
        world.import_rows(existing)
        value = (existing[1].serial_number, existing[1].pin)[index]
        lines[BAD_LINE - 1] = _field(lines[BAD_LINE - 1], index, value)

    return mutate


def _drop_field(_world: StockWorld, lines: list[str]) -> None:
    lines[BAD_LINE - 1] = lines[BAD_LINE - 1].rsplit(",", 1)[0]


def _other_suppliers_product(world: StockWorld, lines: list[str]) -> None:
    def setup(txn):  # type: ignore[no-untyped-def]
        create_account(
            txn, code="supplier:OTHER", kind="supplier", name="Other", currency=ZAR, now=NOW
        )
        create_product(
            txn,
            code="OTHER-5",
            kind="voucher",
            name="Other R5",
            currency=ZAR,
            supplier_account_code="supplier:OTHER",
            face_value=zar("5.00"),
            cost_price=zar("4.50"),
            now=NOW,
        )

    world.db.run_txn("other_product", setup)
    _set(2, "OTHER-5")(world, lines)
    _set(3, "")(world, lines)


CASES: dict[str, tuple[Mutation, str]] = {
    "missing field": (_drop_field, "expected 6 fields, found 5"),
    "missing serial": (_set(0, ""), "missing serial_number"),
    "malformed serial": (_set(0, "77 00"), "malformed serial_number"),
    "missing pin": (_set(1, ""), "missing pin"),
    "malformed pin": (_set(1, "12345678ABCD5678"), "malformed pin (4-32 digits)"),
    "pin of the wrong length": (_set(1, "123456789012345"), "AIR-10 PINs have 16 digits"),
    "duplicate serial in the file": (_copy_field(0, 2), "serial_number duplicates line 2"),
    "duplicate pin in the file": (_copy_field(1, 3), "pin duplicates the PIN of line 3"),
    "serial already in stock": (_from_stock(0), "serial_number already in stock"),
    "pin already in stock": (_from_stock(1), "pin is already in stock"),
    "unknown product": (_set(2, "NOPE-10"), "unknown product 'NOPE-10'"),
    "another supplier's product": (_other_suppliers_product, "OTHER-5 is not supplied by ACME"),
    "wrong denomination": (_set(3, "20.00"), "wrong denomination '20.00' for AIR-10"),
    "missing batch": (_set(4, ""), "missing or malformed batch_number"),
    "past expiry": (_set(5, "2020-01-31"), "expiry_date 2020-01-31 is in the past"),
    "impossible expiry": (_set(5, "2027-02-30"), "no such date"),
    "malformed expiry": (_set(5, "31/12/2027"), "expected YYYY-MM-DD"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_row_refuses_the_whole_file_naming_its_line(world: StockWorld, case: str) -> None:
    mutate, expected = CASES[case]
    lines = _lines(world)
    mutate(world, lines)
    problems = _refused(world, ("\n".join(lines) + "\n").encode())
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"line {BAD_LINE}: ")
    assert expected in problems[0]


def test_every_bad_line_is_named_not_only_the_first(world: StockWorld) -> None:
    existing = world.rows(2)
    world.import_rows(existing)
    lines = _lines(world, 40)
    lines[3] = _field(lines[3], 1, "oops")
    lines[10] = _field(lines[10], 5, "2001-01-01")
    lines[20] = _field(lines[20], 0, existing[0].serial_number)
    lines[30] = _field(lines[30], 1, lines[29].split(",")[1])
    lines[39] = _field(lines[39], 2, "NOPE")
    problems = _refused(world, ("\n".join(lines) + "\n").encode())
    assert [problem.split(":")[0] for problem in problems] == [
        "line 4",
        "line 11",
        "line 21",
        "line 31",
        "line 40",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "line 1: the file is empty"),
        (b"serial_number,pin,batch_number,expiry_date\n", "lacks column(s): product_code or"),
        (b"serial_number,pin,product_code,batch_number\n", "lacks column(s): expiry_date"),
        (HEADER.encode() + b",colour\n", "unknown column 'colour'"),
        (HEADER.encode() + b"\n", "line 1: the file has no voucher rows"),
    ],
)
def test_unusable_files_are_refused(world: StockWorld, content: bytes, expected: str) -> None:
    assert expected in _refused(world, content)[0]


def test_tolerated_layout_variations_import(world: StockWorld) -> None:
    """Excel's CRLF, byte-order mark and quotes; comments and blank lines; aliases; the
    product found from its denomination alone."""
    rows = world.rows(4, "AIR-10", "DATA-1GB")
    lines = ["# exported by the supplier's portal", "serial,PIN,denomination,batch,expiry", ""]
    for row in rows:
        lines.append(
            f'"{row.serial_number}",{row.pin},"{row.denomination}",{row.batch_number},'
            f"{row.expiry_date}"
        )
    summary = world.import_rows(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    assert summary.rows == 4
    assert {total.product_code: total.rows for total in summary.products} == {
        "AIR-10": 2,
        "DATA-1GB": 2,
    }
    assert world.count(vouchers) == 4


def test_vouchers_without_expiry_import(world: StockWorld) -> None:
    lines = _lines(world, 3)
    lines[1] = _field(lines[1], 5, "")
    summary = world.import_rows(("\n".join(lines) + "\n").encode())
    assert summary.rows == 3
    assert world.count(vouchers, vouchers.c.expiry.is_(None)) == 1
