"""The admin suite's queues: a deposit in the manual queue assigned or rejected by staff,
fund requests decided within the user's subtree, fault reports listed in scope; refusals
answered Forbidden and audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fixed_clock import NOW
from oversight_support import ADMIN, DEALER, V1, run
from sqlalchemy import insert

from deposits.settings import DepositSettings
from deposits.tables import deposits
from distribution import fund_requests, nodes
from distribution.fund_notices import FundNotices
from vending import api_keys, audit, sms_merchants, sms_outbox, webhooks
from vending.errors import InvalidRequest
from vending.ledger import verify_ledger
from vending.money import Money
from vending.services.oversight_access import Forbidden, Staff
from vending.services.staff_queues import StaffQueues
from vending.vendors import create_operator, get_vendor

SETTINGS = DepositSettings.load(Path(__file__).resolve().parents[2] / "conf" / "deposits.toml")


@pytest.fixture
def queues(runner, clock, keyring, sale_ids):
    return StaffQueues(runner, clock, SETTINGS, fund_notices=FundNotices(keyring, "12345"))


def _queued_deposit(database, bank_ref="UTR0001", cents=100000) -> int:
    def add(txn):
        return txn.execute(
            insert(deposits)
            .values(
                bank="FNB",
                bank_ref=bank_ref,
                amount=cents,
                currency="ZAR",
                txn_date=date(2026, 11, 21),
                reference="no merchant named",
                payer="J SMITH",
                state="suspense",
                created_at=NOW,
            )
            .returning(deposits.c.id)
        ).scalar_one()

    return database.run_txn("deposit", add)


def test_assign_a_queued_deposit(queues, database) -> None:
    deposit_id = _queued_deposit(database)
    assert [d.id for d in run(queues.deposits(ADMIN))] == [deposit_id]
    before = database.run_txn("v", get_vendor, V1).balance
    done = run(queues.assign_deposit(ADMIN, deposit_id, V1, reason="payer called"))
    assert (done.state, done.vendor, done.matched_by) == ("credited", V1, "staff")
    assert database.run_txn("v", get_vendor, V1).balance == before + done.amount - done.fee
    assert database.run_txn("a", audit.recent)[0]["actor"] == "staff:ann"
    assert run(queues.deposits(ADMIN)) == []
    assert database.run_txn("l", verify_ledger).ok


def test_reject_a_queued_deposit_needs_a_reason(queues, database) -> None:
    deposit_id = _queued_deposit(database)
    with pytest.raises(InvalidRequest):
        run(queues.reject_deposit(ADMIN, deposit_id, reason=""))
    assert run(queues.reject_deposit(ADMIN, deposit_id, reason="not ours")).state == "rejected"


def test_partners_never_see_the_deposit_queue(queues, database) -> None:
    deposit_id = _queued_deposit(database)
    partner = Staff("dl", frozenset({"deposits.view", "deposits.manage"}), DEALER.node_code)
    with pytest.raises(Forbidden):
        run(queues.deposits(partner))
    with pytest.raises(Forbidden):
        run(queues.assign_deposit(partner, deposit_id, V1, reason="mine"))
    assert database.run_txn("a", audit.recent)[0]["action"] == "forbidden"


def _fund_request(database, requester: str, reference: str) -> int:
    def prepare(txn):
        nodes.transfer_down(
            txn,
            actor_node="OP",
            to="D1",
            amount=Money(500000, "ZAR"),
            reason="float",
            actor="t",
            now=NOW,
        )
        return fund_requests.ask(
            txn, requester=requester, amount=Money(20000, "ZAR"), reference=reference, now=NOW
        ).id

    return database.run_txn("ask", prepare)


def test_staff_approve_a_fund_request_as_the_operator(queues, database) -> None:
    request_id = _fund_request(database, "DL1", "REF-1")
    assert [r.id for r in run(queues.fund_requests(ADMIN))] == [request_id]
    done = run(queues.decide_fund_request(ADMIN, request_id, approve=True, reason="ok"))
    assert done.state == "approved" and done.transfer_id is not None
    assert database.run_txn("n", nodes.get_node, "DL1").balance == Money(20000, "ZAR")


MERCHANT_PHONE = "27831230001"  # V1's number registered for SMS (V1 is node R1)


def _reachable_merchant(database, keyring, secrets_sentinel) -> int:
    """V1 with a number registered for SMS and an API key with a callback URL: the id of
    that key."""

    def seed(txn):
        create_operator(txn, name="till", password_hash="-", vendor_client_id=V1, now=NOW)
        sms_merchants.register(
            txn,
            msisdn=MERCHANT_PHONE,
            vendor_client_id=V1,
            operator_name="till",
            pin_hash="-",
            now=NOW,
        )
        key, _ = api_keys.create_api_key(
            txn, vendor_client_id=V1, operator_name="till", actor="t", now=NOW
        )
        secret = api_keys.set_callback(
            txn, keyring, key.id, "https://v1.example.test/evd", actor="t", now=NOW
        )
        secrets_sentinel.register(secret)
        return key.id

    return database.run_txn("reachable", seed)


@pytest.mark.parametrize(
    ("approve", "reason", "text"),
    [
        (True, "", "Fund request REF-SMS for 200.00 ZAR approved and credited."),
        (False, "pay first", "Fund request REF-SMS for 200.00 ZAR rejected: pay first"),
    ],
)
def test_a_decision_from_the_queue_texts_and_pushes_to_the_requester_once(
    queues, database, keyring, secrets_sentinel, approve, reason, text
) -> None:
    """Decided in the admin queue, the requester hears as from any other channel: one SMS
    to its registered number and one webhook event, queued with the decision."""
    key_id = _reachable_merchant(database, keyring, secrets_sentinel)
    request_id = _fund_request(database, "R1", "REF-SMS")
    done = run(queues.decide_fund_request(ADMIN, request_id, approve=approve, reason=reason))
    queued = database.run_txn("sms", lambda txn: sms_outbox.claim_due(txn, keyring, now=NOW))
    assert [(m.msisdn, m.text) for m in queued] == [(MERCHANT_PHONE, text)]
    pushed = [d for d, _ in database.run_txn("hooks", webhooks.deliveries_of, key_id)]
    assert [(d.event, d.event_key) for d in pushed] == [
        (f"fund_request.{done.state}", f"fund_request.{done.state}:{request_id}")
    ]


def test_a_dealer_decides_only_below_itself(queues, database) -> None:
    mine = _fund_request(database, "R1", "REF-R1")
    theirs = _fund_request(database, "R2", "REF-R2")
    assert [r.id for r in run(queues.fund_requests(DEALER))] == [mine]
    with pytest.raises(Forbidden):
        run(queues.decide_fund_request(DEALER, theirs, approve=True, reason=""))
    assert database.run_txn("a", audit.recent)[0]["action"] == "forbidden"
    rejected = run(queues.decide_fund_request(DEALER, mine, approve=False, reason="no float"))
    assert rejected.state == "rejected" and rejected.reason == "no float"


def test_fault_reports_need_their_permission(queues) -> None:
    assert run(queues.fault_reports(ADMIN)) == []
    with pytest.raises(Forbidden):
        run(queues.fault_reports(DEALER))
