"""The double-entry ledger: balanced transfers, limits, refusals that write nothing,
reversals, statements and verification (also through ``evd ledger verify``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

import pytest
from fixed_clock import NOW
from sqlalchemy import insert, select, update
from vending_support import (
    VENDOR,
    Snapshot,
    assert_ledger_consistent,
    balance,
    house,
    run,
    snapshot,
    transfer_legs,
    zar,
)

from vending.accounts import create_account, get_account, set_blocked
from vending.cli.main import main
from vending.errors import (
    AccountBlocked,
    CurrencyMismatch,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    LedgerImbalance,
    ReversalRefused,
    UnknownAccount,
    UnknownVendor,
    VendingError,
)
from vending.ledger import (
    Leg,
    check_balanced,
    post_transfer,
    reverse_transfer,
    statement,
    verify_ledger,
)
from vending.money import Money
from vending.storage.database import Database, Txn
from vending.storage.schema import accounts, ledger_entries, transfers
from vending.vendors import (
    adjust_vendor_balance,
    get_vendor,
    set_vendor_blocked,
    set_vendor_credit_limit,
)

VENDOR_ACCOUNT = f"vendor:{VENDOR}"


def _ids(db: Database, *codes: str) -> list[int]:
    return [run(db, get_account, code).id for code in codes]


def _post(db: Database, legs: list[Leg], kind: str = "adjustment") -> int:
    return run(
        db, post_transfer, kind=kind, legs=legs, description="test", created_by="test", now=NOW
    ).id


P = ParamSpec("P")


def _refused(
    db: Database,
    error: type[VendingError],
    fn: Callable[Concatenate[Txn, P], Any],
    *args: P.args,
    **kw: P.kwargs,
):
    """Run ``fn`` expecting ``error`` and prove that it wrote nothing."""
    before: Snapshot = snapshot(db)
    with pytest.raises(error) as excinfo:
        db.run_txn("refused", fn, *args, **kw)
    assert snapshot(db) == before
    return excinfo.value


def test_balanced_transfer_moves_money_and_records_entries(world: Database) -> None:
    """A balanced transfer changes each balance by its legs and records every leg."""
    vendor_id, bank_id = _ids(world, VENDOR_ACCOUNT, house("bank"))
    before_vendor, before_bank = balance(world, VENDOR_ACCOUNT), balance(world, house("bank"))
    posted = run(
        world,
        post_transfer,
        kind="adjustment",
        legs=[Leg(vendor_id, zar("12.34"), "deposit"), Leg(bank_id, zar("-12.34"), "deposit")],
        description="cash deposit",
        created_by="test",
        reference="slip-1",
        now=NOW,
    )
    assert posted.balances == {vendor_id: before_vendor + 1234, bank_id: before_bank - 1234}
    assert posted.balance_of(vendor_id, "ZAR") == Money(before_vendor + 1234, "ZAR")
    assert transfer_legs(world, posted.id) == [
        (VENDOR_ACCOUNT, 1234, "deposit"),
        (house("bank"), -1234, "deposit"),
    ]
    row = world.run_txn(
        "t", lambda txn: txn.execute(select(transfers).where(transfers.c.id == posted.id)).one()
    )
    assert (row.kind, row.description, row.reference, row.created_by) == (
        "adjustment",
        "cash deposit",
        "slip-1",
        "test",
    )
    assert_ledger_consistent(world)


def test_zero_legs_are_dropped_and_same_account_legs_combine(world: Database) -> None:
    """Zero legs (no fee, no commission) are not written; two legs on one account apply
    their sum, and each entry's balance_after is the running balance."""
    vendor_id, bank_id, fee_id = _ids(world, VENDOR_ACCOUNT, house("bank"), house("fees"))
    start = balance(world, VENDOR_ACCOUNT)
    transfer_id = _post(
        world,
        [
            Leg(vendor_id, zar("-10.00"), "sale"),
            Leg(vendor_id, zar("0.40"), "commission"),
            Leg(fee_id, zar("0"), "fee"),
            Leg(bank_id, zar("9.60"), "margin"),
        ],
    )
    assert transfer_legs(world, transfer_id) == [
        (VENDOR_ACCOUNT, -1000, "sale"),
        (VENDOR_ACCOUNT, 40, "commission"),
        (house("bank"), 960, "margin"),
    ]
    lines = run(world, statement, vendor_id, 2)
    assert [line.balance_after.amount for line in lines] == [start - 960, start - 1000]
    assert balance(world, VENDOR_ACCOUNT) == start - 960


