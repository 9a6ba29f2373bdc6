"""The caller's account and statement, for a vendor's key or a consumer (one principal
shape: the paying account is ``principal.account_id``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vending.accounts import get_account
from vending.history import Page, account_entries
from vending.ledger import StatementLine
from vending.money import Money
from vending.services.api_access import Caller, Runner
from vending.storage.database import Txn


@dataclass(frozen=True)
class AccountView:
    balance: Money
    # What can still be spent: balance + credit limit (a wallet's limit is 0).
    available: Money


def _account(txn: Txn, account_id: int) -> AccountView:
    account = get_account(txn, account_id)
    available = account.available
    return AccountView(account.balance, account.balance if available is None else available)


class AccountViews:
    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def account(self, caller: Caller) -> AccountView:
        return await self._runner.run("api_account", _account, caller.principal.account_id)

    async def statement(
        self,
        caller: Caller,
        *,
        start: datetime | None,
        end: datetime | None,
        before: int | None,
        limit: int,
    ) -> Page[StatementLine]:
        return await self._runner.run(
            "api_statement",
            account_entries,
            caller.principal.account_id,
            start=start,
            end=end,
            before=before,
            limit=limit,
        )
