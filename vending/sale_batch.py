"""Many sales in one transaction: the batch transaction function (issue 16).

A batch is a list of :class:`BatchedSale`: each is a sale's own transaction function (the very
one the single path runs: ``VoucherSales._sell``, ``EmbeddedBackend.credit_vend``) with its
arguments, and what the batch must know of it up front (:class:`SaleLocks`: its request
key, principal, meter, vendor account, voucher product). :func:`run_sale_batch` runs them
all in ONE transaction (one BEGIN, one COMMIT, one WAL flush for the whole batch).

On PostgreSQL the batch is **set-based** (issue 16, step 2) and costs, whatever its size, BEGIN, two
statements and COMMIT (it cost ten round trips: at 80 % of peak, batches of 3-6 sales, those
fixed costs were most of PostgreSQL's CPU per vend and of the batch's latency):

1. ONE call, ``evd_sale_batch_start`` (a plpgsql function of migration 0020; its statements
   run in the order written, which keeps the global lock order), returns one JSON document:
   it claims every sale's request key (``INSERT ... unnest ... ON CONFLICT DO NOTHING
   RETURNING``: a key already there -- a re-send -- is left to the sale, which gets the
   stored answer or its conflict as on the single path); locks the batch's meters by id,
   reading their whole records (the registry's ``MeterRecord``: tariff code and debt
   joined), then its vendor accounts by id (balance, limit, blocked) -- the hot accounts
   are locked last, by the write below -- so two batches wait for each other but never
   deadlock; re-checks every principal with its distribution node; hands out the batch's
   transfer, sale and further rows' ids (``nextval``); locks each voucher product's N PINs
   (``SKIP LOCKED``, planned with the actual values as the single sale's statement is: a
   generic plan could sort a product's whole stock) and counts its stock as the low-stock
   check would (up to threshold + 1 beyond the batch's PINs);
2. run each sale's unchanged function in arrival order against that plan
   (:mod:`vending.batch_plan`): its debit is checked against the locked balance in Python,
   its TIDs follow its meter's, its rows are queued. What a batched sale stores is byte for
   byte what the single path stores for the same request and clock (the tests compare
   them). A sale that fails a check (a :class:`VendingError`) is rolled back in the plan --
   it has queued nothing that is kept -- and its claim is deleted; it alone gets its error;
3. write the queued rows with ONE statement per table (account balances, meters, transfers,
   ledger entries, sales, issued tokens, stored responses, PINs sold) and, last, the hot
   accounts' deferred credit (``vending.ledger.take_deferred_credits``: rows locked in id
   order, their entries with running ``balance_after``), all in ONE round trip
   (:class:`_Script`), which also carries the COMMIT (the batch transaction is merged:
   ``commits_with_last_statement``, its BEGIN rides with the start's call), so a batch is
   two round trips; the caller answers each sale only then. The checks the
   Python made on row counts moved into SQL (``evd_batch_expect`` raises: PINs sold,
   entries credited), as only the script's last row count comes back. A product's
   low-stock check needs no statement when the start's count says the batch neither
   crosses its threshold nor re-arms it; when it does (once per crossing), the check runs
   as on the single path after the script, and the hot credit after it, before COMMIT
   (two round trips: the alert's row lock must come before the hot accounts').

The request row is still written twice (claim, then answer): the claim's INSERT at the start
is what makes a concurrent copy of the request (another worker, the single path) wait on the
key and then find the answer; inserting the answered row only at the end would let both
copies run and one batch fail at its end.

A sale that raises something unexpected, or fails after writing something the plan does not
take over (a key change, a wallet's spend record), cannot be undone in the plan: the batch
raises :class:`IsolateSale`, is rolled back, and the runner runs the batch again without it
and gives it alone its error. A retryable database error (deadlock, serialization failure,
lost connection) is not a sale's fault: it propagates and the runner retries the whole batch.

SQLite (and a batch whose sales do not say their keys) keeps the simple form: each sale in
its own SAVEPOINT through the same function (issue 16, step 1).

Raw SQL through the connection's DBAPI cursor (``Txn.driver_run``, arrays with ``unnest``)
for the batch's own statements: compiled by nobody, prepared once per connection
(:mod:`vending.storage.prepared`), their lists sent as array literals
(:mod:`vending.storage.array_literals`).
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
from vending.ledger import (
    restore_deferred_credits,
    snapshot_deferred_credits,
    take_deferred_credits,
)
from vending.requests import RequestKey
from vending.storage.array_literals import with_array_literals
from vending.storage.database import Txn, commits_with_last_statement, is_retryable
from vending.storage.prepared import as_executes
from vending.storage.query_strings import with_prefix


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
    """Issue 16 step 1's form: each sale in its own SAVEPOINT (SQLite; sales without keys)."""
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
WITH sold AS (
    UPDATE vouchers v SET state = 'sold', sale_id = u.s, state_changed_at = u.t
    FROM unnest(%(ids)s::bigint[], %(s)s::bigint[], %(t)s::timestamptz[]) AS u(id, s, t)
    WHERE v.id = u.id AND v.state = 'available'
    RETURNING 1
)
SELECT evd_batch_expect((SELECT count(*) FROM sold), %(n)s, 'the PINs sold')
"""
_STORE_RESPONSES = """
UPDATE requests q SET state = 'completed', http_status = u.s, response_key_id = u.k,
       response = u.b, completed_at = u.t
