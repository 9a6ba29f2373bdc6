"""Every domain error, provoked by a real cause, writes nothing (not even the request claim)
and carries the XMLVend fault class the protocol layer maps it to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from utilities_support import World, build_world, make_context, result_of

from utilities import errors
from utilities.interface import (
    AccountPayment,
    EngineeringRequest,
    MeterQuery,
    Purchase,
)
from utilities.tables import issued_tokens, meter_debts, meters
from vending.errors import AmountOutOfRange, InsufficientFunds, VendingError
from vending.money import Money
from vending.storage.database import Database, Txn
from vending.storage.schema import audit_log, ledger_entries, requests, sales, transfers


def snapshot(database: Database) -> dict[str, Any]:
    def read(txn: Txn) -> dict[str, Any]:
        counts = {
            table.name: txn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (requests, sales, transfers, ledger_entries, issued_tokens, audit_log)
        }
        counts["meters"] = [tuple(r) for r in txn.execute(select(meters).order_by(meters.c.id))]
        counts["debts"] = [tuple(r) for r in txn.execute(select(meter_debts))]
        return counts

    return database.run_txn("snapshot", read)


def zar(text: str) -> Money:
    return Money.parse(text, "ZAR")


def vend(msno: str, amount: str = "100.00", **query: Any) -> Callable[[World], Any]:
    def run(world: World) -> Any:
        ctx = make_context(world.cafe)
        purchase = Purchase(MeterQuery(msno, **query), amount=zar(amount))
        return world.service.credit_vend(ctx, purchase, world.renderer)

    return run


def fbe(msno: str) -> Callable[[World], Any]:
    return lambda w: w.service.fbe(make_context(w.cafe, "fbe"), MeterQuery(msno), w.renderer)


def update_key(msno: str, **query: Any) -> Callable[[World], Any]:
    return lambda w: w.service.update_meter_key(
        make_context(w.cafe, "updateMeterKey"), MeterQuery(msno, **query), w.renderer
    )


def pay(msno: str, kind: str, amount: str) -> Callable[[World], Any]:
    return lambda w: w.service.pay_account(
        make_context(w.cafe, "payAcc"),
        AccountPayment(MeterQuery(msno), kind, zar(amount)),  # type: ignore[arg-type]
        w.renderer,
    )


def engineering(msno: str, kind: str, **fields: Any) -> Callable[[World], Any]:
    return lambda w: w.service.meter_specific_engineering(
        make_context(w.cafe, "meterSpecificEng"),
        EngineeringRequest(kind, MeterQuery(msno), **fields),  # type: ignore[arg-type]
        w.renderer,
    )


def verify(msno: str, token: str) -> Callable[[World], Any]:
    return lambda w: w.service.verify_token(w.cafe, MeterQuery(msno), token)


CASES: list[tuple[str, Callable[[World], Any], type[VendingError], str]] = [
    ("unknown meter", vend("04100000043"), errors.UnknownMeter, "UnknownMeterEx"),
    ("not a meter number", vend("12345"), errors.UnknownMeter, "UnknownMeterEx"),
    ("bad check digit", vend("04100000040"), errors.MeterNumberCheckDigit, "MSNOCheckDigitEx"),
    ("blocked", vend("04100000035"), errors.MeterBlocked, "BlockedMeterEx"),
    ("wrong SGC", vend("04100000019", sgc="999999", krn=1, ti="01"), errors.MeterDataInvalid,
     "STSDataEx"),
    ("unknown KRN", vend("04100000019", sgc="123456", krn=7, ti="01"), errors.MeterDataInvalid,
     "STSDataEx"),
    ("wrong AT", vend("04100000019", at="11"), errors.MeterDataInvalid, "STSDataEx"),
    ("partial key data", vend("04100000019", sgc="123456"), errors.InsufficientMeterData,
     "InsufficientMeterDataEx"),
    ("SGC restricted", vend("04100000118"), errors.SGCNotAuthorised, "SGCAuthorisationEx"),
    ("upstream failure", vend("04100000100"), errors.UpstreamUnavailable, "SystemEx"),
    ("below service charge", vend("04100000084", "100.00"), AmountOutOfRange, ""),
    ("above product max", vend("04100000019", "6000.00"), AmountOutOfRange, ""),
    ("not FBE eligible", fbe("04100000019"), errors.NotFBEEligible, "FBEEx"),
    ("key already current", update_key("04100000019", sgc="123456", krn=2, ti="01"),
     errors.KeyAlreadyCurrent, "UpdateMtrKeySameEx"),
    ("key update unknown meter", update_key("04100000043", sgc="123456", krn=1, ti="01"),
     errors.UnknownMeterForKeyUpdate, "UnknownMeterUpdateMtrKeyEx"),
    ("key update without data", update_key("04100000050"), errors.InsufficientMeterData,
     "InsufficientMeterDataEx"),
    ("no debt", pay("04100000019", "debt", "10.00"), errors.NoDebt, "DebtEx"),
    ("debt overpaid", pay("04100000076", "debt", "600.00"), AmountOutOfRange, ""),
    ("no service charge", pay("04100000019", "service", "10.00"), errors.ServiceChargeNotDue,
     "ServiceChrgEx"),
    ("wrong service amount", pay("04100000084", "service", "100.00"), AmountOutOfRange, ""),
    ("engineering key change same", engineering("04100000019", "key_change", to_krn=2),
     errors.KeyAlreadyCurrent, "UpdateMtrKeySameEx"),
    ("engineering key change back in time", engineering("04100000019", "key_change", to_krn=1),
     errors.MeterDataInvalid, "STSDataEx"),
    ("engineering on old key era", engineering("04100000050", "clear_tamper"),
     errors.KeyRevisionExpired, "LatestKRNEx"),
    ("verify unknown token", verify("04100000019", "1" * 20), errors.TokenNotVerifiable,
     "VerifyTokenEx"),
    ("verify malformed token", verify("04100000019", "12"), errors.TokenNotVerifiable,
     "VerifyTokenEx"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "call", "error", "fault"), CASES, ids=[case[0] for case in CASES])
def test_domain_error_writes_nothing(
    world: World, name: str, call: Callable[[World], Any], error: type, fault: str
) -> None:
    before = snapshot(world.database)
    with pytest.raises(error) as raised:
        result_of(call(world))
    assert snapshot(world.database) == before
    if fault:
        assert errors.fault_class_of(raised.value) == fault
    assert raised.value.message  # an operator-safe message


def test_key_change_refused_when_auto_key_change_is_off(database: Database, keyring: Any) -> None:
    world = build_world(database, keyring, auto_key_change=False)
    before = snapshot(database)
    with pytest.raises(errors.KeyRevisionExpired):
        result_of(vend("04100000050")(world))
    assert snapshot(database) == before
    # updateMeterKey is then the way: it works and the vend goes through afterwards.
    processed = result_of(update_key("04100000050", sgc="123456", krn=1, ti="01")(world))
    assert world.rendered(processed).result.key_change.to_krn == 2
    assert world.rendered(result_of(vend("04100000050")(world))).result.key_change is None


def test_insufficient_vendor_credit_writes_nothing(world: World) -> None:
    # Corner Cafe has R5000 and no credit limit: two R4000 vends cannot both go through.
    result_of(vend("04100000019", "4000.00")(world))
    before = snapshot(world.database)
    with pytest.raises(InsufficientFunds):
        result_of(vend("04100000019", "4000.00")(world))
    assert snapshot(world.database) == before


def test_fbe_twice_in_a_month(world: World) -> None:
    result_of(fbe("04100000068")(world))
    before = snapshot(world.database)
    with pytest.raises(errors.FBEAlreadyIssued) as raised:
        result_of(fbe("04100000068")(world))
    assert errors.fault_class_of(raised.value) == "FBEEx"
    assert snapshot(world.database) == before


def test_upstream_fault_keeps_the_utilities_class() -> None:
    fault = errors.UpstreamFault("UnknownMeterEx", "010038 Meter information not found")
    assert errors.fault_class_of(fault) == "UnknownMeterEx"
    assert "010038" in fault.message
    assert errors.fault_class_of(ValueError("x")) == "SystemEx"
