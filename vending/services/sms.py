"""The SMS/USSD channels' own services: merchants identified by their registered number
and SMS PIN, the MT outbox (replies, recipients' PINs and tokens, delivery states), and a
merchant's last sales on a channel. The sales themselves go through the same services as
every channel (``voucher_sales``, ``electricity_sales``, ``accounts``).

PIN checks cost a scrypt derivation; a right PIN is remembered in memory for
``cache_seconds`` under a keyed hash of (number, PIN) -- never the PIN -- so a merchant's
next messages skip it. Every sale still re-checks the principal inside its transaction
(``idempotency.run_once``); a PIN change forgets the number's entries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from vending import sms_merchants, sms_outbox
from vending.auth import Principal, revalidate
from vending.keyring import Keyring
from vending.requests import Claim, Processed, RequestKey, RequestRecord, StoredResponse
from vending.sales import recent_sales
from vending.services import idempotency
from vending.services.context import Clock, TxnRunner
from vending.sms_merchants import PinCheck, hash_pin, normalize_msisdn
from vending.sms_outbox import OutgoingSms, SmsState
from vending.sms_text import split
from vending.storage.database import Txn


@dataclass(frozen=True)
class LastSale:
    """A merchant's sale on a channel and the answer it got (its channel's bytes)."""

    sale_id: int
    answer: bytes
    recipient_states: list[SmsState]


class SmsMerchants:
    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        *,
        lock_seconds: float,
        pin_log_n: int = 14,
        cache_seconds: float = 300.0,
        batch_runner: TxnRunner | None = None,
    ) -> None:
        self._runner = runner
        # Small read-only lookups may share a transaction with others (group commit).
        self._batch = batch_runner or runner
        self._keyring = keyring
        self._clock = clock
        self._lock_seconds = lock_seconds
        self._pin_log_n = pin_log_n
        self._cache_seconds = cache_seconds
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[float, Principal]] = {}
        self._cache_lock = threading.Lock()

    def _key(self, msisdn: str, pin: str) -> bytes:
        return hmac.new(self._cache_key, f"{msisdn}\0{pin}".encode(), hashlib.sha256).digest()

    async def check_pin(self, msisdn: str, pin: str) -> PinCheck:
        """The merchant's principal for a right PIN; else why not (failures counted)."""
        cache_key = self._key(msisdn, pin)
        with self._cache_lock:
            cached = self._cache.get(cache_key)
        if cached is not None and cached[0] > time.monotonic():
            return PinCheck(cached[1], "ok")
        checked: PinCheck = await self._runner.run(
            "sms_check_pin",
            sms_merchants.check_pin,
            msisdn,
            pin,
            now=self._clock(),
            lock_seconds=self._lock_seconds,
        )
        if checked.principal is not None and self._cache_seconds > 0:
            with self._cache_lock:
                self._cache[cache_key] = (
                    time.monotonic() + self._cache_seconds,
                    checked.principal,
                )
        return checked

    def forget(self, msisdn: str) -> None:
        with self._cache_lock:
            self._cache.clear()

    async def principal(self, msisdn: str) -> Principal | None:
        """The registered number's principal, without a PIN (replay lookups only)."""
        return await self._runner.run("sms_merchant", sms_merchants.merchant_principal, msisdn)

    async def known_and_answered(
        self, msisdn: str, request_id: str
    ) -> tuple[Principal | None, StoredResponse | None]:
        """One round trip: the number's principal (no PIN check) and the answer already
        stored under (its client id, ``request_id``) -- a gateway retry."""
        return await self._batch.run("sms_replay", self._known_and_answered, msisdn, request_id)

    def _known_and_answered(
        self, txn: Txn, msisdn: str, request_id: str
    ) -> tuple[Principal | None, StoredResponse | None]:
        principal = sms_merchants.merchant_principal(txn, msisdn)
        if principal is None:
            return None, None
        record = idempotency.lookup(txn, self._keyring, principal.client_id, request_id)
        return principal, None if record is None else record.response

    async def stored_answer(self, principal: Principal, request_id: str) -> StoredResponse | None:
        """The answer stored under (the merchant's client id, ``request_id``), if any: a
        gateway retry of a message already answered."""
        record = await self._runner.run(
            "sms_stored_answer", idempotency.lookup, self._keyring, principal.client_id, request_id
        )
        return None if record is None else record.response

    async def stored_request(self, principal: Principal, request_id: str) -> RequestRecord | None:
        """The request kept under (the merchant's client id, ``request_id``), if any."""
        return await self._runner.run(
            "sms_stored_request", idempotency.lookup, self._keyring, principal.client_id, request_id
        )

    async def change_pin(
        self,
        key: RequestKey,
        principal: Principal,
        msisdn: str,
        new_pin: str,
        answer: Callable[[], StoredResponse],
    ) -> Processed:
        """Set a new SMS PIN (keyed like a sale: a retry gets the same answer and changes
        nothing more)."""
        new_hash = hash_pin(new_pin, log_n=self._pin_log_n)
        now = self._clock()

        def change(txn: Txn, claim: Claim) -> None:
            sms_merchants.set_pin(txn, msisdn, new_hash, now=now)

        processed: Processed = await self._runner.run(
            "sms_change_pin",
            idempotency.run_once,
            self._keyring,
            key,
            principal,
            change,
            lambda _: answer(),
            now=now,
        )
        self.forget(msisdn)
        return processed

    async def register(
        self, msisdn: str, vendor_client_id: str, operator_name: str, pin: str
    ) -> int:
        """Register a number for a vendor's operator with its first PIN (staff, CLI)."""
        number = normalize_msisdn(msisdn)
        pin_hash = hash_pin(pin, log_n=self._pin_log_n)
        registered = await self._runner.run(
            "sms_register",
            sms_merchants.register,
            msisdn=number,
            vendor_client_id=vendor_client_id,
            operator_name=operator_name,
            pin_hash=pin_hash,
            now=self._clock(),
        )
        self.forget(number)
        return int(registered)

    async def last_sales(
        self, principal: Principal, channel: str, limit: int = 1
    ) -> list[LastSale]:
        """The merchant's newest completed sales made on ``channel``, with their answers and
        the delivery state of what was sent to a recipient. Counts as a reprint."""
        return await self._runner.run("sms_last_sales", self._last_sales, principal, channel, limit)

    def _last_sales(
        self, txn: Txn, principal: Principal, channel: str, limit: int
    ) -> list[LastSale]:
        from vending.sales import count_reprint

        revalidate(txn, principal)
        found: list[LastSale] = []
        for sale in recent_sales(txn, vendor_id=principal.vendor_id, limit=limit * 10):
            record = idempotency.lookup_by_pk(txn, self._keyring, sale.request_pk)
            if (
                record is None
                or record.channel != channel
                or record.response is None
                or record.response.http_status != 200
            ):
                continue
            states = sms_outbox.states_for_request(txn, sale.request_pk)
            found.append(
                LastSale(
                    sale.id,
                    record.response.body,
                    [s for s in states if s.purpose == "recipient"],
                )
            )
            if len(found) == limit:
                break
        count_reprint(txn, [item.sale_id for item in found])
        return found