FROM unnest(%(ids)s::bigint[], %(s)s::int[], %(k)s::int[], %(b)s::bytea[],
            %(t)s::timestamptz[]) AS u(id, s, k, b, t)
WHERE q.id = u.id
"""


_START = """
SELECT evd_sale_batch_start(
    %(c)s::text[], %(r)s::text[], %(ch)s::text[], %(op)s::text[], %(fp)s::bytea[],
    %(t)s::timestamptz[], %(numbers)s::text[], %(accounts)s::bigint[], %(v)s::bigint[],
    %(o)s::bigint[], %(n)s, %(tables)s::text[], %(counts)s::integer[],
    %(products)s::bigint[], %(days)s::date[], %(wanted)s::integer[]
)
"""


def _prepare(txn: Txn, sales: Sequence[BatchedSale]) -> BatchPlan:
    """Point 1 of the module docstring, in ONE round trip: ``evd_sale_batch_start``
    (migration 0020) claims, locks in the global order, re-checks, hands out ids and PINs
    and returns it all as one JSON document."""
    from vending.products import get_product

    plan = BatchPlan()
    install(txn, plan)  # the product reads below come from the read cache
    keys = [s.locks.key for s in sales]
    numbers = sorted({s.locks.meter_number for s in sales if s.locks.meter_number})
    account_ids = sorted({s.locks.account_id for s in sales if s.locks.account_id is not None})
    pairs = sorted({(p.vendor_id, p.operator_id or -1) for s in sales if (p := s.locks.principal)})
    tables: dict[str, int] = defaultdict(int)
    for sale in sales:
        for table in sale.locks.tables:
            tables[table] += 1
    wanted: dict[tuple[int, date], int] = defaultdict(int)
    for s in sales:
        if s.locks.voucher_product and s.locks.now is not None:
            try:
                product = get_product(txn, s.locks.voucher_product)
            except VendingError:
                continue  # an unknown product: each of its sales fails alone, as it would
            if product.kind == "voucher":
                wanted[(product.id, s.locks.now.date())] += 1
    # Lists as array literals: vending.storage.array_literals says why.
    started = txn.driver_run(
        as_executes(txn.conn, [_START])[0],
        with_array_literals(
            {
                "c": [k.client_id for k in keys],  # type: ignore[union-attr]
                "r": [k.request_id for k in keys],  # type: ignore[union-attr]
                "ch": [k.channel for k in keys],  # type: ignore[union-attr]
                "op": [k.operation for k in keys],  # type: ignore[union-attr]
                "fp": [bytes(k.fingerprint) for k in keys],  # type: ignore[union-attr]
                "t": [s.locks.now for s in sales],
                "numbers": numbers,
                "accounts": account_ids,
                "v": [p[0] for p in pairs],
                "o": [p[1] for p in pairs],
                "n": len(sales),
                "tables": sorted(tables),
                "counts": [tables[t] for t in sorted(tables)],
                "products": [pd[0] for pd in wanted],
                "days": [pd[1] for pd in wanted],
                "wanted": list(wanted.values()),
            }
        ),
        fetch=True,
    )
    for claim_id, client_id, request_id in started["claims"]:
        plan.claims[(client_id, request_id)] = claim_id
    plan.meter_numbers = frozenset(numbers)
    if numbers:
        from utilities.registry import records_from_json

        plan.meters = records_from_json(started["meters"])
        plan.meter_tids = {m.id: m.last_tid for m in plan.meters.values()}
    plan.meter_tids_before = dict(plan.meter_tids)
    for account_id, currency, balance, limit, blocked in started["accounts"]:
        plan.accounts[account_id] = LockedAccount(
            account_id, currency, int(balance), limit, bool(blocked)
        )
    plan.balances_before = {a: acc.balance for a, acc in plan.accounts.items()}
    for pair in pairs:
        plan.principals[pair] = None  # no row: the vendor is gone (UnknownVendor)
    for found in started["principals"]:
        row = _Row(found)
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
    plan.ids = {**started["ids"], **started["more_ids"]}
    for (product_id, day), stock in zip(wanted, started["vouchers"], strict=True):
        rows = [_voucher_row(found) for found in stock["rows"]]
        plan.vouchers[(product_id, day)] = rows
        plan.voucher_products.update({row.id: (product_id, day) for row in rows})
        plan.stock[(product_id, day)] = (stock["threshold"], stock["alerted"], stock["sellable"])
    return plan


class _Row:
    """A row of the start's JSON document, read by attribute like a result row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _voucher_row(values: dict[str, Any]) -> _Row:
    """A PIN locked by the start, with the types of ``vending.vouchers.selling``'s reserve."""
    values["pin_ciphertext"] = bytes.fromhex(values["pin_ciphertext"])
    if values["expiry"] is not None:
        values["expiry"] = date.fromisoformat(values["expiry"])
    return _Row(values)


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
        text, renamed = with_prefix(statement, params, f"s{len(self.statements)}_")
        self.statements.append(text)
        self.params.update(renamed)

    def insert(self, txn: Txn, table: Any, rows: list[dict[str, Any]]) -> None:
        """One INSERT of ``rows`` (all with the first row's columns) from one array per
        column (``unnest ... WITH ORDINALITY``, in row order: serial ids as the rows come),
        each value bound by its column type's own processor as SQLAlchemy would (JSON, UTC
        times); strings go as text[] so that a too-long value fails as in a plain INSERT
        (a cast to varchar(n) would cut it). A table is inserted into once per script: its
        parameters are named for the table, so the statement's text is the same in every
        batch (built once, :func:`_insert_shape`)."""
        statement, columns = _insert_shape(table, tuple(rows[0]), txn.conn.dialect)
        params = self.params
        for key, name, bind in columns:
            if key in params:
                raise ValueError(f"{table.name} inserted into twice in one script")
            values = [row[name] for row in rows]
            params[key] = values if bind is None else [bind(v) for v in values]
        self.statements.append(statement)

    def run(self, txn: Txn) -> None:
        if self.statements:
            txn.driver_run(self._text(txn), with_array_literals(self.params))

    def run_with_commit(self, txn: Txn) -> None:
        """Hand the script to the transaction's COMMIT (``Txn.commit_with``): the batch's
        writes, its hot accounts' credit and the COMMIT go in one round trip, so the hot
        rows stay locked for that round trip only."""
        if self.statements:
            txn.commit_with(self._text(txn), with_array_literals(self.params))

    def _text(self, txn: Txn) -> str:
        # Each statement as an EXECUTE of its prepared form: planned once per connection,
        # not once per batch (vending.storage.prepared) -- and kept so (_GENERIC_PLANS).
        return ";\n".join([_GENERIC_PLANS, *as_executes(txn.conn, self.statements)])


