"""JSON on the wire: strict parsing of request bodies and query values, and the one
encoding of answers (compact, UTF-8, keys in the order written), so a stored answer is
replayed byte for byte. Amounts are decimal strings with at most the currency's digits."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from jsonapi.problems import invalid
from vending.errors import InvalidAmount
from vending.money import Money, currency_exponent

JSON_CONTENT_TYPE = b"application/json"
_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,4})?")
# Idempotency-Key: printable ASCII without spaces (UUIDs, ULIDs, client counters).
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,59}")
# Request ids of the JSON channel, in the caller's own key space.
REQUEST_ID_PREFIX = "json:"


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical(document: Any) -> bytes:
    """The canonical form of a request body (sorted keys, no spaces): its fingerprint."""
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode(
        "utf-8"
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_object(raw: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object (duplicate keys and NaN refused)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, value in items:
            if key in found:
                raise ValueError(f"duplicate key {key!r}")
            found[key] = value
        return found

    try:
        document = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=pairs,
            parse_constant=_reject_constant,
            parse_float=Decimal,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid(f"the body is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise invalid("the body must be a JSON object")
    return document


def fields(
    document: dict[str, Any], *, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, str]:
    """String fields of ``document``: all of ``required``, any of ``optional``, no other."""
    unknown = sorted(set(document) - set(required) - set(optional))
    if unknown:
        raise invalid(f"unknown field(s): {', '.join(unknown)}")
    out: dict[str, str] = {}
    for name in (*required, *optional):
        if name not in document:
            if name in required:
                raise invalid(f"{name} is required")
            continue
        value = document[name]
        if not isinstance(value, str) or not value.strip():
            raise invalid(f"{name} must be a non-empty string")
        out[name] = value.strip()
    return out


def money(text: str, currency: str, name: str = "amount") -> Money:
    """A decimal string amount: ``"100.00"``; refuses numbers, signs, exponents and more
    decimals than the currency has (``vending.money``)."""
    if not _AMOUNT.fullmatch(text):
        raise invalid(f'{name} must be a decimal string such as "100.00"')
    fraction = text.partition(".")[2]
    try:
        if len(fraction) > currency_exponent(currency):
            raise InvalidAmount(
                f"{currency} amounts have at most {currency_exponent(currency)} decimals"
            )
        value = Money.parse(text, currency)
    except InvalidAmount as exc:
        raise invalid(f"{name}: {exc.message}") from None
    if value.amount <= 0:
        raise invalid(f"{name} must be positive")
    return value


def amount(value: Money) -> str:
    return value.format()


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_instant(text: str, name: str) -> datetime:
    """An RFC 3339 instant (with an offset or Z), or a date (00:00 UTC)."""
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        found = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(f"{name} must be an RFC 3339 date-time or a date") from None
    if found.tzinfo is None:
        raise invalid(f"{name} needs a time zone offset (or Z)")
    return found.astimezone(UTC)


def idempotency_key(header: bytes | None, *, required: bool = True) -> str | None:
    if header is None:
        if required:
            raise invalid("the Idempotency-Key header is required")
        return None
    try:
        text = header.decode("ascii").strip()
    except UnicodeDecodeError:
        raise invalid("the Idempotency-Key must be printable ASCII") from None
    if not _IDEMPOTENCY_KEY.fullmatch(text):
        raise invalid("the Idempotency-Key must be 1-59 printable ASCII characters, no spaces")
    return text


def cursor(text: str | None) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise invalid("cursor is the next_cursor of an earlier page")
    return int(text)


def limit(text: str | None, default: int = 50) -> int:
    if text is None:
        return default
    if not re.fullmatch(r"[0-9]{1,3}", text) or not 1 <= int(text) <= 100:
        raise invalid("limit must be 1-100")
    return int(text)
