"""Demo data of the catalogue (``evd demo``): recharge operators (mobile, DTH, data card)
with their products, numbering series in a few circles, one ported number, bill payment
products and billers of several categories, and the two simulated providers' mappings.
Providers themselves are registered by ``evd provider add`` against running simulators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from catalogue import bbps, insurance, recharge, travel
from catalogue.bbps import CustomerParam
from vending.accounts import create_account, ensure_house_accounts
from vending.money import Money
from vending.products import create_product
from vending.storage.database import Txn

INR = "INR"
AGGREGATOR = "supplier:RCH-AGG"
BBPS_OU = "supplier:BBPS-OU"
DMT_BANK = "supplier:DMT-BANK"
INSURER = "supplier:INSURER"
TRAVEL_PARTNER = "supplier:TRAVEL-PARTNER"

# Operator code, name, service, product code.
OPERATORS = (
    ("AT", "Airtel", "mobile", "RCH-AIRTEL"),
    ("JO", "Jio", "mobile", "RCH-JIO"),
    ("VI", "Vodafone Idea", "mobile", "RCH-VI"),
    ("BS", "BSNL", "mobile", "RCH-BSNL"),
    ("TSKY", "Tata Play", "dth", "DTH-TATAPLAY"),
    ("DISH", "Dish TV", "dth", "DTH-DISHTV"),
    ("JODC", "JioFi", "datacard", "DC-JIOFI"),
)
# Numbering series: prefix, operator, circle.
SERIES = (
    ("9810", "AT", "DL"),
    ("9820", "VI", "MU"),
    ("7000", "JO", "MP"),
    ("6300", "JO", "AP"),
    ("9447", "BS", "KL"),
    ("9840", "AT", "TN"),
    ("8800", "AT", "DL"),
)
# Bill payment products (one per category): code, category.
BILL_PRODUCTS = (
    ("BBPS-ELECTRICITY", "Electricity"),
    ("BBPS-POSTPAID", "Mobile Postpaid"),
    ("BBPS-GAS", "Gas"),
    ("BBPS-INSURANCE", "Insurance"),
)
BILLERS = (
    (
        "BESCOM000KAR01",
        "BESCOM Bangalore",
        "Electricity",
        "BBPS-ELECTRICITY",
        "MANDATORY",
        "EXACT",
        (CustomerParam("Customer ID", r"\d{10}"),),
    ),
    (
        "MSEDC0000MAH01",
        "MSEDCL Maharashtra",
        "Electricity",
        "BBPS-ELECTRICITY",
        "MANDATORY",
        "PARTIAL",
        (CustomerParam("Consumer No", r"\d{12}"), CustomerParam("BU", r"\d{4}", True)),
    ),
    (
        "VODA00000MUM03",
        "Vi Postpaid Mumbai",
        "Mobile Postpaid",
        "BBPS-POSTPAID",
        "OPTIONAL",
        "ANY",
        (CustomerParam("Mobile Number", r"[6-9]\d{9}"),),
    ),
    (
        "IGL000000DEL01",
        "Indraprastha Gas",
        "Gas",
        "BBPS-GAS",
        "NOT_SUPPORTED",
        "ANY",
        (CustomerParam("BP Number", r"\d{10}"),),
    ),
    (
        "LICI00000IND01",
        "LIC of India",
        "Insurance",
        "BBPS-INSURANCE",
        "MANDATORY",
        "OVER",
        (
            CustomerParam("Policy Number", r"\d{9}"),
            CustomerParam("Email", r"[^@\s]+@[^@\s]+", True),
        ),
    ),
)


def seed_catalogue(txn: Txn, *, now: datetime, actor: str = "demo") -> None:
    ensure_house_accounts(txn, INR, now=now)
    create_account(
        txn, now=now, code=AGGREGATOR, kind="supplier", name="Recharge aggregator", currency=INR
    )
    create_account(
        txn, now=now, code=BBPS_OU, kind="supplier", name="BBPS operating unit", currency=INR
    )
    for _code, name, service, product in OPERATORS:
        kind = {"mobile": "pinless", "dth": "dth", "datacard": "data"}[service]
        create_product(
            txn,
            now=now,
            code=product,
            kind=kind,
            name=f"{name} recharge",
            currency=INR,
            supplier_account_code=AGGREGATOR,
            min_amount=Money(1000, INR),
            max_amount=Money(1000000, INR),
            supplier_discount_bp=300,
            merchant_commission_bp=200,
            reversal_policy="none",
        )
    for code, name, service, product in OPERATORS:
        recharge.add_operator(
            txn, code=code, name=name, service=service, product_code=product, actor=actor, now=now
        )
    for prefix, operator, circle in SERIES:
        recharge.add_series(txn, prefix, operator, circle)
    # 9810000099 was ported from Airtel Delhi to Jio.
    recharge.record_port(txn, "9810000099", "JO", "DL", now)
    for code, category in BILL_PRODUCTS:
        create_product(
            txn,
            now=now,
            code=code,
            kind="bill_payment",
            name=f"{category} bill payment",
            currency=INR,
            supplier_account_code=BBPS_OU,
            min_amount=Money(100, INR),
            max_amount=Money(20000000, INR),
            supplier_discount_bp=50,
            merchant_commission_bp=25,
            fee=Money(500, INR),
            reversal_policy="none",
        )
    # Money transfer: priced by the service (amount + 1 % fee, at least Rs 10).
    create_account(
        txn, now=now, code=DMT_BANK, kind="supplier", name="Remittance bank", currency=INR
    )
    create_product(
        txn,
        now=now,
        code="DMT-IMPS",
        kind="money_transfer",
        name="IMPS money transfer",
        currency=INR,
        supplier_account_code=DMT_BANK,
        min_amount=Money(10_000, INR),
        max_amount=Money(500_000, INR),
        reversal_policy="none",
    )
    # AEPS: the sponsor bank's settlement account (it owes us the cash merchants handed out).
    create_account(
        txn,
        now=now,
        code="supplier:AEPS-SPONSOR",
        kind="supplier",
        name="AEPS sponsor bank",
        currency=INR,
    )
    # Insurance policies issued through an insurer (premiums of existing policies are the
    # Insurance biller category above) and bus tickets through a travel partner.
    create_account(txn, now=now, code=INSURER, kind="supplier", name="Insurer", currency=INR)
    for code, (name, _shortest, _longest) in insurance.PLANS.items():
        create_product(
            txn, now=now, code=code, kind="insurance", name=name, currency=INR,
            supplier_account_code=INSURER, min_amount=Money(100, INR),
            max_amount=Money(10_000_000, INR), supplier_discount_bp=1000,
            merchant_commission_bp=500, reversal_policy="none",
        )  # fmt: skip
    create_account(
        txn, now=now, code=TRAVEL_PARTNER, kind="supplier", name="Bus travel partner",
        currency=INR,
    )  # fmt: skip
    create_product(
        txn, now=now, code=travel.PRODUCT, kind="travel", name="Bus ticket", currency=INR,
        supplier_account_code=TRAVEL_PARTNER, min_amount=Money(100, INR),
        max_amount=Money(10_000_000, INR), supplier_discount_bp=500,
        merchant_commission_bp=300, reversal_policy="none",
    )  # fmt: skip
    for biller_id, name, category, product, fetch, rule, params in BILLERS:
        bbps.add_biller(
            txn,
            now=now,
            biller_id=biller_id,
            name=name,
            category=category,
            product_code=product,
            fetch_requirement=fetch,
            amount_rule=rule,
            params=list(params),
            actor=actor,
        )


# The demo's insurer and bus travel partner: the simulators' default ports (docs/CATALOGUE.md,
# `evd simulate-provider insurance --port 8605`, `... travel --port 8606`), no callbacks.
DEMO_PARTNERS = (
    ("demo-insurer", "insurance-json", "http://127.0.0.1:8605",
     (("INS-TERM", "TERM"), ("INS-HEALTH", "HEALTH"), ("INS-ACCIDENT", "ACCIDENT"))),
    ("demo-bus", "travel-json", "http://127.0.0.1:8606", ((travel.PRODUCT, "BUS"),)),
)  # fmt: skip


def seed_partners(txn: Txn, *, now: datetime, actor: str = "demo") -> None:
    from catalogue.providers import add_provider, map_product

    for name, protocol, url, mappings in DEMO_PARTNERS:
        # No callback secret: nothing is encrypted, so no keyring is needed.
        add_provider(txn, None, name=name, protocol=protocol, url=url, actor=actor, now=now)  # type: ignore[arg-type]
        for product, code in mappings:
            map_product(txn, product_code=product, provider=name, provider_code=code,
                        actor=actor, now=now)  # fmt: skip


def seed(context: Any) -> list[str]:
    """``evd demo`` hook: the demo catalogue, once (providers: ``evd provider add``)."""
    from sqlalchemy import select

    from catalogue.tables import recharge_operators
    from vending.cli.context import CommandError
    from vending.errors import VendingError

    def run(txn: Txn) -> list[str]:
        if txn.execute(select(recharge_operators.c.code).limit(1)).first() is not None:
            return []
        seed_catalogue(txn, now=context.clock())
        seed_partners(txn, now=context.clock())
        return [
            f"{len(OPERATORS)} recharge operators, {len(SERIES)} numbering series, "
            f"{len(BILLERS)} billers, {len(insurance.PLANS)} insurance plans, bus tickets; "
            "partners demo-insurer (:8605) and demo-bus (:8606) (catalogue)"
        ]

    try:
        return context.database.run_txn("demo_seed_catalogue", run)
    except VendingError as exc:
        raise CommandError(exc.message) from exc
