"""The oversight services the operational screens call, built once per admin mount around
the application's runner, keyring, clock and renderers, with the admin suite's access
service as their guard (so a refusal is audited and answered 403 like every other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vending.money import Money
from vending.services.staff_monitoring import StaffMonitoring
from vending.services.staff_points import StaffPoints
from vending.services.staff_queues import StaffQueues
from vending.services.staff_transactions import StaffTransactions


@dataclass(frozen=True)
class Oversight:
    transactions: StaffTransactions
    monitoring: StaffMonitoring
    queues: StaffQueues
    points: StaffPoints


def minor(amount: int, currency: str) -> str:
    """Minor units as the currency writes them (the ``minor_units`` template filter)."""
    return Money(int(amount), currency).format()


def oversight(ui: Any) -> Oversight:
    """The oversight services of ``ui`` (built on first use, kept in ``services.extra``)."""
    ui.env.filters["minor_units"] = minor
    found = ui.services.extra.get("oversight")
    if found is None:
        app = ui.services.app
        built = app.services
        access = ui.services.access
        deposits = built.deposits
        found = Oversight(
            transactions=StaffTransactions(
                app.runner,
                app.keyring,
                built.clock,
                built.renderers,
                None if built.staff_transactions is None else built.staff_transactions.policy,
                guard=access,
            ),
            monitoring=StaffMonitoring(app.runner, built.clock, guard=access),
            queues=StaffQueues(
                app.runner,
                built.clock,
                None if deposits is None else deposits.settings,
                guard=access,
                # Texted like every other way of deciding (the API's, SMS's, evd's).
                fund_notices=built.distribution.notices,
            ),
            points=StaffPoints(app.runner, built.clock, guard=access),
        )
        ui.services.extra["oversight"] = found
    return found
