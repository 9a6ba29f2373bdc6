"""Merchants who sell by SMS (and USSD): a vendor's registered phone number, the operator
its sales are made as, and a 4-6 digit SMS PIN.

The PIN is kept only as a scrypt hash (:mod:`vending.passwords` format). Guessing is
throttled: every wrong PIN counts, and :data:`MAX_FAILED_PINS` wrong PINs in a row lock the
number for ``lock_seconds``; a right PIN resets the count. The counter is updated in the
same transaction that checked the PIN, so concurrent guesses all count.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, select, update

from vending.auth import Principal
from vending.channel_tables import sms_merchants
from vending.errors import InvalidRequest, NotFound
from vending.passwords import verify_password
from vending.principals import PRINCIPAL_COLUMNS, principal_from_row
from vending.storage.database import Txn
from vending.storage.schema import accounts, operators, vendors

MAX_FAILED_PINS = 5
PIN_PATTERN = re.compile(r"^[0-9]{4,6}$")
MSISDN_PATTERN = re.compile(r"^[1-9][0-9]{7,14}$")
# Hashing the PIN of an unknown number anyway costs the same time: senders cannot tell
# unregistered numbers from wrong PINs by timing.
_DUMMY_HASH = "scrypt$10$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class UnknownSender(NotFound):
    """This phone number is not registered to sell by SMS."""

    code = "unknown_sender"


class WeakSmsPin(InvalidRequest):
    """An SMS PIN is 4 to 6 digits."""

    code = "weak_sms_pin"


def normalize_msisdn(text: str) -> str:
    """E.164 digits without '+' (``+27 82 123 4567`` -> ``27821234567``); InvalidRequest
    when it is not a phone number."""
    digits = re.sub(r"[\s\-()]", "", text).lstrip("+")
    if not MSISDN_PATTERN.match(digits):
        raise InvalidRequest(f"{text!r} is not a phone number")
    return digits


def hash_pin(pin: str, *, log_n: int = 14) -> str:
    if not PIN_PATTERN.match(pin):
        raise WeakSmsPin("an SMS PIN is 4 to 6 digits")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        pin.encode(), salt=salt, n=2**log_n, r=8, p=1, maxmem=256 * 1024 * 1024, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${log_n}$8$1${b64(salt).decode()}${b64(digest).decode()}"


@dataclass(frozen=True)
class PinCheck:
    """The outcome of one PIN check (returned, not raised, so the counter commits)."""

    principal: Principal | None
    # "ok", "unknown", "wrong", "locked"
    outcome: str
    tries_left: int = 0
    locked_until: datetime | None = None


def register(
    txn: Txn,
    *,
    msisdn: str,
    vendor_client_id: str,
    operator_name: str,
    pin_hash: str,
    now: datetime,
) -> int:
    """Register (or re-register) ``msisdn`` for a vendor's operator with a new PIN hash."""
    row = txn.execute(
        select(vendors.c.id.label("vendor_id"), operators.c.id.label("operator_id"))
        .join(operators, operators.c.vendor_id == vendors.c.id)
        .where(vendors.c.client_id == vendor_client_id, operators.c.name == operator_name)
    ).first()
    if row is None:
        raise NotFound(f"no operator {operator_name!r} of vendor {vendor_client_id!r}")
    existing = txn.execute(
        select(sms_merchants.c.id).where(sms_merchants.c.msisdn == msisdn)
    ).scalar()
    values = {
        "vendor_id": row.vendor_id,
        "operator_id": row.operator_id,
        "pin_hash": pin_hash,
        "failed_pins": 0,
        "locked_until": None,
        "updated_at": now,
    }
    if existing is not None:
        txn.execute(update(sms_merchants).where(sms_merchants.c.id == existing).values(**values))
        return int(existing)
    return int(
        txn.execute(
            insert(sms_merchants)
            .values(msisdn=msisdn, created_at=now, **values)
            .returning(sms_merchants.c.id)
        ).scalar_one()
    )


def _merchant_row(txn: Txn, msisdn: str):  # type: ignore[no-untyped-def]
    return txn.execute(
        select(
            sms_merchants.c.id,
            sms_merchants.c.pin_hash,
            sms_merchants.c.failed_pins,
            sms_merchants.c.locked_until,
            *PRINCIPAL_COLUMNS,
        )
        .join(vendors, vendors.c.id == sms_merchants.c.vendor_id)
        .join(accounts, accounts.c.id == vendors.c.account_id)
        .join(
            operators,
            and_(
                operators.c.id == sms_merchants.c.operator_id,
                operators.c.vendor_id == vendors.c.id,
            ),
        )
        .where(sms_merchants.c.msisdn == msisdn)
    ).first()


def merchant_principal(txn: Txn, msisdn: str) -> Principal | None:
    """The principal of a registered number without a PIN check (replay lookups only)."""
    row = _merchant_row(txn, msisdn)
    return None if row is None else principal_from_row(row)


def check_pin(txn: Txn, msisdn: str, pin: str, *, now: datetime, lock_seconds: float) -> PinCheck:
    """Check ``pin`` for ``msisdn``, counting failures and locking after too many."""
    row = _merchant_row(txn, msisdn)
    if row is None:
        verify_password(pin, _DUMMY_HASH)
        return PinCheck(None, "unknown")
    if row.locked_until is not None and row.locked_until > now:
        return PinCheck(None, "locked", locked_until=row.locked_until)
    if verify_password(pin, row.pin_hash):
        if row.failed_pins or row.locked_until is not None:
            txn.execute(
                update(sms_merchants)
                .where(sms_merchants.c.id == row.id)
                .values(failed_pins=0, locked_until=None)
            )
        return PinCheck(principal_from_row(row), "ok")
    failed = txn.execute(
        update(sms_merchants)
        .where(sms_merchants.c.id == row.id)
        .values(failed_pins=sms_merchants.c.failed_pins + 1)
        .returning(sms_merchants.c.failed_pins)
    ).scalar_one()
    if failed >= MAX_FAILED_PINS:
        until = now + timedelta(seconds=lock_seconds)
        txn.execute(
            update(sms_merchants)
            .where(sms_merchants.c.id == row.id)
            .values(failed_pins=0, locked_until=until)
        )
        return PinCheck(None, "locked", locked_until=until)
    return PinCheck(None, "wrong", tries_left=MAX_FAILED_PINS - failed)


def set_pin(txn: Txn, msisdn: str, pin_hash: str, *, now: datetime) -> None:
    done = txn.execute(
        update(sms_merchants)
        .where(sms_merchants.c.msisdn == msisdn)
        .values(pin_hash=pin_hash, failed_pins=0, locked_until=None, updated_at=now)
    ).rowcount
    if not done:
        raise UnknownSender(f"{msisdn} is not registered")


__all__ = [
    "MAX_FAILED_PINS",
    "PinCheck",
    "UnknownSender",
    "WeakSmsPin",
    "check_pin",
    "hash_pin",
    "merchant_principal",
    "normalize_msisdn",
    "register",
    "set_pin",
]


def msisdns_of_vendor(txn: Txn, vendor_id: int) -> list[str]:
    """The numbers registered to sell for ``vendor_id`` (to text it a notice)."""
    rows = txn.execute(
        select(sms_merchants.c.msisdn)
        .where(sms_merchants.c.vendor_id == vendor_id)
        .order_by(sms_merchants.c.id)
    )
    return [row.msisdn for row in rows]
