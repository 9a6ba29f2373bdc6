"""Many sales on ONE meter in one batch (issue 16), the first of them a key change: the
meter's key revision and base date change in the middle of the batch (a TID roll-over), and
every later sale of the batch must number and encrypt under the new key. The batch's answers,
TIDs, tokens and ledger are the single path's, and the tokens work on a simulated meter
holding the meter's real decoder key, entered in TID order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from server_support import KEY_CHANGE_METER, World, credit_vend
from test_server_batching import (
    batched_world,
    emptied,
    facts,
    plain_world,
    send_all,
    stock_rows,
    without_cipher,
)

from tests.utilities.utility_meters import simulator_for
from vending.keyring import Keyring
from vending.storage.database import Database
from xmlvend.codec import render_request
from xmlvend.codec import types_revenue as r

AMOUNTS = ["50.00", "20.00", "30.00", "10.00", "40.00", "25.00"]


def _requests(world: World) -> list[bytes]:
    return [
        render_request(credit_vend(world.header(), KEY_CHANGE_METER, amount)) for amount in AMOUNTS
    ]


def _sale_tx(response: r.CreditVendResp) -> r.CreditVendTx:
    (tx,) = [t for t in response.credit_vend_receipt.transactions.tx if t.receipt_no]
    assert isinstance(tx, r.CreditVendTx)
    return tx


def _single_path(
    database: Database, keyring: Keyring, rows: list[Any], sentinel: Any
) -> tuple[list[Any], dict[str, Any]]:
    """The oracle: the same requests, one transaction per sale; the answers and the facts."""
    single = plain_world(database, keyring, rows, sentinel)
    answers = [single.post(body) for body in _requests(single)]
    return answers, database.run_txn("facts", facts)


def test_many_sales_on_one_meter_with_a_key_change_in_one_batch(
    pg_database: Database, keyring: Keyring, secrets_sentinel: Any
) -> None:
    rows = stock_rows(1)
    expected, expected_facts = _single_path(pg_database, keyring, rows, secrets_sentinel)
    database = emptied(pg_database.url)
    try:
        world, runner, manual, timer = batched_world(
            database, keyring, rows, secrets_sentinel, max_wait=0.001
        )
        connections = send_all(world, _requests(world))
        timer.advance(0.001)
        manual.pump()
        got = [c.last() for c in connections]
        assert (runner.stats.batches, runner.stats.sales, runner.stats.isolated) == (1, 6, 0)
        assert manual.ran.count("sale_batch") == 1
        assert all(c.status == 200 and c.fault_class() is None for c in got)
        # The single path's answers byte for byte (the STS cipher's random nibble masked) and
        # its tokens: two key change tokens, then six sale (credit) tokens, TIDs in arrival order.
        assert [(g.status, without_cipher(g.body)) for g in got] == [
            (e.status, without_cipher(e.body)) for e in expected
        ]
        batched = database.run_txn("facts", facts)
        assert batched == expected_facts and batched["ledger_ok"]
        kinds = [kind for _, _, kind, _, _, _ in batched["tokens"]]
        assert kinds == ["key_change", "key_change"] + ["sale"] * len(AMOUNTS)
        tids = [tid for _, _, kind, tid, _, _ in batched["tokens"] if kind == "sale"]
        assert tids == sorted(tids) and len(set(tids)) == len(tids)

        # The tokens are right: the meter holds the old key (KRN 1, base 1993) until it takes
        # the key change tokens of the first answer; then each credit token, under the new
        # key, credits exactly its units, in the order the batch numbered them.
        meter = simulator_for(KEY_CHANGE_METER, krn=1)
        first = _sale_tx(got[0].parsed())
        kc = first.kc_token_issue
        assert kc is not None and (kc.kct_data.from_krn, kc.kct_data.to_krn) == ("1", "2")
        for key_token in (kc.token.set1st_meter_key, kc.token.set2nd_meter_key):
            outcome = meter.enter(key_token.sts_cipher)
            assert outcome.accepted, outcome.message
        assert (meter.krn, meter.base_date) == (2, 2014)
        total = 0
        for answer in got:
            tx = _sale_tx(answer.parsed())
            assert answer is got[0] or tx.kc_token_issue is None  # one key change only
            issue = tx.credit_token_issue
            credited = meter.enter(issue.token.sts_cipher)
            assert credited.accepted, credited.message
            assert credited.credited == int(Decimal(issue.units.value) * 10) > 0
            total += credited.credited
        assert meter.credit[0] == total
    finally:
        database.close()
