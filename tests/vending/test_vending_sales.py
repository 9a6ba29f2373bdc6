"""Sales: the money legs of each kind of sale, the state machine and reversal policies."""

from __future__ import annotations

import pytest
from fixed_clock import NOW
from sqlalchemy import select
from vending_support import (
    SUPPLIER,
    UTILITY,
    VENDOR,
    add_vendor,
    assert_ledger_consistent,
    balance,
    claim,
    house,
    order_for,
    run,
    sell,
    snapshot,
    transfer_legs,
    zar,
)

from vending.errors import (
    AccountBlocked,
    AmountOutOfRange,
    InsufficientFunds,
    InvalidState,
    ReversalRefused,
    UnknownSale,
    VendingError,
)
from vending.keyring import Keyring
from vending.products import get_product, set_vendor_commission
from vending.sales import (
    confirm_sale,
    fail_sale,
    get_sale,
    hold_sale,
    pending_sales,
    recent_sales,
    record_sale,
    reverse_sale,
    sale_for_request,
    settle_sale,
)
from vending.storage.database import Database, Txn
from vending.storage.schema import transfers
from vending.vendors import get_vendor, set_vendor_blocked

VENDOR_ACCOUNT = f"vendor:{VENDOR}"
SUSPENSE = house("suspense")


def _balances(db: Database) -> dict[str, int]:
    return snapshot(db).balances


def _transfer(db: Database, transfer_id: int):  # type: ignore[no-untyped-def]
    return db.run_txn(
        "transfer",
        lambda txn: txn.execute(select(transfers).where(transfers.c.id == transfer_id)).one(),
    )


def test_record_sale_posts_one_balanced_transfer(world: Database, keyring: Keyring) -> None:
    """A one-step sale: vendor pays price, gets commission; supplier gets its share and the
    operator its margin; nothing else moves."""
    before = _balances(world)
    result = run(world, sell, keyring, "AIR10", request_id="r1")
    sale = result.sale
    assert sale.state == "completed"
    assert (sale.amount, sale.commission, sale.fee, sale.cost) == (
        zar("10.00"),
        zar("0.40"),
        zar("0"),
        zar("9.40"),
    )
    assert sale.completed_at is not None
    assert sale.receipt_no == f"{sale.id:012d}"
    assert transfer_legs(world, sale.transfer_id) == [
        (VENDOR_ACCOUNT, 40, "commission"),
        (VENDOR_ACCOUNT, -1000, "sale"),
        (SUPPLIER, 940, "supplier"),
        (house("revenue"), 20, "margin"),
    ]
    row = _transfer(world, sale.transfer_id)
    assert (row.kind, row.reference) == ("sale", f"request:{sale.request_pk}")
    after = _balances(world)
    changed = {code: after[code] - before[code] for code in after if after[code] != before[code]}
    assert changed == {VENDOR_ACCOUNT: -960, SUPPLIER: 940, house("revenue"): 20}
    assert result.vendor_balance == zar("90.40")
    assert_ledger_consistent(world)


def test_sale_with_fee_and_vendor_commission(world: Database, keyring: Keyring) -> None:
    """The vendor's balance drops by price + fee - commission (its own commission rate)."""
    vendor = run(world, get_vendor, VENDOR)
    bill = run(world, get_product, "BILL")
    run(world, set_vendor_commission, vendor.id, bill.id, 100)
    result = run(world, sell, keyring, "BILL", zar("100.00"), request_id="r1")
    assert transfer_legs(world, result.sale.transfer_id) == [
        (VENDOR_ACCOUNT, 100, "commission"),
        (VENDOR_ACCOUNT, -10250, "sale"),
        (UTILITY, 9900, "supplier"),
        (house("fees"), 250, "fee"),
    ]  # margin 100.00 - 99.00 - 1.00 = 0: no margin leg
    assert result.sale.commission == zar("1.00")
    assert balance(world, VENDOR_ACCOUNT) == 10000 - 10250 + 100
    assert result.vendor_balance == zar("-1.50")
    assert_ledger_consistent(world)


