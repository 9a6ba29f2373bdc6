"""The dashboard, user activity, unusual-activity flags and reports, on the one clock: the
figures are those of the seeded sales at the test's fixed instant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fixed_clock import NOW, TODAY
from oversight_support import ADMIN, DEALER, V1, V2, run, sell

from vending.login_throttle import ThrottleSettings, keys_for, record_failure
from vending.oversight.monitoring import Thresholds
from vending.services.oversight_access import Forbidden, Staff
from vending.services.staff_monitoring import StaffMonitoring


@pytest.fixture
def monitoring(runner, clock):
    return StaffMonitoring(runner, clock, Thresholds(min_sales=5, factor=3.0, failed_logins=3))


def test_dashboard_counts_the_last_minute_by_second(monitoring, sale_ids) -> None:
    board = run(monitoring.dashboard(ADMIN, window_seconds=60))
    assert len(board.per_second) == 60 and sum(board.per_second) == 3
    # The voucher 30 s ago, the token 20 s ago, V2's voucher 5 s ago.
    assert [i for i, n in enumerate(board.per_second) if n] == [30, 40, 55]
    assert board.by_channel == {"json": 1, "xmlvend": 2}
    assert board.by_product == {"AIR10": 2, "ELEC": 1}
    assert board.states_last_hour == {"completed": 4, "pending": 1}
    assert board.success_rate == 1.0
    # Today's completed sales: R10 + R50 + R20 + R10.
    assert board.revenue_today == {"ZAR": 9000} and board.sales_today == 4
    assert [(h.name, h.ok, h.status) for h in board.utilities] == [("ELEC", 1, "ok")]
    assert any("pending for more than" in alert for alert in board.alerts)


def test_the_dashboard_moves_with_the_clock(monitoring, sale_ids, clock) -> None:
    clock.advance(45)
    board = run(monitoring.dashboard(ADMIN, window_seconds=60))
    # Only V2's voucher (5 s before NOW) is still in the minute.
    assert sum(board.per_second) == 1


def test_a_dealers_dashboard_is_its_subtree(monitoring, sale_ids) -> None:
    board = run(monitoring.dashboard(DEALER))
    assert board.by_product == {"AIR10": 1, "ELEC": 1}
    assert board.providers == [] and board.deposits_waiting == 0


def test_activity_per_merchant_channel_and_operator(monitoring, sale_ids) -> None:
    start, end = NOW - timedelta(hours=1), NOW
    merchants = run(monitoring.activity(ADMIN, group_by="merchant", start=start, end=end))
    assert [(r.key, r.sales, r.completed, r.pending) for r in merchants] == [
        (V1, 4, 3, 1),
        (V2, 1, 1, 0),
    ]
    assert merchants[0].amount == {"ZAR": 8000}
    channels = run(monitoring.activity(ADMIN, group_by="channel", start=start, end=end))
    assert {r.key: r.sales for r in channels} == {"xmlvend": 3, "json": 1, "sms": 1}
    sms = run(monitoring.activity(ADMIN, group_by="merchant", start=start, end=end, channel="sms"))
    assert [(r.key, r.sales) for r in sms] == [(V1, 1)]
    mine = run(monitoring.activity(DEALER, group_by="merchant", start=start, end=end))
    assert [r.key for r in mine] == [V1]
    with pytest.raises(ValueError):
        run(monitoring.activity(ADMIN, group_by="nonsense"))


def test_flags_a_merchant_selling_far_above_its_rate(
    monitoring, sale_ids, database, keyring
) -> None:
    assert [f.kind for f in run(monitoring.flags(ADMIN))] == []

    def burst(txn):
        for n in range(6):
            sell(
                txn,
                keyring,
                "AIR10",
                request_id=f"burst-{n}",
                client_id=V2,
                at=NOW - timedelta(minutes=n + 1),
            )

    database.run_txn("burst", burst)
    flags = run(monitoring.flags(ADMIN))
    assert [(f.kind, f.subject, f.observed) for f in flags] == [("sales_rate", V2, 7)]
    # V2 is not under the dealer: its flags are not the dealer's to see.
    assert run(monitoring.flags(DEALER)) == []


def test_flags_many_failed_logins(monitoring, sale_ids, database) -> None:
    settings = ThrottleSettings(max_failures_per_operator=100, max_failures_per_address=100)
    for _ in range(3):
        database.run_txn(
            "fail",
            record_failure,
            keys_for(V1, "till1", "10.0.0.9"),
            NOW - timedelta(minutes=5),
            settings,
        )
    flags = run(monitoring.flags(ADMIN, extra_failed_logins={"admin:mallory": 4}))
    subjects = {(f.kind, f.subject) for f in flags}
    assert ("failed_logins", f"operator:{V1} till1") in subjects
    assert ("failed_logins", "address:10.0.0.9") in subjects
    assert ("failed_logins", "admin:mallory") in subjects
    # The dealer sees its merchant's operator, not the platform's addresses.
    dealer = {f.subject for f in run(monitoring.flags(DEALER))}
    assert dealer == {f"operator:{V1} till1"}
    logins = run(monitoring.failed_logins(ADMIN, start=NOW - timedelta(hours=1), end=NOW))
    assert {(entry.kind, entry.failures) for entry in logins} == {("operator", 3), ("address", 3)}


def test_reports(monitoring, sale_ids) -> None:
    yesterday = TODAY - timedelta(days=1)
    lines = run(monitoring.report(ADMIN, "sales", yesterday, TODAY))
    assert {(line.day, line.product, line.channel, line.count) for line in lines} == {
        (yesterday, "AIR10", "xmlvend", 1),
        (TODAY, "AIR10", "json", 1),
        (TODAY, "AIR10", "xmlvend", 1),
        (TODAY, "ELEC", "xmlvend", 1),
        (TODAY, "BILL", "sms", 1),
    }
    commissions = run(monitoring.report(ADMIN, "commissions", TODAY, TODAY))
    assert [line.merchant for line in commissions] == [V1, V2]
    assert commissions[0].commission > 0
    assert run(monitoring.report(DEALER, "commissions", TODAY, TODAY))[0].merchant == V1
    assert len(run(monitoring.report(DEALER, "commissions", TODAY, TODAY))) == 1
    with pytest.raises(ValueError):
        run(monitoring.report(ADMIN, "sales", TODAY, TODAY + timedelta(days=100)))


def test_monitoring_needs_its_permissions(monitoring, sale_ids) -> None:
    clerk = Staff("clerk", frozenset({"transactions.view"}))
    for call in (
        monitoring.dashboard(clerk),
        monitoring.activity(clerk),
        monitoring.flags(clerk),
        monitoring.report(clerk, "sales", TODAY, TODAY),
    ):
        with pytest.raises(Forbidden):
            run(call)
