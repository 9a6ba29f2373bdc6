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
from vending.services.electricity_sales import ElectricitySales, RecipientTokens
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
from vending.services.statements import Statements
from vending.services.travel import TravelSales
from vending.services.voucher_sales import VoucherSales
from vending.storage.database import Database

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
    insurance: InsuranceSales | None = None
    travel: TravelSales | None = None

    def with_utility(self, utility: UtilityService) -> Services:
        """The same services over another utility side (tests wrap the real one)."""
        return dataclasses.replace(
            self,
            electricity=ElectricitySales(utility, recipients=self.electricity._recipients),
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
            self._stop_sweeps = every(self.recovery_sweep_seconds, self.recovery.sweep)
        if self.fulfilment is not None:
            self.fulfilment.start()
        if self.travel is not None:
            self.travel.start()

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
        deposits = Deposits(runner, deposit_settings, clock)
    policy = ReversalPolicy(window=timedelta(seconds=config.sales.reversal_window_seconds))
    sender = config.sms.short_code
    if fulfilment is not None and getattr(fulfilment, "push", None) is None:
        # A result answered "pending" is pushed when final (webhook, SMS).
        fulfilment.push = ResultPush(keyring, sender, sms=config.sms.enabled)
    return Services(
        electricity=ElectricitySales(
            utility, recipients=RecipientTokens(runner, keyring, clock, sender)
        ),
        vouchers=VoucherSales(runner, keyring, clock, sms_sender=sender),
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
        travel=_travel_service(runner, keyring, clock, fulfilment),
        deposits=deposits,
    )


def _travel_service(runner: TxnRunner, keyring: Keyring, clock: Clock, fulfilment: Any) -> Any:
    """Travel through the wired partners (clients with ``hold``); holds swept on the
    fulfilment's scheduler (the injected reactor or clock)."""
    if fulfilment is None:
        return None
    return TravelSales(
        runner, keyring, clock, fulfilment.clients, scheduler=fulfilment.scheduler,
        routing=fulfilment.policy.routing, sweep_seconds=fulfilment.policy.sweep_seconds,
    )  # fmt: skip


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
