"""The catalogue: products (on/off, a merchant's own commission), tariffs, meters
(block/unblock), voucher stock levels and imported stock files, suppliers."""

from __future__ import annotations

from admin.web import AdminUI, Ctx, NavItem, Page
from utilities.tariffs import rate_to_text
from vending.errors import InvalidRequest
from vending.money import Money


def _rate(rate: int, currency: str) -> str:
    return f"{rate_to_text(rate, currency)} {currency}/kWh"


def _minor(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def register(ui: AdminUI) -> None:
    catalogue = ui.services.catalogue
    ui.env.filters["rate"] = _rate
    ui.env.filters["minor"] = _minor

    async def products_page(ctx: Ctx, status: int = 200, **extra: str) -> Page:
        rows = await catalogue.products(ctx.user)
        return Page("products.html", {"rows": rows, "done": "", "error": "", **extra}, status)

    @ui.page(
        "/products",
        permission="catalogue.view",
        nav=NavItem("Products and commissions", "/products", "catalogue.view", "Catalogue", 10),
    )
    async def products(ctx: Ctx) -> Page:
        return await products_page(ctx)

    @ui.page("/products/<code>/active", methods=("POST",), permission="catalogue.manage")
    async def active(ctx: Ctx, code: str) -> Page:
        on = ctx.field("active") == "yes"
        await catalogue.set_product_active(ctx.user, code, on)
        return await products_page(ctx, done=f"{code} is {'on sale' if on else 'off sale'} now.")

    @ui.page("/products/commission", methods=("POST",), permission="catalogue.manage")
    async def commission(ctx: Ctx) -> Page:
        code, client = ctx.field("product"), ctx.field("merchant")
        try:
            before = await catalogue.set_vendor_commission(
                ctx.user, client, code, ctx.field("basis_points")
            )
        except InvalidRequest as exc:
            return await products_page(ctx, 400, error=exc.message)
        return await products_page(
            ctx, done=f"Commission of {client} on {code}: {before} → "
            f"{ctx.field('basis_points')} basis points."
        )  # fmt: skip

    @ui.page(
        "/tariffs",
        permission="catalogue.view",
        nav=NavItem("Tariffs", "/tariffs", "catalogue.view", "Catalogue", 20),
    )
    async def tariffs(ctx: Ctx) -> Page:
        return Page("tariffs.html", {"rows": await catalogue.tariffs(ctx.user)})

    async def meters_page(ctx: Ctx, **extra: str) -> Page:
        offset = ctx.arg("offset")
        sgc = ctx.arg("sgc")[:6]
        start = int(offset) if offset.isdigit() else 0
        rows = await catalogue.meters(ctx.user, sgc=sgc, offset=start)
        return Page("meters.html", {"rows": rows, "sgc": sgc, "offset": start, "done": "",
                                    **extra})  # fmt: skip

    @ui.page(
        "/meters",
        permission="meters.view",
        nav=NavItem("Meters", "/meters", "meters.view", "Catalogue", 30),
    )
    async def meters(ctx: Ctx) -> Page:
        return await meters_page(ctx)

    @ui.page("/meters/<msno>/block", methods=("POST",), permission="meters.manage")
    async def block_meter(ctx: Ctx, msno: str) -> Page:
        blocked = ctx.field("blocked") == "yes"
        await catalogue.set_meter_blocked(ctx.user, msno, blocked)
        return await meters_page(ctx, done=f"Meter {msno} {'blocked' if blocked else 'unblocked'}.")

    @ui.page(
        "/stock",
        permission="stock.view",
        nav=NavItem("Voucher stock", "/stock", "stock.view", "Catalogue", 40),
    )
    async def stock(ctx: Ctx) -> Page:
        return Page("stock.html", {"view": await catalogue.stock(ctx.user)})

    @ui.page(
        "/suppliers",
        permission="catalogue.view",
        nav=NavItem("Suppliers", "/suppliers", "catalogue.view", "Catalogue", 50),
    )
    async def suppliers(ctx: Ctx) -> Page:
        return Page("suppliers.html", {"rows": await catalogue.suppliers(ctx.user)})