BAD_TRANSFERS: list[tuple[list[tuple[str, str]], type[VendingError]]] = [
    ([("v", "1.00"), ("b", "-0.99")], LedgerImbalance),  # unbalanced
    ([("v", "1.00")], LedgerImbalance),  # one leg
    ([("v", "1.00"), ("b", "0")], LedgerImbalance),  # one leg once zeros are dropped
    ([], InvalidAmount),  # no legs at all
    ([("v", "0"), ("b", "0")], InvalidAmount),  # only zero legs: moves nothing
]


def test_bad_transfers_are_refused_and_write_nothing(
    world: Database, subtests: pytest.Subtests
) -> None:
    """Unbalanced, one-leg and empty transfers are refused before anything is written."""
    vendor_id, bank_id = _ids(world, VENDOR_ACCOUNT, house("bank"))
    accounts_by = {"v": vendor_id, "b": bank_id}
    for amounts, error in BAD_TRANSFERS:
        with subtests.test(msg=str(amounts)):
            legs = [Leg(accounts_by[a], zar(x), "test") for a, x in amounts]
            _refused(
                world,
                error,
                post_transfer,
                kind="adjustment",
                legs=legs,
                description="x",
                created_by="t",
                now=NOW,
            )


def test_check_balanced_refuses_zero_legs_and_per_currency_imbalance() -> None:
    """check_balanced wants >= 2 non-zero legs summing to zero in every currency."""
    check_balanced([Leg(1, Money(5, "ZAR"), "a"), Leg(2, Money(-5, "ZAR"), "b")])
    with pytest.raises(InvalidAmount):
        check_balanced([Leg(1, Money(0, "ZAR"), "a"), Leg(2, Money(0, "ZAR"), "b")])
    with pytest.raises(LedgerImbalance, match="USD"):
        check_balanced([Leg(1, Money(5, "ZAR"), "a"), Leg(2, Money(-5, "USD"), "b")])
    with pytest.raises(LedgerImbalance):
        check_balanced([Leg(1, Money(5, "ZAR"), "a")])


def test_deposit_and_withdrawal(world: Database) -> None:
    """adjust_vendor_balance credits/debits the vendor against the bank, with an audit line."""
    start = balance(world, VENDOR_ACCOUNT)
    bank = balance(world, house("bank"))
    deposit = run(
        world, adjust_vendor_balance, VENDOR, zar("25.00"), reason="cash", actor="a", now=NOW
    )
    withdrawal = run(
        world, adjust_vendor_balance, VENDOR, zar("-5.50"), reason="refund", actor="a", now=NOW
    )
    assert balance(world, VENDOR_ACCOUNT) == start + 2500 - 550
    assert balance(world, house("bank")) == bank - 2500 + 550
    assert transfer_legs(world, deposit.id) == [
        (VENDOR_ACCOUNT, 2500, "deposit"),
        (house("bank"), -2500, "deposit"),
    ]
    assert transfer_legs(world, withdrawal.id) == [
        (VENDOR_ACCOUNT, -550, "withdrawal"),
        (house("bank"), 550, "withdrawal"),
    ]
    kinds = world.run_txn(
        "kinds",
        lambda txn: (
            txn.execute(
                select(transfers.c.kind)
                .where(transfers.c.id.in_([deposit.id, withdrawal.id]))
                .order_by(transfers.c.id)
            )
            .scalars()
            .all()
        ),
    )
    assert kinds == ["deposit", "withdrawal"]
    assert_ledger_consistent(world)


BAD_ADJUSTMENTS: list[tuple[Money, str, str, type[VendingError]]] = [
    (Money(0, "ZAR"), "x", VENDOR, InvalidAmount),
    (Money(100, "USD"), "x", VENDOR, CurrencyMismatch),
    (Money(100, "ZAR"), "  ", VENDOR, InvalidRequest),
    (Money(100, "ZAR"), "x", "NOBODY", UnknownVendor),
    (Money(-15001, "ZAR"), "x", VENDOR, InsufficientFunds),
]


