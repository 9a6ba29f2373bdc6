"""Demo data of the utility side (``evd demo``, entry point ``evd.demo: utilities``): vending
keys, tariffs and one test meter per outcome, documented in docs/TEST-METERS.md.

The vending keys are the public test keys of the STS conformance material (sts.md §6.2):
they are known to everyone and must never sell real electricity. Idempotent: what exists
is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from utilities.billing import Block
from utilities.keys import get_key_info, import_vending_key, parse_key_hex
from utilities.registry import MeterSpec, add_meter, authorise_vendor, find_meter
from utilities.tables import sgc_vendors, tariffs
from utilities.tariffs import add_tariff, rate_from_text, units_from_kwh
from vending.money import Money
from vending.storage.database import Txn
from vending.storage.schema import vendors

CURRENCY = "ZAR"
SGC_STA = "123456"
SGC_MISTY1 = "123457"
SGC_RESTRICTED = "600001"
PLATFORM_VENDOR = "6004708000106"


@dataclass(frozen=True)
class DemoKey:
    sgc: str
    krn: int
    dkga: int
    ea: int
    base_date: int
    key_hex: str
    current: bool
    description: str


DEMO_KEYS = (
    DemoKey(SGC_STA, 1, 2, 7, 1993, "abababababababab", False, "demo STA key, 1993 base"),
    DemoKey(SGC_STA, 2, 2, 7, 2014, "9494949494949494", True, "demo STA key, 2014 base"),
    DemoKey(SGC_MISTY1, 1, 4, 11, 2014, "abababababababab949494949494949401234567", True,
            "demo MISTY1 key (DKGA-04), 2014 base"),
    DemoKey(SGC_RESTRICTED, 1, 2, 7, 2014, "0abc12def3456789", True,
            "demo key of a supply group restricted to one vendor"),
)  # fmt: skip


@dataclass(frozen=True)
class DemoTariff:
    code: str
    name: str
    blocks: tuple[tuple[str | None, str], ...]  # (up to kWh, price per kWh excl. VAT)
    service_charge: str = "0.00"
    debt_recovery_bp: int = 0
    fbe_kwh: str = "0"


DEMO_TARIFFS = (
    DemoTariff("DEMO-FLAT", "Home Light Flat", ((None, "2.50"),)),
    DemoTariff(
        "DEMO-BLOCK",
        "Home Power Block",
        (("50", "1.80"), ("350", "2.60"), (None, "3.20")),
        fbe_kwh="50",
    ),
    DemoTariff(
        "DEMO-SERVICE", "Business Flat + Service", ((None, "2.50"),), service_charge="100.00"
    ),
    DemoTariff("DEMO-DEBT", "Home Light Debt Recovery", ((None, "2.50"),), debt_recovery_bp=2500),
)


@dataclass(frozen=True)
class DemoMeter:
    msno: str
    outcome: str
    registered: bool = True
    sgc: str = SGC_STA
    krn: int = 2
    tariff: str = "DEMO-FLAT"
    blocked: bool = False
    fbe_eligible: bool = False
    debt: str | None = None
    behaviour: str | None = None
    customer: str = "Demo Customer"


# One meter per outcome; docs/TEST-METERS.md is the documentation of this table.
TEST_METERS = (
    DemoMeter("04100000019", "normal sale (STA, DKGA-02)", customer="Thandi Normal"),
    DemoMeter("04100000027", "normal sale (MISTY1, DKGA-04)", sgc=SGC_MISTY1, krn=1,
              customer="Misty Normal"),
    DemoMeter("04100000035", "blocked meter", blocked=True, customer="Bongani Blocked"),
    DemoMeter("04100000043", "unknown meter", registered=False),
    DemoMeter("04100000040", "bad check digit", registered=False),
    DemoMeter("04100000050", "key change due (KRN 1, 1993 base -> KRN 2, 2014 base)", krn=1,
              customer="Kagiso Keychange"),
    DemoMeter("04100000068", "FBE due (block tariff)", tariff="DEMO-BLOCK", fbe_eligible=True,
              customer="Fikile Freebasic"),
    DemoMeter("04100000076", "debt outstanding", tariff="DEMO-DEBT", debt="500.00",
              customer="Dumisani Debt"),
    DemoMeter("04100000084", "service charge due", tariff="DEMO-SERVICE",
              customer="Sipho Service"),
    DemoMeter("04100000092", "slow upstream past the deadline", behaviour="slow",
              customer="Sam Slow"),
    DemoMeter("04100000100", "upstream failure", behaviour="upstream_failure",
              customer="Uma Unavailable"),
    DemoMeter("04100000118", "supply group not authorised for the vendor", sgc=SGC_RESTRICTED,
              krn=1, customer="Refilwe Restricted"),
    DemoMeter("04100000126", "normal sale (block tariff, no FBE)", tariff="DEMO-BLOCK",
              customer="Busi Block"),
)  # fmt: skip


def seed_utilities(txn: Txn, keyring: Any, *, now: datetime) -> list[str]:
    """Create the demo keys, tariffs and test meters, stamped ``now``; returns what was
    created."""
    created: list[str] = []
    for key in DEMO_KEYS:
        if get_key_info(txn, key.sgc, key.krn) is None:
            import_vending_key(
                txn,
                keyring,
                sgc=key.sgc,
                krn=key.krn,
                key=parse_key_hex(key.key_hex),
                dkga=key.dkga,
                ea=key.ea,
                base_date=key.base_date,
                make_current=key.current,
                description=key.description,
                actor="demo",
                now=now,
            )
            created.append(f"vending key SGC {key.sgc} KRN {key.krn} ({key.description})")
    known = {row.code for row in txn.execute(select(tariffs.c.code))}
    for tariff in DEMO_TARIFFS:
        if tariff.code in known:
            continue
        add_tariff(
            txn,
            code=tariff.code,
            name=tariff.name,
            currency=CURRENCY,
            vat_rate_bp=1500,
            blocks=tuple(
                Block(None if up_to is None else units_from_kwh(up_to), rate_from_text(r, CURRENCY))
                for up_to, r in tariff.blocks
            ),
            service_charge=Money.parse(tariff.service_charge, CURRENCY),
            debt_recovery_bp=tariff.debt_recovery_bp,
            fbe_units=units_from_kwh(tariff.fbe_kwh),
            actor="demo",
            now=now,
        )
        created.append(f"tariff {tariff.code} ({tariff.name})")
    platform = txn.execute(
        select(vendors.c.id).where(vendors.c.client_id == PLATFORM_VENDOR)
    ).scalar()
    restricted = txn.execute(
        select(sgc_vendors.c.sgc).where(sgc_vendors.c.sgc == SGC_RESTRICTED)
    ).first()
    if platform is not None and restricted is None:
        authorise_vendor(txn, SGC_RESTRICTED, PLATFORM_VENDOR, actor="demo", now=now)
        created.append(f"supply group {SGC_RESTRICTED} restricted to vendor {PLATFORM_VENDOR}")
    for meter in TEST_METERS:
        if not meter.registered or find_meter(txn, meter.msno) is not None:
            continue
        add_meter(
            txn,
            MeterSpec(
                msno=meter.msno,
                sgc=meter.sgc,
                krn=meter.krn,
                ti="01",
                tariff=meter.tariff,
                customer_name=meter.customer,
                customer_address="1 Demo Street, Demo Town",
                account_no=f"ACC{meter.msno[-6:]}",
                blocked=meter.blocked,
                fbe_eligible=meter.fbe_eligible,
                debt=None if meter.debt is None else Money.parse(meter.debt, CURRENCY),
                test_behaviour=meter.behaviour,
            ),
            actor="demo",
            now=now,
        )
        created.append(f"test meter {meter.msno}: {meter.outcome}")
    return created


def seed(context: Any) -> list[str]:
    """``evd demo`` hook: seed with the configured master key."""
    from vending.cli.context import CommandError
    from vending.errors import VendingError
    from vending.keyring import Keyring, KeyringError, load_master_key

    try:
        keyring = Keyring(load_master_key(context.config), clock=context.clock)
    except KeyringError as exc:
        raise CommandError(str(exc)) from exc
    try:
        return context.database.run_txn(
            "demo_seed_utilities", seed_utilities, keyring, now=context.now()
        )
    except VendingError as exc:
        raise CommandError(exc.message) from exc
