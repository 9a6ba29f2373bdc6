"""Everything the server stamps comes from its one injected clock, never from the real time:
after a day's mix of requests (vends, a voucher, a reversal, a confirmation, a batch, a fault
report, a password change, refused logins) every timestamp in every table lies between the
world's set-up and the test clock's last reading. A row stamped with the real time (the
cause of CI going red once the real date passed the test world's) falls outside."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from server_support import (
    CAFE_OPERATOR,
    NORMAL_METER,
    SEEDED_AT,
    World,
    advice,
    credit_vend,
    voucher_vend,
)
from sqlalchemy import func, select
from test_server_fault_reports import meter_fault

import utilities.faults.tables
import utilities.tables  # noqa: F401
import vending.batches
import vending.vouchers.tables  # noqa: F401
from vending.storage.schema import metadata
from vending.storage.types import UTCDateTime
from xmlvend.codec import types_base as b
from xmlvend.codec import types_revenue as r


def _stamps(world: World) -> dict[str, tuple[datetime, datetime]]:
    """(earliest, latest) of every non-empty timestamp column, by ``table.column``."""

    def load(txn):  # type: ignore[no-untyped-def]
        found = {}
        for table in metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, UTCDateTime):
                    continue
                low, high = txn.execute(select(func.min(column), func.max(column))).one()
                if low is not None:
                    found[f"{table.name}.{column.name}"] = (
                        UTCDateTime().process_result_value(low, txn.dialect),
                        UTCDateTime().process_result_value(high, txn.dialect),
                    )
        return found

    return world.database.run_txn("test_stamps", load)


def test_every_stamp_comes_from_the_injected_clock(world: World) -> None:
    def call(request: b.BaseReq) -> None:
        world.clock.advance(60)
        world.call(request)

    call(r.StartShiftBatchReq(header=world.header()))
    vend = credit_vend(world.header(), NORMAL_METER, "100.00")
    call(vend)
    call(advice(b.ConfirmationAdviceReq, world.header(), vend.header.msg_id))
    sale = voucher_vend(world.header())
    call(sale)
    call(advice(b.ReversalAdviceReq, world.header(), sale.header.msg_id))
    call(advice(b.LastRespAdviceReq, world.header(), vend.header.msg_id))
    call(meter_fault(world))
    changing = world.header()
    changing = dataclasses.replace(
        changing,
        auth_cred=b.AuthCred(
            op_name=CAFE_OPERATOR[0], password=CAFE_OPERATOR[1], new_password="new-secret-42"
        ),
    )
    call(credit_vend(changing, NORMAL_METER, "20.00"))
    call(credit_vend(world.header(operator=(CAFE_OPERATOR[0], "wrong")), NORMAL_METER, "5.00"))
    call(r.EndShiftBatchReq(header=world.header(operator=(CAFE_OPERATOR[0], "new-secret-42"))))
    # A failed login last (a successful one clears its operator's count): login throttling.
    call(credit_vend(world.header(operator=("nobody", "wrong-password")), NORMAL_METER, "5.00"))

    stamps = _stamps(world)
    # The requests above reached the tables that stamp them.
    for column in ("transfers.created_at", "sales.created_at", "requests.received_at",
                   "audit_log.at", "vendor_batches.started_at",
                   "login_failures.window_started_at"):  # fmt: skip
        assert column in stamps, sorted(stamps)
    outside = {
        column: (low.isoformat(), high.isoformat())
        for column, (low, high) in stamps.items()
        if low < SEEDED_AT or high > world.clock.now
    }
    assert outside == {}, f"stamped outside [{SEEDED_AT}, {world.clock.now}]: {outside}"
