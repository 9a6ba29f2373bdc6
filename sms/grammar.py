"""The SMS command grammar (docs/SMS.md): pure, case-insensitive, forgiving of spaces,
commas and keyword aliases.

    HELP                                   (no PIN)
    <PIN> BAL                              balance
    <PIN> BUY <product> [<amount>] [<phone>]
    <PIN> ELEC <meter> <amount> [<phone>]
    <PIN> RCH <number> <amount>            PIN-less recharge (mobile number or DTH id)
    <PIN> LAST                             reprint the last sale
    <PIN> PIN <new PIN> <new PIN>          change the SMS PIN
    <PIN> FUND <amount> <reference>        ask the parent node for credit (issue 13 §3)

The PIN (4-6 digits) opens every message: one message, one decision, no session state a
lost SMS could leave half open. A ``<phone>`` (8-15 digits, ``+`` allowed, or a local
number with its leading 0) also receives the PIN or token by SMS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KEYWORDS = {
    "balance": ("BAL", "BALANCE", "B", "SALDO"),
    "buy": ("BUY", "AIR", "AIRTIME", "V", "VOUCHER", "DATA"),
    "electricity": ("ELEC", "ELECTRICITY", "E", "POWER", "TOKEN"),
    "last": ("LAST", "REPRINT", "R"),
    "recharge": ("RCH", "RECHARGE", "TOPUP"),
    "pin": ("PIN", "CHPIN", "NEWPIN"),
    "help": ("HELP", "H", "?", "INFO"),
    "fund": ("FUND", "FUNDS", "FLOAT"),
}
_BY_ALIAS = {alias: kind for kind, aliases in KEYWORDS.items() for alias in aliases}
_PIN = re.compile(r"^[0-9]{4,6}$")
_AMOUNT = re.compile(r"^(?:R|ZAR)?([0-9]{1,7}(?:[.,][0-9]{1,2})?)$")
_PHONE = re.compile(r"^\+?[0-9]{8,15}$")
_METER = re.compile(r"^[0-9]{11,13}$")
_PRODUCT = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")
_REFERENCE = re.compile(r"^[A-Z0-9][A-Z0-9_/-]{0,31}$")
_RECHARGE_TARGET = re.compile(r"^\+?[0-9]{8,13}$")


class CommandError(ValueError):
    """The message is not a command; the text says what is expected (shown to the sender)."""


@dataclass(frozen=True)
class Command:
    kind: str
    pin: str | None = field(default=None, repr=False)
    product: str | None = None
    meter: str | None = None
    # As typed, normalised to a dot ("10.50"); parsed into Money by the channel.
    amount: str | None = None
    recipient: str | None = None
    new_pin: str | None = field(default=None, repr=False)
    # A fund request's own reference (FUND).
    reference: str | None = None
    # RCH: the mobile number or DTH subscriber id recharged.
    target: str | None = None

    def canonical(self) -> str:
        """The command without its PINs: what is fingerprinted and kept with the request."""
        parts = [
            self.kind, self.product, self.meter, self.amount, self.recipient, self.reference,
            self.target,
        ]
        if self.kind == "pin":
            parts.append("new-pin")
        return " ".join(p for p in parts if p)


def normalize_phone(text: str, country_code: str) -> str:
    digits = text.lstrip("+")
    if not text.startswith("+") and digits.startswith("0"):
        digits = country_code + digits[1:]
    return digits


def parse(text: str, *, country_code: str = "27") -> Command:
    words = [w for w in re.split(r"[\s;]+", text.strip().upper()) if w]
    if not words:
        raise CommandError("empty message")
    if words[0] in KEYWORDS["help"] and len(words) == 1:
        return Command("help")
    pin: str | None = None
    if _PIN.match(words[0]):
        pin, words = words[0], words[1:]
    if not words:
        raise CommandError("a command must follow the PIN")
    kind = _BY_ALIAS.get(words[0])
    if kind is None:
        raise CommandError(f"unknown command {words[0][:12]}")
    if kind == "help":
        return Command("help")
    if pin is None:
        raise CommandError("start with your SMS PIN, e.g. 1234 BAL")
    args = words[1:]
    if kind in ("balance", "last"):
        if args:
            raise CommandError(f"{words[0]} takes nothing after it")
        return Command(kind, pin=pin)
    if kind == "pin":
        if len(args) != 2 or args[0] != args[1]:
            raise CommandError("send: PIN <new PIN> <new PIN> (the same twice)")
        if not _PIN.match(args[0]):
            raise CommandError("a new PIN is 4 to 6 digits")
        return Command("pin", pin=pin, new_pin=args[0])
    if kind == "fund":
        if len(args) != 2:
            raise CommandError("send: FUND <amount> <reference>")
        if not _REFERENCE.match(args[1]):
            raise CommandError(f"{args[1][:12]} is not a reference (letters, digits, - / _)")
        return Command("fund", pin=pin, amount=_amount(args[0]), reference=args[1])
    if kind == "recharge":
        if len(args) != 2 or not _RECHARGE_TARGET.match(args[0]):
            raise CommandError("send: RCH <mobile number or DTH id> <amount>")
        return Command("recharge", pin=pin, target=args[0], amount=_amount(args[1]))
    recipient = None
    if args and _PHONE.match(args[-1]) and len(args) >= (2 if kind == "buy" else 3):
        recipient = normalize_phone(args.pop(), country_code)
    if kind == "buy":
        if not args or len(args) > 2:
            raise CommandError("send: BUY <product> [amount] [phone]")
        product = args[0]
        if not _PRODUCT.match(product):
            raise CommandError(f"{product[:12]} is not a product code")
        amount = _amount(args[1]) if len(args) == 2 else None
        return Command("buy", pin=pin, product=product, amount=amount, recipient=recipient)
    # electricity
    if len(args) != 2:
        raise CommandError("send: ELEC <meter> <amount> [phone]")
    if not _METER.match(args[0]):
        raise CommandError(f"{args[0][:14]} is not a meter number")
    return Command(
        "electricity", pin=pin, meter=args[0], amount=_amount(args[1]), recipient=recipient
    )


def _amount(text: str) -> str:
    match = _AMOUNT.match(text)
    if match is None:
        raise CommandError(f"{text[:10]} is not an amount")
    return match.group(1).replace(",", ".")


HELP_TEXT = (
    "EVD by SMS: <PIN> BAL | <PIN> BUY <product> [amount] [phone] | "
    "<PIN> ELEC <meter> <amount> [phone] | <PIN> RCH <number> <amount> | <PIN> LAST | "
    "<PIN> PIN <new> <new> | <PIN> FUND <amount> <ref>"
)

__all__ = ["HELP_TEXT", "KEYWORDS", "Command", "CommandError", "normalize_phone", "parse"]