def test_sale_beyond_credit_writes_nothing(world: Database, keyring: Keyring) -> None:
    """A sale the vendor cannot afford is refused and leaves no request, sale or transfer."""
    before = snapshot(world)
    with pytest.raises(InsufficientFunds):
        run(world, sell, keyring, "ELEC", zar("155.00"), request_id="r1")
    assert snapshot(world) == before
    # R150.00 + fee 0 - commission 3.00 = 147.00 fits within R100.00 + R50.00.
    run(world, sell, keyring, "ELEC", zar("150.00"), request_id="r1")
    assert balance(world, VENDOR_ACCOUNT) == 10000 - 15000 + 300


@pytest.mark.parametrize(
    ("setup", "error"),
    [("block", AccountBlocked), ("out_of_range", AmountOutOfRange)],
)
def test_refused_sales_write_nothing(
    world: Database, keyring: Keyring, setup: str, error: type[VendingError]
) -> None:
    """A blocked vendor or a bad amount is refused with nothing written."""
    amount = zar("1.00") if setup == "out_of_range" else zar("10.00")
    if setup == "block":
        run(world, set_vendor_blocked, VENDOR, True, actor="t", now=NOW)
    before = snapshot(world)
    with pytest.raises(error):
        run(world, sell, keyring, "ELEC", amount, request_id="r1")
    assert snapshot(world) == before


def test_hold_then_settle(world: Database, keyring: Keyring) -> None:
    """pending → completed: the vendor pays at hold time into suspense; settlement empties
    suspense into the supplier, margin and fee accounts."""
    start = _balances(world)
    held = run(world, sell, keyring, "BILL", zar("100.00"), request_id="r1", hold=True)
    sale = held.sale
    assert sale.state == "pending"
    assert sale.completed_at is None
    assert transfer_legs(world, sale.transfer_id) == [
        (VENDOR_ACCOUNT, 50, "commission"),
        (VENDOR_ACCOUNT, -10250, "sale"),
        (SUSPENSE, 10200, "hold"),
    ]
    assert _transfer(world, sale.transfer_id).kind == "sale_hold"
    assert balance(world, SUSPENSE) == 10200
    assert held.vendor_balance == zar("-2.00")
    assert [s.id for s in run(world, pending_sales)] == [sale.id]

    settled = run(world, settle_sale, sale.id, external_ref="UP-1", details={"units": "5"}, now=NOW)
    assert settled.state == "completed"
    assert settled.external_ref == "UP-1"
    assert settled.details == {"units": "5"}
    assert settled.completed_at is not None
    assert transfer_legs(world, settled.settlement_transfer_id) == [
        (SUSPENSE, -10200, "release"),
        (UTILITY, 9900, "supplier"),
        (house("revenue"), 50, "margin"),
        (house("fees"), 250, "fee"),
    ]
    end = _balances(world)
    assert end[SUSPENSE] == 0
    assert end[VENDOR_ACCOUNT] - start[VENDOR_ACCOUNT] == -10200
    assert end[UTILITY] - start[UTILITY] == 9900
    assert run(world, pending_sales) == []
    assert_ledger_consistent(world)


def test_hold_then_fail_refunds_exactly(world: Database, keyring: Keyring) -> None:
    """pending → failed: the hold is reversed, the vendor has every cent back."""
    start = _balances(world)
    sale = run(world, sell, keyring, "ELEC", zar("120.00"), request_id="r1", hold=True).sale
    failed = run(world, fail_sale, sale.id, reason="upstream timeout", now=NOW)
    assert failed.state == "failed"
    assert failed.failure_reason == "upstream timeout"
    assert failed.reversal_transfer_id is not None
    release = _transfer(world, failed.reversal_transfer_id)
    assert (release.kind, release.reverses_id) == ("sale_release", sale.transfer_id)
    original = transfer_legs(world, sale.transfer_id)
    assert transfer_legs(world, failed.reversal_transfer_id) == [(c, -a, r) for c, a, r in original]
    assert _balances(world) == start
    assert_ledger_consistent(world)


