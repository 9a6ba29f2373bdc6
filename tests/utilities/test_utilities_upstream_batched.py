"""The upstream route through the per-worker batcher on PostgreSQL (issue 16): concurrent
vends' holds share one sale batch (set-based) and their settles and refunds share one settle
batch, against the utility simulator (in memory, one fake clock, see upstream_support).

In the middle of it: a hold the vendor cannot pay (refused in the batch's plan), a hold that
raises (isolated: the batch runs again without it), a vend the utility refuses (refunded in
the settle batch) and a settle that raises once (isolated: the settle batch runs again
without it; its vend stays pending and recovery settles it). Every other vend is settled in
the same batch; the vendor pays once per delivered vend, the ledger balances, replays are
the stored bytes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from upstream_support import METER, UpstreamLoop
from utilities_support import NOW, RecordingRenderer, make_context

from utilities.errors import UpstreamFault
from utilities.interface import MeterQuery, Purchase
from utilities.registry import set_blocked
from utilities.routed_sales import run_settle_batch
from vending.config import Config
from vending.errors import InsufficientFunds
from vending.ledger import verify_ledger
from vending.money import Money
from vending.services.sale_batching import sale_locks, settle_locks
from vending.storage.database import Database
from xmlvend.transport.asyncdb import ImmediateDatabase
from xmlvend.transport.batching import BatchingRunner, worker_runner

pytestmark = pytest.mark.postgres

# Another meter of the routed supply group: the utility refuses it.
REFUSED_METER = "04100000126"
COST_100 = Money.parse("98.00", "ZAR")  # a R100.00 vend less the 2 % commission


class Recording:
    """Runs each transaction at once (as ImmediateDatabase) and remembers which ran: a
    batch as (name, how many sales or settles it carried)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._inner = ImmediateDatabase(database)
        self.ran: list[tuple[str, int]] = []

    def run(self, desc: str, fn: Any, /, *args: Any, **kwargs: Any) -> Deferred:
        self.ran.append((desc, len(args[0]) if desc.endswith("_batch") else 1))
        return self._inner.run(desc, fn, *args, **kwargs)

    def batches(self, name: str) -> list[int]:
        return [size for desc, size in self.ran if desc == name]


class FlakyRenderer(RecordingRenderer):
    """Renders as RecordingRenderer, but the first answer to ``flaky`` raises."""

    def __init__(self, flaky: str) -> None:
        super().__init__()
        self._flaky = flaky

    def vend(self, request: Any, *args: Any) -> Any:
        if request.get("id") == self._flaky:
            self._flaky = ""
            raise RuntimeError("rendering failed once")
        return super().vend(request, *args)


def _batched(loop: UpstreamLoop) -> tuple[BatchingRunner, BatchingRunner, Recording]:
    """The worker's two lanes (as xmlvend.transport.batching.worker_runner builds them) on
    the loop's fake clock, over a recording runner."""
    recording = Recording(loop.world.database)
    settles = BatchingRunner(
        recording,
        loop.reactor,
        settle_locks,
        max_wait=0.001,
        batch=run_settle_batch,
        name="upstream_settle_batch",
    )
    sales = BatchingRunner(settles, loop.reactor, sale_locks, max_wait=0.001)
    return sales, settles, recording


def _outcome(d: Deferred) -> list[Any]:
    box: list[Any] = []
    d.addBoth(box.append)
    return box


