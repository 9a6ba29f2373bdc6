"""The catalogue: products (on/off, a merchant's own commission), tariffs, meters
(block/unblock), voucher stock levels and imported stock files, suppliers."""

from __future__ import annotations

from admin.web import AdminUI, Ctx, NavItem, Page
from utilities.tariffs import rate_to_text
from vending.errors import InvalidRequest, VendingError
from vending.money import Money
from vending.services.catalogue_admin import TariffForm


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
            ctx,
            done=f"Commission of {client} on {code}: {before} → "
            f"{ctx.field('basis_points')} basis points.",
        )

    @ui.page(
        "/tariffs",
        permission="catalogue.view",
        nav=NavItem("Tariffs", "/tariffs", "catalogue.view", "Catalogue", 20),
    )
    async def tariffs(ctx: Ctx) -> Page:
        return await tariffs_page(ctx)

    async def tariffs_page(ctx: Ctx, status: int = 200, **extra: object) -> Page:
        rows = await catalogue.tariffs(ctx.user)
        context = {"rows": rows, "done": "", "error": "", "form": {}, **extra}
        return Page("tariffs.html", context, status)

    @ui.page("/tariffs", methods=("POST",), permission="catalogue.manage")
    async def add_tariff(ctx: Ctx) -> Page:
        fields = (
            "code",
            "name",
            "blocks",
            "vat_percent",
            "service_charge",
            "debt_recovery_percent",
            "fbe_kwh",
        )
        form = {name: ctx.field(name) for name in fields}
        currency = ui.services.app.config.currency.default
        try:
            added = await catalogue.add_tariff(ctx.user, TariffForm(currency=currency, **form))
        except InvalidRequest as exc:
            return await tariffs_page(ctx, 400, error=exc.message, form=form)
        return await tariffs_page(ctx, done=f"Tariff {added.code} added.")

    async def meters_page(ctx: Ctx, **extra: str) -> Page:
        offset = ctx.arg("offset")
        sgc = ctx.arg("sgc")[:6]
        start = int(offset) if offset.isdigit() else 0
        rows = await catalogue.meters(ctx.user, sgc=sgc, offset=start)
        codes = [t.code for t in await catalogue.tariffs(ctx.user)]
        context = {"rows": rows, "sgc": sgc, "offset": start, "done": "", "tariffs": codes}
        return Page("meters.html", {**context, **extra})

    @ui.page(
        "/meters",
        permission="meters.view",
        nav=NavItem("Meters", "/meters", "meters.view", "Catalogue", 30),
    )
    async def meters(ctx: Ctx) -> Page:
        return await meters_page(ctx)

    @ui.page("/meters/<msno>/tariff", methods=("POST",), permission="meters.manage")
    async def meter_tariff(ctx: Ctx, msno: str) -> Page:
        code = ctx.field("tariff")
        await catalogue.assign_tariff(ctx.user, msno, code)
        return await meters_page(ctx, done=f"Meter {msno} is on tariff {code} now.")

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

    async def upload_page(ctx: Ctx, status: int = 200, **extra: object) -> Page:
        uploads = ui.services.extra["stock_uploads"]
        context = {
            "suppliers": await catalogue.suppliers(ctx.user),
            "preview": None,
            "error": "",
            "problems": (),
            "max_kib": uploads.max_bytes // 1024,
            **extra,
        }
        return Page("stock_upload.html", context, status)

    @ui.page("/stock/upload", permission="stock.import")
    async def upload_form(ctx: Ctx) -> Page:
        return await upload_page(ctx)

    @ui.page("/stock/upload", methods=("POST",), permission="stock.import")
    async def upload(ctx: Ctx) -> Page:
        uploads = ui.services.extra["stock_uploads"]
        given = ctx.files.get("file")
        if given is None:
            return await upload_page(ctx, 400, error="Choose a stock file to upload.")
        try:
            preview = await uploads.upload(ctx.user, ctx.field("supplier"), given.filename,
                                           given.content)  # fmt: skip
        except VendingError as exc:
            # Line problems name the line and the field, never a PIN (the engine's rule).
            problems = [str(p) for p in getattr(exc, "problems", ())][:50]
            return await upload_page(ctx, 400, error=f"Refused, nothing imported: {exc.message}",
                                     problems=problems)  # fmt: skip
        return await upload_page(ctx, preview=preview)

    @ui.page(
        "/suppliers",
        permission="catalogue.view",
        nav=NavItem("Suppliers", "/suppliers", "catalogue.view", "Catalogue", 50),
    )
    async def suppliers(ctx: Ctx) -> Page:
        return Page("suppliers.html", {"rows": await catalogue.suppliers(ctx.user)})
