"""Consumers and their prepaid wallets.

A consumer registers by mobile number (MSISDN, E.164 digits) with a name, a KYC level and a
status, and holds one wallet: a ledger account of kind ``consumer`` with a zero floor. The
KYC level bounds the wallet (:data:`KYC_LIMITS`): its highest balance (checked on every
top-up) and what it may spend per UTC day (:func:`check_spend`: checked at every sale's
debit of the wallet, in the sale's own transaction, under the wallet's row lock).

Money comes in by a merchant cash-in (the merchant's float pays the consumer's wallet and
earns :data:`CASH_IN_COMMISSION_BP` from the operator's revenue, one balanced transfer) or
a staff credit (from the operator's bank account). Consumers buy with the same sale code as
vendors: their sales are made under the wallet channel's vendor (:func:`wallet_vendor`,
commission 0 on every product) with the wallet as the paying account.

PINs are scrypt hashes (``vending.passwords``); :data:`MAX_FAILED_LOGINS` wrong PINs in a
row lock the consumer for a time that doubles with every further failure. Session tokens are
256-bit random strings stored as their SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, func, insert, select, update

from vending import audit
from vending.accounts import create_account, ensure_house_accounts
from vending.api_tables import consumer_sessions, consumers
from vending.errors import (
    AuthenticationFailed,
    Blocked,
    InvalidAmount,
    InvalidRequest,
    NotFound,
    VendingError,
)
from vending.ledger import Leg, PostedTransfer, post_transfer
from vending.money import Money
from vending.passwords import hash_password, verify_password
from vending.products import set_vendor_commission
from vending.storage.database import Txn
from vending.storage.schema import (
    accounts,
    ledger_entries,
    products,
    transfers,
    vendor_commissions,
    vendors,
)
from vending.vendors import Vendor, create_vendor, get_vendor

# Per KYC level, in major units of the wallet's currency: (highest balance, spend per day).
# Level 0: self-registered; 1: identity document checked; 2: full due diligence.
KYC_LIMITS: dict[int, tuple[str, str]] = {
    0: ("1000.00", "500.00"),
    1: ("5000.00", "3000.00"),
    2: ("50000.00", "20000.00"),
}
# What the merchant earns on a cash-in, in basis points of the amount.
CASH_IN_COMMISSION_BP = 50
MAX_FAILED_LOGINS = 5
LOCK_SECONDS = 300
SESSION_SECONDS = 3600
SESSION_PREFIX = "evd_sess_"
# The vendor under which consumers' wallet sales are recorded, one per currency.
WALLET_VENDOR_PREFIX = "WALLETS-"

_MSISDN = re.compile(r"\+?([1-9][0-9]{7,14})")
_PIN = re.compile(r"[0-9]{4,12}")


class UnknownConsumer(NotFound):
    """No consumer is registered with this mobile number."""

    code = "unknown_consumer"


class ConsumerBlocked(Blocked):
    """The consumer is blocked or closed."""

    code = "consumer_blocked"


class ConsumerLocked(AuthenticationFailed):
    """Too many wrong PINs: the consumer is locked for a while."""

    code = "consumer_locked"


class InvalidSession(AuthenticationFailed):
    """The session token is unknown, expired or revoked."""

    code = "invalid_session"


class WalletLimitExceeded(VendingError):
    """The wallet's KYC limit (balance or daily spend) does not allow this."""

    code = "wallet_limit_exceeded"


@dataclass(frozen=True)
class Consumer:
    id: int
    msisdn: str
    name: str
    kyc_level: int
    status: str
    account_id: int
    balance: Money
    credential_version: int
    created_at: datetime

    @property
    def scope(self) -> str:
        """The client id consumers' requests are keyed under (one key space each)."""
        return f"consumer:{self.msisdn}"


def normalize_msisdn(text: str) -> str:
    found = _MSISDN.fullmatch(text.strip())
    if found is None:
        raise InvalidRequest("a mobile number is 8-15 digits in international form")
    return found.group(1)


def check_pin(pin: str) -> str:
    if not _PIN.fullmatch(pin):
        raise InvalidRequest("a PIN is 4-12 digits")
    return pin


def _pin_text(pin: str) -> str:
    # The password policy wants 6+ characters; a 4-digit PIN is hashed with a fixed context
    # prefix (scrypt and the lock after MAX_FAILED_LOGINS, not the length, protect it).
    return f"evd-pin:{pin}"


def hash_pin(pin: str, *, log_n: int = 14) -> str:
    return hash_password(_pin_text(check_pin(pin)), log_n=log_n)


