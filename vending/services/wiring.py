"""The one place that wires the real implementations (and, given test doubles, the test
ones): the database, the keyring, the utility backends and the application services, from
a :class:`~vending.config.Config`.

Channel adapters receive the built :class:`Services` (and the :class:`Application` for
authentication and health); no adapter constructs the database, the services or reads the
migration state itself. What only the process composer knows is passed in, so ``vending/``
imports no adapter and no Twisted:

* ``runner``: the transaction runner (``xmlvend.transport.asyncdb.AsyncDatabase`` on the
  reactor, ``ImmediateDatabase`` in tests) -- or ``runner_factory(database)``;
* ``clock``: the one wall clock (:data:`vending.clock.Clock`) every stamp comes from
  (:func:`vending.clock.system_clock` in ``evd serve``, a fixed one in tests);
* ``reactor``: the timer the utility side times retries and the demo slow meter with
  (``twisted.internet.task.Clock`` in tests), opaque here;
* ``upstream_factory``: builds the outbound client to a utility's own server for a route
  (the XMLVend client adapter, ``xmlvend.upstream``), when routes are configured.

Usage (``evd serve``)::

    app = build_application(config, reactor=reactor, clock=system_clock,
                            runner_factory=lambda db: AsyncDatabase(reactor, db),
                            upstream_factory=...)
    server = build_server(config, reactor=reactor, app=app)   # the XMLVend adapter
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from catalogue.travel import REF_PREFIX
from utilities.interface import UtilityService
from vending.auth import Authenticator
from vending.config import Config
from vending.keyring import Keyring
from vending.login_throttle import ThrottleSettings
from vending.services.accounts import Accounts
from vending.services.advices import Advices
from vending.services.aeps import AepsService
from vending.services.answers import Answers
from vending.services.batches import Batches
from vending.services.bill_payments import BillPayments
from vending.services.context import Clock, TxnRunner
from vending.services.deposits import Deposits
from vending.services.distribution import Distribution
from vending.services.electricity_sales import ElectricitySales
from vending.services.fault_reports import FaultReports
from vending.services.insurance import InsuranceSales
from vending.services.meters import MeterOperations
from vending.services.money_transfers import MoneyTransfers
from vending.services.provider_push import ResultPush
from vending.services.recharge_sales import RechargeSales
from vending.services.recovery import Recovery
from vending.services.rendering import ChannelRenderer, Renderers
from vending.services.reprints import Reprints
from vending.services.reversal_policy import ReversalPolicy
from vending.services.rewards import Rewards
from vending.services.staff_monitoring import StaffMonitoring
from vending.services.staff_queues import StaffQueues
from vending.services.staff_transactions import StaffTransactions
from vending.services.statements import Statements
from vending.services.travel import TravelSales
from vending.services.voucher_sales import VoucherSales
from vending.services.wakeup import Wakeup
from vending.storage.database import Database

# How long after a sale staff may still reverse it (the product's and the PIN rules hold too).
STAFF_REVERSAL_WINDOW = timedelta(days=30)

# A periodic timer: every(seconds, fn) runs the coroutine function fn now and then every
# ``seconds``, and returns a function that stops it.
Every = Callable[[float, Callable[[], Awaitable[Any]]], Callable[[], None]]


@dataclass(frozen=True)
class ServiceSettings:
    """Channel-neutral settings the adapters read (how many lines, which product)."""

    # The electricity product sold for meter purchases and account payments.
    electricity_product: str = "ELEC-DEMO"
    reprint_count: int = 5
    statement_lines: int = 10


@dataclass
class Services:
    """Every application service: the only entry every channel calls."""

    electricity: ElectricitySales
    vouchers: VoucherSales
    meters: MeterOperations
    advices: Advices
    reprints: Reprints
    statements: Statements
    batches: Batches
    fault_reports: FaultReports
    accounts: Accounts
    answers: Answers
    renderers: Renderers
    utility: UtilityService
    runner: TxnRunner
    clock: Clock
    recovery: Recovery
    settings: ServiceSettings = field(default_factory=ServiceSettings)
    # Deposits from bank alerts (None when config deposits.settings_file is empty).
    deposits: Deposits | None = None
    # How often recovery sweeps for abandoned requests (config sales.recovery_sweep_seconds).
    recovery_sweep_seconds: float = 10.0
    _stop_sweeps: Callable[[], None] | None = field(default=None, repr=False)
    # Sales through providers (issue 14): present when a fulfilment was wired.
    fulfilment: Any = None
    recharge: RechargeSales | None = None
    bills: BillPayments | None = None
    transfers: MoneyTransfers | None = None
    aeps: AepsService | None = None
    # The admin suite's oversight (issue 15): transactions, dashboard and activity, queues.
    staff_transactions: StaffTransactions | None = None
    staff_monitoring: StaffMonitoring | None = None
    staff_queues: StaffQueues | None = None
    # The distribution network (issue 13 §2, §3) and reward points (§4).
    distribution: Distribution | None = None
    rewards: Rewards | None = None
    # How often reward points and fund requests past their time are expired.
    network_sweep_seconds: float = 300.0
    # Fired after a sale queued an SMS to a consumer; the SMS deliverer connects to it.
    sms_queued: Wakeup = field(default_factory=Wakeup)
    # Bulk multi-recharge (docs/BULK.md): files of sales through the services above.
    bulk: Any = None
    insurance: InsuranceSales | None = None
    travel: TravelSales | None = None

    def with_utility(self, utility: UtilityService) -> Services:
        """The same services over another utility side (tests wrap the real one)."""
        return dataclasses.replace(
            self,
            electricity=ElectricitySales(utility, on_sms_queued=self.sms_queued),
            meters=MeterOperations(utility),
            accounts=Accounts(self.runner, utility),
            utility=utility,
        )

    def register_renderer(self, channel: str, renderer: ChannelRenderer) -> None:
        """A channel's renderer, for work that finishes without its request at hand."""
        self.renderers.register(channel, renderer)

    def start(self, every: Every | None = None) -> None:
        """Background work: recovery of requests earlier runs left pending (every backend:
        the upstream loops for held sales, :attr:`recovery` for the rest), once now and
        then periodically through ``every(seconds, fn)`` (the composer's timer: a Twisted
        LoopingCall; it returns a function that stops it). Call once the channels
        registered their renderers; with several worker processes, in one of them only."""
        start = getattr(self.utility, "start", None)
        if start is not None:
            start(self.renderers.as_dict())
        if every is not None:
            stops = [every(self.recovery_sweep_seconds, self.recovery.sweep)]
            if self.distribution is not None or self.rewards is not None:
                stops.append(every(self.network_sweep_seconds, self.network_sweep))
            self._stop_sweeps = _stop_all(stops)
        if self.fulfilment is not None:
            self.fulfilment.start()
        if self.travel is not None:
            self.travel.start()

    async def network_sweep(self) -> tuple[int, int]:
        """Expire what is past its time by the services' clock: reward points (their value
        back to revenue) and undecided fund requests (their requesters told). Returns
        (points expired, requests expired)."""
        points = await self.rewards.expire() if self.rewards is not None else 0
        requests = (
            len(await self.distribution.expire_fund_requests())
            if self.distribution is not None
            else 0
        )
        return points, requests

    def stop(self) -> None:
        stop = getattr(self.utility, "stop", None)
        if stop is not None:
            stop()
        if self._stop_sweeps is not None:
            self._stop_sweeps()
            self._stop_sweeps = None
        if self.fulfilment is not None:
            self.fulfilment.stop()
        if self.travel is not None:
            self.travel.stop()


