"""Shared helpers of the deposit tests: settings from the shipped configuration, merchants,
a runner that completes at once, fixtures, DKIM keys supplied to dkimpy."""

from __future__ import annotations

import base64
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from deposits.settings import DepositSettings
from vending.money import Money
from vending.storage.database import Database
from vending.vendors import create_vendor

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "deposits"
SETTINGS = DepositSettings.load(ROOT / "conf" / "deposits.toml")
# The alerts' transactions are dated 2026-12-05; they arrive the next morning.
NOW = datetime(2026, 12, 6, 8, 30, tzinfo=UTC)

ZAR_MERCHANT = "6004708000007"
INR_MERCHANT = "8901234000011"
INR_OTHER = "8901234000028"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def seed_merchants(database: Database) -> None:
    def seed(txn: Any) -> None:
        create_vendor(txn, client_id=ZAR_MERCHANT, name="Spaza Demo", currency="ZAR", now=NOW)
        create_vendor(txn, client_id=INR_MERCHANT, name="Kirana Demo", currency="INR", now=NOW)
        create_vendor(txn, client_id=INR_OTHER, name="Mobile Point", currency="INR", now=NOW)

    database.run_txn("seed", seed)


def balance(database: Database, code: str) -> int:
    from vending.accounts import get_account

    return database.run_txn("balance", lambda txn: get_account(txn, code).balance.amount)


def vendor_balance(database: Database, client_id: str) -> Money:
    from vending.vendors import get_vendor

    return database.run_txn("vendor", lambda txn: get_vendor(txn, client_id).balance)


class ImmediateRunner:
    """The TxnRunner the services await: runs the transaction at once."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.calls: list[str] = []

    def run(self, desc: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(desc)

        async def done() -> Any:
            return self.database.run_txn(desc, fn, *args, **kwargs)

        return done()


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Drive a coroutine whose awaitables are all complete already."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise AssertionError("the coroutine waited for something")


class DkimKeys:
    """An RSA key per (selector, domain), served to dkimpy through ``dnsfunc``."""

    def __init__(self) -> None:
        self._records: dict[bytes, bytes] = {}
        self._keys: dict[tuple[bytes, bytes], bytes] = {}

    def add(self, domain: str, selector: str = "alerts") -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        name = f"{selector}._domainkey.{domain}.".encode()
        self._records[name] = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
        self._keys[(selector.encode(), domain.encode())] = private

    def dnsfunc(self, name: bytes, timeout: int = 5) -> bytes | None:
        return self._records.get(name if name.endswith(b".") else name + b".")

    def sign(self, raw: bytes, domain: str, selector: str = "alerts") -> bytes:
        private = self._keys[(selector.encode(), domain.encode())]
        signature = dkim.sign(
            raw,
            selector.encode(),
            domain.encode(),
            private,
            include_headers=[b"from", b"subject", b"date", b"to"],
        )
        return signature + raw


def bank_email(text: str, sender: str, subject: str = "Credit alert") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "deposits@evd.example"
    message["Subject"] = subject
    message["Date"] = "Sun, 06 Dec 2026 08:29:00 +0530"
    message["Message-ID"] = f"<{abs(hash(text))}@{sender.rpartition('@')[2]}>"
    message.set_content(text)
    return message.as_bytes().replace(b"\n", b"\r\n")
