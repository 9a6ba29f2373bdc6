"""The admin suite's transactions: search by every key within the user's scope, the detail
with every ledger leg and a masked answer, the CSV export, and reversal with four-eyes."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fixed_clock import NOW
from oversight_support import ADMIN, DEALER, READ_ONLY, SECOND, V1, V2, collect, run

from vending import audit
from vending.errors import InvalidRequest, ReversalRefused
from vending.ledger import verify_ledger
from vending.oversight.transactions import TransactionFilter
from vending.services import staff_transactions
from vending.services.oversight_access import Forbidden, Staff
from vending.services.rendering import Renderers
from vending.services.staff_transactions import StaffTransactions
from vending.vendors import get_vendor


class _JsonRenderer:
    """The one renderer method a reversal uses: the answer without its PIN."""

    def withdrawn(self, original, message):
        from vending.requests import StoredResponse

        return StoredResponse(b'{"status": "reversed", "message": "%s"}' % message.encode(), 200)


@pytest.fixture
def service(runner, keyring, clock):
    return StaffTransactions(runner, keyring, clock, Renderers({"json": _JsonRenderer()}))


def _ids(page):
    return [row.id for row in page.rows]


def test_search_by_each_key(service, sale_ids) -> None:
    everything = run(service.search(ADMIN, TransactionFilter()))
    assert _ids(everything) == sorted(sale_ids.values(), reverse=True)
    receipt = f"{sale_ids['elec']:012d}"
    assert _ids(run(service.search(ADMIN, TransactionFilter(reference=receipt)))) == [
        sale_ids["elec"]
    ]
    assert _ids(run(service.search(ADMIN, TransactionFilter(reference="req-bill")))) == [
        sale_ids["bill"]
    ]
    assert _ids(run(service.search(ADMIN, TransactionFilter(target="0831234567")))) == [
        sale_ids["voucher"]
    ]
    assert _ids(run(service.search(ADMIN, TransactionFilter(target="04040404040")))) == [
        sale_ids["elec"]
    ]
    assert _ids(run(service.search(ADMIN, TransactionFilter(state="pending")))) == [
        sale_ids["pending"]
    ]
    assert _ids(run(service.search(ADMIN, TransactionFilter(channel="sms")))) == [sale_ids["bill"]]
    assert _ids(run(service.search(ADMIN, TransactionFilter(kind="electricity")))) == [
        sale_ids["elec"]
    ]
    assert set(_ids(run(service.search(ADMIN, TransactionFilter(merchant=V2))))) == {
        sale_ids["v2"],
        sale_ids["yesterday"],
    }
    window = TransactionFilter(start=NOW - timedelta(minutes=1), end=NOW)
    assert _ids(run(service.search(ADMIN, window))) == sorted(
        [sale_ids["voucher"], sale_ids["elec"], sale_ids["v2"]], reverse=True
    )
    row = run(service.search(ADMIN, TransactionFilter(reference="req-voucher"))).rows[0]
    assert (row.channel, row.merchant, row.kind, row.amount.format()) == (
        "json",
        V1,
        "voucher",
        "10.00",
    )


def test_pages_never_overlap(service, sale_ids) -> None:
    seen, before = [], None
    while True:
        page = run(service.search(ADMIN, TransactionFilter(), before=before, limit=2))
        seen += _ids(page)
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == sorted(sale_ids.values(), reverse=True)


def test_a_dealer_sees_only_its_subtree(service, sale_ids, database) -> None:
    mine = _ids(run(service.search(DEALER, TransactionFilter())))
    assert sale_ids["v2"] not in mine and sale_ids["voucher"] in mine
    # Guessing another dealer's sale: by reference, by merchant, by id -- nothing.
    other = f"{sale_ids['v2']:012d}"
    assert run(service.search(DEALER, TransactionFilter(reference=other))).rows == []
    assert run(service.search(DEALER, TransactionFilter(merchant=V2))).rows == []
    # Guessing an id outside its subtree, or one that does not exist: 403 alike, audited.
    with pytest.raises(Forbidden):
        run(service.detail(DEALER, sale_ids["v2"]))
    with pytest.raises(Forbidden):
        run(service.detail(DEALER, 999_999))
    refusal = database.run_txn("a", audit.recent)[0]
    assert (refusal["action"], refusal["subject"]) == ("forbidden", "sale:999999")
    assert refusal["details"]["node"] == "DL1"


def test_detail_shows_every_leg_and_masks_the_answer(service, sale_ids) -> None:
    clerk = Staff("clerk", frozenset({"transactions.view"}))
    found = run(service.detail(clerk, sale_ids["voucher"]))
    assert found.row.channel == "json" and found.client_id == V1
    assert found.legs and sum(leg.amount.amount for leg in found.legs) == 0
    assert {leg.role for leg in found.legs} >= {"sale", "commission", "supplier", "margin"}
    assert "123456789012345" not in found.response and "****" in found.response
    assert found.response_masked
    token = run(service.detail(clerk, sale_ids["elec"]))
    assert "12345678901234567890" not in token.response


def test_reprint_permission_shows_the_answer_and_is_audited(service, sale_ids, database) -> None:
    found = run(service.detail(ADMIN, sale_ids["voucher"]))
    assert "123456789012345" in found.response and not found.response_masked
    record = database.run_txn("a", audit.recent)[0]
    assert (record["action"], record["actor"]) == ("sale.view_clear", "staff:ann")


def test_forbidden_is_refused_and_audited(service, sale_ids, database) -> None:
    nobody = Staff("eve", frozenset())
    with pytest.raises(Forbidden):
        run(service.search(nobody, TransactionFilter()))
    with pytest.raises(Forbidden):
        run(service.reverse(READ_ONLY, sale_ids["voucher"], reason="x", requested_by="ann"))
    records = database.run_txn("a", audit.recent)[:2]
    assert [r["action"] for r in records] == ["forbidden", "forbidden"]
    assert records[0]["actor"] == "staff:aud" and records[0]["details"]["attempted"] == (
        "transactions.reverse"
    )


def test_csv_export_streams_every_matching_row(service, sale_ids, monkeypatch, database) -> None:
    monkeypatch.setattr(staff_transactions, "EXPORT_PAGE", 2)
    chunks = run(service.export_csv(ADMIN, TransactionFilter(merchant=V1)))
    body = collect(chunks).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["id", "receipt", "created_at"]
    assert [int(r[0]) for r in rows[1:]] == sorted(
        [sale_ids[n] for n in ("voucher", "elec", "bill", "pending")], reverse=True
    )
    assert "123456789012345" not in body
    assert database.run_txn("a", audit.recent)[0]["action"] == "transactions.export"
    dealer_rows = collect(run(service.export_csv(DEALER, TransactionFilter()))).decode()
    assert V2 not in dealer_rows


def test_reversal_needs_a_second_user(service, sale_ids, database) -> None:
    sale_id = sale_ids["voucher"]
    assert run(service.reversal_refusal(ADMIN, sale_id)) == ""
    with pytest.raises(Forbidden):
        run(service.reverse(ADMIN, sale_id, reason="customer complaint", requested_by="ann"))
    assert database.run_txn("a", audit.recent)[0]["details"]["reason"].startswith("four-eyes")
    with pytest.raises(InvalidRequest):
        run(service.reverse(SECOND, sale_id, reason=" ", requested_by="ann"))
    before = database.run_txn("v", get_vendor, V1).balance
    reversed_sale = run(
        service.reverse(SECOND, sale_id, reason="customer complaint", requested_by="ann")
    )
    assert reversed_sale.state == "reversed"
    assert database.run_txn("v", get_vendor, V1).balance > before
    assert database.run_txn("l", verify_ledger).ok
    record = database.run_txn("a", audit.recent)[0]
    assert record["action"] == "sale.reverse"
    assert (record["details"]["requested_by"], record["details"]["approved_by"]) == ("ann", "bob")
    # The stored answer no longer holds the PIN, even for a user who may reprint.
    assert "123456789012345" not in run(service.detail(ADMIN, sale_id)).response
    legs = run(service.detail(ADMIN, sale_id)).legs
    assert len({leg.transfer_id for leg in legs}) == 2


def test_reversal_follows_the_policy(service, sale_ids, clock) -> None:
    # Electricity: never reversible once delivered (the product's policy).
    assert "cannot be reversed" in run(service.reversal_refusal(ADMIN, sale_ids["elec"]))
    with pytest.raises(ReversalRefused):
        run(service.reverse(SECOND, sale_ids["elec"], reason="x", requested_by="ann"))
    assert "pending" in run(service.reversal_refusal(ADMIN, sale_ids["pending"]))
    # Outside the window of the service's policy.
    clock.advance(service.policy.window.total_seconds() + 60)
    assert "older than" in run(service.reversal_refusal(ADMIN, sale_ids["bill"]))


def test_a_dealer_cannot_reverse_outside_its_subtree(service, sale_ids) -> None:
    dealer = Staff("dl1-boss", frozenset({"transactions.reverse"}), DEALER.node_code)
    with pytest.raises(Forbidden):
        run(service.reverse(dealer, sale_ids["v2"], reason="x", requested_by="someone"))
    with pytest.raises(Forbidden):
        run(service.reversal_refusal(dealer, sale_ids["v2"]))