def _stop_all(stops: list[Callable[[], None]]) -> Callable[[], None]:
    def stop() -> None:
        for one in stops:
            one()

    return stop


def build_services(
    config: Config,
    *,
    runner: TxnRunner,
    keyring: Keyring,
    utility: UtilityService,
    clock: Clock,
    renderers: Renderers | None = None,
    fulfilment_factory: Callable[[Renderers], Any] | None = None,
) -> Services:
    """The services over an already built runner, keyring and utility side, all stamping
    with ``clock``. ``fulfilment_factory(renderers)`` builds the provider fulfilment
    (:class:`catalogue.fulfilment.Fulfilment`, its clients wired by the composer)."""
    renderers = renderers or Renderers()
    fulfilment = fulfilment_factory(renderers) if fulfilment_factory is not None else None
    deposits = None
    if config.deposits.settings_file:
        from deposits.settings import DepositSettings

        deposit_settings = DepositSettings.load(config.path(config.deposits.settings_file))
        deposits = Deposits(runner, deposit_settings, clock, keyring=keyring)
    policy = ReversalPolicy(window=timedelta(seconds=config.sales.reversal_window_seconds))
    # Staff reverse on a customer's complaint, later than a terminal's advice may.
    staff_policy = ReversalPolicy(window=STAFF_REVERSAL_WINDOW)
    sender = config.sms.short_code
    sms_queued = Wakeup()
    if fulfilment is not None and getattr(fulfilment, "push", None) is None:
        # A result answered "pending" is pushed when final (webhook, SMS).
        fulfilment.push = ResultPush(keyring, sender, sms=config.sms.enabled)
    distribution = Distribution(runner, clock, keyring, sms_sender=sender)
    services = Services(
        electricity=ElectricitySales(utility, on_sms_queued=sms_queued),
        vouchers=VoucherSales(runner, keyring, clock, on_sms_queued=sms_queued),
        meters=MeterOperations(utility),
        advices=Advices(runner, keyring, clock, renderers, policy),
        reprints=Reprints(runner, keyring),
        statements=Statements(runner),
        batches=Batches(runner, keyring),
        fault_reports=FaultReports(runner, keyring, clock),
        accounts=Accounts(runner, utility),
        answers=Answers(runner, keyring, clock),
        renderers=renderers,
        utility=utility,
        runner=runner,
        clock=clock,
        recovery=Recovery(
            runner,
            keyring,
            clock,
            renderers,
            grace=timedelta(seconds=config.sales.abandoned_after_seconds),
        ),
        recovery_sweep_seconds=config.sales.recovery_sweep_seconds,
        settings=ServiceSettings(
            electricity_product=config.utilities.product_code,
            reprint_count=config.server.reprint_count,
            statement_lines=config.server.statement_lines,
        ),
        fulfilment=fulfilment,
        recharge=None if fulfilment is None else RechargeSales(runner, fulfilment, clock),
        bills=None if fulfilment is None else BillPayments(runner, fulfilment, clock),
        transfers=None if fulfilment is None else MoneyTransfers(runner, fulfilment, clock),
        aeps=_aeps_service(runner, keyring, clock, fulfilment),
        insurance=None if fulfilment is None else InsuranceSales(runner, fulfilment, clock),
        travel=_travel_service(runner, keyring, clock, fulfilment, renderers),
        deposits=deposits,
        staff_transactions=StaffTransactions(runner, keyring, clock, renderers, staff_policy),
        staff_monitoring=StaffMonitoring(runner, clock),
        staff_queues=StaffQueues(
            runner,
            clock,
            None if deposits is None else deposits.settings,
            fund_notices=distribution.notices,
        ),
        distribution=distribution,
        rewards=Rewards(runner, clock),
        sms_queued=sms_queued,
    )
    services.bulk = _bulk_service(config, services, keyring)
    return services