# Left to choose, PostgreSQL plans the script's UPDATEs (the stored answers, the PINs sold)
# again on every EXECUTE: their inputs are arrays, for which a generic plan is costed at a
# hundred rows and so always looks dearer than a custom plan for the batch's eight, though
# both are the same primary-key nested loop (0.11-0.16 ms of planning per batch each;
# docs/PERFORMANCE.md, session 12). Until the transaction ends, which the script's COMMIT
# or the rest of the batch's work soon does; only prepared statements and PL/pgSQL plans
# are concerned.
_GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"


_InsertColumn = tuple[str, str, Any]  # parameter name, column name, bind processor
_INSERTS: dict[tuple[Any, tuple[str, ...], str], tuple[str, list[_InsertColumn]]] = {}


def _insert_shape(
    table: Any, names: tuple[str, ...], dialect: Any
) -> tuple[str, list[_InsertColumn]]:
    """The INSERT statement of ``names`` into ``table`` and its columns' parameters."""
    key = (table, names, dialect.name)
    found = _INSERTS.get(key)
    if found is None:
        quote = dialect.identifier_preparer
        columns = [table.c[name] for name in names]
        params = [f"i_{table.name}_{n}" for n in range(len(names))]
        arrays = ", ".join(
            f"%({param})s::{_array_type(column, dialect)}[]"
            for param, column in zip(params, columns, strict=True)
        )
        listed = ", ".join(quote.format_column(c) for c in columns)
        aliases = ", ".join(f"c{n}" for n in range(len(columns)))
        statement = (
            f"INSERT INTO {quote.format_table(table)} ({listed}) SELECT {aliases} "
            f"FROM unnest({arrays}) WITH ORDINALITY AS u({aliases}, n) ORDER BY n"
        )
        binds = [c.type._cached_bind_processor(dialect) for c in columns]
        found = _INSERTS[key] = (statement, list(zip(params, names, binds, strict=True)))
    return found


