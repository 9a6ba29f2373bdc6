"""Deposit settings, read from their own TOML file (``deposits.settings_file`` in the main
configuration, default ``conf/deposits.toml``): the bank templates, the registered SMS
forwarders, the matching window and the deposit fee per merchant tier."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from deposits.templates import BankTemplate, TemplateBook, TemplateError
from vending.money import Money


@dataclass(frozen=True)
class FeeRule:
    """A tier's deposit fee: flat, or a percentage of the deposit between a minimum and a
    maximum (all in the deposit's currency; ``min``/``max``/``flat`` in major units)."""

    kind: str = "flat"  # flat or percentage
    flat: Decimal = Decimal(0)
    percent: Decimal = Decimal(0)
    minimum: Decimal = Decimal(0)
    maximum: Decimal | None = None

    @classmethod
    def from_config(cls, tier: str, data: Mapping[str, Any]) -> FeeRule:
        kind = str(data.get("kind", "flat"))
        if kind not in ("flat", "percentage"):
            raise TemplateError(f"fees.{tier}.kind: flat or percentage, not {kind!r}")
        try:
            rule = cls(
                kind=kind,
                flat=Decimal(str(data.get("flat", "0"))),
                percent=Decimal(str(data.get("percent", "0"))),
                minimum=Decimal(str(data.get("min", "0"))),
                maximum=None if data.get("max") is None else Decimal(str(data["max"])),
            )
        except InvalidOperation as exc:
            raise TemplateError(f"fees.{tier}: amounts are decimal strings") from exc
        if min(rule.flat, rule.percent, rule.minimum) < 0 or (
            rule.maximum is not None and rule.maximum < rule.minimum
        ):
            raise TemplateError(f"fees.{tier}: negative amounts or max below min")
        return rule

    def fee_for(self, amount: Money) -> Money:
        if self.kind == "flat":
            return Money.parse(self.flat, amount.currency)
        scale = Decimal(1).scaleb(-amount.exponent)
        fee = (amount.to_decimal() * self.percent / 100).quantize(scale, ROUND_HALF_UP)
        fee = max(fee, self.minimum)
        if self.maximum is not None:
            fee = min(fee, self.maximum)
        return Money.parse(fee.quantize(scale), amount.currency)


@dataclass(frozen=True)
class OperatorAccount:
    """The operator's bank account merchants pay into (one per currency): the
    beneficiary printed on a deposit slip (XMLVend depositReq)."""

    currency: str
    acc_name: str
    acc_no: str
    branch_code: str
    bank_name: str
    bank_reg_no: str
    # The slip's heading line (e.g. "Pay at any FNB branch or by EFT").
    header: str = ""

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> OperatorAccount:
        fields = ("currency", "acc_name", "acc_no", "branch_code", "bank_name", "bank_reg_no")
        missing = [name for name in fields if not str(data.get(name, "")).strip()]
        if missing:
            raise TemplateError(f"accounts: {', '.join(missing)} missing")
        unknown = set(data) - {*fields, "header"}
        if unknown:
            raise TemplateError(f"accounts: unknown setting {', '.join(sorted(unknown))}")
        account = cls(
            **{name: str(data[name]).strip() for name in fields},
            header=str(data.get("header", "")).strip(),
        )
        if not account.branch_code.isdigit() or len(account.branch_code) > 10:
            raise TemplateError("accounts: branch_code is 1..10 digits")
        if len(account.acc_no) > 20 or " " in account.acc_no:
            raise TemplateError("accounts: acc_no is at most 20 characters without spaces")
        if len(account.acc_name) > 40 or any(c.isdigit() for c in account.acc_name):
            raise TemplateError("accounts: acc_name is at most 40 characters, no digits")
        return account


@dataclass(frozen=True)
class DepositSettings:
    book: TemplateBook
    # Numbers (or bank sender ids) that may hand us bank SMS: Kannel's %p of the message.
    forwarders: frozenset[str] = frozenset()
    # The fallback match (known payer account) only within this many days of the alert.
    match_window_days: int = 3
    fees: Mapping[str, FeeRule] = field(default_factory=dict)
    # The operator's bank account per currency (deposit slips' beneficiary).
    accounts: Mapping[str, OperatorAccount] = field(default_factory=dict)

    def fee_rule(self, tier: str) -> FeeRule:
        return self.fees.get(tier) or self.fees.get("standard") or FeeRule()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DepositSettings:
        banks = [BankTemplate.from_config(bank) for bank in data.get("banks") or ()]
        names = [bank.name for bank in banks]
        if len(set(names)) != len(names):
            raise TemplateError("two bank templates have the same name")
        window = int(data.get("match_window_days", 3))
        if not 0 <= window <= 31:
            raise TemplateError("match_window_days must be 0..31")
        accounts = [OperatorAccount.from_config(a) for a in data.get("accounts") or ()]
        if len({a.currency for a in accounts}) != len(accounts):
            raise TemplateError("accounts: one operator account per currency")
        return cls(
            accounts={a.currency: a for a in accounts},
            book=TemplateBook(banks),
            forwarders=frozenset(str(f).strip().upper() for f in data.get("forwarders") or ()),
            match_window_days=window,
            fees={
                tier: FeeRule.from_config(tier, rule)
                for tier, rule in (data.get("fees") or {}).items()
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> DepositSettings:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise TemplateError(f"cannot read deposit settings {path}: {exc}") from exc
        return cls.from_mapping(data)
