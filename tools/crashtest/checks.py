"""The crash campaign's verdict: what the clients were told, set against what the database
holds. Pure functions over a SQLAlchemy connection and the clients' records, so that the
counting itself is tested over crafted states (tests/tools/test_crashtest_checks.py).

* **vends**: request keys whose definitive answer was a sale (a token or a PIN);
* **lost**: keys without a definitive answer after the replays (and not pending in the
  database), a sale answered but not completed in the database (delivered, never charged),
  or a completed sale whose client was told it failed (charged, never delivered);
* **duplicated**: more than one sale for one request key, a PIN sold twice (two sold rows
  with one PIN, or one voucher row in two live sales), one token or PIN in the answers to
  two different keys, or one key answered with two different tokens or PINs;
* **pending**: requests, sales or upstream vends still pending in the database;
* every vendor's balance = its credits - its live sales (amount + fee - commission of each
  completed or pending sale), computed from the sales table, not from the ledger;
* ``evd ledger verify`` is run by the campaign itself (see cli.py).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select

from vending.storage.schema import accounts, ledger_entries, requests, sales, vendors
from vending.vouchers.tables import vouchers

_TOKEN = re.compile(rb"<(?:\w+:)?stsCipher>(\d{20})</")
_PIN = re.compile(rb'\bpin="([^"]+)"')
# Live sales hold the vendor's money; failed and reversed ones gave it back.
LIVE_SALE_STATES = ("completed", "pending")


@dataclass(frozen=True)
class Answer:
    """One HTTP answer to one send of a request."""

    status: int
    outcome: str  # "sale", "fault", "delayed", "error"
    fault_class: str | None = None
    tokens: tuple[str, ...] = ()  # STS tokens and voucher PINs it carries

    @property
    def definitive(self) -> bool:
        return self.outcome in ("sale", "fault")


@dataclass
class Sent:
    """The client's record of one request key."""

    client_id: str
    request_id: str  # dateTime/uniqueNumber, as the server keys it
    kind: str  # electricity, voucher, upstream, slow
    body: bytes
    answers: list[Answer] = field(default_factory=list)
    unanswered: int = 0  # sends that got no answer (reset, timeout, killed server)

    @property
    def key(self) -> tuple[str, str]:
        return (self.client_id, self.request_id)

    @property
    def final(self) -> Answer | None:
        """The last definitive answer (the replays' answer when there were replays)."""
        for answer in reversed(self.answers):
            if answer.definitive:
                return answer
        return None


def classify(status: int, body: bytes) -> Answer:
    """What an XMLVend answer to a creditVendReq says (see :class:`Answer`)."""
    if status == 200 and b"creditVendResp" in body:
        found = tuple(m.decode() for m in _TOKEN.findall(body) + _PIN.findall(body))
        return Answer(status, "sale", None, found)
    if b"Fault>" in body:
        fault_class = _fault_class(body)
        if fault_class == "TransactionDelayedEx":
            return Answer(status, "delayed", fault_class)
        return Answer(status, "fault", fault_class)
    return Answer(status, "error")


def _fault_class(body: bytes) -> str:
    from xmlvend.codec import parse_response
    from xmlvend.codec.errors import CodecError

    try:
        parsed = parse_response(body)
    except CodecError:
        return "?"
    return str(getattr(parsed, "fault_class", "?"))


@dataclass
class Verdict:
    vends: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    duplicated: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    balance_mismatches: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())

    @property
    def duplicated_total(self) -> int:
        return sum(self.duplicated.values())

    @property
    def pending_total(self) -> int:
        return self.pending.get("requests (distinct)", 0)

    @property
    def clean(self) -> bool:
        return not (
            self.lost_total
            or self.duplicated_total
            or self.pending_total
            or self.balance_mismatches
        )


# --- database ------------------------------------------------------------------------------


def sales_by_key(conn: Connection) -> dict[tuple[str, str], list[tuple[int, str, dict]]]:
    """(client_id, request_id) -> [(sale id, state, details), ...]."""
    rows = conn.execute(
        select(requests.c.client_id, requests.c.request_id, sales.c.id, sales.c.state,
               sales.c.details)
        .join(sales, sales.c.request_pk == requests.c.id)
    )  # fmt: skip
    found: dict[tuple[str, str], list[tuple[int, str, dict]]] = defaultdict(list)
    for row in rows:
        found[(row.client_id, row.request_id)].append((row.id, row.state, dict(row.details or {})))
    return found


def keys_with_several_sales(conn: Connection) -> int:
    rows = conn.execute(
        select(sales.c.request_pk, func.count())
        .group_by(sales.c.request_pk)
        .having(func.count() > 1)
    ).all()
    return len(rows)


def pins_sold_twice(conn: Connection, by_key: dict | None = None) -> int:
    """PINs that went to more than one buyer: one PIN on two sold rows, or one voucher row
    in two live sales."""
    same_pin = conn.execute(
        select(vouchers.c.pin_hash)
        .where(vouchers.c.sale_id.is_not(None))
        .group_by(vouchers.c.pin_hash)
        .having(func.count() > 1)
    ).all()
    by_key = sales_by_key(conn) if by_key is None else by_key
    per_voucher: Counter[int] = Counter()
    for rows in by_key.values():
        for _, state, details in rows:
            if state in LIVE_SALE_STATES and details.get("voucher_id") is not None:
                per_voucher[int(details["voucher_id"])] += 1
    return len(same_pin) + sum(1 for count in per_voucher.values() if count > 1)


