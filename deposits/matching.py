"""Which merchant a deposit is for.

1. The reference (narration) names the merchant: its account number (the vendor's client
   id) or its per-merchant virtual account number -- exactly one merchant, else no match.
2. Otherwise a known payer account (``deposit_payers``) whose credit is dated within the
   matching window of the alert's arrival.
3. Otherwise nobody: the deposit goes to suspense and the manual queue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from itertools import pairwise

from sqlalchemy import literal, select, union_all

from deposits.tables import deposit_merchants, deposit_payers
from deposits.templates import ParsedAlert
from vending.storage.database import Txn
from vending.storage.schema import vendors

_TOKEN = re.compile(r"[A-Z0-9]+")
_DIGITS = re.compile(r"\d{6,}")


@dataclass(frozen=True)
class Match:
    vendor_id: int
    matched_by: str  # reference, virtual_account, payer


def reference_tokens(reference: str) -> set[str]:
    """Candidate account numbers in a narration: its words, the words run together
    ("EVD 6004708000007" and "EVD6004708000007") and every long digit run."""
    upper = reference.upper()
    tokens = set(_TOKEN.findall(upper))
    tokens.update(_DIGITS.findall(upper))
    words = _TOKEN.findall(upper)
    tokens.update(a + b for a, b in pairwise(words))
    return {t for t in tokens if len(t) >= 4}


def normalise_account(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def find_merchant(txn: Txn, alert: ParsedAlert, received: date, window_days: int) -> Match | None:
    tokens = reference_tokens(alert.reference)
    if tokens:
        # One round trip for both: merchants named by account number or virtual account.
        found: dict[int, str] = {}
        for row in txn.execute(
            union_all(
                select(vendors.c.id.label("vendor_id"), literal("reference").label("how")).where(
                    vendors.c.client_id.in_(tokens)
                ),
                select(
                    deposit_merchants.c.vendor_id, literal("virtual_account").label("how")
                ).where(deposit_merchants.c.virtual_account.in_(tokens)),
            )
        ):
            found.setdefault(int(row.vendor_id), row.how)
        if len(found) == 1:
            ((vendor_id, how),) = found.items()
            return Match(vendor_id, how)
        if len(found) > 1:
            return None  # the narration names two merchants: staff decide
    payer = normalise_account(alert.payer)
    if payer and abs((received - alert.txn_date).days) <= window_days:
        row = txn.execute(
            select(deposit_payers.c.vendor_id).where(deposit_payers.c.payer_account == payer)
        ).first()
        if row is not None:
            return Match(int(row.vendor_id), "payer")
    return None


def find_merchants(
    txn: Txn, alerts: list[ParsedAlert], received: date, window_days: int
) -> list[Match | None]:
    """:func:`find_merchant` for many alerts at once (an IMAP poll's or an SMS burst's
    batch), with the same answers, in two round trips instead of one or two per alert:
    every reference token of the batch in one query, every payer account in another."""
    token_sets = [reference_tokens(a.reference) for a in alerts]
    everyone = set().union(*token_sets) if token_sets else set()
    owners: dict[str, dict[int, str]] = {}
    if everyone:
        for row in txn.execute(
            union_all(
                select(
                    vendors.c.client_id.label("token"),
                    vendors.c.id.label("vendor_id"),
                    literal("reference").label("how"),
                ).where(vendors.c.client_id.in_(everyone)),
                select(
                    deposit_merchants.c.virtual_account,
                    deposit_merchants.c.vendor_id,
                    literal("virtual_account"),
                ).where(deposit_merchants.c.virtual_account.in_(everyone)),
            )
        ):
            owners.setdefault(row.token, {}).setdefault(int(row.vendor_id), row.how)
    matches: list[Match | None] = []
    payers_wanted: dict[int, str] = {}
    for index, (alert, tokens) in enumerate(zip(alerts, token_sets, strict=True)):
        found: dict[int, str] = {}
        # In the order find_merchant's single query would see them: references first.
        for how in ("reference", "virtual_account"):
            for token in tokens:
                for vendor_id, kind in owners.get(token, {}).items():
                    if kind == how:
                        found.setdefault(vendor_id, kind)
        if len(found) == 1:
            ((vendor_id, how),) = found.items()
            matches.append(Match(vendor_id, how))
            continue
        matches.append(None)
        if len(found) > 1:
            continue  # the narration names two merchants: staff decide
        payer = normalise_account(alert.payer)
        if payer and abs((received - alert.txn_date).days) <= window_days:
            payers_wanted[index] = payer
    if payers_wanted:
        known = {
            row.payer_account: int(row.vendor_id)
            for row in txn.execute(
                select(deposit_payers.c.payer_account, deposit_payers.c.vendor_id).where(
                    deposit_payers.c.payer_account.in_(set(payers_wanted.values()))
                )
            )
        }
        for index, payer in payers_wanted.items():
            if payer in known:
                matches[index] = Match(known[payer], "payer")
    return matches
