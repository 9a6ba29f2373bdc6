"""Sales by id and by page, as the caller may see them: a vendor's key sees the vendor's
sales of every channel, a consumer its own. A sale made on the JSON channel is shown as
the answer that was stored for it (so its tokens or PIN read the same as on the day);
others as their summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vending.errors import UnknownSale
from vending.history import Page, SaleScope, request_id_of, scoped_sale, scoped_sales
from vending.keyring import Keyring
from vending.requests import RequestRecord, find_request, find_request_by_pk
from vending.sales import Sale
from vending.services.api_access import Caller, Runner
from vending.storage.database import Txn


def scope_of(caller: Caller) -> SaleScope:
    if caller.is_consumer:
        return SaleScope(client_id=caller.scope)
    return SaleScope(vendor_id=caller.principal.vendor_id)


@dataclass(frozen=True)
class SaleView:
    sale: Sale
    # The request that made it (channel, stored answer) and its id in the caller's keys.
    request: RequestRecord | None
    request_id: str | None


def _sale(txn: Txn, keyring: Keyring, scope: SaleScope, sale_id: int) -> SaleView:
    sale = scoped_sale(txn, scope, sale_id)
    if sale is None:
        raise UnknownSale(f"no sale {sale_id}")
    return SaleView(
        sale,
        find_request_by_pk(txn, keyring, sale.request_pk),
        request_id_of(txn, sale.request_pk),
    )


@dataclass(frozen=True)
class KeyedRequest:
    """A request looked up by its key: its record and its sale, if one was made yet."""

    request: RequestRecord | None
    sale: Sale | None


def _by_key(txn: Txn, keyring: Keyring, client_id: str, request_id: str) -> KeyedRequest:
    from vending.sales import sale_for_request

    record = find_request(txn, keyring, client_id=client_id, request_id=request_id)
    if record is None:
        return KeyedRequest(None, None)
    return KeyedRequest(record, sale_for_request(txn, client_id, request_id))


class SaleQueries:
    def __init__(self, runner: Runner, keyring: Keyring) -> None:
        self._runner = runner
        self._keyring = keyring

    async def sale(self, caller: Caller, sale_id: int) -> SaleView:
        return await self._runner.run("api_sale", _sale, self._keyring, scope_of(caller), sale_id)

    async def sales(
        self,
        caller: Caller,
        *,
        start: datetime | None,
        end: datetime | None,
        before: int | None,
        limit: int,
    ) -> Page[Sale]:
        return await self._runner.run(
            "api_sales",
            scoped_sales,
            scope_of(caller),
            start=start,
            end=end,
            before=before,
            limit=limit,
        )

    async def by_request_key(self, caller: Caller, request_id: str) -> KeyedRequest:
        """The caller's request under ``request_id`` (its own key space only)."""
        return await self._runner.run(
            "api_request_by_key", _by_key, self._keyring, caller.scope, request_id
        )
