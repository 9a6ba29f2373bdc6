"""Bulk multi-recharge through the services (issue 13 §5; SQLite and PostgreSQL): each row
an idempotent sale through the one idempotency path and the provider fulfilment, the same
file again sells nothing twice, a malformed row fails alone, a bad file is refused whole,
rows are sold with bounded concurrency."""

from __future__ import annotations

import pytest
from catalogue_support import ledger_ok, principal, vendor_balance
from test_catalogue_fulfilment import START, run
from twisted.internet.defer import Deferred, ensureDeferred

from bulk import fileformat
from bulk.fileformat import BulkFileRefused
from catalogue.interface import Outcome, ProviderResult
from vending.errors import IdempotencyConflict
from vending.services.bulk import BulkSales
from vending.services.voucher_sales import VoucherSales
from xmlvend.transport.asyncdb import ImmediateDatabase


def _bulk(shop, concurrency: int = 4, chunk_rows: int = 3) -> BulkSales:  # type: ignore[no-untyped-def]
    runner = ImmediateDatabase(shop.db)
    clock = shop.fulfilment._clock
    bulk = BulkSales(
        runner,
        shop.keyring,
        clock,
        vouchers=VoucherSales(runner, shop.keyring, clock),
        recharge=lambda: shop.recharge,
        concurrency=concurrency,
        flush_rows=3,
        chunk_rows=chunk_rows,
    )
    shop.fulfilment._renderers.register("bulk", bulk.renderer)
    return bulk


ROWS = [
    {"product": "RCH-AIRTEL", "target": "9810012340", "amount": "199.00", "ref": "a"},
    {"product": "RCH-JIO", "target": "9820012350", "amount": "239", "ref": "b"},
    {"product": "RCH-AIRTEL", "target": "9810012341", "amount": "100.00", "ref": "fails"},
    {"product": "RCH-AIRTEL", "target": "9810012342", "amount": "50.00", "ref": "pending"},
    {"product": "RCH-AIRTEL", "target": "9810012340", "amount": "1.2.3", "ref": "bad amount"},
    {"product": "NO-SUCH", "target": "9810012340", "amount": "10.00", "ref": "unknown"},
    {"product": "RCH-AIRTEL", "target": "12", "amount": "10.00", "ref": "bad number"},
]


def _submit(shop, bulk, rows=ROWS, file_id="DLR-001"):  # type: ignore[no-untyped-def]
    who = principal(shop.db)
    parsed = fileformat.parse_csv(fileformat.write_csv(file_id, rows))
    return run(bulk.submit(who, who.client_id, parsed))


def test_file_sold_row_by_row_and_resubmission_sells_nothing_twice(shop) -> None:
    bulk = _bulk(shop)
    status = _submit(shop, bulk)
    assert (status.total, status.state, status.replayed) == (7, "running", False)
    assert status.counts["failed"] == 1  # the malformed amount, refused at submission
    final = run(bulk.process(status.id, ensureDeferred))
    assert final.state == "done"
    assert final.counts == {"queued": 0, "sold": 2, "pending": 1, "failed": 4}
    scope = principal(shop.db).client_id
    results = {r.ref: r for r in run(bulk.results(scope, status.id))}
    assert results["a"].state == "sold" and results["a"].operator_ref.startswith("OP")
    assert results["fails"].reason == "Invalid operator account"
    assert "decimal" in results["bad amount"].reason
    assert "NO-SUCH" in results["unknown"].reason
    assert results["bad number"].state == "failed"
    assert results["pending"].state == "pending"
    # Sold 199 + 239, and 50 held with the provider (pending); the failed one refunded.
    spent = vendor_balance(shop.db)
    assert spent < START
    executed = sum(len(p.executed) for p in shop.providers.values())
    ledger_ok(shop.db)

    again = _submit(shop, bulk)
    assert (again.id, again.replayed) == (status.id, True)
    run(bulk.process(again.id, ensureDeferred))
    assert sum(len(p.executed) for p in shop.providers.values()) == executed
    assert vendor_balance(shop.db) == spent

    # Rows left queued by a stopped process are sold again: their stored answers replay.
    from bulk.tables import bulk_batches, bulk_rows

    shop.db.run_txn(
        "requeue",
        lambda txn: txn.execute(
            bulk_rows.update().where(bulk_rows.c.state == "sold").values(state="queued")
        ),
    )
    shop.db.run_txn("rerun", lambda txn: txn.execute(bulk_batches.update().values(state="running")))
    assert run(bulk.unfinished()) == [status.id]
    replayed = run(bulk.process(status.id, ensureDeferred))
    assert replayed.counts["sold"] == 2
    assert sum(len(p.executed) for p in shop.providers.values()) == executed
    assert vendor_balance(shop.db) == spent
    ledger_ok(shop.db)


