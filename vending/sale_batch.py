"""Many sales in one transaction: the batch transaction function (issue 16).

A batch is a list of :class:`BatchedSale`: each is a sale's own transaction function (the very
one the single path runs: ``VoucherSales._sell``, ``EmbeddedBackend.credit_vend``) with its
arguments, and what the batch must know of it up front (:class:`SaleLocks`: its request
key, principal, meter, vendor account, voucher product). :func:`run_sale_batch` runs them
all in ONE transaction (one BEGIN, one COMMIT, one WAL flush for the whole batch).

On PostgreSQL the batch is **set-based** (step 2), a few statements for the whole batch:

1. claim every sale's request key with one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT
   DO NOTHING RETURNING`` (a key already there -- a re-send -- is left to the sale, which
   gets the stored answer or its conflict as on the single path);
2. lock the rows the batch touches in one global order -- meters by id (reading their last
   TID), then vendor accounts by id (reading balance, limit, blocked); the hot accounts are
   locked last, in id order, by the ledger's deferred credits right before COMMIT -- so two
   batches wait for each other but never deadlock;
3. re-check every principal with one statement; fetch the batch's transfer and sale ids
   with one ``nextval`` statement; lock each voucher product's N PINs with one ``SKIP
   LOCKED`` statement;
4. run each sale's unchanged function in arrival order against that plan
   (:mod:`vending.batch_plan`): its debit is checked against the locked balance in Python,
   its TIDs follow its meter's, its rows are queued. What a batched sale stores is byte for
   byte what the single path stores for the same request and clock (the tests compare
   them). A sale that fails a check (a :class:`VendingError`) is rolled back in the plan --
   it has queued nothing that is kept -- and its claim is deleted; it alone gets its error;
5. write the queued rows with ONE statement per table (account balances, meters' TIDs,
   transfers, ledger entries, sales, issued tokens, PINs sold, stored responses), check
   each product's low stock once, credit the hot accounts once (one statement), COMMIT;
   the caller answers each sale only then.

A sale that raises something unexpected, or fails after writing something the plan does not
take over (a key change, a wallet's spend record), cannot be undone in the plan: the batch
raises :class:`IsolateSale`, is rolled back, and the runner runs the batch again without it
and gives it alone its error. A retryable database error (deadlock, serialization failure,
lost connection) is not a sale's fault: it propagates and the runner retries the whole batch.

SQLite (and a batch whose sales do not say their keys) keeps the simple form: each sale in
its own SAVEPOINT through the same function (step 1).

Raw SQL through the connection's DBAPI cursor (``exec_driver_sql``, psycopg2 arrays with
``unnest``) for the batch's own statements: compiled by nobody. The reads are one round trip
each; the writes of step 5 (balances, meters, one multi-row INSERT per table with each
column type's own binding, e.g. JSON details, PINs sold, stored answers) go together in ONE
round trip (:class:`_Script`), so a small batch -- the low-rate regime -- pays one round trip
for its writes instead of eight.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from vending.auth import Principal
from vending.batch_plan import BatchPlan, LockedAccount, NodeRow, install
from vending.errors import VendingError
from vending.ledger import restore_deferred_credits, snapshot_deferred_credits
from vending.requests import RequestKey
from vending.storage.database import Txn, commits_with_last_statement, is_retryable


@dataclass(frozen=True)
class SaleLocks:
    """What a batch must know of a sale before running it: the rows it will lock (its
    meter by number, None for a voucher; the vendor's account), and for the set-based form
    its request key, principal and clock, and the voucher product it sells."""

    account_id: int | None = None
    meter_number: str | None = None
    key: RequestKey | None = None
    principal: Principal | None = None
    now: datetime | None = None
    voucher_product: str | None = None
    # Tables beyond transfers and sales the sale inserts one row into (an upstream route's
    # hold: ``upstream_vends``): the batch fetches their ids with one statement per table.
    tables: tuple[str, ...] = ()


@dataclass
class BatchedSale:
    """One sale's transaction function ``fn(txn, *args, **kwargs)`` and its locks."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    locks: SaleLocks = field(default_factory=SaleLocks)


@dataclass(frozen=True)
class SaleDone:
    """A sale's outcome in a batch: its result, or the exception that refused it."""

    result: Any = None
    error: BaseException | None = None


class IsolateSale(Exception):
    """Sale ``index`` of the batch failed in a way the batch cannot undo alone: run the
    batch again without it, and give it ``error``."""

    def __init__(self, index: int, error: BaseException) -> None:
        super().__init__(f"sale {index} of the batch failed: {error!r}")
        self.index = index
        self.error = error


_LOCK_METERS = "SELECT id FROM meters WHERE msno = ANY(%(numbers)s) ORDER BY id FOR UPDATE"
_LOCK_ACCOUNTS = "SELECT id FROM accounts WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE"


def lock_in_order(txn: Txn, sales: Sequence[BatchedSale]) -> None:
    """Lock the batch's meters, then its vendor accounts, each in id order."""
    numbers = sorted({s.locks.meter_number for s in sales if s.locks.meter_number})
    ids = sorted({s.locks.account_id for s in sales if s.locks.account_id is not None})
    if numbers:
        txn.conn.exec_driver_sql(_LOCK_METERS, {"numbers": numbers}).fetchall()
    if ids:
        txn.conn.exec_driver_sql(_LOCK_ACCOUNTS, {"ids": ids}).fetchall()


@commits_with_last_statement
def run_sale_batch(txn: Txn, sales: Sequence[BatchedSale]) -> list[SaleDone]:
    """Transaction function: every sale of ``sales`` in this one transaction (see the
    module docstring); one :class:`SaleDone` per sale, in order."""
    if txn.is_postgres and all(
        s.locks.key is not None and s.locks.principal is not None and s.locks.now is not None
        for s in sales
    ):
        return _run_set_based(txn, sales)
    return _run_savepoints(txn, sales)


def _run_savepoints(txn: Txn, sales: Sequence[BatchedSale]) -> list[SaleDone]:
    """Step 1's form: each sale in its own SAVEPOINT (SQLite; sales without keys)."""
    if txn.is_postgres:
        lock_in_order(txn, sales)
    return [in_savepoint(txn, sale.fn, *sale.args, **sale.kwargs) for sale in sales]


def in_savepoint(txn: Txn, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> SaleDone:
    """``fn(txn, *args, **kwargs)`` in its own SAVEPOINT: an exception rolls back what it
    wrote -- and what it queued for the commit: deferred credits, before/after-commit hooks,
    ``txn.local`` -- and is its outcome; a retryable database error propagates (the whole
    transaction is retried). Also the form of a bulk chunk's sales
    (``catalogue.fulfilment.Fulfilment.sell_many``)."""
    local = dict(txn.local)
    credits = snapshot_deferred_credits(txn)
    before = list(txn._before_commit)
    after = list(txn._after_commit)
    savepoint = txn.conn.begin_nested()
    try:
        result = fn(txn, *args, **kwargs)
    except Exception as error:
        if is_retryable(error):
            raise
        savepoint.rollback()
        txn.local.clear()
        txn.local.update(local)
        restore_deferred_credits(txn, credits)
        txn._before_commit[:] = before
        txn._after_commit[:] = after
        return SaleDone(error=error)
    savepoint.commit()
    return SaleDone(result=result)


# --- the set-based form (PostgreSQL) ---------------------------------------------------------

_CLAIM_ALL = """
INSERT INTO requests (client_id, request_id, channel, operation, fingerprint, state, received_at)
SELECT c, r, ch, op, fp, 'pending', t
FROM unnest(%(c)s::text[], %(r)s::text[], %(ch)s::text[], %(op)s::text[], %(fp)s::bytea[],
            %(t)s::timestamptz[]) WITH ORDINALITY AS u(c, r, ch, op, fp, t, n)
ORDER BY n
ON CONFLICT (client_id, request_id) DO NOTHING
RETURNING id, client_id, request_id
"""
_LOCK_METERS_TIDS = (
    "SELECT id, last_tid FROM meters WHERE msno = ANY(%(numbers)s) ORDER BY id FOR UPDATE"
)
_LOCK_ACCOUNT_ROWS = (
    "SELECT id, currency, balance, credit_limit, blocked FROM accounts"
    " WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE"
)
# The principals' rows, and with them each vendor's distribution-network node (at most one:
# vendor_id is unique there), which every sale checks (distribution.selling.check_node).
_PRINCIPALS = """
SELECT u.vid, u.oid, v.blocked, v.privileges, o.blocked AS operator_blocked,
       o.credential_version, n.id AS node_id, n.code AS node_code,
       n.parent_id AS node_parent_id, n.status AS node_status,
       n.allowed_products AS node_allowed_products, n.allowed_channels AS node_allowed_channels
FROM unnest(%(v)s::bigint[], %(o)s::bigint[]) AS u(vid, oid)
JOIN vendors v ON v.id = u.vid
LEFT JOIN operators o ON o.vendor_id = v.id AND o.id = u.oid
LEFT JOIN distribution_nodes n ON n.vendor_id = v.id
"""
_IDS = """
SELECT nextval(pg_get_serial_sequence('transfers', 'id')),
       nextval(pg_get_serial_sequence('sales', 'id'))
FROM generate_series(1, %(n)s)
"""
_DROP_CLAIMS = "DELETE FROM requests WHERE id = ANY(%(ids)s::bigint[]) AND state = 'pending'"
_SET_BALANCES = """
UPDATE accounts a SET balance = u.b
FROM unnest(%(ids)s::bigint[], %(b)s::bigint[]) AS u(id, b) WHERE a.id = u.id
"""
_SET_METERS = """
UPDATE meters m SET last_tid = u.tid, mtd_month = u.mm, mtd_units = u.mu,
       last_purchase_at = u.lp, service_charge_month = u.sc, fbe_month = u.fm
FROM unnest(%(ids)s::bigint[], %(tid)s::bigint[], %(mm)s::text[], %(mu)s::bigint[],
            %(lp)s::timestamptz[], %(sc)s::text[], %(fm)s::text[])
     AS u(id, tid, mm, mu, lp, sc, fm)
WHERE m.id = u.id
"""
_SET_TIDS = """
UPDATE meters m SET last_tid = u.t
FROM unnest(%(ids)s::bigint[], %(t)s::bigint[]) AS u(id, t) WHERE m.id = u.id
"""
_MARK_SOLD = """
UPDATE vouchers v SET state = 'sold', sale_id = u.s, state_changed_at = u.t
FROM unnest(%(ids)s::bigint[], %(s)s::bigint[], %(t)s::timestamptz[]) AS u(id, s, t)
WHERE v.id = u.id AND v.state = 'available'
"""
_STORE_RESPONSES = """
UPDATE requests q SET state = 'completed', http_status = u.s, response_key_id = u.k,
       response = u.b, completed_at = u.t
FROM unnest(%(ids)s::bigint[], %(s)s::int[], %(k)s::int[], %(b)s::bytea[],
            %(t)s::timestamptz[]) AS u(id, s, k, b, t)
WHERE q.id = u.id
"""


def _sql(txn: Txn, statement: str, params: dict[str, Any]) -> Any:
    return txn.conn.exec_driver_sql(statement, params)


def _prepare(txn: Txn, sales: Sequence[BatchedSale]) -> BatchPlan:
    """Steps 1-3 of the module docstring: claim, lock, re-check, ids, PINs."""
    from vending.vouchers.selling import reserve_many

    plan = BatchPlan()
    keys = [s.locks.key for s in sales]
    nows = [s.locks.now for s in sales]
    for row in _sql(
        txn,
        _CLAIM_ALL,
        {
            "c": [k.client_id for k in keys],  # type: ignore[union-attr]
            "r": [k.request_id for k in keys],  # type: ignore[union-attr]
            "ch": [k.channel for k in keys],  # type: ignore[union-attr]
            "op": [k.operation for k in keys],  # type: ignore[union-attr]
            "fp": [bytes(k.fingerprint) for k in keys],  # type: ignore[union-attr]
            "t": nows,
        },
    ):
        plan.claims[(row.client_id, row.request_id)] = row.id
    numbers = sorted({s.locks.meter_number for s in sales if s.locks.meter_number})
    if numbers:
        for row in _sql(txn, _LOCK_METERS_TIDS, {"numbers": numbers}):
            plan.meter_tids[row.id] = row.last_tid
    plan.meter_tids_before = dict(plan.meter_tids)
    plan.meter_numbers = frozenset(numbers)
    account_ids = sorted({s.locks.account_id for s in sales if s.locks.account_id is not None})
    if account_ids:
        for row in _sql(txn, _LOCK_ACCOUNT_ROWS, {"ids": account_ids}):
            plan.accounts[row.id] = LockedAccount(
                row.id, row.currency, int(row.balance), row.credit_limit, bool(row.blocked)
            )
    plan.balances_before = {a: acc.balance for a, acc in plan.accounts.items()}
    pairs = sorted({(p.vendor_id, p.operator_id or -1) for s in sales if (p := s.locks.principal)})
    for pair in pairs:
        plan.principals[pair] = None  # no row: the vendor is gone (UnknownVendor)
    for row in _sql(txn, _PRINCIPALS, {"v": [p[0] for p in pairs], "o": [p[1] for p in pairs]}):
        plan.principals[(row.vid, row.oid)] = row
        plan.nodes[row.vid] = (
            None
            if row.node_id is None
            else NodeRow(
                row.node_id,
                row.node_code,
                row.node_parent_id,
                row.node_status,
                row.node_allowed_products,
                row.node_allowed_channels,
            )
        )
    ids = _sql(txn, _IDS, {"n": len(sales)}).fetchall()
    plan.ids["transfers"] = [row[0] for row in ids]
    plan.ids["sales"] = [row[1] for row in ids]
    _more_ids(txn, plan, sales)
    install(txn, plan)  # the product reads below come from the read cache
    wanted: dict[tuple[str, date], int] = defaultdict(int)
    for s in sales:
        if s.locks.voucher_product and s.locks.now is not None:
            wanted[(s.locks.voucher_product, s.locks.now.date())] += 1
    for (code, day), count in wanted.items():
        try:
            product_id, rows = reserve_many(txn, code, day, count)
        except VendingError:
            continue  # an unknown product: each of its sales fails alone, as it would
        plan.vouchers[(product_id, day)] = rows
    return plan


_MORE_IDS = """
SELECT nextval(pg_get_serial_sequence(%(table)s, 'id')) FROM generate_series(1, %(n)s)
"""


def _more_ids(txn: Txn, plan: BatchPlan, sales: Sequence[BatchedSale]) -> None:
    """Ids of the further tables the batch's sales say they insert into (``SaleLocks.tables``),
    one statement per table, handed out by ``plan.next_id(table)``."""
    wanted: dict[str, int] = defaultdict(int)
    for sale in sales:
        for table in sale.locks.tables:
            wanted[table] += 1
    for table, count in sorted(wanted.items()):
        rows = _sql(txn, _MORE_IDS, {"table": table, "n": count}).fetchall()
        plan.ids[table] = [row[0] for row in rows]


def _run_set_based(txn: Txn, sales: Sequence[BatchedSale]) -> list[SaleDone]:
    plan = _prepare(txn, sales)  # installed on txn by _prepare
    done: list[SaleDone] = []
    try:
        for index, sale in enumerate(sales):
            key = sale.locks.key
            assert key is not None
            claimed = plan.claims.get((key.client_id, key.request_id))
            mark = plan.mark()
            local = dict(txn.local)
            credits = snapshot_deferred_credits(txn)
            before = list(txn._before_commit)
            after = list(txn._after_commit)
            plan.wrote_directly = False
            try:
                result = sale.fn(txn, *sale.args, **sale.kwargs)
            except Exception as error:
                if is_retryable(error):
                    raise
                if plan.wrote_directly or not isinstance(error, VendingError):
                    raise IsolateSale(index, error) from error
                plan.rollback_to(mark)
                txn.local.clear()
                txn.local.update(local)
                restore_deferred_credits(txn, credits)
                txn._before_commit[:] = before
                txn._after_commit[:] = after
                if claimed is not None:
                    plan.claims.pop((key.client_id, key.request_id), None)
                    plan.dropped_claims.append(claimed)
                done.append(SaleDone(error=error))
                continue
            done.append(SaleDone(result=result))
    finally:
        install(txn, None)
    # A claim no sale took (a sale that failed before claiming) must not stay pending.
    plan.dropped_claims.extend(plan.claims.values())
    _write(txn, plan)
    return done


class _Script:
    """Statements sent to PostgreSQL in ONE round trip (psycopg2 interpolates parameters
    on the client, so several ``;``-separated statements go as one simple query, run in
    order in the transaction): the batch's writes cost one round trip, not one per table.
    Each statement's parameters get their own prefix."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.params: dict[str, Any] = {}

    def add(self, statement: str, params: dict[str, Any]) -> None:
        prefix = f"s{len(self.statements)}_"
        self.statements.append(_PARAM.sub(lambda m: f"%({prefix}{m.group(1)})s", statement))
        self.params.update({prefix + name: value for name, value in params.items()})

    def insert(self, txn: Txn, table: Any, rows: list[dict[str, Any]]) -> None:
        """One INSERT of ``rows`` (all with the first row's columns) from one array per
        column (``unnest ... WITH ORDINALITY``, in row order: serial ids as the rows come),
        each value bound by its column type's own processor as SQLAlchemy would (JSON, UTC
        times); strings go as text[] so that a too-long value fails as in a plain INSERT
        (a cast to varchar(n) would cut it)."""
        dialect = txn.conn.dialect
        names = list(rows[0])
        columns = [table.c[name] for name in names]
        arrays = []
        for n, (name, column) in enumerate(zip(names, columns, strict=True)):
            bind = column.type._cached_bind_processor(dialect)
            values = [row[name] for row in rows]
            key = f"c{n}"
            self.params[f"s{len(self.statements)}_{key}"] = (
                values if bind is None else [bind(v) for v in values]
            )
            arrays.append(f"%(s{len(self.statements)}_{key})s::{_array_type(column, dialect)}[]")
        quote = dialect.identifier_preparer
        listed = ", ".join(quote.format_column(c) for c in columns)
        aliases = ", ".join(f"c{n}" for n in range(len(columns)))
        self.statements.append(
            f"INSERT INTO {quote.format_table(table)} ({listed}) SELECT {aliases} "
            f"FROM unnest({', '.join(arrays)}) WITH ORDINALITY AS u({aliases}, n) ORDER BY n"
        )

    def run(self, txn: Txn) -> Any:
        if self.statements:
            return txn.conn.exec_driver_sql(";\n".join(self.statements), self.params)
        return None


_PARAM = re.compile(r"%\((\w+)\)s")
_ARRAY_TYPES: dict[tuple[Any, str], str] = {}


def _array_type(column: Any, dialect: Any) -> str:
    """The SQL element type of ``column``'s array: text for strings, else its own."""
    key = (column, dialect.name)
    found = _ARRAY_TYPES.get(key)
    if found is None:
        own = column.type.compile(dialect=dialect)
        found = _ARRAY_TYPES[key] = "text" if _CUT_ON_CAST.match(own) else own
    return found


# Character types whose explicit cast would cut a too-long value.
_CUT_ON_CAST = re.compile(r"(VARCHAR|CHAR|CHARACTER|CHARACTER VARYING)\b", re.IGNORECASE)


def _write(txn: Txn, plan: BatchPlan) -> None:
    """Step 5: every queued row with one statement per table, foreign keys in order, all
    in one round trip (:class:`_Script`)."""
    script = _Script()
    if plan.dropped_claims:
        script.add(_DROP_CLAIMS, {"ids": plan.dropped_claims})
    moved = [a for a, acc in plan.accounts.items() if acc.balance != plan.balances_before[a]]
    if moved:
        script.add(_SET_BALANCES, {"ids": moved, "b": [plan.accounts[a].balance for a in moved]})
    numbered = [m for m, t in plan.meter_tids.items() if t != plan.meter_tids_before.get(m)]
    if plan.meters_recorded and plan.meters is not None:
        # TIDs and purchase bookkeeping of the batch's meters: one UPDATE.
        records = [plan.meters[msno] for msno in plan.meters_recorded.values()]
        script.add(
            _SET_METERS,
            {
                "ids": [r.id for r in records],
                "tid": [plan.meter_tids.get(r.id, r.last_tid) for r in records],
                "mm": [r.mtd_month for r in records],
                "mu": [r.mtd_units for r in records],
                "lp": [r.last_purchase_at for r in records],
                "sc": [r.service_charge_month for r in records],
                "fm": [r.fbe_month for r in records],
            },
        )
        numbered = [m for m in numbered if m not in plan.meters_recorded]
    if numbered:
        script.add(_SET_TIDS, {"ids": numbered, "t": [plan.meter_tids[m] for m in numbered]})
    for name, table in plan.tables.items():
        rows = plan.rows.get(name)
        if rows:  # one multi-row INSERT
            script.insert(txn, table, rows)
    answers = plan.rows.get("responses")
    if answers:
        script.add(
            _STORE_RESPONSES,
            {
                "ids": [a[0] for a in answers],
                "s": [a[1] for a in answers],
                "k": [a[2] for a in answers],
                "b": [a[3] for a in answers],
                "t": [a[4] for a in answers],
            },
        )
    sold = plan.rows.get("vouchers_sold")
    if sold:  # last: the round trip's row count is this statement's
        script.add(
            _MARK_SOLD,
            {"ids": [v[0] for v in sold], "s": [v[1] for v in sold], "t": [v[2] for v in sold]},
        )
    done = script.run(txn)
    if sold and done.rowcount != len(sold):
        # Impossible while the rows are locked; refuse the batch.
        raise RuntimeError("a PIN of the batch was taken by another sale")
    for fn, *args in plan.once.values():
        fn(txn, *args)


__all__ = [
    "BatchedSale",
    "IsolateSale",
    "SaleDone",
    "SaleLocks",
    "in_savepoint",
    "lock_in_order",
    "run_sale_batch",
]
