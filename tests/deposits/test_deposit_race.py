"""The same credit reported at the same moment by SMS and e-mail, on PostgreSQL: the unique
(bank, bank_ref) settles the race -- one credit, the other report a duplicate."""

from __future__ import annotations

import threading

from deposit_support import (
    INR_MERCHANT,
    NOW,
    SETTINGS,
    ImmediateRunner,
    fixture,
    run,
    seed_merchants,
    vendor_balance,
)

from vending.ledger import verify_ledger
from vending.money import Money
from vending.services.deposits import Deposits


def test_two_reports_racing_credit_once(pg_database) -> None:
    seed_merchants(pg_database)
    service = Deposits(ImmediateRunner(pg_database), SETTINGS, lambda: NOW)
    text = fixture("hdfc_imps.sms")
    for round_ in range(5):
        ref = f"63401234{round_:04d}"
        barrier = threading.Barrier(4)
        results: list = []

        def report(
            ref: str = ref, barrier: threading.Barrier = barrier, results: list = results
        ) -> None:
            barrier.wait()
            results.append(run(service.receive_sms("VM-HDFCBK", text.replace("634012345678", ref))))

        threads = [threading.Thread(target=report) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(r.outcome for r in results) == [
            "deposit",
            "duplicate",
            "duplicate",
            "duplicate",
        ]
        assert len({r.deposit_id for r in results}) == 1
    assert vendor_balance(pg_database, INR_MERCHANT) == Money(5 * 497500, "INR")
    assert pg_database.run_txn("verify", verify_ledger).ok
