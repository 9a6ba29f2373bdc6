"""The double-entry ledger.

Every money movement is one transfer whose legs sum to zero per currency, written in the
same database transaction as the business change it belongs to. Transfers and entries are
never updated or deleted (database triggers refuse it); a correction is a new transfer that
reverses the old one, and ``transfers.reverses_id`` is unique so nothing is reversed twice.

Each account's balance lives on its row and changes only through one conditional UPDATE per
account per transfer::

    UPDATE accounts SET balance = balance + :delta
    WHERE id = :id AND currency = :currency
      AND (:delta >= 0 OR (NOT blocked AND (credit_limit IS NULL
                                            OR balance + :delta >= -credit_limit)))
    RETURNING balance

so concurrent debits can neither lose an update nor overdraw. Accounts are updated in id
order so two transfers touching the same accounts cannot deadlock.

Hot accounts (the utility, a voucher supplier, the house revenue account) are credited by
every sale. Holding their row lock from the middle of a vend transaction to its commit would
serialise all vends on it, so on PostgreSQL a caller may *defer* credits to named accounts
(``post_transfer(..., defer=...)``): those legs are applied as the transaction's last
statement before COMMIT (:meth:`Txn.before_commit`) -- the transaction's summed delta per
account, the rows locked in id order, and their ledger entries, all in one statement, so the
hot rows stay locked for one round trip. A credit needs no condition (only debits are checked
against limits), so deferring it changes no outcome; the transfer stays one balanced set of
entries written in the same transaction, and each entry's ``balance_after`` is the running
balance in entry order as before. (A savepoint rolled back after a deferral would leave the
credit queued for a transfer that no longer exists: the flush then fails on the entries'
foreign key and the whole transaction rolls back -- never a silent imbalance. The sale
batch, which runs each sale in a savepoint, restores them with
:func:`restore_deferred_credits`.)

A debit may be deferred too, where the caller says so (``defer_debits``): the suspense
account every upstream settlement debits is the row all of them meet on, as the hot accounts
are for credits. A deferred debit is checked as the immediate one is (not blocked, within the
credit limit), against the transaction's net delta on the account, when the deferred legs are
applied; a refused one fails the whole transaction (:class:`InsufficientFunds` or
:class:`AccountBlocked` where the legs go as their own statement; an error of the checked
statement where they ride with the COMMIT), as an immediate refusal would have -- only later
in it. The account's balance after the transfer is then not in the result: only for accounts
no caller reads it from (suspense).

A paying account's debit (a vendor's) may be deferred the same way (``defer_paying``): a bulk
file's chunk of holds, every one of which debits the same vendor, then locks that row at its
end only. Paying accounts come before the hot accounts in the global lock order (a sale batch
locks its vendors' rows first and its hot accounts last), so their deferred legs are applied
first, by a statement of their own, and the hot accounts' after them. A refused one fails the
transaction with :class:`InsufficientFunds` or :class:`AccountBlocked` where the legs go as
their own statement, and with :class:`DeferredDebitRefused` where they ride with the COMMIT
(the ledger reads its checked statement's refusal: ``Txn.commit_with``'s ``refusal``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from vending.batch_plan import plan_of
from vending.errors import (
    AccountBlocked,
    CurrencyMismatch,
    DeferredDebitRefused,
    InsufficientFunds,
    InvalidAmount,
    LedgerImbalance,
    ReversalRefused,
    UnknownAccount,
)
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.query_strings import one_query
from vending.storage.schema import accounts, ledger_entries, transfers


@dataclass(frozen=True)
class Leg:
    """One side of a transfer: a signed amount for one account and what it is for."""

    account_id: int
    amount: Money
    role: str


@dataclass(frozen=True)
class PostedTransfer:
    id: int
    # Balance of every touched account after the transfer, in minor units.
    balances: dict[int, int] = field(default_factory=dict)
    # Credit limit of every touched account (None: no floor), read by the same update.
    limits: dict[int, int | None] = field(default_factory=dict)

    def balance_of(self, account_id: int, currency: str) -> Money:
        return Money(self.balances[account_id], currency)

    def available_of(self, account_id: int, currency: str) -> Money:
        """What the account can still spend: its balance plus its credit limit."""
        return Money(self.balances[account_id] + (self.limits.get(account_id) or 0), currency)


def check_balanced(legs: list[Leg]) -> None:
    """Refuse transfers with fewer than two legs, zero legs or a non-zero sum per currency."""
    if len(legs) < 2:
        raise LedgerImbalance("a transfer needs at least two legs")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if leg.amount.amount == 0:
            raise InvalidAmount("a ledger leg cannot be zero")
        totals[leg.amount.currency] += leg.amount.amount
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        raise LedgerImbalance(f"transfer legs do not sum to zero: {unbalanced}")


def post_transfer(
    txn: Txn,
    *,
    kind: str,
    legs: list[Leg],
    description: str,
    created_by: str,
    reference: str | None = None,
    reverses_id: int | None = None,
    now: datetime,
    defer: Collection[int] = (),
    defer_debits: Collection[int] = (),
    defer_paying: Collection[int] = (),
) -> PostedTransfer:
    """Post one balanced transfer and apply it to the account balances.

    ``defer``: accounts whose net credit may be applied at the end of the transaction;
    ``defer_debits``: accounts whose net debit may be, checked then; ``defer_paying``: paying
    accounts whose net debit may be, checked then and applied before the others (see the
    module docstring; PostgreSQL only). Their balances are not in the result."""
    # Legs of zero (no commission, no fee) are simply not written.
    legs = [leg for leg in legs if leg.amount.amount != 0]
    if not legs:
        raise InvalidAmount("a transfer cannot move nothing")
    check_balanced(legs)

    deltas: dict[int, int] = defaultdict(int)
    currency_of: dict[int, str] = {}
    for leg in legs:
        deltas[leg.account_id] += leg.amount.amount
        if currency_of.setdefault(leg.account_id, leg.amount.currency) != leg.amount.currency:
            raise CurrencyMismatch("one account cannot take legs in two currencies")
    paying = {a for a in defer_paying if deltas.get(a, 0) < 0} if txn.is_postgres else set()
    deferred = (
        {a for a in defer if deltas.get(a, 0) > 0}
        | {a for a in defer_debits if deltas.get(a, 0) < 0}
        | paying
        if txn.is_postgres
        else set()
    )

    balances: dict[int, int] = {}
    limits: dict[int, int | None] = {}
    for account_id in sorted(deltas):
        if account_id not in deferred:
            balances[account_id], limits[account_id] = _apply_delta(
                txn, account_id, deltas[account_id], currency_of[account_id]
            )

    transfer = {
        "kind": kind,
        "description": description[:200],
        "reference": reference,
        "reverses_id": reverses_id,
        "created_by": created_by[:64],
        "created_at": now,
    }
    plan = plan_of(txn) if reverses_id is None else None
    planned = None if plan is None else plan.next_id("transfers")
    if plan is not None and planned is not None:
        # A sale batch writes its transfers and entries with one statement each.
        transfer_id = planned
        plan.insert(transfers, {"id": transfer_id, **transfer})
    else:
        try:
            transfer_id = txn.execute(_INSERT_TRANSFER, transfer).scalar_one()
        except IntegrityError as exc:
            if reverses_id is not None:
                raise ReversalRefused(f"transfer {reverses_id} has already been reversed") from exc
            raise

    if deferred:
        _DeferredLegs.of(txn).add(
            [(transfer_id, leg) for leg in legs if leg.account_id in deferred],
            {a: (deltas[a], currency_of[a]) for a in deferred},
            paying,
        )
        legs = [leg for leg in legs if leg.account_id not in deferred]
    if legs:
        rows = _entry_rows([(transfer_id, leg) for leg in legs], balances)
        if plan is not None and planned is not None:
            for row in rows:
                plan.insert(ledger_entries, row)
        else:
            txn.execute(_INSERT_ENTRIES, rows)
    return PostedTransfer(transfer_id, balances, limits)


# Prebuilt statements (values bound at execution): SQLAlchemy reuses their compiled form
# without even recomputing a cache key -- about 100 us of CPU per execution saved.
_INSERT_TRANSFER = insert(transfers).returning(transfers.c.id)
_INSERT_ENTRIES = insert(ledger_entries)


def _entry_rows(legs: list[tuple[int, Leg]], balances: dict[int, int]) -> list[dict[str, Any]]:
    """Entry rows of (transfer id, leg) pairs, each with its account's running balance after
    it: walk back from the final balances in posting order."""
    running = dict(balances)
    rows: list[dict[str, Any]] = []
    for transfer_id, leg in reversed(legs):
        rows.append(
            {
                "transfer_id": transfer_id,
                "account_id": leg.account_id,
                "amount": leg.amount.amount,
                "currency": leg.amount.currency,
                "role": leg.role[:24],
                "balance_after": running[leg.account_id],
            }
        )
        running[leg.account_id] -= leg.amount.amount
    rows.reverse()
    return rows


class _DeferredLegs:
    """The deferred legs (credits, and debits where asked) of one transaction, applied by its
    before-commit hook."""

    _KEY = "vending.ledger.deferred"

    def __init__(self) -> None:
        self.deltas: dict[int, tuple[int, str]] = {}
        self.legs: list[tuple[int, Leg]] = []  # (transfer id, leg) in posting order
        # Paying accounts (defer_paying): applied first, before the hot accounts.
        self.paying: set[int] = set()

    @classmethod
    def of(cls, txn: Txn) -> _DeferredLegs:
        found = txn.local.get(cls._KEY)
        if found is None:
            found = txn.local[cls._KEY] = cls()
            txn.before_commit(found.apply)
        return found  # type: ignore[no-any-return]

    def add(
        self,
        legs: list[tuple[int, Leg]],
        deltas: dict[int, tuple[int, str]],
        paying: set[int],
    ) -> None:
        for account_id, (delta, currency) in deltas.items():
            total, _ = self.deltas.get(account_id, (0, currency))
            self.deltas[account_id] = (total + delta, currency)
        self.legs += legs
        self.paying |= paying

    def apply(self, txn: Txn) -> None:
        txn.local.pop(self._KEY, None)
        if txn.merges_commit:
            # The statements (the paying accounts', then the hot accounts') ride with the
            # COMMIT in one query string (Txn.commit_with): the rows stay locked for that
            # round trip alone. Each checks its own count (an error stops the COMMIT).
            statements = self.checked_statements()
            if statements:  # (none: every leg was taken back with its savepoint)
                txn.commit_with(*one_query(statements), refusal=_paying_refused)
            return
        for _paying, ids, legs in self._groups():
            written = txn.conn.exec_driver_sql(_FLUSH_SQL, self._params(ids, legs)).rowcount
            if written != len(legs):
                # An account is missing, in another currency, or refused a deferred debit:
                # say which, as an immediate update would (the transaction is rolled back).
                for account_id in ids:
                    delta, currency = self.deltas[account_id]
                    _apply_delta(txn, account_id, delta, currency)
                raise AssertionError("deferred legs could not be applied")  # pragma: no cover

    def checked_statements(self) -> list[tuple[str, dict[str, Any]]]:
        """The deferred legs as statements (the paying accounts', then the others') that
        each raise unless every entry was written."""
        return [
            (
                _FLUSH_CHECKED_SQL,
                {
                    **self._params(ids, legs),
                    "expected": len(legs),
                    "what": _PAYING_REFUSED if paying else _LEGS_NOT_WRITTEN,
                },
            )
            for paying, ids, legs in self._groups()
        ]

    def _groups(self) -> list[tuple[bool, list[int], list[tuple[int, Leg]]]]:
        """(paying?, account ids in id order, their legs in posting order): the paying
        accounts, then the others -- the global lock order (module docstring)."""
        groups = []
        for paying in (True, False):
            ids = sorted(a for a in self.deltas if (a in self.paying) == paying)
            if ids:
                chosen = set(ids)
                legs = [(t, leg) for t, leg in self.legs if leg.account_id in chosen]
                groups.append((paying, ids, legs))
        return groups

    def _params(self, ids: list[int], legs: list[tuple[int, Leg]]) -> dict[str, Any]:
        # What each entry's account receives after it in this transaction: its
        # balance_after is the account's final balance minus that.
        later: list[int] = []
        after: dict[int, int] = defaultdict(int)
        for _transfer_id, leg in reversed(legs):
            later.append(after[leg.account_id])
            after[leg.account_id] += leg.amount.amount
        later.reverse()
        return {
            "ids": ids,
            "deltas": [self.deltas[a][0] for a in ids],
            "currencies": [self.deltas[a][1] for a in ids],
            "e_transfer": [t for t, _ in legs],
            "e_account": [leg.account_id for _, leg in legs],
            "e_amount": [leg.amount.amount for _, leg in legs],
            "e_currency": [leg.amount.currency for _, leg in legs],
            "e_role": [leg.role[:24] for _, leg in legs],
            "e_later": later,
        }


def take_deferred_credits(txn: Txn) -> list[tuple[str, dict[str, Any]]]:
    """The transaction's deferred legs as statements for the caller to run, in order, as
    its last before COMMIT (the sale batch's one-round-trip write, ``vending.sale_batch``),
    taken off the before-commit hooks; none queued: an empty list. Each statement checks
    in SQL that every entry was written (``evd_batch_expect``, PostgreSQL migration 0020):
    its caller cannot read one statement's row count among several."""
    found = txn.local.pop(_DeferredLegs._KEY, None)
    if found is None:
        return []
    txn.cancel_before_commit(found.apply)
    return found.checked_statements()


DeferredState = tuple[dict[int, tuple[int, str]], list[tuple[int, Leg]], set[int]] | None


def snapshot_deferred_credits(txn: Txn) -> DeferredState:
    """The transaction's deferred credits so far (None: none yet), to restore after a
    savepoint rollback (vending.sale_batch): a rolled-back sale's credits must not stay
    queued."""
    found = txn.local.get(_DeferredLegs._KEY)
    if found is None:
        return None
    return dict(found.deltas), list(found.legs), set(found.paying)


def restore_deferred_credits(txn: Txn, state: DeferredState) -> None:
    """Put the deferred credits back as :func:`snapshot_deferred_credits` saw them. The
    caller restores ``txn.local`` and the before-commit hooks alongside."""
    found = txn.local.get(_DeferredLegs._KEY)
    if found is None or state is None:
        return
    found.deltas = dict(state[0])
    found.legs = list(state[1])
    found.paying = set(state[2])


# The rows are locked in id order (FOR UPDATE under ORDER BY) so that two transactions
# applying credits to the same accounts cannot deadlock.
_FLUSH_CTES = """
WITH locked AS (
    SELECT id FROM accounts WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id FOR UPDATE
), delta AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(deltas)s::bigint[], %(currencies)s::text[])
        AS d(id, delta, currency)
), applied AS (
    UPDATE accounts SET balance = accounts.balance + delta.delta
    FROM delta JOIN locked ON locked.id = delta.id
    WHERE accounts.id = delta.id AND accounts.currency = delta.currency
      AND (delta.delta >= 0 OR (NOT accounts.blocked AND (accounts.credit_limit IS NULL
           OR accounts.balance + delta.delta >= -accounts.credit_limit)))
    RETURNING accounts.id, accounts.balance
), entry AS (
    SELECT * FROM unnest(
        %(e_transfer)s::bigint[], %(e_account)s::bigint[], %(e_amount)s::bigint[],
        %(e_currency)s::text[], %(e_role)s::text[], %(e_later)s::bigint[]
    ) WITH ORDINALITY AS e(transfer_id, account_id, amount, currency, role, later, ord)
)"""
_FLUSH_INSERT = """
INSERT INTO ledger_entries (transfer_id, account_id, amount, currency, role, balance_after)
SELECT entry.transfer_id, entry.account_id, entry.amount, entry.currency, entry.role,
       applied.balance - entry.later
FROM entry JOIN applied ON applied.id = entry.account_id
ORDER BY entry.ord
"""
_FLUSH_SQL = _FLUSH_CTES + _FLUSH_INSERT
_FLUSH_CHECKED_SQL = (
    _FLUSH_CTES
    + ", written AS ("
    + _FLUSH_INSERT
    + "RETURNING 1)\nSELECT evd_batch_expect((SELECT count(*) FROM written), %(expected)s,"
    " %(what)s)"
)
# What a checked flush says when it wrote fewer entries than it must. The paying accounts'
# statement touches nothing but their rows (their debits, checked when applied), so its
# refusal is theirs and is read as such (_paying_refused); the other statement's means a
# refused deferred debit (suspense) or a missing account, and stays the database's error.
_PAYING_REFUSED = "the paying accounts' deferred debits (a debit refused)"
_LEGS_NOT_WRITTEN = "the deferred ledger legs (a debit refused, or an account missing)"


def _paying_refused(message: str) -> Exception | None:
    """The ledger's reading of its checked flush failing (Txn.commit_with)."""
    if _PAYING_REFUSED not in message:
        return None
    return DeferredDebitRefused(
        "the deferred debits of a paying account were refused (over its credit limit, or "
        "the account blocked)"
    )


def _apply_delta(txn: Txn, account_id: int, delta: int, currency: str) -> tuple[int, int | None]:
    """Apply ``delta`` to the account; returns its new balance and its credit limit."""
    plan = plan_of(txn)
    locked = None if plan is None else plan.accounts.get(account_id)
    if locked is not None:
        # Locked by the sale batch: checked against the batch's running balance, in
        # arrival order, with the conditions of _DEBIT; written once by the batch.
        if locked.currency == currency and (
            delta >= 0
            or (
                not locked.blocked
                and (locked.credit_limit is None or locked.balance + delta >= -locked.credit_limit)
            )
        ):
            locked.balance += delta
            return locked.balance, locked.credit_limit
        _explain_refused(txn, account_id, delta, currency, balance=locked.balance)
        raise AssertionError("unreachable")  # pragma: no cover
    if delta == 0:
        # Legs that cancel out on one account move nothing, but must still name an existing
        # account in its own currency.
        row = txn.execute(
            select(accounts.c.balance, accounts.c.credit_limit).where(
                accounts.c.id == account_id, accounts.c.currency == currency
            )
        ).first()
        if row is None:
            _explain_refused(txn, account_id, delta, currency)
            raise AssertionError("unreachable")  # pragma: no cover
        return int(row.balance), row.credit_limit
    statement = _CREDIT if delta > 0 else _DEBIT
    row = txn.execute(statement, {"p_id": account_id, "p_currency": currency, "p_delta": delta})
    found = row.first()
    if found is not None:
        return int(found.balance), found.credit_limit
    _explain_refused(txn, account_id, delta, currency)
    raise AssertionError("unreachable")  # pragma: no cover


_CREDIT = (
    update(accounts)
    .where(accounts.c.id == bindparam("p_id"), accounts.c.currency == bindparam("p_currency"))
    .values(balance=accounts.c.balance + bindparam("p_delta"))
    .returning(accounts.c.balance, accounts.c.credit_limit)
)
_DEBIT = (
    update(accounts)
    .where(
        accounts.c.id == bindparam("p_id"),
        accounts.c.currency == bindparam("p_currency"),
        accounts.c.blocked.is_(False),
        or_(
            accounts.c.credit_limit.is_(None),
            accounts.c.balance + bindparam("p_delta") >= -accounts.c.credit_limit,
        ),
    )
    .values(balance=accounts.c.balance + bindparam("p_delta"))
    .returning(accounts.c.balance, accounts.c.credit_limit)
)


def _explain_refused(
    txn: Txn, account_id: int, delta: int, currency: str, *, balance: int | None = None
) -> None:
    """Raise why ``delta`` was refused; ``balance``: the account's balance as a sale batch
    has moved it (its row still holds the balance before the batch)."""
    row = txn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        raise UnknownAccount(f"no account {account_id}")
    if row.currency != currency:
        raise CurrencyMismatch(
            f"account {row.code} is in {row.currency}, the amount is in {currency}"
        )
    if row.blocked:
        raise AccountBlocked(f"account {row.code} is blocked")
    available = (row.balance if balance is None else balance) + (row.credit_limit or 0)
    raise InsufficientFunds(
        f"account {row.code} has {Money(available, currency)} available, "
        f"{Money(-delta, currency)} needed"
    )


def reverse_transfer(
    txn: Txn,
    transfer_id: int,
    *,
    kind: str,
    description: str,
    created_by: str,
    reference: str | None = None,
    now: datetime,
) -> PostedTransfer:
    """Post the exact opposite of ``transfer_id``, at most once."""
    legs = transfer_legs(txn, transfer_id)
    if not legs:
        raise UnknownAccount(f"no transfer {transfer_id}")
    # Checked before the mirrored legs are applied: they could fail first (refunding a spent
    # deposit overdraws the vendor) and hide the real reason. The unique reverses_id still
    # settles races.
    if txn.execute(select(transfers.c.id).where(transfers.c.reverses_id == transfer_id)).first():
        raise ReversalRefused(f"transfer {transfer_id} has already been reversed")
    return post_transfer(
        txn,
        kind=kind,
        legs=[Leg(leg.account_id, -leg.amount, leg.role) for leg in legs],
        description=description,
        created_by=created_by,
        reference=reference,
        reverses_id=transfer_id,
        now=now,
    )


def transfer_legs(txn: Txn, transfer_id: int) -> list[Leg]:
    rows = txn.execute(
        select(
            ledger_entries.c.account_id,
            ledger_entries.c.amount,
            ledger_entries.c.currency,
            ledger_entries.c.role,
        )
        .where(ledger_entries.c.transfer_id == transfer_id)
        .order_by(ledger_entries.c.id)
    )
    return [Leg(r.account_id, Money(r.amount, r.currency), r.role) for r in rows]


# --- statements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    transfer_id: int
    kind: str
    description: str
    role: str
    amount: Money
    balance_after: Money
    applied_at: datetime


def statement(txn: Txn, account_id: int, limit: int = 10) -> list[StatementLine]:
    """The account's last ``limit`` ledger entries, newest first."""
    rows = txn.execute(
        select(
            ledger_entries.c.id,
            ledger_entries.c.transfer_id,
            ledger_entries.c.amount,
            ledger_entries.c.currency,
            ledger_entries.c.role,
            ledger_entries.c.balance_after,
            transfers.c.kind,
            transfers.c.description,
            transfers.c.created_at,
        )
        .join(transfers, transfers.c.id == ledger_entries.c.transfer_id)
        .where(ledger_entries.c.account_id == account_id)
        .order_by(ledger_entries.c.id.desc())
        .limit(limit)
    )
    return [
        StatementLine(
            entry_id=r.id,
            transfer_id=r.transfer_id,
            kind=r.kind,
            description=r.description,
            role=r.role,
            amount=Money(r.amount, r.currency),
            balance_after=Money(r.balance_after, r.currency),
            applied_at=r.created_at,
        )
        for r in rows
    ]


# --- verification -----------------------------------------------------------------------------


@dataclass
class LedgerReport:
    accounts_checked: int = 0
    transfers_checked: int = 0
    # (account code, balance on the row, balance recomputed from the journal)
    balance_mismatches: list[tuple[str, int, int]] = field(default_factory=list)
    # (transfer id, currency, sum of its legs)
    unbalanced_transfers: list[tuple[int, str, int]] = field(default_factory=list)
    # (account code, entry currency, account currency)
    currency_mismatches: list[tuple[str, str, str]] = field(default_factory=list)
    # (account code, balance, credit limit)
    limit_violations: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.balance_mismatches
            or self.unbalanced_transfers
            or self.currency_mismatches
            or self.limit_violations
        )

    def problems(self) -> list[str]:
        lines = [
            f"account {code}: balance {stored} but the journal sums to {computed}"
            for code, stored, computed in self.balance_mismatches
        ]
        lines += [
            f"transfer {tid}: {currency} legs sum to {total}, not 0"
            for tid, currency, total in self.unbalanced_transfers
        ]
        lines += [
            f"account {code}: entry in {entry} but the account is in {account}"
            for code, entry, account in self.currency_mismatches
        ]
        lines += [
            f"account {code}: balance {balance} is below its credit limit -{limit}"
            for code, balance, limit in self.limit_violations
        ]
        return lines


