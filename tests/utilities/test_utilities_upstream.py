"""The upstream route against the utility simulator, in memory on one fake clock (see
upstream_support): settled, refused, slow past the timeout, down, in an outage, an answer
we cannot deliver, recovery after a restart, and verify. No vend is lost: the vendor pays
once for a delivered vend and is refunded for a definitive failure."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from upstream_support import METER, TIMEOUT, UpstreamLoop
from utilities_support import NOW, RecordingRenderer
from utility_meters import simulator_for

from utilities.errors import UpstreamFault, UpstreamUnavailable
from utilities.interface import MeterQuery
from utilities.registry import set_blocked
from vending.money import Money
from vending.storage.schema import notifications

# The vendor's cost of a R100.00 electricity vend: 2% commission.
COST_100 = Money.parse("98.00", "ZAR")


def test_settled_vend(loop: UpstreamLoop) -> None:
    service = loop.service()
    before = loop.world.balance()
    processed = loop.vend(service, "up-ok")
    entry = loop.world.rendered(processed)
    assert entry.kind == "vend", entry.result
    result = entry.result
    outcome = simulator_for(METER).enter(result.token.token)
    assert outcome.accepted, outcome.message
    assert outcome.credited == int(result.token.units * 10)
    assert result.credit + result.credit_tax == Money.parse("100.00", "ZAR")
    assert result.utility_receipt_no and entry.sale.external_ref == result.utility_receipt_no
    assert entry.sale.state == "completed"
    assert loop.world.balance() == before - COST_100
    assert [row.state for row in loop.rows()] == ["settled"]
    assert loop.utility_sales() == ["completed"]
    replay = loop.vend(service, "up-ok")
    assert replay.replayed and replay.response == processed.response
    assert loop.utility_sales() == ["completed"]


def test_utility_business_fault_is_passed_on_and_refunded(loop: UpstreamLoop) -> None:
    # The meter is blocked at the utility only: it answers BlockedMeterEx, a definitive no.
    loop.sim_db.run_txn("block", set_blocked, METER, True, actor="utility", now=NOW)
    before = loop.world.balance()
    entry = loop.world.rendered(loop.vend(loop.service(), "up-blocked"))
    assert entry.kind == "failure" and isinstance(entry.result, UpstreamFault)
    assert entry.result.fault_class == "BlockedMeterEx"
    assert loop.world.balance() == before
    assert [row.state for row in loop.rows()] == ["failed"]
    assert loop.utility_sales() == []


def test_injected_fault_is_refunded(loop: UpstreamLoop) -> None:
    loop.utility.settings.fault_meters = {METER}
    before = loop.world.balance()
    entry = loop.world.rendered(loop.vend(loop.service(), "up-fault"))
    assert entry.kind == "failure" and isinstance(entry.result, UpstreamFault)
    assert entry.result.fault_class == "SystemEx"
    assert loop.world.balance() == before
    assert loop.utility_sales() == []


def test_slow_utility_past_the_timeout_is_recovered_with_an_advice(loop: UpstreamLoop) -> None:
    # The utility vends at once but answers 3 timeouts late; our call times out, and the
    # last-response advice (answered in time once the utility is fast again) settles it.
    loop.utility.settings.latency = TIMEOUT * 3
    service = loop.service()
    before = loop.world.balance()
    started = loop.now()
    done = loop.start_vend(service, "up-slow")
    answered: list[object] = []
    done.addBoth(lambda outcome: answered.append(outcome) or outcome)
    loop.advance(TIMEOUT * 1.5)
    assert answered == []
    assert loop.utility_sales() == ["completed"]
    assert [row.state for row in loop.rows()] == ["pending"]
    loop.utility.settings.latency = 0.0
    entry = loop.world.rendered(loop.run(done))
    assert loop.now() - started > TIMEOUT
    assert entry.kind == "vend", entry.result
    assert simulator_for(METER).enter(entry.result.token.token).accepted
    assert loop.world.balance() == before - COST_100
    assert [row.state for row in loop.rows()] == ["settled"]
    assert loop.utility_sales() == ["completed"]


def test_utility_down_refunds_at_once(loop: UpstreamLoop) -> None:
    loop.utility.set_outage("refuse")
    before = loop.world.balance()
    started = loop.now()
    entry = loop.world.rendered(loop.vend(loop.service(), "up-down"))
    assert loop.now() == started  # refused connections are answered at once
    assert entry.kind == "failure" and isinstance(entry.result, UpstreamUnavailable)
    assert loop.world.balance() == before
    assert [row.state for row in loop.rows()] == ["failed"]
    assert loop.utility_sales() == []


def test_outage_then_no_such_vend_is_refunded(loop: UpstreamLoop) -> None:
    # HTTP 503 without processing: the outcome is unknown until the utility is back and
    # says it has no such vend (LastResponseEx): definitive, refund.
    loop.utility.set_outage("503", TIMEOUT * 3)
    before = loop.world.balance()
    started = loop.now()
    entry = loop.world.rendered(loop.vend(loop.service(), "up-503"))
    assert loop.now() - started >= TIMEOUT * 3
    assert entry.kind == "failure"
    assert loop.world.balance() == before
    assert [row.state for row in loop.rows()] == ["failed"]
    assert loop.utility_sales() == []


def test_undeliverable_answer_is_refunded_and_its_reversal_sent(loop: UpstreamLoop) -> None:
    # The utility vends but its answer carries no usable token: we refund our vendor and
    # ask the utility to reverse its sale. Electricity is not reversible at this utility
    # (the demo product's policy is "none"): the refusal is left for a person to reconcile.
    loop.mangler.on = True
    before = loop.world.balance()
    entry = loop.world.rendered(loop.vend(loop.service(), "up-notoken"))
    assert entry.kind == "failure"
    assert loop.world.balance() == before
    assert loop.utility_sales() == ["completed"]
    loop.advance(5)
    (row,) = loop.rows()
    assert (row.state, row.reversal) == ("failed", "refused")
    kinds = loop.world.database.run_txn(
        "notifications",
        lambda txn: [r.kind for r in txn.execute(select(notifications.c.kind))],
    )
    assert kinds == ["upstream.reversal_needed", "upstream.reversal_refused"]


def test_pending_vend_is_recovered_after_a_restart(loop: UpstreamLoop) -> None:
    # The first "process" sends the vend and dies before the late answer or any recovery.
    loop.utility.settings.latency = TIMEOUT * 2
    first = loop.service(recovery=False)
    first.upstreams["sim"]._schedule = lambda *args: None  # type: ignore[attr-defined]
    before = loop.world.balance()
    loop.start_vend(first, "up-restart", "50.00")  # never fires: nobody recovers it
    loop.advance(TIMEOUT * 3)
    (row,) = loop.rows()
    assert row.state == "pending"
    assert loop.utility_sales() == ["completed"]

    loop.utility.settings.latency = 0.0
    renderer = RecordingRenderer()
    second = loop.service(recovery=False)
    second.start(renderer)
    loop.services.append(second)
    loop.advance(5)
    (row,) = loop.rows()
    assert row.state == "settled"
    (entry,) = renderer.rendered
    assert entry.kind == "vend" and entry.request == {"loaded": b"<request id='up-restart'/>"}
    assert simulator_for(METER).enter(entry.result.token.token).accepted
    assert loop.utility_sales() == ["completed"]
    # Paid once: R50.00 less 2% commission.
    assert loop.world.balance() == before - Money.parse("49.00", "ZAR")


def test_verify_is_forwarded_to_the_issuing_utility(loop: UpstreamLoop) -> None:
    service = loop.service()
    vend = loop.world.rendered(loop.vend(service, "up-verify")).result
    token = vend.token.token
    result = loop.run(service.verify_token(loop.world.cafe, MeterQuery(METER), token))
    assert result.meter.msno == METER and result.meter.sgc == "123456"
    assert result.token_info.token == token
    assert (result.token_info.token_class, result.token_info.subclass) == (0, 0)
    assert result.kind == "sale" and result.units == vend.token.units
    assert result.credit == vend.credit and result.credit_tax == vend.credit_tax
    assert result.tax_rate == Decimal(15)
    assert result.receipt_no == vend.utility_receipt_no


def test_verify_of_a_token_the_utility_did_not_issue_is_its_fault(loop: UpstreamLoop) -> None:
    service = loop.service()
    with pytest.raises(UpstreamFault) as raised:
        loop.run(service.verify_token(loop.world.cafe, MeterQuery(METER), "11112222333344445555"))
    assert raised.value.fault_class == "VerifyTokenEx"


def test_verify_with_the_utility_down_is_unavailable(loop: UpstreamLoop) -> None:
    loop.utility.set_outage("refuse")
    service = loop.service()
    with pytest.raises(UpstreamUnavailable):
        loop.run(service.verify_token(loop.world.cafe, MeterQuery(METER), "1" * 20))