def test_pending_row_closed_by_the_provider_shows_in_status(shop) -> None:
    bulk = _bulk(shop)
    status = _submit(shop, bulk, ROWS[3:4], file_id="DLR-P")
    run(bulk.process(status.id, ensureDeferred))
    order_id = next(r.reference for r in run(bulk.results(principal(shop.db).client_id, status.id)))
    shop.providers["alpha"].statuses[order_id] = ProviderResult(
        Outcome.SUCCESS, "ALPHA1", "OPX1", "SUC", "done"
    )
    shop.reactor.advance(3)
    now = run(bulk.status(principal(shop.db).client_id, status.id))
    assert now.counts["sold"] == 1 and now.counts["pending"] == 0


def test_same_file_id_with_other_rows_is_refused(shop) -> None:
    bulk = _bulk(shop)
    _submit(shop, bulk, ROWS[:2])
    with pytest.raises(IdempotencyConflict):
        _submit(shop, bulk, ROWS[:3])


def test_another_submitters_batch_is_unknown(shop) -> None:
    from bulk.errors import UnknownBatch

    bulk = _bulk(shop)
    status = _submit(shop, bulk, ROWS[:1])
    with pytest.raises(UnknownBatch):
        run(bulk.status("SOMEONE-ELSE", status.id))


def test_rows_are_sold_with_bounded_concurrency(shop) -> None:
    """Providers that have not answered yet: never more rows in flight than allowed."""
    in_flight: list[Deferred] = []
    provider = shop.providers["alpha"]

    def slow_execute(order):  # type: ignore[no-untyped-def]
        waiting: Deferred = Deferred()
        in_flight.append(waiting)
        waiting.order = order  # type: ignore[attr-defined]
        return waiting

    provider.execute = slow_execute  # type: ignore[method-assign]
    rows = [
        {"product": "RCH-AIRTEL", "target": f"98100123{i:02d}", "amount": "10.00", "ref": str(i)}
        for i in range(10)
    ]
    # One row at a time per worker, then chunks of 3 (their holds in one transaction).
    for chunk_rows, file_id, allowed in ((1, "DLR-C1", 3), (3, "DLR-C3", 6)):
        bulk = _bulk(shop, concurrency=3 if chunk_rows == 1 else 2, chunk_rows=chunk_rows)
        status = _submit(shop, bulk, rows, file_id=file_id)
        done: list = []
        ensureDeferred(bulk.process(status.id, ensureDeferred)).addBoth(done.append)
        most = 0
        while not done:
            open_calls = [d for d in in_flight if not d.called]
            most = max(most, len(open_calls))
            assert open_calls, "the batch stalled"
            open_calls[0].callback(ProviderResult(Outcome.SUCCESS, "R", "OPR", "SUC", "ok"))
        assert most == allowed
        assert done[0].counts["sold"] == 10, done[0].counts
    ledger_ok(shop.db)


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda b: b.replace(b"199.00", b"199.01"), "checksum"),
        (lambda b: b.replace(b"#evd-bulk v1", b"#evd-bulk v9"), "checksum"),
        (lambda b: b.rsplit(b"#end", 1)[0], "last line"),
        (lambda b: b + b"RCH-JIO,9820012350,10,x\n", "last line"),
    ],
)
def test_bad_file_refused_whole(mangle, why) -> None:  # type: ignore[no-untyped-def]
    good = fileformat.write_csv("F1", ROWS)
    assert len(fileformat.parse_csv(good).rows) == len(ROWS)
    with pytest.raises(BulkFileRefused, match=why):
        fileformat.parse_csv(mangle(good))


