"""Fixtures of the catalogue tests: a world (SQLite and PostgreSQL) and the fulfilment over
the scripted providers on a ``task.Clock``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from catalogue_support import NOW, JsonRenderer, ScriptedProvider, seed_world
from twisted.internet.task import Clock

from catalogue.adapters.tasks import ReactorScheduler
from catalogue.fulfilment import Fulfilment, FulfilmentPolicy
from vending.keyring import Keyring
from vending.services.bill_payments import BillPayments
from vending.services.money_transfers import MoneyTransfers
from vending.services.recharge_sales import RechargeSales
from vending.services.rendering import Renderers
from vending.storage.database import Database
from xmlvend.transport.asyncdb import ImmediateDatabase


class SteppingClock:
    """The one clock of a test: datetimes for the services, advanced with the reactor."""

    def __init__(self, reactor: Clock) -> None:
        self.reactor = reactor

    def __call__(self) -> Any:
        from datetime import timedelta

        return NOW + timedelta(seconds=self.reactor.seconds())


@dataclass
class Shop:
    db: Database
    keyring: Keyring
    reactor: Clock
    providers: dict[str, ScriptedProvider]
    fulfilment: Fulfilment
    recharge: RechargeSales
    bills: BillPayments
    renderer: JsonRenderer
    transfers: MoneyTransfers


@pytest.fixture
def shop(database: Database, keyring: Keyring) -> Shop:
    seed_world(database, keyring)
    reactor = Clock()
    clock = SteppingClock(reactor)
    providers = {name: ScriptedProvider(name) for name in ("alpha", "beta", "bbpsnet", "bank")}
    renderer = JsonRenderer()
    runner = ImmediateDatabase(database)
    fulfilment = Fulfilment(
        runner,
        keyring,
        clock,
        ReactorScheduler(reactor),
        providers,
        Renderers({"json": renderer}),
        callback_parsers={"recharge-json": _parse_json_callback},
        policy=FulfilmentPolicy(first_poll_seconds=2.0, max_poll_seconds=16.0, give_up_polls=6),
    )
    return Shop(
        database,
        keyring,
        reactor,
        providers,
        fulfilment,
        RechargeSales(runner, fulfilment, clock),
        BillPayments(runner, fulfilment, clock),
        renderer,
        MoneyTransfers(runner, fulfilment, clock),
    )


def _parse_json_callback(body: bytes) -> Any:
    from catalogue.adapters.recharge_json import parse_callback

    return parse_callback(body)


# --- provider simulators as their own processes (marker ``providers``) ---------------------------
#
# As PostgreSQL: outside CI a simulator that cannot start skips its tests with the reason;
# with CI=true that is an error, and a run that selected ``providers`` tests of which none
# passed fails (checked in tests/conftest.py, MANDATORY_IN_CI, where the pytest-xdist
# controller sees every worker's reports).