def test_concurrent_upstream_vends_share_batches_and_fail_alone(pg_loop: UpstreamLoop) -> None:
    loop = pg_loop
    sales, settles, recording = _batched(loop)
    renderer = FlakyRenderer("up-flaky")
    service = loop.service(runner=sales)
    # Blocked at the utility only: it answers BlockedMeterEx, a definitive no.
    loop.sim_db.run_txn("block", set_blocked, REFUSED_METER, True, actor="utility", now=NOW)
    before = loop.world.balance()

    def start(request_id: str, msno: str = METER, amount: str = "100.00", **ctx: Any) -> Any:
        context = dataclasses.replace(make_context(loop.world.cafe, request_id=request_id), **ctx)
        purchase = Purchase(MeterQuery(msno), amount=Money.parse(amount, "ZAR"))
        return _outcome(service.credit_vend(context, purchase, renderer))

    started = {
        "up-1": start("up-1"),
        "up-refused": start("up-refused", REFUSED_METER),
        "up-flaky": start("up-flaky"),
        # R4,900.00 more, when the three before it left R4,706.00 of the cafe's R5,000.00.
        "up-unpayable": start("up-unpayable", amount="5000.00"),
        # No request to keep for recovery: the hold raises after it queued its sale.
        "up-raises": start("up-raises", request_body=None),
        "up-2": start("up-2"),
    }
    loop.advance(0.001)  # the holds' batch goes (its sale lane's max_wait)
    # One batch of six holds; the one that raised was isolated and the other five ran again
    # as one batch; the unpayable one was refused inside it (its plan rolled back alone).
    assert recording.batches("sale_batch") == [6, 5]
    assert (sales.stats.batches, sales.stats.sales, sales.stats.isolated) == (1, 5, 1)
    assert isinstance(started["up-unpayable"][0].value, InsufficientFunds)
    assert isinstance(started["up-raises"][0].value, TypeError)
    assert [row.state for row in loop.rows()] == ["pending"] * 4

    loop.advance(0.1)  # the utility answers the four vends; their settles share one batch
    # The settle that raised was isolated: the batch ran again without it, the three others
    # committed together.
    assert recording.batches("upstream_settle_batch") == [4, 3]
    assert (settles.stats.batches, settles.stats.sales, settles.stats.isolated) == (1, 3, 1)
    assert not any(desc in ("upstream_settle", "upstream_fail") for desc, _ in recording.ran)
    for request_id in ("up-1", "up-2"):
        entry = renderer.entry(started[request_id][0].response)
        assert entry.kind == "vend" and entry.sale.state == "completed"
    refused = renderer.entry(started["up-refused"][0].response)
    assert refused.kind == "failure" and isinstance(refused.result, UpstreamFault)
    assert refused.result.fault_class == "BlockedMeterEx"
    # The settle that raised left nothing: its vend is still pending, unanswered.
    assert not started["up-flaky"]
    states = {row.sale_id: row.state for row in loop.rows()}
    assert sorted(states.values()) == ["failed", "pending", "settled", "settled"]

    loop.advance(5.0)  # recovery: a last-response advice, the utility's replay, settled
    flaky = renderer.entry(started["up-flaky"][0].response)
    assert flaky.kind == "vend" and flaky.sale.state == "completed"
    assert sorted(row.state for row in loop.rows()) == ["failed"] + ["settled"] * 3
    assert recording.batches("upstream_settle_batch") == [4, 3, 1]  # the retry: its own batch
    assert loop.utility_sales() == ["completed"] * 3
    # Paid once per delivered vend; refunded for the refused one; nothing for the others.
    assert loop.world.balance() == before - COST_100 - COST_100 - COST_100
    assert loop.world.database.run_txn("verify", verify_ledger).ok

    # Re-sent, each gets its stored answer (no new hold, no second payment).
    for request_id in ("up-1", "up-flaky", "up-refused"):
        replay = loop.run(
            service.credit_vend(
                make_context(loop.world.cafe, request_id=request_id),
                Purchase(
                    MeterQuery(REFUSED_METER if request_id == "up-refused" else METER),
                    amount=Money.parse("100.00", "ZAR"),
                ),
                renderer,
            )
        )
        assert replay.replayed and replay.response == started[request_id][0].response
    assert loop.world.balance() == before - COST_100 - COST_100 - COST_100


def test_the_worker_runner_batches_settles_in_their_own_lane(pg_database: Database) -> None:
    """``evd serve``'s runner on PostgreSQL: the sale lane (sales and holds) over the settle
    lane (settles and refunds, batched by run_settle_batch) over the database."""
    runner = worker_runner(Config(), Clock(), pg_database)
    assert isinstance(runner, BatchingRunner)
    lane = runner._inner
    assert isinstance(lane, BatchingRunner) and lane._batch is run_settle_batch
    assert lane._locks_of is settle_locks and runner._locks_of is sale_locks
    assert not isinstance(lane._inner, BatchingRunner)