def test_header_and_row_count_checked() -> None:
    def with_checksum(text: str, rows: int) -> bytes:
        body = text.encode()
        return body + f"#end rows={rows} sha256={fileformat.checksum(body)}\n".encode()

    with pytest.raises(BulkFileRefused, match="first line"):
        fileformat.parse_csv(with_checksum("product,target,amount,ref\nA,1,1,\n", 1))
    with pytest.raises(BulkFileRefused, match="columns"):
        fileformat.parse_csv(with_checksum("#evd-bulk v1 file-id=X\nproduct,amount\nA,1\n", 1))
    with pytest.raises(BulkFileRefused, match="trailer says 2"):
        fileformat.parse_csv(
            with_checksum("#evd-bulk v1 file-id=X\nproduct,target,amount,ref\nA,1,1,\n", 2)
        )
    with pytest.raises(BulkFileRefused, match="file-id"):
        fileformat.parse_csv(
            with_checksum("#evd-bulk v1 file-id=a/b\nproduct,target,amount,ref\nA,1,1,\n", 1)
        )
    wrong_fields = fileformat.parse_csv(
        with_checksum("#evd-bulk v1 file-id=X\nproduct,target,amount,ref\nA,1\nB,2,3,\n", 2)
    )
    assert wrong_fields.rows[0].error == "2 fields, expected 4"
    assert wrong_fields.rows[1].error is None


def test_json_rows_checked_alone() -> None:
    parsed = fileformat.parse_json(
        {"file_id": "J1", "rows": [{"product": "RCH-JIO", "amount": 10}, "x", ROWS[0]]}
    )
    assert [r.error is None for r in parsed.rows] == [False, False, True]
    with pytest.raises(BulkFileRefused):
        fileformat.parse_json({"file_id": "J1", "rows": [ROWS[0]] * 10_001})
    with pytest.raises(BulkFileRefused):
        fileformat.parse_json({"file_id": "J1", "rows": []})


def test_a_row_refused_at_its_hold_fails_alone_in_its_chunk(shop) -> None:
    """A chunk holds in two passes (claims and prices, then the money): a row the vendor's
    balance no longer covers is refused at the second, alone -- its claim dropped, no hold,
    its deferred credits (PostgreSQL) gone with it -- and the chunk's other rows sell. (On
    PostgreSQL the chunk's vendor debits first go together at its end; the four do not fit,
    so the chunk is held again with each debit at once.)"""
    from vending.services import idempotency

    bulk = _bulk(shop, concurrency=1, chunk_rows=4)
    rows = [
        {"product": "RCH-AIRTEL", "target": "9810012340", "amount": "3000.00", "ref": str(i)}
        for i in range(4)
    ]
    status = _submit(shop, bulk, rows, file_id="DLR-FUNDS")
    final = run(bulk.process(status.id, ensureDeferred))
    assert final.counts == {"queued": 0, "sold": 3, "pending": 0, "failed": 1}, final.counts
    scope = principal(shop.db).client_id
    [refused] = [r for r in run(bulk.results(scope, status.id)) if r.state == "failed"]
    assert refused.ref == "3" and "available" in refused.reason
    assert sum(len(p.executed) for p in shop.providers.values()) == 3
    key = f"bulk:DLR-FUNDS:{refused.row}"
    assert shop.db.run_txn("k", idempotency.lookup, shop.keyring, scope, key) is None
    assert vendor_balance(shop.db) < START and vendor_balance(shop.db) >= 0
    ledger_ok(shop.db)