def pending_counts(conn: Connection) -> dict[str, int]:
    from utilities.tables import upstream_vends

    pending_requests = {
        row.id for row in conn.execute(select(requests.c.id).where(requests.c.state == "pending"))
    }
    pending_sales = {
        row.request_pk
        for row in conn.execute(select(sales.c.request_pk).where(sales.c.state == "pending"))
    }
    pending_upstream = {
        row.request_pk
        for row in conn.execute(
            select(upstream_vends.c.request_pk).where(upstream_vends.c.state == "pending")
        )
    }
    return {
        "requests": len(pending_requests),
        "sales": len(pending_sales),
        "upstream vends": len(pending_upstream),
        "requests (distinct)": len(pending_requests | pending_sales | pending_upstream),
    }


def pending_keys(conn: Connection) -> set[tuple[str, str]]:
    rows = conn.execute(
        select(requests.c.client_id, requests.c.request_id)
        .outerjoin(sales, sales.c.request_pk == requests.c.id)
        .where((requests.c.state == "pending") | (sales.c.state == "pending"))
    )
    return {(row.client_id, row.request_id) for row in rows}


def vendor_balance_mismatches(conn: Connection) -> list[str]:
    """Vendors whose balance is not their credits minus their live sales. Credits are the
    vendor's ledger entries of transfers that belong to no sale (deposits, adjustments)."""
    sale_transfers = set()
    for row in conn.execute(
        select(sales.c.transfer_id, sales.c.settlement_transfer_id, sales.c.reversal_transfer_id)
    ):
        sale_transfers.update(t for t in row if t is not None)
    problems = []
    for vendor in conn.execute(
        select(vendors.c.id, vendors.c.client_id, accounts.c.id.label("account_id"),
               accounts.c.balance)
        .join(accounts, accounts.c.id == vendors.c.account_id)
    ):  # fmt: skip
        credits = sum(
            row.amount
            for row in conn.execute(
                select(ledger_entries.c.amount, ledger_entries.c.transfer_id).where(
                    ledger_entries.c.account_id == vendor.account_id
                )
            )
            if row.transfer_id not in sale_transfers
        )
        spent = sum(
            row.amount + row.fee - row.commission
            for row in conn.execute(
                select(sales.c.amount, sales.c.fee, sales.c.commission).where(
                    sales.c.vendor_id == vendor.id, sales.c.state.in_(LIVE_SALE_STATES)
                )
            )
        )
        if vendor.balance != credits - spent:
            problems.append(
                f"vendor {vendor.client_id}: balance {vendor.balance} != credits {credits} "
                f"- live sales {spent} = {credits - spent} (minor units)"
            )
    return problems


# --- the verdict ---------------------------------------------------------------------------


def judge(sent: Iterable[Sent], conn: Connection) -> Verdict:
    """Everything above over the clients' records and the database (see the docstring)."""
    verdict = Verdict()
    by_key = sales_by_key(conn)
    still_pending = pending_keys(conn)
    lost: Counter[str] = Counter()
    duplicated: Counter[str] = Counter()
    holders: dict[str, set[tuple[str, str]]] = defaultdict(set)

    def example(text: str) -> None:
        if len(verdict.examples) < 20:
            verdict.examples.append(text)

    for record in sent:
        final = record.final
        sales_here = by_key.get(record.key, [])
        live = [s for s in sales_here if s[1] in LIVE_SALE_STATES]
        completed = [s for s in sales_here if s[1] == "completed"]
        sold_answers = {a.tokens for a in record.answers if a.outcome == "sale"}
        if len(sold_answers) > 1:
            duplicated["one key, different tokens/PINs"] += 1
            example(f"{record.key}: answered with {len(sold_answers)} different sales")
        for answer in record.answers:
            for token in answer.tokens:
                holders[token].add(record.key)
        if final is None:
            if record.key not in still_pending:
                lost["no definitive answer"] += 1
                example(f"{record.key} ({record.kind}): no definitive answer")
            continue
        if final.outcome == "sale":
            verdict.vends += 1
            if not completed:
                lost["sold to the client, no completed sale"] += 1
                example(f"{record.key}: answered a sale, database {[s[1] for s in sales_here]}")
        elif live and record.key not in still_pending:
            lost["charged, client told it failed"] += 1
            example(f"{record.key}: answered {final.fault_class}, sale {live[0][1]}")
    several = keys_with_several_sales(conn)
    if several:
        duplicated["request keys with several sales"] += several
    twice = pins_sold_twice(conn, by_key)
    if twice:
        duplicated["PINs sold twice (database)"] += twice
    shared = sum(1 for keys in holders.values() if len(keys) > 1)
    if shared:
        duplicated["token/PIN in answers to two keys"] += shared
        example(f"{shared} tokens/PINs were answered to more than one request key")
    verdict.lost = dict(lost)
    verdict.duplicated = dict(duplicated)
    verdict.pending = pending_counts(conn)
    verdict.balance_mismatches = vendor_balance_mismatches(conn)
    return verdict


def summary_line(kills: int, verdict: Verdict) -> str:
    """The campaign's last line."""
    return (
        f"{kills} kills, {verdict.vends} vends, {verdict.lost_total} lost, "
        f"{verdict.duplicated_total} duplicated, {verdict.pending_total} pending"
    )