def _bulk_service(config: Config, services: Services, keyring: Keyring) -> Any:
    """Bulk sales over the services' own voucher and recharge sales; its renderer is the
    ``bulk`` channel's (a provider's late answer for a bulk row is rendered with it)."""
    from vending.services.bulk import BulkSales

    bulk = BulkSales(
        services.runner,
        keyring,
        services.clock,
        vouchers=services.vouchers,
        recharge=lambda: services.recharge,
        concurrency=config.bulk.concurrency,
        flush_rows=config.bulk.flush_rows,
        chunk_rows=config.bulk.chunk_rows,
    )
    services.register_renderer("bulk", bulk.renderer)  # type: ignore[arg-type]
    return bulk


def _travel_service(
    runner: TxnRunner, keyring: Keyring, clock: Clock, fulfilment: Any, renderers: Renderers
) -> Any:
    """Travel through the wired partners (clients with ``hold``); holds swept on the
    fulfilment's scheduler (the injected reactor or clock); the partners' callbacks about
    bookings taken through the fulfilment's (authenticated) callback path."""
    if fulfilment is None:
        return None
    travel = TravelSales(
        runner, keyring, clock, fulfilment.clients, scheduler=fulfilment.scheduler,
        routing=fulfilment.policy.routing, sweep_seconds=fulfilment.policy.sweep_seconds,
        renderers=renderers, push=fulfilment.push,
    )  # fmt: skip
    fulfilment.callback_sinks[REF_PREFIX] = travel.apply_callback
    return travel