def limits_of(kyc_level: int, currency: str) -> tuple[Money, Money]:
    """(highest balance, spend per UTC day) of a KYC level."""
    if kyc_level not in KYC_LIMITS:
        raise InvalidRequest(f"KYC level must be one of {sorted(KYC_LIMITS)}")
    balance, daily = KYC_LIMITS[kyc_level]
    return Money.parse(balance, currency), Money.parse(daily, currency)


_SELECT = select(consumers, accounts.c.balance, accounts.c.currency.label("currency")).join(
    accounts, accounts.c.id == consumers.c.account_id
)


def _from_row(row: Row) -> Consumer:
    return Consumer(
        id=row.id,
        msisdn=row.msisdn,
        name=row.name,
        kyc_level=row.kyc_level,
        status=row.status,
        account_id=row.account_id,
        balance=Money(row.balance, row.currency),
        credential_version=row.credential_version,
        created_at=row.created_at,
    )


def get_consumer(txn: Txn, msisdn: str) -> Consumer:
    row = txn.execute(_SELECT.where(consumers.c.msisdn == normalize_msisdn(msisdn))).first()
    if row is None:
        raise UnknownConsumer(f"no consumer with mobile number {msisdn}")
    return _from_row(row)


def get_consumer_by_id(txn: Txn, consumer_id: int) -> Consumer:
    row = txn.execute(_SELECT.where(consumers.c.id == consumer_id)).first()
    if row is None:
        raise UnknownConsumer(f"no consumer {consumer_id}")
    return _from_row(row)


def list_consumers(txn: Txn) -> list[Consumer]:
    return [_from_row(r) for r in txn.execute(_SELECT.order_by(consumers.c.id))]


def register_consumer(
    txn: Txn,
    *,
    msisdn: str,
    name: str,
    currency: str,
    pin_hash: str | None,
    kyc_level: int = 0,
    actor: str,
    now: datetime,
) -> Consumer:
    msisdn = normalize_msisdn(msisdn)
    if not name.strip() or len(name) > 80:
        raise InvalidRequest("a consumer name must be 1-80 characters")
    limits_of(kyc_level, currency)
    if txn.execute(select(consumers.c.id).where(consumers.c.msisdn == msisdn)).first():
        raise InvalidRequest(f"mobile number {msisdn} is already registered")
    ensure_house_accounts(txn, currency, now=now)
    account = create_account(
        txn,
        code=f"consumer:{msisdn}",
        kind="consumer",
        name=f"Wallet of {msisdn}",
        currency=currency,
        credit_limit=Money.zero(currency),
        now=now,
    )
    txn.execute(
        insert(consumers).values(
            msisdn=msisdn,
            name=name.strip(),
            kyc_level=kyc_level,
            status="active",
            account_id=account.id,
            pin_hash=pin_hash,
            failed_logins=0,
            credential_version=1,
            created_at=now,
        )
    )
    wallet_vendor(txn, currency, now=now)
    audit.record(
        txn,
        actor=actor,
        action="consumer.register",
        subject=msisdn,
        details={"kyc_level": kyc_level},
        now=now,
    )
    return get_consumer(txn, msisdn)


def set_consumer(
    txn: Txn,
    msisdn: str,
    *,
    actor: str,
    kyc_level: int | None = None,
    status: str | None = None,
    pin_hash: str | None = None,
    now: datetime,
) -> Consumer:
    """Change the KYC level, status or PIN; a status or PIN change ends every session."""
    consumer = get_consumer(txn, msisdn)
    values: dict[str, object] = {}
    if kyc_level is not None:
        limits_of(kyc_level, consumer.balance.currency)
        values["kyc_level"] = kyc_level
    if status is not None:
        if status not in ("active", "blocked", "closed"):
            raise InvalidRequest("status must be active, blocked or closed")
        values["status"] = status
    if pin_hash is not None:
        values.update(pin_hash=pin_hash, failed_logins=0, locked_until=None)
    if status is not None or pin_hash is not None:
        values["credential_version"] = consumers.c.credential_version + 1
    if not values:
        return consumer
    txn.execute(update(consumers).where(consumers.c.id == consumer.id).values(**values))
    shown = {k: v for k, v in values.items() if k in ("kyc_level", "status")}
    audit.record(
        txn,
        actor=actor,
        action="consumer.update",
        subject=consumer.msisdn,
        details={**shown, "pin_changed": pin_hash is not None},
        now=now,
    )
    return get_consumer(txn, consumer.msisdn)