def verify_ledger(txn: Txn) -> LedgerReport:
    """Recompute every balance from the journal and check every transfer balances."""
    report = LedgerReport()
    sums = (
        select(
            ledger_entries.c.account_id,
            func.coalesce(func.sum(ledger_entries.c.amount), 0).label("total"),
        )
        .group_by(ledger_entries.c.account_id)
        .subquery()
    )
    for row in txn.execute(
        select(
            accounts.c.code,
            accounts.c.balance,
            func.coalesce(sums.c.total, 0).label("total"),
            accounts.c.credit_limit,
        )
        .select_from(accounts.outerjoin(sums, sums.c.account_id == accounts.c.id))
        .order_by(accounts.c.id)
    ):
        report.accounts_checked += 1
        if int(row.balance) != int(row.total):
            report.balance_mismatches.append((row.code, int(row.balance), int(row.total)))
        if row.credit_limit is not None and row.balance < -row.credit_limit:
            report.limit_violations.append((row.code, int(row.balance), int(row.credit_limit)))
    for row in txn.execute(
        select(
            ledger_entries.c.transfer_id,
            ledger_entries.c.currency,
            func.sum(ledger_entries.c.amount).label("total"),
        )
        .group_by(ledger_entries.c.transfer_id, ledger_entries.c.currency)
        .having(func.sum(ledger_entries.c.amount) != 0)
    ):
        report.unbalanced_transfers.append((row.transfer_id, row.currency, int(row.total)))
    report.transfers_checked = txn.execute(select(func.count()).select_from(transfers)).scalar_one()
    # A transfer with a single leg cannot balance either, whatever its amount.
    for row in txn.execute(
        select(ledger_entries.c.transfer_id)
        .group_by(ledger_entries.c.transfer_id)
        .having(func.count() < 2)
    ):
        report.unbalanced_transfers.append((row.transfer_id, "*", 0))
    for row in txn.execute(
        select(accounts.c.code, ledger_entries.c.currency, accounts.c.currency.label("acc"))
        .join(accounts, accounts.c.id == ledger_entries.c.account_id)
        .where(ledger_entries.c.currency != accounts.c.currency)
        .distinct()
    ):
        report.currency_mismatches.append((row.code, row.currency, row.acc))
    return report