WRONG_TRANSITIONS = [
    ("completed", "settle"),
    ("completed", "fail"),
    ("failed", "settle"),
    ("failed", "fail"),
    ("settled", "settle"),
    ("settled", "fail"),
    ("pending", "confirm"),
    ("failed", "confirm"),
]


def test_transitions_from_wrong_states_are_refused(
    world: Database, keyring: Keyring, subtests: pytest.Subtests
) -> None:
    """settle/fail need a pending sale, confirm a completed one; anything else is
    InvalidState and changes nothing."""
    for n, (state, action) in enumerate(WRONG_TRANSITIONS):
        with subtests.test(msg=f"{action} {state}"):
            hold = state != "completed"
            sale = run(world, sell, keyring, "AIR10", request_id=f"r{n}", hold=hold).sale
            if state == "failed":
                run(world, fail_sale, sale.id, reason="x", now=NOW)
            elif state == "settled":
                run(world, settle_sale, sale.id, now=NOW)
            before = snapshot(world)
            fn = {
                "settle": lambda txn, s=sale: settle_sale(txn, s.id, now=NOW),
                "fail": lambda txn, s=sale: fail_sale(txn, s.id, reason="again", now=NOW),
                "confirm": lambda txn, s=sale: confirm_sale(txn, s.id, now=NOW),
            }[action]
            with pytest.raises(InvalidState, match=sale.receipt_no):
                world.run_txn("transition", fn)
            assert snapshot(world) == before


def test_unknown_sale(world: Database) -> None:
    """Every sale operation names an unknown sale as UnknownSale."""
    for fn in (
        lambda txn: get_sale(txn, 4242),
        lambda txn: settle_sale(txn, 4242, now=NOW),
        lambda txn: fail_sale(txn, 4242, reason="x", now=NOW),
        lambda txn: reverse_sale(txn, 4242, reason="x", created_by="t", now=NOW),
        lambda txn: confirm_sale(txn, 4242, now=NOW),
    ):
        with pytest.raises(UnknownSale):
            world.run_txn("unknown", fn)


def test_reverse_refundable_sale_is_idempotent(world: Database, keyring: Keyring) -> None:
    """A 'refund' sale reverses completely; a second reversal changes nothing."""
    start = _balances(world)
    sale = run(world, sell, keyring, "AIR10", request_id="r1").sale
    reversed_ = run(world, reverse_sale, sale.id, reason="customer", created_by="t", now=NOW)
    assert reversed_.state == "reversed"
    assert reversed_.reversed_at is not None
    reversal = _transfer(world, reversed_.reversal_transfer_id)
    assert (reversal.kind, reversal.reverses_id) == ("reversal", sale.transfer_id)
    assert _balances(world) == start
    before = snapshot(world)
    again = run(world, reverse_sale, sale.id, reason="again", created_by="t", now=NOW)
    assert again == reversed_
    assert snapshot(world) == before
    assert_ledger_consistent(world)


def test_reverse_settled_sale_undoes_hold_and_settlement(world: Database, keyring: Keyring) -> None:
    """Reversing a sale that went through suspense reverses both of its transfers."""
    start = _balances(world)
    sale = run(world, sell, keyring, "AIR10", request_id="r1", hold=True).sale
    run(world, settle_sale, sale.id, now=NOW)
    reversed_ = run(world, reverse_sale, sale.id, reason="x", created_by="t", now=NOW)
    assert reversed_.state == "reversed"
    assert _balances(world) == start
    assert_ledger_consistent(world)


