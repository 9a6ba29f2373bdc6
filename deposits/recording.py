"""The intake transaction: one alert in, at most one posting, everything recorded.

``record_alert(txn, settings, alert, now)``: find the bank's template (by SMS sender id or
e-mail domain), read the alert, dedupe on (bank, bank reference), match a merchant and post
-- all in the caller's transaction, so a retried transaction (or the same alert arriving
twice, by SMS and e-mail) credits once. The unique (bank, bank_ref) constraint settles two
alerts racing: the loser's transaction fails and, retried, finds the winner's row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from deposits.authenticity import IncomingAlert
from deposits.matching import Match, find_merchant, find_merchants
from deposits.posting import credit_merchant, deposit_fee, park_in_suspense
from deposits.settings import DepositSettings
from deposits.tables import deposit_alerts, deposits
from deposits.templates import ParsedAlert, TemplateMismatch
from vending import outbox
from vending.errors import VendingError
from vending.money import Money
from vending.storage.database import Txn
from vending.vendors import get_vendor_by_id


@dataclass(frozen=True)
class AlertResult:
    alert_id: int
    outcome: str  # deposit, duplicate, ignored, unparsed
    deposit_id: int | None = None
    state: str | None = None  # the deposit's state: credited, suspense, review, rejected
    reason: str = ""


# Finds the merchant of a parsed alert (default: deposits.matching.find_merchant).
Matcher = Callable[[Txn, ParsedAlert], Match | None]


def record_alerts(
    txn: Txn, settings: DepositSettings, alerts: list[IncomingAlert], now: datetime
) -> list[AlertResult]:
    """Many alerts in one transaction (an IMAP poll's batch): the merchants matched
    set-based up front (:func:`deposits.matching.find_merchants`, two round trips), then
    each alert exactly as :func:`record_alert` records it, in its own savepoint -- an
    alert that fails is rolled back alone; one racing another process's report of the same
    credit (the unique key) is recorded again, as the duplicate it now is."""
    parsed: dict[tuple[str, str], ParsedAlert] = {}
    for alert in alerts:
        found = _parse_credit(settings, alert, now)
        if found is not None and alert.authentic:
            parsed.setdefault((found.bank, found.bank_ref), found)
    keys = list(parsed)
    matched = find_merchants(txn, [parsed[k] for k in keys], now.date(), settings.match_window_days)
    premade = dict(zip(keys, matched, strict=True))

    def matcher(txn: Txn, alert: ParsedAlert) -> Match | None:
        key = (alert.bank, alert.bank_ref)
        if key in premade:
            return premade[key]
        return find_merchant(txn, alert, now.date(), settings.match_window_days)

    results = []
    for alert in alerts:
        for attempt in (1, 2):
            savepoint = txn.conn.begin_nested()
            try:
                result = record_alert(txn, settings, alert, now, matcher=matcher)
            except IntegrityError:
                savepoint.rollback()
                if attempt == 2:
                    raise
                continue
            except Exception:
                savepoint.rollback()
                raise
            savepoint.commit()
            results.append(result)
            break
    return results


def _parse_credit(
    settings: DepositSettings, alert: IncomingAlert, now: datetime
) -> ParsedAlert | None:
    book = settings.book
    template = (
        book.for_sender(alert.sender_id)
        if alert.source == "sms"
        else book.for_domain(alert.sender_id)
    )
    if template is None or template.is_noise(alert.text):
        return None
    try:
        found = template.parse(alert.text, now.date())
    except TemplateMismatch:
        return None
    return found if found.direction == "credit" else None


def record_alert(
    txn: Txn,
    settings: DepositSettings,
    alert: IncomingAlert,
    now: datetime,
    *,
    matcher: Matcher | None = None,
) -> AlertResult:
    book = settings.book
    template = (
        book.for_sender(alert.sender_id)
        if alert.source == "sms"
        else book.for_domain(alert.sender_id)
    )
    if template is None:
        return _alert(txn, alert, now, None, "ignored", f"no template for {alert.sender_id}")
    if template.is_noise(alert.text):
        return _alert(txn, alert, now, template.name, "ignored", "not a deposit alert")
    try:
        parsed = template.parse(alert.text, now.date())
    except TemplateMismatch as exc:
        outbox.notify(
            txn,
            kind="deposit.template_mismatch",
            subject=template.name,
            payload={"source": alert.source, "sender": alert.sender, "missing": exc.missing},
            now=now,
        )
        return _alert(txn, alert, now, template.name, "unparsed", str(exc))
    if parsed.direction != "credit":
        return _alert(txn, alert, now, template.name, "ignored", "a debit alert")

    existing = txn.execute(
        select(deposits).where(
            deposits.c.bank == parsed.bank, deposits.c.bank_ref == parsed.bank_ref
        )
    ).first()
    if existing is not None:
        return _again(txn, settings, alert, parsed, existing, now, matcher)

    deposit_id = txn.execute(
        insert(deposits)
        .values(
            bank=parsed.bank,
            bank_ref=parsed.bank_ref,
            amount=parsed.amount.amount,
            currency=parsed.amount.currency,
            txn_date=parsed.txn_date,
            reference=parsed.reference,
            payer=parsed.payer,
            state="review",
            reason=alert.reason,
            created_at=now,
        )
        .returning(deposits.c.id)
    ).scalar_one()
    state, reason = "review", alert.reason
    if alert.authentic:
        state, reason = _settle(txn, settings, deposit_id, parsed, alert, now, matcher)
    return _alert(txn, alert, now, parsed.bank, "deposit", reason, deposit_id, state)


def _again(
    txn: Txn,
    settings: DepositSettings,
    alert: IncomingAlert,
    parsed: ParsedAlert,
    row: Row,
    now: datetime,
    matcher: Matcher | None = None,
) -> AlertResult:
    """The same (bank, bank reference) again: a duplicate when the amounts agree, the
    manual queue when they do not; an authentic copy settles one kept for review only
    because its first report was not authentic."""
    deposit_id = int(row.id)
    amount = Money(int(row.amount), row.currency)
    state = str(row.state)
    if amount != parsed.amount:
        reason = f"amounts disagree: {amount} first, {parsed.amount} now"
        if state in ("credited", "suspense"):
            # The money stays where it is until staff decide (assign or reject reverses it).
            txn.execute(
                update(deposits)
                .where(deposits.c.id == deposit_id)
                .values(state="review", reason=reason)
            )
            state = "review"
        outbox.notify(
            txn,
            kind="deposit.amount_conflict",
            subject=f"{parsed.bank}:{parsed.bank_ref}",
            payload={"first": amount.format(), "now": parsed.amount.format()},
            now=now,
        )
        return _alert(txn, alert, now, parsed.bank, "deposit", reason, deposit_id, state)
    # Kept for review only because its first report was not authentic: this one settles it.
    unauthentic_only = state == "review" and row.transfer_id is None and row.matched_by is None
    if alert.authentic and unauthentic_only and not str(row.reason).startswith("amounts"):
        state, reason = _settle(txn, settings, deposit_id, parsed, alert, now, matcher)
        return _alert(txn, alert, now, parsed.bank, "deposit", reason, deposit_id, state)
    return _alert(txn, alert, now, parsed.bank, "duplicate", "reported before", deposit_id, state)


def _settle(
    txn: Txn,
    settings: DepositSettings,
    deposit_id: int,
    parsed: ParsedAlert,
    alert: IncomingAlert,
    now: datetime,
    matcher: Matcher | None = None,
) -> tuple[str, str]:
    """Post an authentic deposit: to its merchant, else to suspense. Returns (state, reason)."""
    created_by = f"deposits:{alert.source}"
    reference = f"{parsed.bank}:{parsed.bank_ref}"
    if matcher is not None:
        match = matcher(txn, parsed)
    else:
        match = find_merchant(txn, parsed, now.date(), settings.match_window_days)
    if match is not None:
        vendor = get_vendor_by_id(txn, match.vendor_id)
        try:
            fee = deposit_fee(txn, settings, vendor, parsed.amount)
            if vendor.currency != parsed.amount.currency:
                raise VendingError(f"vendor {vendor.client_id} trades in {vendor.currency}")
        except VendingError as exc:
            match, reason = None, f"matched {vendor.client_id} but {exc.message}"
        else:
            posted = credit_merchant(
                txn,
                vendor=vendor,
                amount=parsed.amount,
                fee=fee,
                reference=reference,
                bank_ref=parsed.bank_ref,
                created_by=created_by,
                now=now,
            )
            _set(
                txn,
                deposit_id,
                "credited",
                "",
                posted.id,
                now,
                vendor_id=vendor.id,
                matched_by=match.matched_by,
                fee=fee.amount,
            )
            return "credited", ""
    else:
        reason = "no merchant matched"
    posted = park_in_suspense(
        txn,
        amount=parsed.amount,
        reference=reference,
        bank_ref=parsed.bank_ref,
        created_by=created_by,
        now=now,
    )
    _set(txn, deposit_id, "suspense", reason, posted.id, now)
    return "suspense", reason


def _set(
    txn: Txn,
    deposit_id: int,
    state: str,
    reason: str,
    transfer_id: int,
    now: datetime,
    **values: object,
) -> None:
    txn.execute(
        update(deposits)
        .where(deposits.c.id == deposit_id)
        .values(state=state, reason=reason[:200], transfer_id=transfer_id, **values)
    )


def _alert(
    txn: Txn,
    alert: IncomingAlert,
    now: datetime,
    bank: str | None,
    outcome: str,
    reason: str,
    deposit_id: int | None = None,
    state: str | None = None,
) -> AlertResult:
    alert_id = txn.execute(
        insert(deposit_alerts)
        .values(
            received_at=now,
            source=alert.source,
            sender=alert.sender[:120],
            bank=bank,
            authentic=alert.authentic,
            outcome=outcome,
            reason=reason[:200],
            deposit_id=deposit_id,
            text=alert.text,
        )
        .returning(deposit_alerts.c.id)
    ).scalar_one()
    return AlertResult(alert_id, outcome, deposit_id, state, reason)
