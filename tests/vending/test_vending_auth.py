"""Authentication: client id → vendor, operator name + password → operator, the cache and
its re-validation inside each operation's transaction."""

from __future__ import annotations

import pytest
from fixed_clock import NOW
from vending_support import VENDOR, run

from vending import auth
from vending.auth import Authenticator, CredentialsChanged, revalidate
from vending.errors import (
    AuthenticationFailed,
    InvalidRequest,
    OperatorBlocked,
    UnknownVendor,
    VendorBlocked,
)
from vending.passwords import (
    PasswordPolicyError,
    check_policy,
    hash_password,
    verify_password,
)
from vending.storage.database import Database, Txn
from vending.vendors import (
    create_operator,
    create_vendor,
    get_operator,
    set_operator_blocked,
    set_operator_password,
    set_vendor_blocked,
    set_vendor_privileges,
)

PASSWORD = "s3cret-pw"


def _setup(txn: Txn) -> None:
    create_vendor(txn, client_id=VENDOR, name="Cafe", currency="ZAR", address="1 Road", now=NOW)
    create_operator(
        txn,
        name="op1",
        password_hash=hash_password(PASSWORD, log_n=10),
        vendor_client_id=VENDOR,
        now=NOW,
    )
    create_operator(
        txn,
        name="op2",
        password_hash=hash_password("other-pw", log_n=10),
        vendor_client_id=VENDOR,
        now=NOW,
    )
    create_vendor(txn, client_id="OPEN", name="Kiosk", currency="ZAR", require_auth=False, now=NOW)
    create_vendor(
        txn, client_id="STRICT", name="Strict", currency="ZAR", require_auth=True, now=NOW
    )
    create_vendor(txn, client_id="GONE", name="Gone", currency="ZAR", now=NOW)
    set_vendor_blocked(txn, "GONE", True, actor="t", now=NOW)


