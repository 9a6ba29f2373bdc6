"""The dashboard's figures and the activity of users, merchants and channels (issue 15 §3,
§4), each read in one transaction at an instant the caller passes (the one clock): sales per
second by channel and product, success rate, revenue, provider and utility health, deposits
and fund requests waiting, and unusual-activity flags (many failed logins; a merchant
selling far above its usual rate)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from catalogue.tables import provider_attempts, providers
from deposits.tables import deposit_alerts, deposits
from distribution.tables import fund_requests
from vending.oversight.scope import Resolved
from vending.storage.database import Txn
from vending.storage.schema import login_failures, operators, products, requests, sales, vendors

# --- the dashboard ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    name: str
    ok: int
    failed: int
    pending: int
    avg_latency_ms: int | None = None

    @property
    def status(self) -> str:
        done = self.ok + self.failed
        if done == 0:
            return "idle" if self.pending == 0 else "waiting"
        rate = self.ok / done
        return "ok" if rate >= 0.95 else ("degraded" if rate >= 0.5 else "down")


@dataclass(frozen=True)
class Dashboard:
    at: datetime
    window_seconds: int
    # Sales per second over the window, oldest second first (len == window_seconds).
    per_second: list[int]
    per_second_by_channel: dict[str, list[int]]
    by_channel: dict[str, int]
    by_product: dict[str, int]
    # The last hour: sales by state, and completed / (completed + failed).
    states_last_hour: dict[str, int]
    success_rate: float | None
    # Since midnight UTC: revenue (completed sales' amounts) by currency, and their count.
    revenue_today: dict[str, int]
    sales_today: int
    providers: list[Health]
    utilities: list[Health]
    deposits_waiting: int
    fund_requests_waiting: int
    alerts: list[str] = field(default_factory=list)


HEALTH_WINDOW = timedelta(minutes=15)
# A sale pending longer than this with its utility or provider is worth an alert.
STUCK_AFTER = timedelta(minutes=2)


def _series(
    rows: list[tuple[datetime, str]], start: datetime, seconds: int
) -> tuple[list[int], dict[str, list[int]]]:
    total = [0] * seconds
    by_channel: dict[str, list[int]] = defaultdict(lambda: [0] * seconds)
    for created_at, channel in rows:
        index = int((created_at - start).total_seconds())
        if 0 <= index < seconds:
            total[index] += 1
            by_channel[channel][index] += 1
    return total, dict(by_channel)


def dashboard(txn: Txn, scope: Resolved, now: datetime, *, window_seconds: int = 60) -> Dashboard:
    start = now - timedelta(seconds=window_seconds)
    in_scope = scope.vendor_filter(sales.c.vendor_id)
    recent = txn.execute(
        select(sales.c.created_at, requests.c.channel, products.c.code)
        .join(requests, requests.c.id == sales.c.request_pk)
        .join(products, products.c.id == sales.c.product_id)
        .where(sales.c.created_at >= start, sales.c.created_at < now, in_scope)
    ).all()
    per_second, per_channel = _series([(r[0], r[1]) for r in recent], start, window_seconds)
    by_channel = Counter(r[1] for r in recent)
    by_product = Counter(r[2] for r in recent)

    hour = dict(
        txn.execute(
            select(sales.c.state, func.count())
            .where(sales.c.created_at >= now - timedelta(hours=1), sales.c.created_at < now)
            .where(in_scope)
            .group_by(sales.c.state)
        ).all()
    )
    states = {str(k): int(v) for k, v in hour.items()}
    good = states.get("completed", 0) + states.get("reversed", 0)
    done = good + states.get("failed", 0)

    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    revenue_rows = txn.execute(
        select(sales.c.currency, func.sum(sales.c.amount), func.count())
        .where(
            sales.c.created_at >= midnight,
            sales.c.created_at < now,
            sales.c.state == "completed",
            in_scope,
        )
        .group_by(sales.c.currency)
    ).all()

    utilities = _utility_health(txn, scope, now)
    provider_health = _provider_health(txn, now) if scope.scope.everything else []
    waiting = (
        int(
            txn.execute(
                select(func.count())
                .select_from(deposits)
                .where(deposits.c.state.in_(("suspense", "review")))
            ).scalar_one()
        )
        if scope.scope.everything
        else 0
    )
    requests_waiting = int(
        txn.execute(
            select(func.count())
            .select_from(fund_requests)
            .where(
                fund_requests.c.state == "pending",
                fund_requests.c.expires_at > now,
                scope.node_filter(fund_requests.c.requester_id),
            )
        ).scalar_one()
    )
    board = Dashboard(
        at=now,
        window_seconds=window_seconds,
        per_second=per_second,
        per_second_by_channel=per_channel,
        by_channel=dict(by_channel),
        by_product=dict(by_product),
        states_last_hour=states,
        success_rate=None if done == 0 else good / done,
        revenue_today={r[0]: int(r[1] or 0) for r in revenue_rows},
        sales_today=sum(int(r[2]) for r in revenue_rows),
        providers=provider_health,
        utilities=utilities,
        deposits_waiting=waiting,
        fund_requests_waiting=requests_waiting,
    )
    board.alerts.extend(_alerts(txn, scope, board, now))
    return board


def _utility_health(txn: Txn, scope: Resolved, now: datetime) -> list[Health]:
    """Electricity sales of the last minutes by product (one product per utility route)."""
    rows = txn.execute(
        select(products.c.code, sales.c.state, func.count())
        .join(products, products.c.id == sales.c.product_id)
        .where(
            products.c.kind == "electricity",
            sales.c.created_at >= now - HEALTH_WINDOW,
            sales.c.created_at < now,
            scope.vendor_filter(sales.c.vendor_id),
        )
        .group_by(products.c.code, sales.c.state)
    ).all()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for code, state, count in rows:
        counts[code][state] += int(count)
    return [
        Health(
            code,
            ok=c["completed"] + c["reversed"],
            failed=c["failed"],
            pending=c["pending"],
        )
        for code, c in sorted(counts.items())
    ]


def _provider_health(txn: Txn, now: datetime) -> list[Health]:
    rows = txn.execute(
        select(
            providers.c.name,
            provider_attempts.c.outcome,
            func.count(),
            func.avg(provider_attempts.c.latency_ms),
        )
        .join(providers, providers.c.id == provider_attempts.c.provider_id)
        .where(provider_attempts.c.at >= now - HEALTH_WINDOW, provider_attempts.c.at < now)
        .group_by(providers.c.name, provider_attempts.c.outcome)
    ).all()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    latency: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for name, outcome, count, avg in rows:
        counts[name][outcome] += int(count)
        latency[name].append((float(avg or 0), int(count)))
    names = sorted(
        set(counts) | set(txn.execute(select(providers.c.name).where(providers.c.active)).scalars())
    )
    found = []
    for name in names:
        c = counts.get(name, Counter())
        weights = latency.get(name, [])
        total = sum(n for _, n in weights)
        found.append(
            Health(
                name,
                ok=c["SUCCESS"],
                failed=c["FAILED"] + c["DOWN"],
                pending=c["PENDING"] + c["UNKNOWN"],
                avg_latency_ms=None
                if total == 0
                else round(sum(a * n for a, n in weights) / total),
            )
        )
    return found


def _alerts(txn: Txn, scope: Resolved, board: Dashboard, now: datetime) -> list[str]:
    alerts: list[str] = []
    for health in (*board.providers, *board.utilities):
        if health.status in ("degraded", "down"):
            alerts.append(
                f"{health.name} is {health.status}: {health.failed} failed of "
                f"{health.ok + health.failed} in the last 15 minutes"
            )
    stuck = int(
        txn.execute(
            select(func.count())
            .select_from(sales)
            .where(
                sales.c.state == "pending",
                sales.c.created_at < now - STUCK_AFTER,
                scope.vendor_filter(sales.c.vendor_id),
            )
        ).scalar_one()
    )
    if stuck:
        alerts.append(f"{stuck} sale(s) pending for more than {STUCK_AFTER.seconds // 60} minutes")
    if board.deposits_waiting:
        alerts.append(f"{board.deposits_waiting} deposit(s) wait in the manual queue")
    if scope.scope.everything:
        unparsed = int(
            txn.execute(
                select(func.count())
                .select_from(deposit_alerts)
                .where(
                    deposit_alerts.c.outcome == "unparsed",
                    deposit_alerts.c.received_at >= now - timedelta(days=1),
                )
            ).scalar_one()
        )
        if unparsed:
            alerts.append(f"{unparsed} bank alert(s) could not be read in the last day")
    if board.fund_requests_waiting:
        alerts.append(f"{board.fund_requests_waiting} fund request(s) wait for a decision")
    return alerts


# --- activity -----------------------------------------------------------------------------------

GROUPINGS = ("merchant", "channel", "operator", "product")


@dataclass(frozen=True)
class ActivityRow:
    key: str
    label: str
    sales: int
    completed: int
    failed: int
    pending: int
    reversed: int
    # Completed sales' amounts by currency.
    amount: dict[str, int]

    @property
    def failure_rate(self) -> float | None:
        done = self.completed + self.failed + self.reversed
        return None if done == 0 else self.failed / done


def activity(
    txn: Txn,
    scope: Resolved,
    *,
    group_by: str,
    start: datetime,
    end: datetime,
    channel: str = "",
    merchant: str = "",
) -> list[ActivityRow]:
    """Sales and failures in [start, end) grouped by merchant, channel, operator (the user
    at the terminal) or product; busiest first."""
    if group_by not in GROUPINGS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPINGS)}")
    if group_by == "merchant":
        key, label = vendors.c.client_id, vendors.c.name
    elif group_by == "channel":
        key, label = requests.c.channel, requests.c.channel
    elif group_by == "product":
        key, label = products.c.code, products.c.name
    else:
        key = func.coalesce(operators.c.name, "-")
        label = vendors.c.client_id
    by_state = [
        func.sum(case((sales.c.state == state, 1), else_=0)).label(state)
        for state in ("completed", "failed", "pending", "reversed")
    ]
    query = (
        select(
            key.label("key"),
            label.label("label"),
            sales.c.currency,
            func.count().label("sales"),
            *by_state,
            func.sum(case((sales.c.state == "completed", sales.c.amount), else_=0)).label("amount"),
        )
        .join(requests, requests.c.id == sales.c.request_pk)
        .join(vendors, vendors.c.id == sales.c.vendor_id)
        .join(products, products.c.id == sales.c.product_id)
        .outerjoin(operators, operators.c.id == sales.c.operator_id)
        .where(
            sales.c.created_at >= start,
            sales.c.created_at < end,
            scope.vendor_filter(sales.c.vendor_id),
        )
        .group_by(key, label, sales.c.currency)
    )
    if channel:
        query = query.where(requests.c.channel == channel)
    if merchant:
        query = query.where(vendors.c.client_id == merchant)
    merged: dict[tuple[str, str], dict[str, object]] = {}
    for r in txn.execute(query):
        entry = merged.setdefault(
            (str(r.key), str(r.label)),
            {"sales": 0, "completed": 0, "failed": 0, "pending": 0, "reversed": 0, "amount": {}},
        )
        for name in ("sales", "completed", "failed", "pending", "reversed"):
            entry[name] = int(entry[name]) + int(getattr(r, name) or 0)  # type: ignore[call-overload]
        amounts = entry["amount"]
        assert isinstance(amounts, dict)
        amounts[r.currency] = amounts.get(r.currency, 0) + int(r.amount or 0)
    rows = [
        ActivityRow(key, label, **values)  # type: ignore[arg-type]
        for (key, label), values in merged.items()
    ]
    return sorted(rows, key=lambda row: (-row.sales, row.key))


@dataclass(frozen=True)
class LoginActivity:
    """Failed logins of a terminal operator (``<clientID> <opName>``) or an address."""

    kind: str
    subject: str
    failures: int
    window_started_at: datetime
    locked_until: datetime | None


def failed_logins(
    txn: Txn, scope: Resolved, *, start: datetime, end: datetime
) -> list[LoginActivity]:
    """Operator and address login failures counted in windows that began in [start, end).
    A partner sees its merchants' operators only (addresses are the platform's)."""
    rows = txn.execute(
        select(login_failures)
        .where(
            login_failures.c.window_started_at >= start,
            login_failures.c.window_started_at < end,
            login_failures.c.failures > 0,
        )
        .order_by(login_failures.c.failures.desc(), login_failures.c.id)
    ).all()
    allowed: set[str] | None = None
    if not scope.scope.everything:
        allowed = set(
            txn.execute(
                select(vendors.c.client_id).where(scope.vendor_filter(vendors.c.id))
            ).scalars()
        )
    found = []
    for r in rows:
        if allowed is not None and (r.kind != "operator" or r.subject.split(" ")[0] not in allowed):
            continue
        found.append(
            LoginActivity(r.kind, r.subject, int(r.failures), r.window_started_at, r.locked_until)
        )
    return found


# --- unusual activity ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """When activity is unusual. A merchant is flagged when its sales in the last
    ``recent`` exceed ``factor`` times its usual rate over the ``baseline`` before (and at
    least ``min_sales``); a login subject when it failed ``failed_logins`` times or more."""

    recent: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(days=7)
    factor: float = 5.0
    min_sales: int = 20
    failed_logins: int = 5


@dataclass(frozen=True)
class Flag:
    kind: str  # failed_logins | sales_rate
    subject: str
    observed: int
    usual: float
    message: str


def unusual(
    txn: Txn,
    scope: Resolved,
    now: datetime,
    thresholds: Thresholds = Thresholds(),
    *,
    extra_failed_logins: dict[str, int] | None = None,
) -> list[Flag]:
    """The flags at ``now``. ``extra_failed_logins``: failures per subject from another
    login history (the admin suite's own users), counted by its owner."""
    flags: list[Flag] = []
    failures: Counter[str] = Counter()
    for entry in failed_logins(txn, scope, start=now - thresholds.recent, end=now):
        failures[f"{entry.kind}:{entry.subject}"] += entry.failures
    for subject, count in (extra_failed_logins or {}).items():
        failures[subject] += count
    for subject, count in sorted(failures.items()):
        if count >= thresholds.failed_logins:
            flags.append(
                Flag(
                    "failed_logins",
                    subject,
                    count,
                    0.0,
                    f"{count} failed logins of {subject} in the last {_span(thresholds.recent)}",
                )
            )
    recent_start = now - thresholds.recent
    base_start = recent_start - thresholds.baseline

    def counts(start: datetime, end: datetime) -> dict[str, int]:
        rows = txn.execute(
            select(vendors.c.client_id, func.count())
            .select_from(sales)
            .join(vendors, vendors.c.id == sales.c.vendor_id)
            .where(
                sales.c.created_at >= start,
                sales.c.created_at < end,
                scope.vendor_filter(sales.c.vendor_id),
            )
            .group_by(vendors.c.client_id)
        ).all()
        return {str(k): int(v) for k, v in rows}

    recent = counts(recent_start, now)
    baseline = counts(base_start, recent_start)
    periods = thresholds.baseline / thresholds.recent
    for merchant, observed in sorted(recent.items()):
        usual = baseline.get(merchant, 0) / periods
        if observed >= thresholds.min_sales and observed > thresholds.factor * max(usual, 1.0):
            flags.append(
                Flag(
                    "sales_rate",
                    merchant,
                    observed,
                    usual,
                    f"merchant {merchant} sold {observed} in the last "
                    f"{_span(thresholds.recent)}; usually {usual:.1f}",
                )
            )
    return flags


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


__all__ = [
    "GROUPINGS",
    "ActivityRow",
    "Dashboard",
    "Flag",
    "Health",
    "LoginActivity",
    "Thresholds",
    "activity",
    "dashboard",
    "failed_logins",
    "unusual",
]
