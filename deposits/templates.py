"""Per-bank alert templates: which senders a bank uses and how to read its alerts.

No well-kept library parses bank alerts, so each bank has a template in configuration
(``conf/deposits.toml``): its SMS sender ids and e-mail domains, and one regular expression
per field -- amount, credit or debit, reference/narration, bank reference (UTR/RRN), date,
payer. A field's value is the pattern's first group (or the whole match).

A template that no longer matches a message from its bank (the bank changed its wording) is
:class:`TemplateMismatch`: the alert goes to staff, never a guessed amount.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from vending.errors import InvalidAmount
from vending.money import Money

REQUIRED_FIELDS = ("amount", "bank_ref", "date")
OPTIONAL_FIELDS = ("reference", "payer")
DIRECTIONS = ("credit", "debit")


class TemplateError(ValueError):
    """A template in the configuration is itself wrong (bad regex, missing field)."""


class TemplateMismatch(Exception):
    """A message from a known bank that its template cannot read: an alert, not a guess."""

    def __init__(self, bank: str, missing: list[str]) -> None:
        super().__init__(f"{bank} template no longer matches: no {', '.join(missing)}")
        self.bank = bank
        self.missing = missing


@dataclass(frozen=True)
class ParsedAlert:
    bank: str
    direction: str  # credit or debit
    amount: Money
    bank_ref: str
    txn_date: date
    reference: str = ""
    payer: str = ""


@dataclass(frozen=True)
class BankTemplate:
    name: str
    currency: str
    sms_senders: frozenset[str]
    email_domains: frozenset[str]
    patterns: Mapping[str, re.Pattern[str]]
    date_formats: tuple[str, ...]

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> BankTemplate:
        name = str(data.get("name") or "")
        if not name:
            raise TemplateError("every bank template needs a name")
        raw = data.get("patterns") or {}
        missing = [f for f in (*REQUIRED_FIELDS, "credit") if f not in raw]
        if missing:
            raise TemplateError(f"bank {name}: patterns missing {', '.join(missing)}")
        patterns: dict[str, re.Pattern[str]] = {}
        for field_name, pattern in raw.items():
            if field_name not in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS, *DIRECTIONS, "ignore"):
                raise TemplateError(f"bank {name}: unknown pattern {field_name!r}")
            try:
                patterns[field_name] = re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise TemplateError(f"bank {name}: pattern {field_name}: {exc}") from exc
        formats = tuple(data.get("date_formats") or ())
        if not formats:
            raise TemplateError(f"bank {name}: date_formats is empty")
        return cls(
            name=name,
            currency=str(data.get("currency") or ""),
            sms_senders=frozenset(s.upper() for s in data.get("sms_senders") or ()),
            email_domains=frozenset(d.lower() for d in data.get("email_domains") or ()),
            patterns=patterns,
            date_formats=formats,
        )

    def is_noise(self, text: str) -> bool:
        """A message the bank sends that is no deposit alert at all (OTPs, offers)."""
        pattern = self.patterns.get("ignore")
        return bool(pattern and pattern.search(text))

    def parse(self, text: str, received: date) -> ParsedAlert:
        """Read one alert received on ``received`` (the year of dates printed without
        one); :class:`TemplateMismatch` when a required field is not found."""
        values: dict[str, str] = {}
        for field_name in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
            pattern = self.patterns.get(field_name)
            found = pattern.search(text) if pattern else None
            if found:
                values[field_name] = (found.group(1) if found.re.groups else found.group(0)) or ""
        direction = next(
            (d for d in DIRECTIONS if d in self.patterns and self.patterns[d].search(text)), None
        )
        missing = [f for f in REQUIRED_FIELDS if not values.get(f)]
        if direction is None:
            missing.append("credit/debit")
        amount = txn_date = None
        if "amount" in values:
            try:
                amount = _amount(values["amount"], self.currency)
            except InvalidAmount:
                missing.append("readable amount")
        if "date" in values:
            txn_date = _date(values["date"], self.date_formats, received)
            if txn_date is None:
                missing.append("readable date")
        if missing or amount is None or txn_date is None or direction is None:
            raise TemplateMismatch(self.name, missing)
        return ParsedAlert(
            bank=self.name,
            direction=direction,
            amount=amount,
            bank_ref=values["bank_ref"].strip().upper(),
            txn_date=txn_date,
            reference=" ".join(values.get("reference", "").split())[:200],
            payer=values.get("payer", "").strip()[:64],
        )


def _amount(text: str, currency: str) -> Money:
    # Thousands separators: "1,23,456.00" (India), "1 500.00" and "1,500.00" (South Africa).
    digits = re.sub(r"[,\s\u00a0]", "", text)
    money = Money.parse(digits, currency)
    if money.amount <= 0:
        raise InvalidAmount(f"not a positive amount: {text!r}")
    return money


def _date(text: str, formats: Iterable[str], received: date) -> date | None:
    cleaned = " ".join(text.split())
    for fmt in formats:
        has_year = "%y" in fmt or "%Y" in fmt
        try:
            if has_year:
                return datetime.strptime(cleaned, fmt).date()
            # Parsed in a leap year so that "29Feb" without a year is readable.
            parsed = datetime.strptime(f"2000 {cleaned}", f"%Y {fmt}").date()
        except ValueError:
            continue
        # No year printed (FNB's "5Dec"): the latest such day not after the reception.
        for year in (received.year, received.year - 1):
            try:
                candidate = parsed.replace(year=year)
            except ValueError:
                continue
            if candidate <= received:
                return candidate
    return None


class TemplateBook:
    """Every bank's template, found by SMS sender id or e-mail domain."""

    def __init__(self, templates: Iterable[BankTemplate]) -> None:
        self.templates = tuple(templates)
        self._by_sender: dict[str, BankTemplate] = {}
        self._by_domain: dict[str, BankTemplate] = {}
        for template in self.templates:
            for sender in template.sms_senders:
                self._by_sender[sender] = template
            for domain in template.email_domains:
                self._by_domain[domain] = template

    def for_sender(self, sender_id: str) -> BankTemplate | None:
        """The bank that sends SMS as ``sender_id`` (``VM-HDFCBK``; the operator prefix
        before the dash varies by route, so ``XX-HDFCBK`` finds it too)."""
        sender = sender_id.strip().upper()
        found = self._by_sender.get(sender)
        if found is None and "-" in sender:
            tail = sender.split("-", 1)[1]
            found = next(
                (t for s, t in self._by_sender.items() if s.split("-", 1)[-1] == tail), None
            )
        return found

    def for_domain(self, domain: str) -> BankTemplate | None:
        return self._by_domain.get(domain.strip().lower().rstrip("."))
