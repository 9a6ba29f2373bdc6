"""The crash campaign's checks (tools/crashtest/checks.py) over crafted states: real sales
made through the in-memory server, then the clients' records or the database changed the
way a lost or duplicated sale would leave them. The counting must see each one, and a
clean state must count nothing."""

from __future__ import annotations

from dataclasses import replace

from server_support import NORMAL_METER, World, credit_vend, voucher_vend
from sqlalchemy import insert, select, update

from tools.crashtest.checks import Answer, Sent, classify, judge, summary_line
from vending.storage.schema import accounts, requests, sales, vendors
from xmlvend.codec import render_request
from xmlvend.server.convert import request_id


def _sell(world: World, kind: str) -> Sent:
    header = world.header()
    request = (
        voucher_vend(header) if kind == "voucher" else credit_vend(header, NORMAL_METER, "50.00")
    )
    body = render_request(request)
    response = world.post(body)
    record = Sent(header.client_id.ean, request_id(header.msg_id), kind, body)
    record.answers.append(classify(response.status, response.body))
    return record


def _world_sales(world: World, count: int = 2) -> list[Sent]:
    return [_sell(world, kind) for kind in ("electricity", "voucher") for _ in range(count)]


def _judge(world: World, records: list[Sent]):
    with world.database.engine.connect() as conn:
        return judge(records, conn)


def test_classify_reads_tokens_pins_and_fault_classes(world: World) -> None:
    electricity, voucher = _sell(world, "electricity"), _sell(world, "voucher")
    assert electricity.final is not None and electricity.final.outcome == "sale"
    assert len(electricity.final.tokens) == 1 and len(electricity.final.tokens[0]) == 20
    assert voucher.final is not None and voucher.final.tokens[0] in world.pins
    refused = world.post(render_request(credit_vend(world.header(), "04100000035")))
    answer = classify(refused.status, refused.body)
    assert (answer.outcome, answer.fault_class) == ("fault", "BlockedMeterEx")
    assert classify(503, b"busy").outcome == "error"


def test_a_clean_campaign_counts_nothing(world: World) -> None:
    records = _world_sales(world)
    verdict = _judge(world, records)
    assert verdict.vends == 4
    assert (verdict.lost, verdict.duplicated, verdict.balance_mismatches) == ({}, {}, [])
    assert verdict.pending_total == 0 and verdict.clean
    assert summary_line(3, verdict) == "3 kills, 4 vends, 0 lost, 0 duplicated, 0 pending"


def test_lost_sales_are_counted(world: World) -> None:
    records = _world_sales(world)
    # 1. sent, never answered, nothing in the database
    never = Sent("6004708000090", "20261122100000/999001", "electricity", b"")
    never.unanswered = 2
    # 2. the client was told it failed, but the sale completed (charged, not delivered)
    told_failed = records[0]
    told_failed.answers = [Answer(500, "fault", "SystemEx")]
    # 3. the client holds a sale the database does not have
    phantom = Sent("6004708000090", "20261122100000/999002", "voucher", b"")
    phantom.answers.append(Answer(200, "sale", None, ("1234567890123456",)))
    verdict = _judge(world, [*records, never, phantom])
    assert verdict.lost == {
        "no definitive answer": 1,
        "charged, client told it failed": 1,
        "sold to the client, no completed sale": 1,
    }
    assert verdict.lost_total == 3 and not verdict.clean
    assert verdict.vends == 4  # the three real sales still answered, and the phantom


def test_duplicates_are_counted(world: World) -> None:
    records = _world_sales(world)
    first, second = records[2], records[3]  # two voucher sales
    assert first.final is not None and second.final is not None
    # the same PIN answered to a second key, and one key answered with two different PINs
    second.answers.append(replace(second.final, tokens=first.final.tokens))
    with world.database.engine.begin() as conn:
        # one voucher row in two live sales
        rows = conn.execute(select(sales.c.id, sales.c.details).order_by(sales.c.id)).all()
        vouchers_sold = [row for row in rows if "voucher_id" in row.details]
        conn.execute(
            update(sales)
            .where(sales.c.id == vouchers_sold[1].id)
            .values(
                details={
                    **vouchers_sold[1].details,
                    "voucher_id": vouchers_sold[0].details["voucher_id"],
                }
            )
        )
    verdict = _judge(world, records)
    assert verdict.duplicated == {
        "one key, different tokens/PINs": 1,
        "PINs sold twice (database)": 1,
        "token/PIN in answers to two keys": 1,
    }
    assert verdict.duplicated_total == 3


def test_pending_requests_are_counted_not_lost(world: World) -> None:
    records = _world_sales(world)
    waiting = Sent("6004708000090", "20261122100000/999003", "upstream", b"")
    waiting.answers.append(Answer(500, "delayed", "TransactionDelayedEx"))
    with world.database.engine.begin() as conn:
        conn.execute(
            insert(requests).values(
                client_id=waiting.client_id,
                request_id=waiting.request_id,
                channel="xmlvend",
                operation="creditVend",
                fingerprint=b"\x00" * 32,
                state="pending",
                received_at=world.clock.now,
            )
        )
    verdict = _judge(world, [*records, waiting])
    assert verdict.pending["requests"] == 1 and verdict.pending_total == 1
    assert verdict.lost == {}
    assert summary_line(0, verdict).endswith("0 lost, 0 duplicated, 1 pending")


def test_a_vendor_balance_that_is_not_credits_minus_sales_is_reported(world: World) -> None:
    records = _world_sales(world)
    with world.database.engine.begin() as conn:
        account_id = conn.execute(
            select(vendors.c.account_id).where(vendors.c.client_id == "6004708000090")
        ).scalar_one()
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(balance=accounts.c.balance + 1)
        )
    verdict = _judge(world, records)
    assert len(verdict.balance_mismatches) == 1
    assert "6004708000090" in verdict.balance_mismatches[0] and not verdict.clean


def test_a_delayed_answer_is_not_definitive() -> None:
    from xmlvend.codec import render_fault
    from xmlvend.codec import types_base as b

    body = render_fault(
        "ext:TransactionDelayedEx",
        "later",
        header=None,
        server_id=b.EANDeviceID(ean="6004708000007"),
    )
    answer = classify(500, body)
    assert (answer.outcome, answer.definitive) == ("delayed", False)
    record = Sent("6004708000090", "20261122100000/1", "slow", b"", answers=[answer])
    assert record.final is None


def test_the_campaign_requests_have_unique_keys_as_the_server_keys_them() -> None:
    import random

    from tools.crashtest.load import Mix, RequestFactory
    from xmlvend.codec import parse_request

    factory = RequestFactory(random.Random(5), Mix(slow=0.1))
    made = [factory.next() for _ in range(300)]
    assert len({record.key for record in made}) == 300
    assert {record.kind for record in made} == {"electricity", "voucher", "upstream", "slow"}
    for record in made[:20]:
        parsed = parse_request(record.body)
        assert request_id(parsed.header.msg_id) == record.request_id
        assert parsed.header.client_id.ean == record.client_id
