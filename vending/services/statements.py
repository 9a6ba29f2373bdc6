"""The vendor's statement: its balance, available credit and last ledger lines.

Ledger lines name the sale (receipt number, product) and never carry a PIN or token; a
reversed sale shows as its sale line and the refund line.
"""

from __future__ import annotations

from dataclasses import dataclass

from vending import ledger
from vending.auth import Principal, revalidate
from vending.services.context import TxnRunner
from vending.storage.database import Txn
from vending.vendors import Vendor, get_vendor_by_id


@dataclass(frozen=True)
class StatementRequest:
    principal: Principal
    # The last ``limit`` ledger lines.
    limit: int = 10


@dataclass(frozen=True)
class Statement:
    vendor: Vendor
    # Oldest first.
    lines: list[ledger.StatementLine]


class Statements:
    def __init__(self, runner: TxnRunner) -> None:
        self._runner = runner

    async def vendor_statement(self, request: StatementRequest) -> Statement:
        return await self._runner.run("vendor_statement", self._statement, request)

    @staticmethod
    def _statement(txn: Txn, request: StatementRequest) -> Statement:
        revalidate(txn, request.principal)
        vendor = get_vendor_by_id(txn, request.principal.vendor_id)
        lines = ledger.statement(txn, vendor.account_id, limit=request.limit)
        return Statement(vendor, list(reversed(lines)))


__all__ = ["Statement", "StatementRequest", "Statements"]
