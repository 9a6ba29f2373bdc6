"""API keys, consumers and wallets, the webhook outbox: storage rules, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from vending import api_keys, consumers, webhooks
from vending.api_tables import api_keys as api_keys_table
from vending.demo import seed_core
from vending.errors import InsufficientFunds, InvalidRequest
from vending.keyring import Keyring
from vending.ledger import verify_ledger
from vending.money import Money
from vending.storage.database import Database, Txn
from vending.vendors import get_vendor

CAFE = "6004708000090"
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def seeded(database: Database) -> Database:
    database.run_txn("seed_core", seed_core, password_log_n=10)
    return database


def test_a_key_is_random_shown_once_and_stored_only_as_its_hash(
    seeded: Database, secrets_sentinel: object
) -> None:
    record, key = seeded.run_txn(
        "create",
        api_keys.create_api_key,
        vendor_client_id=CAFE,
        operator_name="cashier1",
        actor="test",
    )
    other = seeded.run_txn(
        "create",
        api_keys.create_api_key,
        vendor_client_id=CAFE,
        operator_name="cashier1",
        actor="test",
    )[1]
    secrets_sentinel.register(key, other)  # type: ignore[attr-defined]
    assert key.startswith("evd_live_") and len(key) >= 9 + 43 and key != other
    rows = seeded.run_txn("rows", lambda txn: list(txn.execute(select(api_keys_table))))
    assert all(key.encode() not in repr(tuple(row)).encode() for row in rows)
    assert rows[0].key_hash == api_keys.key_digest(key)
    found = seeded.run_txn("auth", api_keys.principal_for_key, key)
    assert found.api_key_id == record.id
    assert found.principal.client_id == CAFE and found.principal.operator_name == "cashier1"
    assert record.display.startswith("evd_live_") and key not in record.display


def test_revoked_and_unknown_keys_are_refused_alike(seeded: Database) -> None:
    record, key = seeded.run_txn(
        "create",
        api_keys.create_api_key,
        vendor_client_id=CAFE,
        operator_name="cashier1",
        actor="test",
    )
    with pytest.raises(api_keys.InvalidApiKey) as unknown:
        seeded.run_txn("auth", api_keys.principal_for_key, key + "x")
    seeded.run_txn("revoke", api_keys.revoke_api_key, record.id, actor="test")
    with pytest.raises(api_keys.InvalidApiKey) as revoked:
        seeded.run_txn("auth", api_keys.principal_for_key, key)
    assert str(unknown.value) == str(revoked.value)
    with pytest.raises(api_keys.InvalidApiKey):
        seeded.run_txn("live", api_keys.check_key_live, record.id)


def test_a_key_of_an_unknown_operator_is_refused(seeded: Database) -> None:
    with pytest.raises(Exception, match="no operator"):
        seeded.run_txn(
            "create",
            api_keys.create_api_key,
            vendor_client_id=CAFE,
            operator_name="nobody",
            actor="test",
        )


def test_the_webhook_secret_is_encrypted_and_readable_for_signing(
    seeded: Database, keyring: Keyring
) -> None:
    record, _ = seeded.run_txn(
        "create",
        api_keys.create_api_key,
        vendor_client_id=CAFE,
        operator_name="cashier1",
        actor="test",
    )
    secret = seeded.run_txn(
        "cb",
        api_keys.set_callback,
        keyring,
        record.id,
        "https://hooks.example/evd",
        actor="test",
    )
    assert secret is not None and secret.startswith("whsec_")
    row = seeded.run_txn("row", lambda txn: txn.execute(select(api_keys_table)).one())
    assert secret.encode() not in bytes(row.webhook_secret)
    callback = seeded.run_txn("of", api_keys.callback_of, keyring, record.id)
    assert callback is not None and callback.secret == secret.encode()
    with pytest.raises(InvalidRequest):
        seeded.run_txn("cb", api_keys.set_callback, keyring, record.id, "ftp://x", actor="test")
    with pytest.raises(InvalidRequest):
        seeded.run_txn(
            "cb",
            api_keys.set_callback,
            keyring,
            record.id,
            "https://u:p@x.example/",
            actor="test",
        )


# --- consumers ---------------------------------------------------------------------------------


def _register(db: Database, msisdn: str = "27821234567", kyc: int = 0) -> consumers.Consumer:
    return db.run_txn(
        "register",
        consumers.register_consumer,
        msisdn=msisdn,
        name="Test Consumer",
        currency="ZAR",
        pin_hash=consumers.hash_pin("4321", log_n=10),
        kyc_level=kyc,
        actor="test",
        now=NOW,
    )


def _cash_in(db: Database, amount: str, msisdn: str = "27821234567") -> tuple:
    def run(txn: Txn) -> tuple:
        vendor = get_vendor(txn, CAFE)
        return consumers.cash_in(
            txn,
            vendor_account_id=vendor.account_id,
            vendor_client_id=CAFE,
            msisdn=msisdn,
            amount=Money.parse(amount, "ZAR"),
            reference="test",
            now=NOW,
        )

    return db.run_txn("cash_in", run)


def test_registration_opens_a_consumer_wallet_with_a_zero_floor(seeded: Database) -> None:
    consumer = _register(seeded, "+27821234567")
    assert consumer.msisdn == "27821234567" and consumer.status == "active"
    assert consumer.balance == Money.zero("ZAR")
    with pytest.raises(InvalidRequest, match="already registered"):
        _register(seeded)
    with pytest.raises(InvalidRequest):
        _register(seeded, "12ab")


def test_cash_in_is_one_balanced_transfer_with_the_merchants_commission(
    seeded: Database,
) -> None:
    _register(seeded)
    before = seeded.run_txn("v", get_vendor, CAFE).balance
    consumer, _posted, commission = _cash_in(seeded, "200.00")
    assert consumer.balance == Money.parse("200.00", "ZAR")
    assert commission == Money.parse("1.00", "ZAR")  # 50 bp
    after = seeded.run_txn("v", get_vendor, CAFE).balance
    assert before - after == Money.parse("199.00", "ZAR")
    assert seeded.run_txn("verify", verify_ledger).ok


def test_kyc_limits_bound_the_balance_and_the_daily_spend(seeded: Database) -> None:
    _register(seeded)  # level 0: at most 1000.00, 500.00 a day
    _cash_in(seeded, "900.00")
    with pytest.raises(consumers.WalletLimitExceeded, match=r"at most 1000\.00"):
        _cash_in(seeded, "100.01")
    consumer = seeded.run_txn("c", consumers.get_consumer, "27821234567")
    assert consumer.balance == Money.parse("900.00", "ZAR")  # nothing changed
    seeded.run_txn("check", consumers.check_spend, consumer.id, Money.parse("500.00", "ZAR"), NOW)
    with pytest.raises(consumers.WalletLimitExceeded, match=r"500\.00 ZAR a day"):
        seeded.run_txn(
            "check", consumers.check_spend, consumer.id, Money.parse("500.01", "ZAR"), NOW
        )
    seeded.run_txn("kyc", consumers.set_consumer, "27821234567", actor="test", kyc_level=1)
    _cash_in(seeded, "100.01")


def test_a_blocked_consumer_gets_no_money_and_spends_none(seeded: Database) -> None:
    consumer = _register(seeded)
    seeded.run_txn("block", consumers.set_consumer, consumer.msisdn, actor="t", status="blocked")
    with pytest.raises(consumers.ConsumerBlocked):
        _cash_in(seeded, "10.00")
    with pytest.raises(consumers.ConsumerBlocked):
        seeded.run_txn("c", consumers.check_spend, consumer.id, Money.parse("1.00", "ZAR"), NOW)


def test_a_merchant_cannot_cash_in_beyond_its_credit(seeded: Database) -> None:
    _register(seeded, kyc=2)
    with pytest.raises(InsufficientFunds):
        _cash_in(seeded, "40000.00")
    assert seeded.run_txn("c", consumers.get_consumer, "27821234567").balance.amount == 0


def test_wrong_pins_lock_the_consumer_and_a_good_pin_opens_a_session(
    seeded: Database, secrets_sentinel: object
) -> None:
    _register(seeded)
    for _ in range(consumers.MAX_FAILED_LOGINS - 1):
        outcome = seeded.run_txn("login", consumers.log_in, "27821234567", "0000", now=NOW)
        assert outcome.token is None and outcome.locked_until is None
    outcome = seeded.run_txn("login", consumers.log_in, "27821234567", "0000", now=NOW)
    assert outcome.locked_until == NOW + timedelta(seconds=consumers.LOCK_SECONDS)
    # Locked: even the right PIN is refused until the lock ends.
    locked = seeded.run_txn("login", consumers.log_in, "27821234567", "4321", now=NOW)
    assert locked.token is None
    later = NOW + timedelta(seconds=consumers.LOCK_SECONDS + 1)
    good = seeded.run_txn("login", consumers.log_in, "27821234567", "4321", now=later)
    assert good.token is not None and good.token.startswith("evd_sess_")
    secrets_sentinel.register(good.token)  # type: ignore[attr-defined]
    consumer = seeded.run_txn("s", consumers.consumer_for_session, good.token, later)
    assert consumer.msisdn == "27821234567"
    # A PIN change ends the session.
    seeded.run_txn(
        "pin",
        consumers.set_consumer,
        "27821234567",
        actor="t",
        pin_hash=consumers.hash_pin("9999", log_n=10),
    )
    with pytest.raises(consumers.InvalidSession):
        seeded.run_txn("s", consumers.consumer_for_session, good.token, later)


def test_sessions_expire(seeded: Database) -> None:
    _register(seeded)
    good = seeded.run_txn("login", consumers.log_in, "27821234567", "4321", now=NOW)
    assert good.token is not None
    end = NOW + timedelta(seconds=consumers.SESSION_SECONDS)
    with pytest.raises(consumers.InvalidSession):
        seeded.run_txn("s", consumers.consumer_for_session, good.token, end)
    unknown = seeded.run_txn("login", consumers.log_in, "27829999999", "4321", now=NOW)
    assert unknown.token is None and unknown.consumer_id is None


# --- webhook outbox ----------------------------------------------------------------------------


def test_deliveries_are_retried_with_backoff_until_acknowledged(
    seeded: Database, keyring: Keyring
) -> None:
    from vending.requests import RequestKey, StoredResponse
    from vending.services.idempotency import run_once

    record, _ = seeded.run_txn(
        "create",
        api_keys.create_api_key,
        vendor_client_id=CAFE,
        operator_name="cashier1",
        actor="test",
    )
    key = RequestKey("json", CAFE, "json:k1", "sale", b"f" * 32)
    processed = seeded.run_txn(
        "req",
        run_once,
        keyring,
        key,
        None,
        lambda txn, claim: None,
        lambda _: StoredResponse(b"{}", 201),
        now=NOW,
    )
    assert not processed.replayed
    pk = seeded.run_txn(
        "pk", lambda txn: txn.execute(select(webhooks.webhook_deliveries.c.id)).all()
    )
    assert pk == []
    from vending.requests import find_request

    request_pk = seeded.run_txn(
        "find", lambda txn: find_request(txn, keyring, client_id=CAFE, request_id="json:k1")
    ).request_pk
    delivery_id = seeded.run_txn(
        "enqueue",
        webhooks.enqueue,
        api_key_id=record.id,
        request_pk=request_pk,
        event="sale.completed",
        url="https://hooks.example/",
        payload="{}",
        now=NOW,
    )
    again = seeded.run_txn(
        "enqueue",
        webhooks.enqueue,
        api_key_id=record.id,
        request_pk=request_pk,
        event="sale.completed",
        url="https://hooks.example/",
        payload="{}",
        now=NOW,
    )
    assert delivery_id is not None and again is None
    assert [d.id for d in seeded.run_txn("due", webhooks.due, NOW)] == [delivery_id]
    failed = seeded.run_txn(
        "try", webhooks.record_attempt, delivery_id, now=NOW, http_status=500, error="HTTP 500"
    )
    assert failed.state == "pending"
    assert failed.next_attempt_at == NOW + timedelta(seconds=webhooks.BACKOFF_SECONDS)
    assert seeded.run_txn("due", webhooks.due, NOW) == []
    second = NOW + timedelta(seconds=5)
    failed = seeded.run_txn(
        "try",
        webhooks.record_attempt,
        delivery_id,
        now=second,
        http_status=None,
        error="ConnectionRefusedError",
    )
    assert failed.next_attempt_at == second + timedelta(seconds=2 * webhooks.BACKOFF_SECONDS)
    third = second + timedelta(seconds=10)
    done = seeded.run_txn(
        "try", webhooks.record_attempt, delivery_id, now=third, http_status=204, error=None
    )
    assert done.state == "delivered" and done.attempts == 3 and done.delivered_at == third
    log = seeded.run_txn("log", webhooks.deliveries_of, record.id)
    assert [a.http_status for a in log[0][1]] == [500, None, 204]
