"""Demo data for ``make run``: the operator's accounts, a utility and voucher suppliers, two
vendors with credit and operators, and the products they sell. Other packages add their part
(test meters, voucher stock) through the ``evd.demo`` entry-point group.

Everything here is idempotent: running ``evd demo`` twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from vending.accounts import create_account, ensure_house_accounts
from vending.money import Money
from vending.passwords import hash_password
from vending.products import create_product
from vending.storage.database import Txn
from vending.storage.schema import accounts, products, vendors
from vending.vendors import (
    adjust_vendor_balance,
    create_operator,
    create_vendor,
    set_vendor_privileges,
)

CURRENCY = "ZAR"
UTILITY_ACCOUNT = "utility:DEMO"


@dataclass(frozen=True)
class DemoVendor:
    client_id: str
    name: str
    address: str
    deposit: str
    credit_limit: str
    operator: str
    password: str
    # Demo vendors may try every operation (free issue, engineering tokens) so the
    # conformance kit can exercise them; real vendors get none unless granted.
    privileges: tuple[str, ...] = ("free_issue", "meter_credit_transfer", "engineering")


# EAN-13 client ids (valid check digits), as XMLVend clients are identified in the field.
DEMO_VENDORS = (
    DemoVendor("6004708000090", "Corner Cafe", "12 Long Street, Demo Town", "5000.00", "0.00",
               "cashier1", "demo1234"),
    DemoVendor("6004708000106", "Demo EVD Platform", "3 Market Square, Demo Town", "20000.00",
               "5000.00", "platform", "demo5678"),
    # Little credit, so one sale can exceed it (VendorCreditEx in the conformance kit).
    DemoVendor("6004708000113", "Low Credit Kiosk", "9 Station Road, Demo Town", "20.00",
               "0.00", "lowcred", "lowcred1", privileges=()),
)  # fmt: skip

DEMO_SUPPLIERS = (
    ("supplier:VOUCHERS", "Demo Airtime Distributor"),
    ("supplier:BILLS", "Demo Bill Payment Aggregator"),
)

# code, kind, name, supplier account, face value or (min, max), supplier discount, commission,
# reversal policy, attributes
DEMO_PRODUCTS: tuple[tuple, ...] = (
    ("ELEC-DEMO", "electricity", "Prepaid electricity (Demo Municipality)", UTILITY_ACCOUNT,
     ("5.00", "5000.00"), 300, 200, "none", {"utility": "DEMO", "resource": "Electricity"}),
    ("AIR-DEMO-10", "voucher", "Demo Mobile airtime R10", "supplier:VOUCHERS", "10.00", 600,
     400, "refund", {"network": "DemoMobile", "pin_length": 16}),
    ("AIR-DEMO-30", "voucher", "Demo Mobile airtime R30", "supplier:VOUCHERS", "30.00", 600,
     400, "refund", {"network": "DemoMobile", "pin_length": 16}),
    ("DATA-DEMO-1GB", "voucher", "Demo Mobile 1 GB data", "supplier:VOUCHERS", "99.00", 500,
     300, "refund", {"network": "DemoMobile", "pin_length": 12}),
    ("BILL-DEMO", "bill_payment", "Demo Municipality account payment", "supplier:BILLS",
     ("10.00", "20000.00"), 100, 50, "refund_unconfirmed", {"utility": "DEMO"}),
)  # fmt: skip


def seed_core(txn: Txn, *, now: datetime, password_log_n: int = 14) -> list[str]:
    """Create the core demo data, stamped ``now``; returns what was created, one line per
    item."""
    created: list[str] = []
    ensure_house_accounts(txn, CURRENCY, now=now)
    exists = {row.code for row in txn.execute(select(accounts.c.code))}
    if UTILITY_ACCOUNT not in exists:
        create_account(
            txn,
            code=UTILITY_ACCOUNT,
            kind="utility",
            name="Demo Municipality",
            currency=CURRENCY,
            now=now,
        )
        created.append(f"utility account {UTILITY_ACCOUNT}")
    for code, name in DEMO_SUPPLIERS:
        if code not in exists:
            create_account(txn, code=code, kind="supplier", name=name, currency=CURRENCY, now=now)
            created.append(f"supplier account {code}")

    known_products = {row.code for row in txn.execute(select(products.c.code))}
    for code, kind, name, supplier, price, discount, commission, policy, attrs in DEMO_PRODUCTS:
        if code in known_products:
            continue
        pricing = (
            {"face_value": Money.parse(price, CURRENCY)}
            if isinstance(price, str)
            else {
                "min_amount": Money.parse(price[0], CURRENCY),
                "max_amount": Money.parse(price[1], CURRENCY),
            }
        )
        create_product(
            txn,
            code=code,
            kind=kind,
            name=name,
            currency=CURRENCY,
            supplier_account_code=supplier,
            supplier_discount_bp=discount,
            merchant_commission_bp=commission,
            reversal_policy=policy,
            attributes=attrs,
            actor="demo",
            now=now,
            **pricing,
        )
        created.append(f"product {code}")

    known_vendors = {row.client_id for row in txn.execute(select(vendors.c.client_id))}
    for demo in DEMO_VENDORS:
        if demo.client_id in known_vendors:
            continue
        create_vendor(
            txn,
            client_id=demo.client_id,
            name=demo.name,
            address=demo.address,
            currency=CURRENCY,
            credit_limit=Money.parse(demo.credit_limit, CURRENCY),
            actor="demo",
            now=now,
        )
        adjust_vendor_balance(
            txn,
            demo.client_id,
            Money.parse(demo.deposit, CURRENCY),
            reason="Demo opening deposit",
            actor="demo",
            now=now,
        )
        if demo.privileges:
            set_vendor_privileges(
                txn, demo.client_id, grant=set(demo.privileges), actor="demo", now=now
            )
        create_operator(
            txn,
            name=demo.operator,
            password_hash=hash_password(demo.password, log_n=password_log_n),
            vendor_client_id=demo.client_id,
            actor="demo",
            now=now,
        )
        created.append(
            f"vendor {demo.client_id} ({demo.name}) with R{demo.deposit} credit, "
            f"operator {demo.operator}/{demo.password}"
        )
    return created
