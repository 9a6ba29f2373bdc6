"""Who calls the API channels: API keys (a vendor's operator), consumers signed in with
their mobile number and PIN, and operators signed in from an app with their client id,
operator name and password (``vending.app_sessions``: short-lived, for browsers and phones
that must not hold an API key). The one place the JSON adapter (and later SMS/USSD and the
app) turn a credential into a :class:`Caller`.

A verified credential is remembered in memory for ``cache_seconds`` under its SHA-256, so a
busy key costs no database round trip per request (the answer comes on the calling thread);
changes re-check the principal inside their own transaction (``vending.auth.revalidate``,
the key's revocation; for a consumer's sale, its status and daily spend limit at the
wallet's debit, ``vending.sales``), so a revoked key or a blocked vendor, operator or
consumer is refused on the very next change.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from vending import api_keys, app_sessions, consumers, login_throttle
from vending.auth import Principal
from vending.clock import Clock
from vending.errors import AuthenticationFailed, InvalidRequest, UnknownVendor
from vending.storage.database import Txn


class Runner(Protocol):
    """Runs a named transaction function off the calling thread; awaitable result."""

    def run(self, desc: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Caller:
    """An authenticated API caller.

    ``principal`` is what the sale services take: for a key, its vendor and operator; for
    a consumer, the wallet channel's vendor with the consumer's wallet as the paying
    account and the consumer's id (``Principal.consumer_id``: its sales check the daily
    spend limit at the debit). ``scope`` is the client id its request keys live under.
    """

    principal: Principal
    scope: str
    api_key_id: int | None = None
    consumer_id: int | None = None
    msisdn: str | None = None
    # An operator's app session (vending.app_sessions) and when any session ends.
    app_session_id: int | None = None
    expires_at: datetime | None = None

    @property
    def is_consumer(self) -> bool:
        return self.consumer_id is not None

    @property
    def is_session(self) -> bool:
        """Signed in (consumer or app session), as opposed to an API key."""
        return self.consumer_id is not None or self.app_session_id is not None


def _key_caller(txn: Txn, key: str) -> Caller:
    found = api_keys.principal_for_key(txn, key)
    return Caller(found.principal, found.principal.client_id, api_key_id=found.api_key_id)


def consumer_principal(txn: Txn, consumer: consumers.Consumer, *, now: datetime) -> Principal:
    wallet = consumers.wallet_vendor(txn, consumer.balance.currency, now=now)
    return Principal(
        vendor_id=wallet.id,
        client_id=consumer.scope,
        vendor_name=consumer.name,
        vendor_address="",
        account_id=consumer.account_id,
        currency=consumer.balance.currency,
        operator_id=None,
        operator_name=None,
        privileges=wallet.privileges,
        consumer_id=consumer.id,
    )


def _session_caller(txn: Txn, token: str, now: datetime) -> Caller:
    consumer, expires_at = consumers.session_of(txn, token, now)
    return Caller(
        consumer_principal(txn, consumer, now=now),
        consumer.scope,
        consumer_id=consumer.id,
        msisdn=consumer.msisdn,
        expires_at=expires_at,
    )


def _app_session_caller(txn: Txn, token: str, now: datetime) -> Caller:
    found = app_sessions.principal_for_session(txn, token, now)
    # The operator's request keys live in its vendor's key space, as with its API keys.
    return Caller(
        found.principal,
        found.principal.client_id,
        app_session_id=found.session_id,
        expires_at=found.expires_at,
    )


def recheck_caller(txn: Txn, caller: Caller) -> None:
    """Inside a change's transaction: the key is still live, the consumer still active.
    (The vendor and operator are ``vending.auth.revalidate``'s.)"""
    if caller.api_key_id is not None:
        api_keys.check_key_live(txn, caller.api_key_id)
    if caller.app_session_id is not None:
        app_sessions.check_session_live(txn, caller.app_session_id)
    if caller.consumer_id is not None:
        consumer = consumers.get_consumer_by_id(txn, caller.consumer_id)
        if consumer.status != "active":
            raise consumers.ConsumerBlocked(f"consumer {consumer.msisdn} is {consumer.status}")


def _consumer_sign_in(
    txn: Txn,
    msisdn: str,
    pin: str,
    keys: tuple[login_throttle.ThrottleKey, ...],
    settings: login_throttle.ThrottleSettings,
    now: datetime,
) -> consumers.LoginOutcome | login_throttle.Lock:
    """One PIN attempt and its count, in one transaction (committed either way): a locked
    address is refused before the PIN is checked."""
    lock = login_throttle.active_lock(txn, keys, now)
    if lock is not None:
        return lock
    outcome = consumers.log_in(txn, msisdn, pin, now=now)
    if outcome.token is None and keys:
        login_throttle.record_failure(txn, keys, now, settings)
    return outcome


@dataclass(frozen=True)
class Session:
    token: str
    expires_at: datetime


# Verifies an operator's password (vending.auth.Authenticator: throttled per operator and
# per address) off the calling thread: (client id, operator, password, address) ->
# awaitable Principal. The adapter that owns the thread pools supplies it.
OperatorLogin = Callable[[str, str, str, str | None], Any]


class ApiAccess:
    """Authentication of API callers (thread-safe cache)."""

    def __init__(
        self,
        runner: Runner,
        clock: Clock,
        *,
        cache_seconds: float = 30.0,
        pin_log_n: int = 14,
        operator_login: OperatorLogin | None = None,
        throttle: login_throttle.ThrottleSettings | None = None,
    ) -> None:
        self._runner = runner
        self._operator_login = operator_login
        self._throttle = throttle or login_throttle.ThrottleSettings()
        self._clock = clock
        self._cache_seconds = cache_seconds
        self.pin_log_n = pin_log_n
        self._cache: dict[bytes, tuple[float, Caller]] = {}
        self._lock = threading.Lock()

    def cached(self, credential: str) -> Caller | None:
        """The caller of a credential verified within ``cache_seconds``; never blocks."""
        digest = hashlib.sha256(credential.encode()).digest()
        with self._lock:
            found = self._cache.get(digest)
        if found is not None and found[0] > time.monotonic():
            caller = found[1]
            # A session that ended meanwhile is verified afresh (and refused).
            if caller.expires_at is None or caller.expires_at > self._clock():
                return caller
        return None

    def _remember(self, credential: str, caller: Caller) -> Caller:
        if self._cache_seconds > 0:
            digest = hashlib.sha256(credential.encode()).digest()
            with self._lock:
                if len(self._cache) > 100_000:  # bound memory under credential stuffing
                    self._cache.clear()
                self._cache[digest] = (time.monotonic() + self._cache_seconds, caller)
        return caller

    def forget(self, credential: str | None = None) -> None:
        """Drop one credential's cached verification (None: all)."""
        with self._lock:
            if credential is None:
                self._cache.clear()
            else:
                self._cache.pop(hashlib.sha256(credential.encode()).digest(), None)

    async def authenticate(self, credential: str) -> Caller:
        """A bearer credential: an API key (``evd_live_...``) or a consumer session token
        (``evd_sess_...``). Raises InvalidApiKey / InvalidSession / ConsumerBlocked."""
        found = self.cached(credential)
        if found is not None:
            return found
        if credential.startswith(consumers.SESSION_PREFIX):
            caller = await self._runner.run(
                "api_session_caller", _session_caller, credential, self._clock()
            )
        elif credential.startswith(app_sessions.SESSION_PREFIX):
            caller = await self._runner.run(
                "api_app_session_caller", _app_session_caller, credential, self._clock()
            )
        else:
            caller = await self._runner.run("api_key_caller", _key_caller, credential)
        return self._remember(credential, caller)

    async def sign_in(self, msisdn: str, pin: str, address: str | None = None) -> Session:
        """Mobile number + PIN → a session token. Wrong PINs count towards the consumer's
        lock and, with the client's ``address``, towards that address's lock
        (``vending.login_throttle``, shared with operator logins): guessing many numbers'
        PINs from one place is stopped too."""
        if not isinstance(pin, str) or not pin:
            raise InvalidRequest("pin is required")
        now = self._clock()
        outcome = await self._runner.run(
            "api_consumer_sign_in",
            _consumer_sign_in,
            msisdn,
            pin,
            login_throttle.keys_for("", None, address),
            self._throttle,
            now,
        )
        if isinstance(outcome, login_throttle.Lock):
            raise login_throttle.LoginThrottled(outcome.key, outcome.until, now)
        if outcome.locked_until is not None and outcome.token is None:
            raise consumers.ConsumerLocked(
                "too many wrong PINs: try again after "
                f"{outcome.locked_until.isoformat(timespec='seconds')}"
            )
        if outcome.token is None:
            raise consumers.InvalidSession("unknown mobile number or wrong PIN")
        return Session(outcome.token, outcome.expires_at)

    async def sign_in_operator(
        self, client_id: str, operator: str, password: str, address: str | None
    ) -> Session:
        """An app session for a vendor's operator: its client id, name and password (the
        XMLVend credentials), verified and throttled by the authenticator."""
        if self._operator_login is None:
            raise InvalidRequest("operator sign-in is not available here")
        for name, value in (("client_id", client_id), ("operator", operator)):
            if not isinstance(value, str) or not value or len(value) > 64:
                raise InvalidRequest(f"{name} is required (at most 64 characters)")
        if not isinstance(password, str) or not password or len(password) > 200:
            raise InvalidRequest("password is required")
        try:
            principal = await self._operator_login(client_id, operator, password, address)
        except UnknownVendor:
            # The same answer as a wrong password: sign-in must not tell client ids apart.
            raise AuthenticationFailed("unknown client id, operator or wrong password") from None
        opened = await self._runner.run(
            "api_app_sign_in", app_sessions.open_session, principal, now=self._clock()
        )
        return Session(opened.token, opened.expires_at)

    async def sign_out(self, token: str) -> None:
        if token.startswith(app_sessions.SESSION_PREFIX):
            await self._runner.run(
                "api_app_sign_out", app_sessions.end_session, token, self._clock()
            )
        else:
            await self._runner.run(
                "api_consumer_sign_out", consumers.end_session, token, self._clock()
            )
        digest = hashlib.sha256(token.encode()).digest()
        with self._lock:
            self._cache.pop(digest, None)
