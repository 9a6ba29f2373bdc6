"""The app's path through the JSON API on PostgreSQL: ``evd serve`` on a database of its own,
with the demo data; the calls the phone app makes, in its order, over real HTTP (operator
sign-in on the server's thread pool, products, the meter confirmed, one sale for a repeated
Idempotency-Key, sign-out) and the shell served beside them."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen

import pytest
from live_support import ServerProcess, evd, write_config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from webapp_support import Live

from vending.storage.database import normalize_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POSTGRES_URL = normalize_url(
    os.environ.get("EVD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)


@pytest.fixture(scope="module")
def live_pg(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[Live]:
    # postgres_url: PostgreSQL answers (or the test skips, or fails under CI); the server
    # gets a database of its own, which `evd db upgrade` migrates.
    name = f"evd_webapp_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    directory: Path = tmp_path_factory.mktemp("evd-webapp-pg")
    config = write_config(directory, '[vouchers]\ngnupg_home = "var/gnupg"\n', database_url=url)
    server = None
    try:
        evd(config, "db", "upgrade")
        evd(config, "demo")
        server = ServerProcess.start(config)
        yield Live(server.url.rsplit("/xmlvend", 1)[0], server, "")
    finally:
        if server is not None:
            server.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_apps_calls_work_on_postgresql(live_pg: Live) -> None:
    with urlopen(live_pg.app, timeout=30) as page:
        assert page.status == 200 and b"js/main.js" in page.read()
    status, session = live_pg.call(
        "POST",
        "/sessions",
        {"client_id": "6004708000090", "operator": "cashier1", "password": "demo1234"},
        token="",
    )
    assert status == 201 and session["kind"] == "merchant", session
    token = session["token"]
    assert live_pg.call("GET", "/sessions/current", token=token)[1]["operator"] == "cashier1"
    codes = [p["code"] for p in live_pg.call("GET", "/products", token=token)[1]["items"]]
    assert "ELEC-DEMO" in codes and "AIR-DEMO-10" in codes
    meter = live_pg.call("GET", "/meters/04100000019", token=token)[1]
    assert meter["customer"]
    body = {"product": "ELEC-DEMO", "meter": "04100000019", "amount": "25.00"}
    first = live_pg.call("POST", "/sales", body, token=token, idempotency_key="app-pg-1")
    again = live_pg.call("POST", "/sales", body, token=token, idempotency_key="app-pg-1")
    assert first[0] == again[0] == 201 and first[1] == again[1]
    sales = live_pg.call("GET", "/sales?limit=100", token=token)[1]["items"]
    assert [s["id"] for s in sales].count(first[1]["id"]) == 1 and len(sales) == 1
    assert live_pg.call("DELETE", "/sessions/current", token=token)[0] == 204
    assert live_pg.call("GET", "/account", token=token)[0] == 401
    # Wrong passwords are counted in PostgreSQL too: the operator locks (429).
    for attempt in range(12):
        live_pg.call(
            "POST",
            "/sessions",
            {"client_id": "6004708000106", "operator": "platform", "password": f"x{attempt}"},
            token="",
        )
    locked = live_pg.call(
        "POST",
        "/sessions",
        {"client_id": "6004708000106", "operator": "platform", "password": "demo5678"},
        token="",
    )
    assert locked[0] == 429, locked