def _array_type(column: Any, dialect: Any) -> str:
    """The SQL element type of ``column``'s array: text for strings, else its own."""
    own = column.type.compile(dialect=dialect)
    return "text" if _CUT_ON_CAST.match(own) else own


# Character types whose explicit cast would cut a too-long value.
_CUT_ON_CAST = re.compile(r"(VARCHAR|CHAR|CHARACTER|CHARACTER VARYING)\b", re.IGNORECASE)


def _columns(names: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, list[Any]]:
    """Queued row tuples as one array per column, named in tuple order (for ``unnest``)."""
    return {name: [row[n] for row in rows] for n, name in enumerate(names)}


def _write(txn: Txn, plan: BatchPlan) -> None:
    """Point 3 of the module docstring: every queued row with one statement per table,
    foreign keys in order, and the hot accounts' credit, in one round trip (:class:`_Script`)."""
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
        script.add(_STORE_RESPONSES, _columns(("ids", "s", "k", "b", "t"), answers))
    sold = plan.rows.get("vouchers_sold")
    if sold:
        # Impossible while the rows are locked, but refused rather than sold twice.
        script.add(_MARK_SOLD, {**_columns(("ids", "s", "t"), sold), "n": len(sold)})
    once = _once_with_work(plan)
    if not once:
        # The hot accounts' credit last, in the same round trip: nothing is written after
        # it, so the global lock order holds (they are locked last).
        for credits in take_deferred_credits(txn):
            script.add(*credits)
        if txn.merges_commit:
            script.run_with_commit(txn)
            return
    script.run(txn)
    for fn, *args in once:
        fn(txn, *args)  # then the deferred credits as the transaction's before-commit hook


def _once_with_work(plan: BatchPlan) -> list[tuple[Any, ...]]:
    """The batch's end-of-batch calls that have something to do: a voucher product's
    low-stock check is left out when the stock the start read says it would neither raise
    nor re-arm the alert (vending.vouchers.alerts.refresh_low_stock); the common case, so
    the batch's writes and its hot accounts' credit go in one round trip."""
    sold: dict[tuple[int, Any], int] = defaultdict(int)
    for voucher_id, *_ in plan.rows.get("vouchers_sold", ()):
        locked = plan.voucher_products.get(voucher_id)
        if locked is None:
            # A PIN the sale locked itself (the start's ran short): counts unknown.
            return [(fn, *args) for fn, *args in plan.once.values()]
        sold[locked] += 1
    days: dict[int, set[Any]] = defaultdict(set)
    for product_id, day in plan.stock:
        days[product_id].add(day)
    kept = []
    for key, (fn, *args) in plan.once.items():
        if isinstance(key, tuple) and key[0] == "low_stock" and len(args) == 3:
            product_id, today, _now = args
            found = plan.stock.get((product_id, today))
            if found is not None and days[product_id] == {today}:
                threshold, alerted, sellable = found
                if threshold is None:
                    continue  # no threshold: no alert
                low = sellable - sold[(product_id, today)] <= threshold
                if low == alerted:
                    continue  # already raised while low, or armed while above
        kept.append((fn, *args))
    return kept


__all__ = [
    "BatchedSale",
    "IsolateSale",
    "SaleDone",
    "SaleLocks",
    "in_savepoint",
    "lock_in_order",
    "run_sale_batch",
]
