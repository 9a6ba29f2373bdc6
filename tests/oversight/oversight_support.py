"""A small platform for the oversight tests: the vending test world (vouchers, electricity,
bills; merchant V1), a second merchant V2, a distribution network placing them under two
dealers, and sales on several channels, stamped at chosen instants."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vending"))

from fixed_clock import NOW
from vending_support import (
    ZAR,
    add_vendor,
    build_world,
    order_for,
    zar,
)

from distribution import nodes
from vending.keyring import Keyring
from vending.requests import Claim, claim_request, store_response
from vending.sales import SaleResult, hold_sale, record_sale
from vending.services.oversight_access import ALL_PERMISSIONS, Staff
from vending.storage.database import Database, Txn

V1 = "V1"
V2 = "V2"

ADMIN = Staff("ann", ALL_PERMISSIONS)
SECOND = Staff("bob", ALL_PERMISSIONS)
# A dealer sees its own merchant (V1) only; the permissions a partner role would have.
DEALER = Staff(
    "dl1-user",
    frozenset(
        {
            "transactions.view",
            "dashboard.view",
            "monitoring.view",
            "reports.view",
            "fundrequests.decide",
        }
    ),
    "DL1",
)
READ_ONLY = Staff("aud", frozenset({"transactions.view", "dashboard.view"}))


def platform(txn: Txn) -> None:
    """The vending world, V2, and OP → D1 → {DL1 → R1 (V1), DL2 → R2 (V2)}."""
    build_world(txn)
    add_vendor(txn, V2, deposit="1000")
    nodes.create_root(txn, code="OP", name="Operator", currency=ZAR, actor="t", now=NOW)
    for parent, code in (("OP", "D1"), ("D1", "DL1"), ("D1", "DL2")):
        nodes.create_node(
            txn, actor_node="OP", parent=parent, code=code, name=code, actor="t", now=NOW
        )
    for dealer, code, vendor in (("DL1", "R1", V1), ("DL2", "R2", V2)):
        nodes.create_node(
            txn,
            actor_node="OP",
            parent=dealer,
            code=code,
            name=code,
            vendor_client_id=vendor,
            actor="t",
            now=NOW,
        )


def sell(
    txn: Txn,
    keyring: Keyring,
    product: str,
    amount: str | None = None,
    *,
    request_id: str,
    client_id: str = V1,
    channel: str = "xmlvend",
    target: str = "01234567890",
    at: datetime = NOW,
    hold: bool = False,
    answer: bytes | None = None,
) -> SaleResult:
    """One sale by ``client_id`` on ``channel`` at ``at``, its ``answer`` stored."""
    claimed = claim_request(
        txn,
        keyring,
        channel=channel,
        client_id=client_id,
        request_id=request_id,
        operation="creditVend",
        fingerprint=b"\x01" * 32,
        now=at,
    )
    assert isinstance(claimed, Claim)
    order = order_for(
        txn, product, None if amount is None else zar(amount), client_id=client_id, target=target
    )
    result = (hold_sale if hold else record_sale)(txn, claimed, order, created_by="t", now=at)
    if answer is not None:
        store_response(txn, keyring, claimed, answer, http_status=200, now=at)
    return result


def seed(database: Database, keyring: Keyring) -> dict[str, int]:
    """The platform and six sales; their ids by name."""
    database.run_txn("platform", platform)

    def sales(txn: Txn) -> dict[str, int]:
        made = {
            "voucher": sell(
                txn,
                keyring,
                "AIR10",
                request_id="req-voucher",
                channel="json",
                target="0831234567",
                at=NOW - timedelta(seconds=30),
                answer=b'{"id": 1, "pin": "123456789012345", "serial": "S-1"}',
            ),
            "elec": sell(
                txn,
                keyring,
                "ELEC",
                "50.00",
                request_id="req-elec",
                target="04040404040",
                at=NOW - timedelta(seconds=20),
                answer=b"<ns2:stsCipher>12345678901234567890</ns2:stsCipher>",
            ),
            "bill": sell(
                txn,
                keyring,
                "BILL",
                "20.00",
                request_id="req-bill",
                channel="sms",
                at=NOW - timedelta(minutes=10),
            ),
            "pending": sell(
                txn,
                keyring,
                "BILL",
                "30.00",
                request_id="req-pending",
                hold=True,
                at=NOW - timedelta(minutes=30),
            ),
            "v2": sell(
                txn,
                keyring,
                "AIR10",
                request_id="req-v2",
                client_id=V2,
                target="0839999999",
                at=NOW - timedelta(seconds=5),
            ),
            "yesterday": sell(
                txn,
                keyring,
                "AIR10",
                request_id="req-old",
                client_id=V2,
                at=NOW - timedelta(days=1),
            ),
        }
        return {name: result.sale.id for name, result in made.items()}

    return database.run_txn("sales", sales)


class ImmediateRunner:
    """The TxnRunner the services await: runs the transaction at once."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def run(self, desc: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
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


def collect(chunks: AsyncIterator[bytes]) -> bytes:
    """Every chunk of an async iterator whose awaitables are complete already."""
    out = b""
    while True:
        try:
            out += run(chunks.__anext__())
        except StopAsyncIteration:
            return out
