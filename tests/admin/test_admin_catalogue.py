"""The catalogue screens: products (on/off, a merchant's commission, audited before/after),
tariffs, meters (block), stock levels and imports, suppliers; staff data only."""

from __future__ import annotations

from admin_support import AdminWorld

from utilities import registry
from vending import products


def test_catalogue_screens_show_and_change_through_the_services(adm: AdminWorld) -> None:
    admin = adm.as_admin()
    for path, expected in (("/admin/products", "ELEC-DEMO"), ("/admin/tariffs", "Blocks"),
                           ("/admin/meters", "04100000019"), ("/admin/stock", "Stock files"),
                           ("/admin/suppliers", "Suppliers")):  # fmt: skip
        page = admin.get(path)
        assert page.status == 200 and expected in page.text, path
    admin.open("/admin/products")
    off = admin.post("/admin/products/AIR-DEMO-10/active", {"active": "no"})
    assert off.status == 200
    assert not adm.database.run_txn("t", products.get_product, "AIR-DEMO-10").active
    admin.open("/admin/products")
    page = admin.post(
        "/admin/products/commission",
        {"merchant": "6004708000090", "product": "AIR-DEMO-10", "basis_points": "450"},
    )
    assert page.status == 200, page.text
    record = adm.audit("product.vendor_commission")[0]
    assert record["details"] == {"before": {"commission_bp": 400}, "after": {"commission_bp": 450}}
    too_much = admin.post(
        "/admin/products/commission",
        {"merchant": "6004708000090", "product": "AIR-DEMO-10", "basis_points": "9000"},
    )
    assert too_much.status == 400
    admin.open("/admin/meters")
    admin.post("/admin/meters/04100000019/block", {"blocked": "yes"})
    assert adm.database.run_txn("t", registry.get_meter, "04100000019").blocked


def test_partners_do_not_see_the_catalogue(adm: AdminWorld) -> None:
    dealer = adm.as_dealer()
    assert "/admin/products" not in dealer.get("/admin/").text
    for path in ("/admin/products", "/admin/meters", "/admin/stock", "/admin/suppliers"):
        assert dealer.get(path).status == 403, path
    dealer.open("/admin/")
    assert dealer.post("/admin/meters/04100000019/block", {"blocked": "yes"}).status == 403
    assert not adm.database.run_txn("t", registry.get_meter, "04100000019").blocked