def test_bad_adjustments_write_nothing(world: Database, subtests: pytest.Subtests) -> None:
    """Zero, wrong currency, no reason, unknown vendor, beyond the limit: refused cleanly."""
    for amount, reason, client_id, error in BAD_ADJUSTMENTS:
        with subtests.test(msg=error.__name__):
            _refused(
                world,
                error,
                adjust_vendor_balance,
                client_id,
                amount,
                reason=reason,
                actor="a",
                now=NOW,
            )


def test_credit_limit_is_respected_to_the_cent(world: Database) -> None:
    """R100.00 balance + R50.00 limit: R150.00 can be debited, not one cent more."""
    _refused(
        world,
        InsufficientFunds,
        adjust_vendor_balance,
        VENDOR,
        zar("-150.01"),
        reason="x",
        actor="a",
        now=NOW,
    )
    run(world, adjust_vendor_balance, VENDOR, zar("-150.00"), reason="x", actor="a", now=NOW)
    assert balance(world, VENDOR_ACCOUNT) == -5000
    error = _refused(
        world,
        InsufficientFunds,
        adjust_vendor_balance,
        VENDOR,
        zar("-0.01"),
        reason="x",
        actor="a",
        now=NOW,
    )
    assert "vendor:V1" in str(error)
    assert_ledger_consistent(world)


def test_credit_limit_changes(world: Database) -> None:
    """A raised limit allows more; a limit below the current overdraft is refused."""
    run(world, set_vendor_credit_limit, VENDOR, zar("80"), actor="a", now=NOW)
    run(world, adjust_vendor_balance, VENDOR, zar("-170.00"), reason="x", actor="a", now=NOW)
    assert balance(world, VENDOR_ACCOUNT) == -7000
    _refused(
        world, InvalidRequest, set_vendor_credit_limit, VENDOR, zar("69.99"), actor="a", now=NOW
    )
    _refused(world, InvalidRequest, set_vendor_credit_limit, VENDOR, zar("-1"), actor="a", now=NOW)
    _refused(
        world,
        InvalidRequest,
        set_vendor_credit_limit,
        VENDOR,
        Money(9000, "USD"),
        actor="a",
        now=NOW,
    )
    vendor = run(world, set_vendor_credit_limit, VENDOR, zar("70"), actor="a", now=NOW)
    assert vendor.credit_limit == zar("70")
    assert vendor.available == zar("0")


def test_accounts_without_limit_may_go_negative(world: Database) -> None:
    """House accounts have no floor: the bank runs negative by what it paid in."""
    assert run(world, get_account, house("bank")).credit_limit is None
    assert balance(world, house("bank")) == -10000


def test_blocked_account_refuses_debits_but_accepts_credits(world: Database) -> None:
    """A blocked vendor can be paid in (and refunded) but not debited."""
    run(world, set_vendor_blocked, VENDOR, True, actor="a", reason="fraud check", now=NOW)
    error = _refused(
        world,
        AccountBlocked,
        adjust_vendor_balance,
        VENDOR,
        zar("-1.00"),
        reason="x",
        actor="a",
        now=NOW,
    )
    assert "vendor:V1" in str(error)
    run(world, adjust_vendor_balance, VENDOR, zar("1.00"), reason="x", actor="a", now=NOW)
    assert balance(world, VENDOR_ACCOUNT) == 10100
    run(world, set_vendor_blocked, VENDOR, False, actor="a", now=NOW)
    run(world, adjust_vendor_balance, VENDOR, zar("-1.00"), reason="x", actor="a", now=NOW)
    assert balance(world, VENDOR_ACCOUNT) == 10000


def test_blocking_a_plain_account(world: Database) -> None:
    """accounts.set_blocked blocks debits of any account, including unlimited ones."""
    vendor_id, bank_id = _ids(world, VENDOR_ACCOUNT, house("bank"))
    run(world, set_blocked, bank_id, True)
    _refused(
        world,
        AccountBlocked,
        post_transfer,
        kind="adjustment",
        legs=[Leg(vendor_id, zar("1"), "x"), Leg(bank_id, zar("-1"), "x")],
        description="x",
        created_by="t",
        now=NOW,
    )
    with pytest.raises(UnknownAccount):
        run(world, set_blocked, 987654, True)