@pytest.fixture
def db(database: Database) -> Database:
    run(database, _setup)
    return database


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts scrypt verifications made by the authenticator."""
    calls: list[str] = []

    def counting(password: str, stored: str) -> bool:
        calls.append(password)
        return verify_password(password, stored)

    monkeypatch.setattr(auth, "verify_password", counting)
    return calls


def _operator_id(db: Database, name: str) -> int:
    return run(db, get_operator, name, VENDOR).id


def test_passwords() -> None:
    """scrypt hashes verify only the right password; the policy refuses weak ones."""
    stored = hash_password(PASSWORD, log_n=10)
    assert stored.startswith("scrypt$10$8$1$")
    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "x", stored)
    assert not verify_password(PASSWORD, "garbage")
    assert not verify_password(PASSWORD, "bcrypt$1$2$3$4$5")
    assert hash_password(PASSWORD, log_n=10) != stored  # salted
    for weak in ("short", "has space", "x" * 129):
        with pytest.raises(PasswordPolicyError):
            check_policy(weak)


def test_successful_authentication(db: Database) -> None:
    """The principal names the vendor, its account and the operator."""
    principal = Authenticator(db, clock=lambda: NOW).authenticate(VENDOR, "op1", PASSWORD)
    assert principal.client_id == VENDOR
    assert principal.vendor_name == "Cafe"
    assert principal.vendor_address == "1 Road"
    assert principal.currency == "ZAR"
    assert principal.operator_name == "op1"
    assert principal.operator_id == _operator_id(db, "op1")
    assert principal.credential_version == 1


REFUSALS: list[tuple[str, str | None, str | None, type[Exception]]] = [
    ("NOBODY", "op1", PASSWORD, UnknownVendor),
    ("GONE", "op1", PASSWORD, VendorBlocked),
    (VENDOR, "op1", "wrong-password", AuthenticationFailed),
    (VENDOR, "op9", PASSWORD, AuthenticationFailed),
    (VENDOR, "op2", PASSWORD, AuthenticationFailed),  # another operator's password
    (VENDOR, None, None, AuthenticationFailed),
    (VENDOR, "op1", None, AuthenticationFailed),
    ("STRICT", None, None, AuthenticationFailed),
]


def test_refusals(db: Database, subtests: pytest.Subtests) -> None:
    """Unknown client, blocked vendor, wrong or missing credentials are each refused."""
    authenticator = Authenticator(db, clock=lambda: NOW)
    for client_id, operator, password, error in REFUSALS:
        with subtests.test(msg=f"{client_id}/{operator}/{password}"), pytest.raises(error):
            authenticator.authenticate(client_id, operator, password)


def test_unknown_operator_costs_a_scrypt_too(db: Database, scrypt_calls: list[str]) -> None:
    """An unknown name burns a verification, so it cannot be told from a wrong password."""
    with pytest.raises(AuthenticationFailed) as excinfo:
        Authenticator(db, clock=lambda: NOW).authenticate(VENDOR, "nobody", PASSWORD)
    assert len(scrypt_calls) == 1
    assert "unknown operator or wrong password" in str(excinfo.value)


def test_blocked_operator(db: Database) -> None:
    """A blocked operator with the right password is OperatorBlocked; with a wrong one it
    learns nothing more than AuthenticationFailed."""
    run(db, set_operator_blocked, _operator_id(db, "op1"), True, actor="t", now=NOW)
    authenticator = Authenticator(db, clock=lambda: NOW)
    with pytest.raises(OperatorBlocked):
        authenticator.authenticate(VENDOR, "op1", PASSWORD)
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate(VENDOR, "op1", "wrong-password")
    run(db, set_operator_blocked, _operator_id(db, "op1"), False, actor="t", now=NOW)
    assert authenticator.authenticate(VENDOR, "op1", PASSWORD).credential_version == 3


def test_cache_hit_avoids_a_second_scrypt(db: Database, scrypt_calls: list[str]) -> None:
    """A verified password is remembered; the same credentials again cost no scrypt, a
    different password does."""
    authenticator = Authenticator(db, cache_seconds=60, clock=lambda: NOW)
    first = authenticator.authenticate(VENDOR, "op1", PASSWORD)
    assert len(scrypt_calls) == 1
    assert authenticator.authenticate(VENDOR, "op1", PASSWORD) == first
    assert len(scrypt_calls) == 1
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate(VENDOR, "op1", "wrong-password")
    assert len(scrypt_calls) == 2
    authenticator.forget(VENDOR)
    authenticator.authenticate(VENDOR, "op1", PASSWORD)
    assert len(scrypt_calls) == 3


def test_cache_can_be_disabled(db: Database, scrypt_calls: list[str]) -> None:
    """cache_seconds=0 verifies every time."""
    authenticator = Authenticator(db, cache_seconds=0, clock=lambda: NOW)
    for _ in range(2):
        authenticator.authenticate(VENDOR, "op1", PASSWORD)
    assert len(scrypt_calls) == 2


def test_revalidate_catches_changes_after_caching(db: Database) -> None:
    """A cached principal is re-checked in the operation's transaction: a blocked
    operator or vendor, or a changed password, is caught on the very next request."""
    authenticator = Authenticator(db, cache_seconds=60, clock=lambda: NOW)
    principal = authenticator.authenticate(VENDOR, "op1", PASSWORD)
    run(db, revalidate, principal)  # unchanged: passes

    operator_id = _operator_id(db, "op1")
    run(
        db,
        set_operator_password,
        operator_id,
        hash_password("new-pass-1", log_n=10),
        actor="t",
        now=NOW,
    )
    cached = authenticator.authenticate(VENDOR, "op1", PASSWORD)  # still cached
    assert cached == principal
    with pytest.raises(CredentialsChanged):
        run(db, revalidate, cached)
    fresh = Authenticator(db, clock=lambda: NOW).authenticate(VENDOR, "op1", "new-pass-1")
    run(db, revalidate, fresh)
    with pytest.raises(AuthenticationFailed):
        Authenticator(db, clock=lambda: NOW).authenticate(VENDOR, "op1", PASSWORD)

    run(db, set_operator_blocked, operator_id, True, actor="t", now=NOW)
    with pytest.raises(OperatorBlocked):
        run(db, revalidate, fresh)
    run(db, set_operator_blocked, operator_id, False, actor="t", now=NOW)

    principal2 = authenticator.authenticate(VENDOR, "op2", "other-pw")
    run(db, set_vendor_blocked, VENDOR, True, actor="t", now=NOW)
    with pytest.raises(VendorBlocked):
        run(db, revalidate, principal2)


def test_vendor_without_required_auth(db: Database) -> None:
    """A vendor with require_auth false may omit credentials; given ones are still checked.
    The per-vendor setting overrides the server-wide one in both directions."""
    principal = Authenticator(db, require_auth=True, clock=lambda: NOW).authenticate(
        "OPEN", None, None
    )
    assert principal.client_id == "OPEN"
    assert principal.operator_id is None
    assert principal.operator_name is None
    run(db, revalidate, principal)
    with pytest.raises(AuthenticationFailed):
        Authenticator(db, clock=lambda: NOW).authenticate("OPEN", "op1", PASSWORD)
    # Server-wide off: vendors without their own setting need no credentials ...
    relaxed = Authenticator(db, require_auth=False, clock=lambda: NOW)
    assert relaxed.authenticate(VENDOR, None, None).operator_id is None
    # ... except a vendor that insists.
    with pytest.raises(AuthenticationFailed):
        relaxed.authenticate("STRICT", None, None)


def test_privileges_travel_with_the_principal_and_are_revalidated(db: Database) -> None:
    """Privileges are loaded with the vendor; a grant or revoke after caching is caught by
    revalidate, so the next request is checked against the new set."""
    authenticator = Authenticator(db, cache_seconds=60, clock=lambda: NOW)
    principal = authenticator.authenticate(VENDOR, "op1", PASSWORD)
    assert principal.privileges == frozenset()
    run(db, set_vendor_privileges, VENDOR, grant={"engineering"}, actor="t", now=NOW)
    with pytest.raises(CredentialsChanged):
        run(db, revalidate, principal)
    authenticator.forget(VENDOR)
    granted = authenticator.authenticate(VENDOR, "op1", PASSWORD)
    assert granted.privileges == {"engineering"}
    run(db, revalidate, granted)
    with pytest.raises(InvalidRequest, match="unknown privilege"):
        run(db, set_vendor_privileges, VENDOR, grant={"print_money"}, actor="t", now=NOW)


def test_new_password_changes_it_once_and_a_retry_is_recognised(db: Database) -> None:
    """authCred/newPassword: verified old password -> new one stored (hashed, version bumped);
    the same request again (old + new password) is accepted; the old one is then refused."""
    authenticator = Authenticator(db, cache_seconds=60, password_log_n=10, clock=lambda: NOW)
    before = authenticator.authenticate(VENDOR, "op1", PASSWORD)
    changed = authenticator.authenticate(VENDOR, "op1", PASSWORD, "brand-new-1")
    assert changed.credential_version == before.credential_version + 1
    again = authenticator.authenticate(VENDOR, "op1", PASSWORD, "brand-new-1")
    assert again.credential_version == changed.credential_version
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate(VENDOR, "op1", PASSWORD)
    assert authenticator.authenticate(VENDOR, "op1", "brand-new-1").operator_name == "op1"
    with pytest.raises(AuthenticationFailed, match="refused"):
        authenticator.authenticate(VENDOR, "op1", "brand-new-1", "has space")
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate(VENDOR, "op1", "wrong-pass", "another-1")