class SmsOutbox:
    """Queue MTs and follow their delivery (the SMS adapter's deliverer drives it)."""

    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        sender: str,
        *,
        batch_runner: TxnRunner | None = None,
    ) -> None:
        self._runner = runner
        # Queuing and delivery reports are tiny, independent and retry-safe: they may share
        # a transaction with others (group commit, the SMS adapter's BatchingRunner).
        self._batch = batch_runner or runner
        self._keyring = keyring
        self._clock = clock
        self.sender = sender

    async def queue(
        self,
        *,
        source: str,
        purpose: str,
        msisdn: str,
        text: str,
        vendor_id: int | None = None,
        request_pk: int | None = None,
    ) -> list[int]:
        """Queue ``text`` (split to fit) unless ``source`` was queued before."""
        return await self._batch.run(
            "sms_queue",
            sms_outbox.enqueue,
            self._keyring,
            source=source,
            purpose=purpose,
            msisdn=msisdn,
            sender=self.sender,
            parts=split(text),
            now=self._clock(),
            vendor_id=vendor_id,
            request_pk=request_pk,
        )

    async def claim_due(self, limit: int = 50) -> list[OutgoingSms]:
        claimed: list[OutgoingSms] = await self._runner.run(
            "sms_claim_due", sms_outbox.claim_due, self._keyring, now=self._clock(), limit=limit
        )
        # A consumer's PIN or token is queued without a sender (vending.recipient_sms): ours.
        return [m if m.sender else replace(m, sender=self.sender) for m in claimed]

    async def record_attempt(self, message_id: int, outcome: str, error: str | None) -> str:
        return await self._runner.run(
            "sms_record_attempt",
            sms_outbox.record_attempt,
            message_id,
            outcome=outcome,
            error=error,
            now=self._clock(),
        )

    async def record_attempts(self, outcomes: list[tuple[int, str, str | None]]) -> list[str]:
        """Several sends' outcomes ((message id, outcome, error) each) in one transaction."""
        return await self._runner.run(
            "sms_record_attempts", sms_outbox.record_attempts, outcomes, now=self._clock()
        )

    async def record_dlr(self, message_id: int, token: str, status: int) -> bool:
        return await self._batch.run(
            "sms_record_dlr", sms_outbox.record_dlr, message_id, token, status, now=self._clock()
        )

    async def release_stale(self, older_than: datetime) -> int:
        return await self._runner.run(
            "sms_release_stale", sms_outbox.release_stale, older_than=older_than
        )

    async def recipient_states(self, principal: Principal, limit: int = 5) -> list[SmsState]:
        return await self._runner.run(
            "sms_states", sms_outbox.states_for_vendor, principal.vendor_id, limit
        )

    async def request_states(self, request_pk: int) -> list[SmsState]:
        """The messages queued for one request (a sale's recipient), oldest first."""
        return await self._runner.run(
            "sms_request_states", sms_outbox.states_for_request, request_pk
        )

    async def recipient_messages(
        self, *, vendor_id: int | None = None, state: str | None = None, limit: int = 50
    ) -> list[SmsState]:
        """Staff's view (the admin web): the newest PINs and tokens sent to consumers, of
        one vendor and/or in one state; delivery states only, never the text."""
        return await self._runner.run(
            "sms_recipient_messages",
            sms_outbox.recipient_messages,
            vendor_id=vendor_id,
            state=state,
            limit=limit,
        )

    async def sale_messages(self, sale_id: int) -> list[SmsState]:
        """The messages sent for one sale (the consumer's PIN or token), oldest first."""
        return await self._runner.run("sms_sale_messages", sms_outbox.states_for_sale, sale_id)

    async def counts(self) -> dict[str, int]:
        return await self._runner.run("sms_counts", sms_outbox.count_by_state)


__all__ = ["LastSale", "SmsMerchants", "SmsOutbox"]