def test_wrong_currency_leg_is_refused(world: Database) -> None:
    """A USD leg on a ZAR account is a CurrencyMismatch, credit or debit."""
    vendor_id, bank_id = _ids(world, VENDOR_ACCOUNT, house("bank"))
    usd = run(
        world, create_account, code="usd:1", kind="house", name="USD", currency="USD", now=NOW
    ).id
    for legs in (
        [Leg(vendor_id, Money(100, "USD"), "x"), Leg(usd, Money(-100, "USD"), "x")],
        [Leg(usd, Money(100, "USD"), "x"), Leg(bank_id, Money(-100, "USD"), "x")],
    ):
        _refused(
            world,
            CurrencyMismatch,
            post_transfer,
            kind="adjustment",
            legs=legs,
            description="x",
            created_by="t",
            now=NOW,
        )


def test_unknown_account_is_refused(world: Database) -> None:
    """Legs for an account that does not exist: UnknownAccount, nothing written."""
    (vendor_id,) = _ids(world, VENDOR_ACCOUNT)
    for amount in ("1.00", "-1.00"):
        legs = [Leg(vendor_id, zar(amount), "x"), Leg(999_999, -zar(amount), "x")]
        _refused(
            world,
            UnknownAccount,
            post_transfer,
            kind="adjustment",
            legs=legs,
            description="x",
            created_by="t",
            now=NOW,
        )
    with pytest.raises(UnknownAccount):
        run(world, get_account, "vendor:NOBODY")


def test_legs_cancelling_out_on_one_account_are_still_checked(world: Database) -> None:
    """Two legs that cancel on one account move nothing, yet an unknown account or a
    foreign currency is still refused (not written as a mismatching entry)."""
    (vendor_id,) = _ids(world, VENDOR_ACCOUNT)
    for account_id, currency, error in (
        (vendor_id, "USD", CurrencyMismatch),
        (999_999, "ZAR", UnknownAccount),
    ):
        legs = [Leg(account_id, Money(5, currency), "a"), Leg(account_id, Money(-5, currency), "b")]
        _refused(
            world,
            error,
            post_transfer,
            kind="adjustment",
            legs=legs,
            description="x",
            created_by="t",
            now=NOW,
        )
    posted = run(
        world,
        post_transfer,
        kind="adjustment",
        legs=[Leg(vendor_id, zar("5"), "a"), Leg(vendor_id, zar("-5"), "b")],
        description="contra",
        created_by="t",
        now=NOW,
    )
    assert posted.balances == {vendor_id: 10000}
    assert [amount for _c, amount, _r in transfer_legs(world, posted.id)] == [500, -500]
    assert_ledger_consistent(world)


def test_reverse_transfer_posts_the_exact_opposite_once(world: Database) -> None:
    """A reversal mirrors every leg and points at the original; a second one is refused."""
    deposit = run(
        world, adjust_vendor_balance, VENDOR, zar("40.00"), reason="x", actor="a", now=NOW
    )
    reversal = run(
        world,
        reverse_transfer,
        deposit.id,
        kind="reversal",
        description="oops",
        created_by="a",
        now=NOW,
    )
    original = transfer_legs(world, deposit.id)
    assert transfer_legs(world, reversal.id) == [(c, -a, r) for c, a, r in original]
    reverses = world.run_txn(
        "r",
        lambda txn: txn.execute(
            select(transfers.c.reverses_id).where(transfers.c.id == reversal.id)
        ).scalar_one(),
    )
    assert reverses == deposit.id
    assert balance(world, VENDOR_ACCOUNT) == 10000
    # Reversing again would also overdraw the vendor: the refusal must still say why.
    run(world, adjust_vendor_balance, VENDOR, zar("-150.00"), reason="x", actor="a", now=NOW)
    _refused(
        world,
        ReversalRefused,
        reverse_transfer,
        deposit.id,
        kind="reversal",
        description="again",
        created_by="a",
        now=NOW,
    )
    _refused(
        world, VendingError, reverse_transfer, 999_999, kind="reversal", description="x",
        created_by="a", now=NOW,
    )  # fmt: skip
    assert_ledger_consistent(world)


def test_journal_rows_are_immutable(world: Database) -> None:
    """UPDATE and DELETE of transfers and ledger entries fail in the database itself."""
    for statement_ in (
        update(transfers).values(description="rewritten"),
        update(ledger_entries).values(amount=ledger_entries.c.amount + 1),
        transfers.delete(),
        ledger_entries.delete(),
    ):
        before = snapshot(world)
        with pytest.raises(Exception, match="immutable"):
            world.run_txn("tamper", lambda txn, s=statement_: txn.execute(s))
        assert snapshot(world) == before


