"""What the admin suite shows and changes of the catalogue (issue 15 §3): products (on/off,
a merchant's own commission), tariffs, meters (block/unblock), voucher stock levels and
the stock files imported, suppliers. Staff data: a partner user is refused (403 + audit)
even if someone granted it the permission by hand. Every change is audited with
before/after, in the change's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from staff.roles import Forbidden
from staff.users import StaffUser
from utilities import registry, tariffs
from vending import audit, products, vendors
from vending.errors import InvalidRequest
from vending.services.context import Clock, TxnRunner
from vending.services.staff import StaffAccess
from vending.storage.database import Txn
from vending.vouchers import reports
from vending.vouchers import suppliers as voucher_suppliers


@dataclass(frozen=True)
class StockView:
    levels: list[reports.StockLevel]
    imports: list[reports.StockImport]
    expiring_days: int


def _staff_only(actor: StaffUser) -> None:
    if actor.is_partner:
        raise Forbidden("the catalogue is staff data")


def _products(txn: Txn, actor: StaffUser) -> list[products.Product]:
    _staff_only(actor)
    return products.list_products(txn)


def _set_active(txn: Txn, actor: StaffUser, code: str, active: bool, now: Any) -> None:
    _staff_only(actor)
    products.set_active(txn, code, active, actor=actor.actor, now=now)


def _commission(txn: Txn, actor: StaffUser, client_id: str, code: str, bp: int, now: Any) -> int:
    _staff_only(actor)
    vendor = vendors.get_vendor(txn, client_id)
    product = products.get_product(txn, code)
    before = products.vendor_commission_bp(txn, vendor.id, product)
    products.set_vendor_commission(txn, vendor.id, product.id, bp)
    audit.record(
        txn,
        actor=actor.actor,
        action="product.vendor_commission",
        subject=f"{client_id}/{code}",
        details={"before": {"commission_bp": before}, "after": {"commission_bp": bp}},
        now=now,
    )
    return before


def _tariffs(txn: Txn, actor: StaffUser) -> list[tariffs.Tariff]:
    _staff_only(actor)
    return tariffs.list_tariffs(txn)


def _meters(txn: Txn, actor: StaffUser, sgc: str | None, offset: int) -> list[Any]:
    _staff_only(actor)
    return registry.list_meters(txn, sgc=sgc, limit=100, offset=offset)


def _meter_blocked(txn: Txn, actor: StaffUser, msno: str, blocked: bool, now: Any) -> Any:
    _staff_only(actor)
    return registry.set_blocked(txn, msno, blocked, actor=actor.actor, now=now)


def _stock(txn: Txn, actor: StaffUser, today: Any, days: int) -> StockView:
    _staff_only(actor)
    return StockView(
        reports.stock_levels(txn, today=today, expiring_days=days),
        reports.list_imports(txn, limit=50),
        days,
    )


def _suppliers(txn: Txn, actor: StaffUser) -> list[voucher_suppliers.Supplier]:
    _staff_only(actor)
    return voucher_suppliers.list_suppliers(txn)


class CatalogueAdmin:
    def __init__(
        self, runner: TxnRunner, clock: Clock, access: StaffAccess, *, expiring_days: int = 30
    ) -> None:
        self._runner = runner
        self._clock = clock
        self._access = access
        self._expiring_days = expiring_days

    async def products(self, actor: StaffUser) -> list[products.Product]:
        return await self._access.guarded(
            actor, "catalogue.view", "products", "admin_products", _products, actor
        )

    async def set_product_active(self, actor: StaffUser, code: str, active: bool) -> None:
        await self._access.guarded(
            actor, "catalogue.manage", f"product:{code}", "admin_product_active", _set_active,
            actor, code, active, self._clock(),
        )  # fmt: skip

    async def set_vendor_commission(
        self, actor: StaffUser, client_id: str, code: str, basis_points: str
    ) -> int:
        """A merchant's own commission on a product (basis points); the previous one."""
        text = basis_points.strip()
        if not text.isdigit() or int(text) > 10_000:
            raise InvalidRequest("the commission is a whole number of basis points, 0-10000")
        return await self._access.guarded(
            actor, "catalogue.manage", f"product:{code}", "admin_vendor_commission", _commission,
            actor, client_id.strip(), code, int(text), self._clock(),
        )  # fmt: skip

    async def tariffs(self, actor: StaffUser) -> list[tariffs.Tariff]:
        return await self._access.guarded(
            actor, "catalogue.view", "tariffs", "admin_tariffs", _tariffs, actor
        )

    async def meters(self, actor: StaffUser, *, sgc: str = "", offset: int = 0) -> list[Any]:
        return await self._access.guarded(
            actor, "meters.view", "meters", "admin_meters", _meters, actor, sgc or None,
            max(0, offset),
        )  # fmt: skip

    async def set_meter_blocked(self, actor: StaffUser, msno: str, blocked: bool) -> Any:
        return await self._access.guarded(
            actor, "meters.manage", f"meter:{msno}", "admin_meter_block", _meter_blocked,
            actor, msno, blocked, self._clock(),
        )  # fmt: skip

    async def stock(self, actor: StaffUser) -> StockView:
        today = self._clock().date()
        return await self._access.guarded(
            actor, "stock.view", "voucher stock", "admin_stock", _stock, actor, today,
            self._expiring_days,
        )  # fmt: skip

    async def suppliers(self, actor: StaffUser) -> list[voucher_suppliers.Supplier]:
        return await self._access.guarded(
            actor, "catalogue.view", "suppliers", "admin_suppliers", _suppliers, actor
        )


__all__ = ["CatalogueAdmin", "StockView"]
