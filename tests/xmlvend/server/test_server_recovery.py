"""Issue 10 §5: after a kill -9, every request left pending is answered for good within a
bounded time after the restart (``sales.abandoned_after_seconds`` plus one
``sales.recovery_sweep_seconds``), and that final answer is then served to retries and
last-response advices. The kill is simulated: the pending state is made by a first server
whose reactor never runs again; a fresh server on the same database recovers it on its own
fake reactor and clock.

Also: the demo meters' behaviours are off by default (production), on only in the demo
configuration, and live in the demo wrapper.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from server_support import (
    FAILING_METER,
    NORMAL_METER,
    SLOW_METER,
    World,
    advice,
    build_world,
    credit_vend,
    make_config,
)
from sqlalchemy import func, select

from utilities.demo_behaviours import DemoBehaviours
from utilities.service import UtilityServiceImpl, build_utility_service
from vending.config import Config, UtilitiesConfig
from vending.requests import Claim, claim_request
from vending.storage.database import Database
from vending.storage.schema import requests, sales
from xmlvend.codec import SoapFault, render_request
from xmlvend.codec import types_base as b
from xmlvend.transport.asyncdb import ImmediateDatabase


def _fault(response: Any) -> SoapFault:
    fault = response.parsed()
    assert isinstance(fault, SoapFault), response.body[:300]
    return fault


def _last_response(world: World, original: b.MsgID) -> Any:
    return world.call(advice(b.LastRespAdviceReq, world.header(), original))


def _restart(database: Database, keyring: Any, sentinel: Any, before: World) -> World:
    """A fresh server on the same database, its clock where the killed one's stopped."""
    world = build_world(database, keyring, sentinel, vouchers=0, seed=False)
    world.clock.now = before.clock.now
    return world


def _count(database: Database, table: Any, *where: Any) -> int:
    return database.run_txn(
        "count", lambda txn: txn.execute(select(func.count()).select_from(table).where(*where))
    ).scalar_one()


def test_a_slow_vend_left_pending_by_a_kill_is_answered_after_restart(
    database: Database, keyring: Any, secrets_sentinel: Any
) -> None:
    first = build_world(database, keyring, secrets_sentinel)
    balance = first.balance()
    request = credit_vend(first.header(), SLOW_METER)
    connection = first.connect()
    connection.post(render_request(request), wait=False)
    first.reactor.advance(first.config.server.deadline_seconds)
    assert _fault(connection.last()).fault_class == "TransactionDelayedEx"
    # kill -9: the first server's reactor never runs again; the vend is claimed, not done.

    fresh = _restart(database, keyring, secrets_sentinel, first)
    assert _fault(_last_response(fresh, request.header.msg_id)).fault_class == (
        "TransactionDelayedEx"
    )
    assert _fault(fresh.call(request)).fault_class == "TransactionDelayedEx"

    # Within abandoned_after_seconds plus one sweep, the request is answered for good.
    sales_config = fresh.config.sales
    fresh.clock.advance(sales_config.abandoned_after_seconds + 1)
    fresh.reactor.advance(sales_config.recovery_sweep_seconds)
    final = fresh.call(request)
    fault = _fault(final)
    assert fault.fault_class == "SystemEx" and "restart" in fault.desc
    assert fault.detail.header.req_msg_id == request.header.msg_id
    assert fresh.call(request).body == final.body  # every later retry: the same answer
    advised = _last_response(fresh, request.header.msg_id)
    assert advised.status == 200 and b"SystemEx" in advised.body and b"restart" in advised.body
    # Nothing was charged and nothing is pending any more.
    assert fresh.balance() == balance
    assert _count(database, sales) == 0
    assert _count(database, requests, requests.c.state == "pending") == 0
    assert _count(database, requests, requests.c.pending_body.is_not(None)) == 0


def test_a_young_pending_request_is_left_to_its_process(
    database: Database, keyring: Any, secrets_sentinel: Any
) -> None:
    first = build_world(database, keyring, secrets_sentinel)
    request = credit_vend(first.header(), SLOW_METER)
    first.connect().post(render_request(request), wait=False)
    first.reactor.advance(first.config.server.deadline_seconds)
    fresh = _restart(database, keyring, secrets_sentinel, first)
    fresh.reactor.advance(fresh.config.sales.recovery_sweep_seconds * 3)  # clock not moved
    assert _count(database, requests, requests.c.state == "pending") == 1
    # The first server is alive after all: it completes the vend, and that answer stands.
    first.reactor.advance(3)
    vend = fresh.call(request)
    assert vend.status == 200
    assert _count(database, requests, requests.c.state == "pending") == 0


def test_a_pending_claim_without_a_body_is_forgotten_and_processed_afresh(
    database: Database, keyring: Any, secrets_sentinel: Any
) -> None:
    world = build_world(database, keyring, secrets_sentinel)
    request = credit_vend(world.header(), NORMAL_METER)
    key_id = f"{request.header.msg_id.date_time}/{request.header.msg_id.unique_number}"

    def claim(txn: Any) -> Claim:
        claimed = claim_request(
            txn,
            world.keyring,
            channel="xmlvend",
            client_id="6004708000090",
            request_id=key_id,
            operation="creditVend",
            fingerprint=b"\0" * 32,
            now=world.clock.now,
        )
        assert isinstance(claimed, Claim)
        return claimed

    database.run_txn("claim", claim)
    world.clock.advance(world.config.sales.abandoned_after_seconds + 1)
    world.reactor.advance(world.config.sales.recovery_sweep_seconds)
    assert _count(database, requests, requests.c.state == "pending") == 0
    assert _fault(_last_response(world, request.header.msg_id)).fault_class == "LastResponseEx"
    assert world.call(request).status == 200


# --- demo behaviours: off by default, in a wrapper ------------------------------------------------


def test_demo_behaviours_are_off_by_default() -> None:
    assert Config().utilities.test_behaviours is False


def test_the_production_service_has_no_demo_wrapper(database: Database, keyring: Any) -> None:
    runner = ImmediateDatabase(database)
    plain = build_utility_service(Config(), runner, keyring, reactor=None)
    assert isinstance(plain, UtilityServiceImpl)
    demo = Config(utilities=UtilitiesConfig(test_behaviours=True))
    assert isinstance(build_utility_service(demo, runner, keyring, reactor=None), DemoBehaviours)


def test_without_the_demo_configuration_demo_meters_vend_like_any_other(
    database: Database, keyring: Any, secrets_sentinel: Any
) -> None:
    config = dataclasses.replace(make_config(), utilities=UtilitiesConfig())
    world = build_world(database, keyring, secrets_sentinel, config=config)
    assert world.call(credit_vend(world.header(), SLOW_METER)).status == 200
    assert world.call(credit_vend(world.header(), FAILING_METER)).status == 200