def wallet_vendor(txn: Txn, currency: str, *, now: datetime) -> Vendor:
    """The vendor consumers' sales are recorded under (created on first use). Its own
    account is never debited: a wallet sale pays from the consumer's account. Every product
    in the currency gets commission 0 for it (no cashback on wallet purchases)."""
    client_id = WALLET_VENDOR_PREFIX + currency
    found = txn.execute(select(vendors.c.id).where(vendors.c.client_id == client_id)).first()
    vendor = (
        get_vendor(txn, client_id)
        if found is not None
        else create_vendor(
            txn,
            client_id=client_id,
            name=f"Consumer wallets ({currency})",
            currency=currency,
            require_auth=False,
            actor="system",
            now=now,
        )
    )
    # Products added since the last call get their zero override (one read when none did).
    missing = select(products.c.id).where(
        products.c.currency == currency,
        products.c.id.not_in(
            select(vendor_commissions.c.product_id).where(
                vendor_commissions.c.vendor_id == vendor.id
            )
        ),
    )
    for product_id in txn.execute(missing).scalars().all():
        set_vendor_commission(txn, vendor.id, product_id, 0)
    return vendor


# --- money in ----------------------------------------------------------------------------------


def _check_top_up(txn: Txn, consumer: Consumer, amount: Money) -> None:
    if consumer.status != "active":
        raise ConsumerBlocked(f"consumer {consumer.msisdn} is {consumer.status}")
    if amount.currency != consumer.balance.currency:
        raise InvalidAmount(f"the wallet holds {consumer.balance.currency}")
    if amount.amount <= 0:
        raise InvalidAmount("the amount must be positive")
    highest, _ = limits_of(consumer.kyc_level, amount.currency)
    if consumer.balance + amount > highest:
        raise WalletLimitExceeded(
            f"the wallet may hold at most {highest.format()} {amount.currency} "
            f"at KYC level {consumer.kyc_level}"
        )


def cash_in(
    txn: Txn,
    *,
    vendor_account_id: int,
    vendor_client_id: str,
    msisdn: str,
    amount: Money,
    reference: str,
    now: datetime,
) -> tuple[Consumer, PostedTransfer, Money]:
    """A merchant takes cash and credits the consumer's wallet: one transfer, merchant →
    consumer, with the merchant's commission paid from the operator's revenue. Returns the
    consumer after, the transfer and the commission."""
    consumer = get_consumer(txn, msisdn)
    _check_top_up(txn, consumer, amount)
    commission = amount.percent_bp(CASH_IN_COMMISSION_BP)
    revenue = ensure_house_accounts(txn, amount.currency, now=now)["revenue"]
    posted = post_transfer(
        txn,
        kind="cash_in",
        legs=[
            Leg(vendor_account_id, commission, "commission"),
            Leg(vendor_account_id, -amount, "cash_in"),
            Leg(consumer.account_id, amount, "cash_in"),
            Leg(revenue, -commission, "commission"),
        ],
        description=f"Cash-in for {consumer.msisdn} by {vendor_client_id}",
        created_by=f"vendor:{vendor_client_id}",
        reference=reference[:64],
        now=now,
    )
    return get_consumer_by_id(txn, consumer.id), posted, commission


def staff_credit(
    txn: Txn, *, msisdn: str, amount: Money, reason: str, actor: str, now: datetime
) -> Consumer:
    """Staff credit a wallet from the operator's bank account (audited)."""
    if not reason.strip():
        raise InvalidRequest("a reason is required for every wallet credit")
    consumer = get_consumer(txn, msisdn)
    _check_top_up(txn, consumer, amount)
    bank = ensure_house_accounts(txn, amount.currency, now=now)["bank"]
    post_transfer(
        txn,
        kind="deposit",
        legs=[Leg(consumer.account_id, amount, "deposit"), Leg(bank, -amount, "deposit")],
        description=reason,
        created_by=actor,
        now=now,
    )
    audit.record(
        txn,
        actor=actor,
        action="consumer.credit",
        subject=consumer.msisdn,
        details={"amount": amount.amount, "currency": amount.currency, "reason": reason},
        now=now,
    )
    return get_consumer_by_id(txn, consumer.id)


# --- money out ---------------------------------------------------------------------------------


