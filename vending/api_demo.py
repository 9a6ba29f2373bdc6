"""Demo data of the API channels (``evd demo``, entry point ``evd.demo: wallets``): a JSON
API key for the demo café's cashier with a fixed, published value (demo data only: ``make
run``'s banner prints a curl with it), and a demo consumer with a PIN and some credit."""

from __future__ import annotations

from sqlalchemy import select

from vending.api_keys import create_api_key, key_digest
from vending.api_tables import api_keys, consumers
from vending.cli.context import Context
from vending.consumers import hash_pin, register_consumer, staff_credit
from vending.money import Money
from vending.storage.database import Txn

# Published on purpose: it exists only in a database seeded by `evd demo`.
DEMO_API_KEY = "evd_live_demo_CornerCafe_cashier1_0000000000000000"
DEMO_VENDOR = "6004708000090"
DEMO_OPERATOR = "cashier1"
DEMO_CONSUMER = ("27820000001", "Thandi Demo", "1234")
CURRENCY = "ZAR"


def _seed(txn: Txn, pin_log_n: int) -> list[str]:
    created = []
    digest = key_digest(DEMO_API_KEY)
    if txn.execute(select(api_keys.c.id).where(api_keys.c.key_hash == digest)).first() is None:
        create_api_key(
            txn,
            vendor_client_id=DEMO_VENDOR,
            operator_name=DEMO_OPERATOR,
            label="demo key (make run)",
            actor="demo",
            key=DEMO_API_KEY,
        )
        created.append(f"JSON API key for {DEMO_VENDOR}/{DEMO_OPERATOR}: {DEMO_API_KEY}")
    msisdn, name, pin = DEMO_CONSUMER
    found = txn.execute(select(consumers.c.id).where(consumers.c.msisdn == msisdn)).first()
    if found is None:
        register_consumer(
            txn,
            msisdn=msisdn,
            name=name,
            currency=CURRENCY,
            pin_hash=hash_pin(pin, log_n=pin_log_n),
            kyc_level=1,
            actor="demo",
        )
        staff_credit(
            txn,
            msisdn=msisdn,
            amount=Money.parse("200.00", CURRENCY),
            reason="demo wallet credit",
            actor="demo",
        )
        created.append(f"consumer {msisdn} (PIN {pin}) with a wallet of 200.00 {CURRENCY}")
    return created


def seed(context: Context) -> list[str]:
    return context.run("demo_seed_api", _seed, context.config.security.scrypt_log_n)
