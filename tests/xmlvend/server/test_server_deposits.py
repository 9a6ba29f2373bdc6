"""depositReq and reprintDepReq served on the deposits model (issue 13 §1; SQLite and
PostgreSQL): a slip for the vendor's takings since its last slip, the operator's account in
its currency and the reference the deposit matcher knows it by; a re-sent request replays
the same bytes and issues no second slip; reprints are the originals byte for byte; faults
for no slips, deposits off, bad credentials; a bank alert quoting the slip's reference
credits that vendor."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from server_support import CAFE, PLATFORM, PLATFORM_OPERATOR, World, build_world, voucher_vend
from sqlalchemy import func, select

from deposits.tables import deposit_slips
from vending.config import DepositsConfig
from xmlvend.codec import types_revenue as r

SETTINGS = Path(__file__).resolve().parents[3] / "conf" / "deposits.toml"


@pytest.fixture
def bank_world(database, keyring, secrets_sentinel, clock) -> World:  # type: ignore[no-untyped-def]
    from server_support import make_config

    config = make_config()
    config = config.replace(deposits=DepositsConfig(settings_file=str(SETTINGS)))
    return build_world(database, keyring, secrets_sentinel, clock=clock, config=config)


def slip_count(world: World) -> int:
    return world.database.run_txn(
        "test_slips",
        lambda txn: txn.execute(select(func.count()).select_from(deposit_slips)).scalar_one(),
    )


def test_a_slip_for_the_takings_replayed_and_reprinted(bank_world: World) -> None:
    world = bank_world
    for _ in range(2):
        assert world.call(voucher_vend(world.header())).status == 200
    request = r.DepositReq(header=world.header())
    first = world.call(request)
    assert first.status == 200, first.body
    slip = first.parsed().dep_slip
    assert slip.amt.value == Decimal("20.00") and slip.amt.symbol == "ZAR"
    assert slip.banking_ref_no == f"EVD{CAFE}"
    assert slip.beneficiary == r.Beneficiary(
        acc_name="EVD Vending Operator",
        acc_no="62000000017",
        branch_code="250655",
        bank_name="First National Bank",
        bank_reg_no="1929/001225/06",
    )
    assert slip.header.startswith("Pay at any FNB branch")
    # The same request again: the same bytes, no second slip.
    again = world.call(request)
    assert again.body == first.body and slip_count(world) == 1

    world.clock.advance(60)
    second = world.call(r.DepositReq(header=world.header()))
    assert second.parsed().dep_slip.amt.value == Decimal("0.00")  # nothing sold since
    world.clock.advance(60)
    world.call(voucher_vend(world.header()))
    world.clock.advance(60)
    third = world.call(r.DepositReq(header=world.header())).parsed().dep_slip
    assert third.amt.value == Decimal("10.00")

    reprint = world.call(r.ReprintDepositReq(header=world.header()))
    assert reprint.status == 200, reprint.body
    reprinted = reprint.parsed().reprint
    assert [p.dep_slip.amt.value for p in reprinted] == [
        Decimal("20.00"),
        Decimal("0.00"),
        Decimal("10.00"),
    ]
    # Each reprint is the original answer: its own request's msgID and date.
    assert reprinted[0].header == first.parsed().header
    assert slip_count(world) == 3


def test_reprint_without_slips_and_bad_credentials_are_faults(bank_world: World) -> None:
    world = bank_world
    none = world.call(r.ReprintDepositReq(header=world.header(PLATFORM, PLATFORM_OPERATOR)))
    assert none.fault_class() == "ReprintDepositSlipEx"
    wrong = world.call(r.DepositReq(header=world.header(operator=("cashier1", "wrong-pass"))))
    assert wrong.status == 500 and wrong.fault_class() is not None
    assert wrong.fault_class() != "UseCaseSupportEx"
    assert slip_count(world) == 0


def test_deposits_off_answers_use_case_not_supported(world: World) -> None:
    off = world.call(r.DepositReq(header=world.header()))
    assert off.fault_class() == "UseCaseSupportEx"
    assert world.call(r.ReprintDepositReq(header=world.header())).fault_class() == (
        "UseCaseSupportEx"
    )
    assert slip_count(world) == 0


def test_a_bank_alert_quoting_the_slip_reference_credits_the_vendor(bank_world: World) -> None:
    from twisted.internet.defer import ensureDeferred

    world = bank_world
    slip = world.call(r.DepositReq(header=world.header())).parsed().dep_slip
    before = world.balance()
    text = (
        f"FNB :-) R1 500.00 paid to cheq a/c..628301 @ Eft. Ref.{slip.banking_ref_no}. "
        "Trace 9K3L22QA. 5Dec 10:21"
    )
    done: list = []
    deposits = world.server.services.deposits
    ensureDeferred(deposits.receive_sms("FNB", text)).addBoth(done.append)
    assert done and done[0].state == "credited", done
    # R 1,500.00 less the standard tier's 0.50 % (R 7.50).
    assert (world.balance() - before).amount == 150000 - 750