def test_reverse_refund_unconfirmed(world: Database, keyring: Keyring) -> None:
    """'refund_unconfirmed' sales reverse until confirmed, never after."""
    first = run(world, sell, keyring, "BILL", zar("50.00"), request_id="r1").sale
    assert (
        run(world, reverse_sale, first.id, reason="x", created_by="t", now=NOW).state == "reversed"
    )

    second = run(world, sell, keyring, "BILL", zar("50.00"), request_id="r2").sale
    confirmed = run(world, confirm_sale, second.id, now=NOW)
    assert confirmed.confirmed_at is not None
    assert run(world, confirm_sale, second.id, now=NOW).confirmed_at == confirmed.confirmed_at
    before = snapshot(world)
    with pytest.raises(ReversalRefused, match="confirmed"):
        run(world, reverse_sale, second.id, reason="x", created_by="t", now=NOW)
    assert snapshot(world) == before


@pytest.mark.parametrize("state", ["none_policy", "pending", "failed"])
def test_reversal_refused(world: Database, keyring: Keyring, state: str) -> None:
    """No reversal for 'none' products (tokens), pending or failed sales."""
    if state == "none_policy":
        sale = run(world, sell, keyring, "ELEC", zar("20.00"), request_id="r1").sale
    else:
        sale = run(world, sell, keyring, "AIR10", request_id="r1", hold=True).sale
        if state == "failed":
            run(world, fail_sale, sale.id, reason="x", now=NOW)
    before = snapshot(world)
    with pytest.raises(ReversalRefused):
        run(world, reverse_sale, sale.id, reason="x", created_by="t", now=NOW)
    assert snapshot(world) == before


def test_recent_sales_newest_first(world: Database, keyring: Keyring) -> None:
    """Lookups by target (meter) or vendor list the newest sale first, completed only by
    default, up to the limit."""
    run(world, add_vendor, "V2", deposit="100")
    ids = []
    for n, (client, target) in enumerate(
        [(VENDOR, "M1"), (VENDOR, "M2"), ("V2", "M1"), (VENDOR, "M1"), (VENDOR, "M1")]
    ):
        ids.append(
            run(world, sell, keyring, "ELEC", zar("10.00"), request_id=f"r{n}",
                client_id=client, target=target).sale.id
        )  # fmt: skip
    held = run(world, sell, keyring, "ELEC", zar("10.00"), request_id="h", target="M1", hold=True)

    def recent(**kw):  # type: ignore[no-untyped-def]
        return [s.id for s in run(world, recent_sales, **kw)]

    assert recent(target="M1") == [ids[4], ids[3], ids[2], ids[0]]
    assert recent(target="M1", limit=2) == [ids[4], ids[3]]
    assert recent(target="M1", states=("pending",)) == [held.sale.id]
    vendor = run(world, get_vendor, VENDOR)
    assert recent(target="M1", vendor_id=vendor.id) == [ids[4], ids[3], ids[0]]
    assert recent(target="M9") == []


def test_sale_for_request(world: Database, keyring: Keyring) -> None:
    """A sale is found again by the (client id, request id) that made it."""
    sale = run(world, sell, keyring, "AIR10", request_id="abc").sale
    assert run(world, sale_for_request, VENDOR, "abc") == sale
    assert run(world, sale_for_request, VENDOR, "other") is None
    assert run(world, sale_for_request, "V2", "abc") is None


def test_one_sale_per_request(world: Database, keyring: Keyring) -> None:
    """A request row carries at most one sale (sales.request_pk is unique)."""

    def twice(txn: Txn) -> None:
        claimed = claim(txn, keyring, "r1")
        order = order_for(txn, "AIR10")
        record_sale(txn, claimed, order, created_by="t", now=NOW)
        hold_sale(txn, claimed, order, created_by="t", now=NOW)

    before = snapshot(world)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        world.run_txn("twice", twice)
    assert snapshot(world) == before