def spent_today(txn: Txn, account_id: int, now: datetime) -> int:
    """Minor units the wallet paid for sales since 00:00 UTC, net of refunds."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    total = txn.execute(
        select(func.coalesce(func.sum(ledger_entries.c.amount), 0))
        .join(transfers, transfers.c.id == ledger_entries.c.transfer_id)
        .where(
            ledger_entries.c.account_id == account_id,
            transfers.c.created_at >= day,
            transfers.c.kind.in_(("sale", "sale_hold", "sale_release", "reversal")),
        )
    ).scalar_one()
    return max(0, -int(total))


def check_spend(txn: Txn, consumer_id: int, amount: Money, now: datetime) -> Consumer:
    """Inside the sale's transaction, before the wallet is debited: the consumer is active
    and ``amount`` fits the spend limit of its KYC level for the UTC day of ``now`` (the
    wallet's zero floor is the ledger's to hold).

    The wallet's account row is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL;
    SQLite's ``BEGIN IMMEDIATE`` serialises every writer already) and stays locked to the
    commit, so the day's spend summed here includes every other sale of the wallet that
    committed before, and none can commit in between: racing sales cannot together pass
    the limit."""
    consumer = get_consumer_by_id(txn, consumer_id)
    if consumer.status != "active":
        raise ConsumerBlocked(f"consumer {consumer.msisdn} is {consumer.status}")
    txn.execute(
        select(accounts.c.id).where(accounts.c.id == consumer.account_id).with_for_update()
    ).one()
    _, daily = limits_of(consumer.kyc_level, consumer.balance.currency)
    if spent_today(txn, consumer.account_id, now) + amount.amount > daily.amount:
        raise WalletLimitExceeded(
            f"the wallet may spend at most {daily.format()} {daily.currency} a day "
            f"at KYC level {consumer.kyc_level}"
        )
    return consumer


# --- sign-in -----------------------------------------------------------------------------------


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class LoginOutcome:
    """The result of one PIN attempt (committed either way: failures must count)."""

    consumer_id: int | None
    token: str | None = None
    expires_at: datetime | None = None
    locked_until: datetime | None = None


def log_in(
    txn: Txn, msisdn: str, pin: str, *, now: datetime, session_seconds: int = SESSION_SECONDS
) -> LoginOutcome:
    """Verify the PIN and open a session; a wrong PIN is counted (and locks after
    :data:`MAX_FAILED_LOGINS`). Never raises for a wrong PIN: the failure must commit."""
    try:
        key = normalize_msisdn(msisdn)
    except InvalidRequest:
        verify_password(_pin_text(pin), _DUMMY_HASH)
        return LoginOutcome(None)
    row = txn.execute(select(consumers).where(consumers.c.msisdn == key)).first()
    if row is None or row.pin_hash is None:
        verify_password(_pin_text(pin), _DUMMY_HASH)  # the same time for unknown numbers
        return LoginOutcome(None)
    if row.locked_until is not None and row.locked_until > now:
        return LoginOutcome(row.id, locked_until=row.locked_until)
    if not verify_password(_pin_text(pin), row.pin_hash):
        failures = row.failed_logins + 1
        locked_until = None
        if failures >= MAX_FAILED_LOGINS:
            locked_until = now + timedelta(
                seconds=LOCK_SECONDS * 2 ** min(failures - MAX_FAILED_LOGINS, 8)
            )
        txn.execute(
            update(consumers)
            .where(consumers.c.id == row.id)
            .values(failed_logins=failures, locked_until=locked_until)
        )
        return LoginOutcome(row.id, locked_until=locked_until)
    if row.failed_logins or row.locked_until is not None:
        txn.execute(
            update(consumers)
            .where(consumers.c.id == row.id)
            .values(failed_logins=0, locked_until=None)
        )
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=session_seconds)
    txn.execute(
        insert(consumer_sessions).values(
            token_hash=token_digest(token),
            consumer_id=row.id,
            credential_version=row.credential_version,
            created_at=now,
            expires_at=expires,
        )
    )
    return LoginOutcome(row.id, token=token, expires_at=expires)


def consumer_for_session(txn: Txn, token: str, now: datetime) -> Consumer:
    """The consumer of a live session; InvalidSession otherwise (one error for every
    reason), ConsumerBlocked for a blocked consumer."""
    return session_of(txn, token, now)[0]


def session_of(txn: Txn, token: str, now: datetime) -> tuple[Consumer, datetime]:
    """:func:`consumer_for_session` and when the session ends."""
    digest = token_digest(token)
    row = txn.execute(
        select(consumer_sessions).where(consumer_sessions.c.token_hash == digest)
    ).first()
    if (
        row is None
        or not hmac.compare_digest(bytes(row.token_hash), digest)
        or row.revoked_at is not None
        or row.expires_at <= now
    ):
        raise InvalidSession("the session is unknown or has expired; sign in again")
    consumer = get_consumer_by_id(txn, row.consumer_id)
    if consumer.credential_version != row.credential_version:
        raise InvalidSession("the session ended when the PIN or status changed; sign in again")
    if consumer.status != "active":
        raise ConsumerBlocked(f"consumer {consumer.msisdn} is {consumer.status}")
    return consumer, row.expires_at


def end_session(txn: Txn, token: str, now: datetime) -> None:
    txn.execute(
        update(consumer_sessions)
        .where(
            consumer_sessions.c.token_hash == token_digest(token),
            consumer_sessions.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


_DUMMY_HASH = "scrypt$14$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