def test_statement_newest_first_with_running_balance(world: Database) -> None:
    """Statement lines come newest first; balance_after is the balance after each line."""
    for amount in ("5.00", "-2.25", "7.10"):
        run(
            world,
            adjust_vendor_balance,
            VENDOR,
            zar(amount),
            reason=f"move {amount}",
            actor="a",
            now=NOW,
        )
    (vendor_id,) = _ids(world, VENDOR_ACCOUNT)
    lines = run(world, statement, vendor_id, 3)
    assert [line.amount.amount for line in lines] == [710, -225, 500]
    assert [line.balance_after.amount for line in lines] == [10985, 10275, 10500]
    assert [line.description for line in lines] == ["move 7.10", "move -2.25", "move 5.00"]
    assert [line.kind for line in lines] == ["deposit", "withdrawal", "deposit"]
    full = run(world, statement, vendor_id, 100)
    assert len(full) == 4
    assert full[-1].balance_after == zar("100.00")
    assert full[0].entry_id > full[1].entry_id


def _tamper(db: Database, code: str, delta: int) -> None:
    db.run_txn(
        "tamper",
        lambda txn: txn.execute(
            update(accounts)
            .where(accounts.c.code == code)
            .values(balance=accounts.c.balance + delta)
        ),
    )


def test_verify_ledger_clean_and_names_a_tampered_account(world: Database) -> None:
    """A balance changed behind the ledger's back is reported with the account code."""
    report = run(world, verify_ledger)
    assert report.ok
    assert report.problems() == []
    assert report.accounts_checked == 8  # five house accounts, supplier, utility, vendor
    assert report.transfers_checked == 1
    _tamper(world, VENDOR_ACCOUNT, 1)
    report = run(world, verify_ledger)
    assert not report.ok
    assert report.balance_mismatches == [(VENDOR_ACCOUNT, 10001, 10000)]
    assert any(VENDOR_ACCOUNT in line for line in report.problems())


def test_verify_ledger_finds_unbalanced_and_foreign_currency_entries(world: Database) -> None:
    """Entries inserted behind the ledger's back (a lone leg, a USD leg on a ZAR account)
    are reported as an unbalanced transfer and a currency mismatch."""
    (vendor_id,) = _ids(world, VENDOR_ACCOUNT)

    def forge(txn: Txn) -> int:
        transfer_id = txn.execute(
            insert(transfers)
            .values(kind="adjustment", description="forged", created_by="x", created_at=NOW)
            .returning(transfers.c.id)
        ).scalar_one()
        txn.execute(
            insert(ledger_entries).values(
                transfer_id=transfer_id,
                account_id=vendor_id,
                amount=7,
                currency="USD",
                role="x",
                balance_after=0,
            )
        )
        return transfer_id

    forged = world.run_txn("forge", forge)
    report = run(world, verify_ledger)
    assert (forged, "USD", 7) in report.unbalanced_transfers
    assert (forged, "*", 0) in report.unbalanced_transfers
    assert report.currency_mismatches == [(VENDOR_ACCOUNT, "USD", "ZAR")]
    assert report.balance_mismatches == [(VENDOR_ACCOUNT, 10000, 10007)]


def test_cli_ledger_verify_exit_code_names_the_account(
    world: Database, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`evd ledger verify` exits 0 on a clean ledger and 1 naming a tampered account."""
    clean_env.setenv("EVD_DATABASE_URL", world.url)
    assert main(["ledger", "verify"]) == 0
    out = capsys.readouterr().out
    assert "ledger OK" in out
    _tamper(world, house("revenue"), -3)
    assert main(["ledger", "verify"]) == 1
    out = capsys.readouterr().out
    assert house("revenue") in out
    assert "FAILED" in out
    assert VENDOR_ACCOUNT not in out


def test_credit_limit_is_a_database_invariant(world: Database) -> None:
    """Even a direct UPDATE cannot put a limited account below -credit_limit."""
    with pytest.raises(Exception, match=r"(?i)check|constraint"):
        world.run_txn(
            "overdraw",
            lambda txn: txn.execute(
                update(accounts).where(accounts.c.code == VENDOR_ACCOUNT).values(balance=-5001)
            ),
        )
    assert run(world, get_vendor, VENDOR).balance == zar("100.00")
