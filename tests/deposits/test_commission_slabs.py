"""Commission slabs per product and level: bands, flat/percentage, caps; the legs pay every
ancestor and balance; a reversal of the transfer takes them all back."""

from __future__ import annotations

import pytest
from deposit_support import NOW
from test_distribution_network import _tree, zar

from distribution import nodes
from distribution.commissions import SlabBook, ancestor_commission_legs
from vending.accounts import ensure_house_accounts
from vending.errors import InvalidRequest
from vending.ledger import Leg, post_transfer, reverse_transfer, verify_ledger

BOOK = SlabBook.from_mapping(
    {
        "AIR": {
            "1": [
                {"min": 0, "max": 10000, "flat": 10},
                {"min": 10000, "percent": "1.0", "cap": 500},
            ],
            "2": [{"min": 0, "percent": "0.5"}],
            "3": [{"min": 0, "percent": "2", "cap": 150}],
        }
    }
)


@pytest.mark.parametrize(
    ("level", "cents", "earned"),
    [
        (1, 5000, 10),
        (1, 10000, 100),
        (1, 90000, 500),
        (2, 12345, 62),
        (3, 5000, 100),
        (3, 50000, 150),
        (4, 5000, 0),
    ],
)
def test_bands_and_caps(level, cents, earned) -> None:
    assert BOOK.commission("AIR", level, zar(cents)) == zar(earned)
    assert BOOK.commission("DATA", level, zar(cents)) == zar(0)


def test_overlapping_or_ambiguous_bands_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="overlap"):
        SlabBook.from_mapping({"X": {"1": [{"min": 0, "flat": 1}, {"min": 5, "flat": 2}]}})
    with pytest.raises(InvalidRequest, match="one of"):
        SlabBook.from_mapping({"X": {"1": [{"min": 0, "flat": 1, "percent": "1"}]}})


def test_every_ancestor_paid_in_one_balanced_transfer_and_reversed(database) -> None:
    _tree(database)

    def sell(txn):
        revenue = ensure_house_accounts(txn, "ZAR", now=NOW)["revenue"]
        legs = ancestor_commission_legs(
            txn, BOOK, seller="R1", product="AIR", amount=zar(20000), revenue_account=revenue
        )
        seller = nodes.get_node(txn, "R1")
        bank = ensure_house_accounts(txn, "ZAR", now=NOW)["bank"]
        # The sale itself (simplified): the merchant pays, the operator's revenue earns.
        sale = [Leg(bank, zar(-20000), "fund"), Leg(revenue, zar(20000), "margin")]
        posted = post_transfer(
            txn, kind="sale", legs=sale + legs, description="t", created_by="t", now=NOW
        )
        assert seller.level == 4
        return posted.id, legs

    transfer_id, legs = database.run_txn("sell", sell)
    # SD1 (level 1) 1 % = 200, D1 (level 2) 0.5 % = 100, DL1 (level 3) 2 % capped at 150.
    assert [_code(database, leg.account_id) for leg in legs[:-1]] == ["DL1", "D1", "SD1"]
    assert [leg.amount.amount for leg in legs] == [150, 100, 200, -450]
    assert [database.run_txn("b", nodes.get_node, c).balance for c in ("SD1", "D1", "DL1")] == [
        zar(200),
        zar(100),
        zar(150),
    ]
    database.run_txn(
        "rev",
        reverse_transfer,
        transfer_id,
        kind="reversal",
        description="r",
        created_by="t",
        now=NOW,
    )
    assert [database.run_txn("b", nodes.get_node, c).balance for c in ("SD1", "D1", "DL1")] == [
        zar(0),
        zar(0),
        zar(0),
    ]
    assert database.run_txn("v", verify_ledger).ok


def _code(database, account_id: int) -> str:
    return next(
        n.code for n in database.run_txn("s", nodes.subtree, "OP") if n.account_id == account_id
    )
