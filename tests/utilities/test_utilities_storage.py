"""Storage of the utility side: keys encrypted at rest, the migration matching the tables,
registry and tariff administration, and concurrent vends on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from utilities_support import CORNER_CAFE, NOW, World, build_world, make_context
from utility_meters import demo_decoder_key, simulator_for

import utilities.tables  # noqa: F401  (registers the tables on the shared metadata)
from utilities.demo import DEMO_KEYS, seed_utilities
from utilities.embedded import EmbeddedBackend
from utilities.interface import MeterQuery, Purchase
from utilities.keys import import_vending_key, list_vending_keys, load_vending_key
from utilities.registry import (
    MeterSpec,
    add_meter,
    assign_tariff,
    get_meter,
    import_meters,
    parse_meter_csv,
    set_blocked,
)
from utilities.service import embedded_settings
from utilities.sts import decode_token, parse_fields
from utilities.tables import issued_tokens, vending_keys
from vending.errors import InvalidRequest
from vending.keyring import Keyring, MasterKey
from vending.money import Money
from vending.storage.database import Database, Txn
from vending.storage.schema import metadata, sales


def test_vending_keys_are_encrypted_at_rest(database: Database, keyring: Keyring) -> None:
    database.run_txn("seed", seed_utilities, keyring, now=NOW)

    def raw(txn: Txn) -> list[bytes]:
        rows = txn.execute(text("SELECT * FROM vending_keys")).all()
        return [repr(tuple(row)).encode() + b"".join(
            bytes(v) for v in row if isinstance(v, bytes | memoryview)
        ) for row in rows]  # fmt: skip

    dump = b"".join(database.run_txn("dump", raw))
    for key in DEMO_KEYS:
        material = bytes.fromhex(key.key_hex)
        assert material not in dump
        assert key.key_hex.encode() not in dump and key.key_hex.upper().encode() not in dump
    # ... and the keyring gets them back, bound to their row.
    sgc, krn = DEMO_KEYS[0].sgc, DEMO_KEYS[0].krn
    assert database.run_txn("load", load_vending_key, keyring, sgc, krn) == bytes.fromhex(
        DEMO_KEYS[0].key_hex
    )
    other = Keyring(MasterKey.generate(), clock=lambda: NOW)
    with pytest.raises(Exception, match="master key"):
        database.run_txn("load", load_vending_key, other, sgc, krn)
    assert all(not hasattr(info, "key") for info in database.run_txn("list", list_vending_keys))


def test_swapped_ciphertexts_do_not_decrypt(database: Database, keyring: Keyring) -> None:
    database.run_txn("seed", seed_utilities, keyring, now=NOW)

    def swap(txn: Txn) -> None:
        a = txn.execute(
            select(vending_keys.c.ciphertext).where(
                vending_keys.c.krn == 1, vending_keys.c.sgc == "123456"
            )
        ).scalar_one()
        txn.execute(
            vending_keys.update()
            .where(vending_keys.c.krn == 2, vending_keys.c.sgc == "123456")
            .values(ciphertext=a)
        )

    database.run_txn("swap", swap)
    with pytest.raises(Exception, match="failed authentication"):
        database.run_txn("load", load_vending_key, keyring, "123456", 2)


def test_key_import_validation(database: Database, keyring: Keyring) -> None:
    def imp(**kw: Any) -> Any:
        base = {
            "sgc": "111111",
            "krn": 1,
            "key": bytes(8),
            "dkga": 2,
            "base_date": 2014,
            "now": NOW,
        }
        return database.run_txn("imp", import_vending_key, keyring, **{**base, **kw})

    for bad in ({"sgc": "12"}, {"krn": 0}, {"key": bytes(7)}, {"dkga": 3}, {"ea": 11},
                {"base_date": 2000}, {"key": bytes(20), "dkga": 4, "ken": 300}):  # fmt: skip
        with pytest.raises(InvalidRequest):
            imp(**bad)
    first = imp()
    assert first.is_current
    second = imp(krn=2, make_current=True)
    assert second.is_current
    assert [k.is_current for k in database.run_txn("l", list_vending_keys, "111111")] == [
        False,
        True,
    ]
    with pytest.raises(InvalidRequest, match="already exists"):
        imp()


def test_migration_builds_exactly_the_declared_tables(database: Database) -> None:
    ours = {t.name for t in metadata.sorted_tables if t.name in _OUR_TABLES}
    assert ours == _OUR_TABLES
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, metadata) if _table_of(d) in _OUR_TABLES]
    assert diff == []


_OUR_TABLES = {
    "vending_keys", "sgc_vendors", "tariffs", "tariff_blocks", "meters", "meter_debts",
    "issued_tokens", "upstream_vends",
}  # fmt: skip


def _table_of(diff: Any) -> str | None:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:] if isinstance(item, tuple) else ():
        name = getattr(part, "name", None) if not isinstance(part, str) else None
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if name in _OUR_TABLES:
            return name
        if isinstance(part, str) and part in _OUR_TABLES:
            return part
    return None


def test_registry_administration(world: World) -> None:
    db = world.database
    csv_text = (
        "msno,sgc,krn,ti,tariff,customer_name,fbe_eligible,debt\n"
        "04100000134,123456,2,01,DEMO-FLAT,Ann,yes,12.50\n"
        "04100000142,123456,2,1,DEMO-BLOCK,Ben,no,\n"
    )
    specs = parse_meter_csv(csv_text, currency="ZAR")
    assert db.run_txn("import", import_meters, specs, now=NOW) == 2
    ann = db.run_txn("get", get_meter, "04100000134")
    assert ann.fbe_eligible and ann.debt == Money.parse("12.50", "ZAR") and ann.base_date == 2014
    assert db.run_txn("get", get_meter, "04100000142").ti == "01"
    # All or nothing: the good line of a bad file is not imported either.
    bad = "msno,sgc,krn\n04100000159,123456,2\n04100000160,123456,2\n"
    with pytest.raises(InvalidRequest, match="meter 2"):
        db.run_txn("import", import_meters, parse_meter_csv(bad, currency="ZAR"), now=NOW)
    assert db.run_txn("find", lambda txn: get_meter_or_none(txn, "04100000159")) is None
    for text_ in ("msno,sgc\n1,2\n", "msno,sgc,krn,colour\n", "msno,sgc,krn\n04100000159,1,x\n"):
        with pytest.raises(InvalidRequest):
            parse_meter_csv(text_, currency="ZAR")
    with pytest.raises(InvalidRequest, match="no vending key"):
        db.run_txn("add", add_meter, MeterSpec("04100000159", "123456", 5), now=NOW)
    db.run_txn("block", set_blocked, "04100000134", True, now=NOW)
    assert db.run_txn("get", get_meter, "04100000134").blocked
    db.run_txn("tariff", assign_tariff, "04100000134", "DEMO-BLOCK", now=NOW)
    assert db.run_txn("get", get_meter, "04100000134").tariff_code == "DEMO-BLOCK"


def get_meter_or_none(txn: Txn, msno: str) -> Any:
    from utilities.registry import find_meter

    return find_meter(txn, msno)


@pytest.mark.slow
def test_concurrent_vends_for_one_meter_get_distinct_tids(
    pg_database: Database, keyring: Keyring
) -> None:
    world = build_world(pg_database, keyring)
    embedded = EmbeddedBackend(keyring, embedded_settings(world.config))
    before = world.balance()
    count = 16

    def one(index: int) -> Any:
        ctx = make_context(world.cafe, request_id=f"concurrent-{index}")
        purchase = Purchase(MeterQuery("04100000019"), amount=Money.parse("10.00", "ZAR"))
        return pg_database.run_txn(
            "utility_credit_vend",
            embedded.credit_vend,
            ctx,
            purchase,
            world.renderer,
            now=world.clock(),
        )

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(one, range(count)))
    tokens = [world.rendered(p).result.token.token for p in results]
    assert len(set(tokens)) == count
    key = demo_decoder_key("04100000019", "123456", 2)
    tids = sorted(parse_fields(*decode_token(key, t)).tid for t in tokens)
    assert tids == list(range(tids[0], tids[0] + count))
    meter = simulator_for("04100000019")
    meter.tid_memory_depth = 64
    assert all(meter.enter(t).accepted for t in tokens)
    # Exactly 16 sales of R10 less 2 % commission.
    assert world.balance(CORNER_CAFE) == before - Money.parse("156.80", "ZAR")

    def counts(txn: Txn) -> tuple[int, int]:
        return (
            len(txn.execute(select(sales.c.id)).all()),
            len(txn.execute(select(issued_tokens.c.id)).all()),
        )

    assert pg_database.run_txn("counts", counts) == (count, count)