def _aeps_service(runner: TxnRunner, keyring: Keyring, clock: Clock, fulfilment: Any) -> Any:
    """AEPS through the first wired sponsor bank client (one with ``transact``), if any."""
    clients = getattr(fulfilment, "clients", {}) if fulfilment is not None else {}
    bank = next((c for c in clients.values() if hasattr(c, "transact")), None)
    return None if bank is None else AepsService(runner, keyring, clock, bank)


@dataclass
class Application:
    """The built process core: what every channel adapter is given."""

    config: Config
    database: Database
    keyring: Keyring
    runner: TxnRunner
    services: Services
    authenticator: Authenticator

    def schema_status(self) -> dict[str, str]:
        """Blocking: the database's migration state for health checks; raises
        :class:`SchemaOutOfDate` when it is not the code's head revision."""
        from vending.storage import migrate

        head = migrate.head_revision()
        revision = migrate.current_revision(self.database.engine)
        if revision != head:
            raise SchemaOutOfDate(f"database schema {revision or 'empty'} is not {head}")
        return {"database": "ok", "schema": revision}


class SchemaOutOfDate(Exception):
    """The database is not migrated to the code's head revision."""


def check_schema(database: Database) -> str:
    """Blocking: the database's revision when it is migrated to the code's head; raises
    SchemaOutOfDate (with what to do) otherwise, and whatever reaching it raises."""
    from vending.storage import migrate

    head = migrate.head_revision()
    revision = migrate.current_revision(database.engine)
    if revision != head:
        raise SchemaOutOfDate(
            f"the database is not migrated (schema {revision or 'empty'}, needs {head}); "
            "run `evd db upgrade` first"
        )
    return revision


def build_application(
    config: Config,
    *,
    reactor: Any,
    clock: Clock,
    runner: TxnRunner | None = None,
    runner_factory: Callable[[Database], TxnRunner] | None = None,
    database: Database | None = None,
    keyring: Keyring | None = None,
    utility: UtilityService | None = None,
    upstream_factory: Callable[..., Any] | None = None,
    authenticator: Authenticator | None = None,
    fulfilment_factory: Callable[..., Any] | None = None,
) -> Application:
    """Build the database (unless given), keyring, utility side and services from
    ``config`` (see the module docstring for what the composer passes in). ``clock`` is
    the one clock everything built here stamps with (``evd serve``: the system clock; tests:
    their own); nothing below reads the time itself."""
    from utilities.service import build_utility_service

    if database is None:
        database = Database.from_config(config)
    if keyring is None:
        from vending.keyring import load_master_key

        keyring = Keyring(load_master_key(config), clock=clock)
    if runner is None:
        if runner_factory is None:
            raise ValueError("build_application needs a runner or a runner_factory")
        runner = runner_factory(database)
    if utility is None:
        utility = build_utility_service(
            config, runner, keyring, reactor, clock=clock, upstream_factory=upstream_factory
        )
    services = build_services(
        config,
        runner=runner,
        keyring=keyring,
        utility=utility,
        clock=clock,
        fulfilment_factory=(
            None
            if fulfilment_factory is None
            else lambda renderers: fulfilment_factory(
                runner=runner, keyring=keyring, clock=clock, renderers=renderers
            )
        ),
    )
    if authenticator is None:
        authenticator = Authenticator(
            database,
            require_auth=config.server.require_operator_auth,
            cache_seconds=config.security.auth_cache_seconds,
            password_log_n=config.security.scrypt_log_n,
            throttle=ThrottleSettings.from_config(config.security),
            clock=clock,
        )
    return Application(config, database, keyring, runner, services, authenticator)


__all__ = [
    "Application",
    "SchemaOutOfDate",
    "ServiceSettings",
    "Services",
    "build_application",
    "build_services",
    "check_schema",
]
