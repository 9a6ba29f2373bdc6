"""``evd serve`` refuses a non-loopback address while demo operators keep their published
passwords or a vendor sells without authentication and without client certificates, unless
forced; ``/healthz`` reports what was found. The refusal comes before anything listens: the
address used here (TEST-NET-1, 192.0.2.1) is not this machine's, so reaching ``listen``
would fail differently."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_support import World, build_world

from vending.cli.context import CommandError, Context
from vending.config import Config, DatabaseConfig, SecurityConfig, ServerConfig, TLSConfig
from vending.demo import seed_core
from vending.exposure import Exposure, assess_exposure, is_loopback
from vending.keyring import Keyring, MasterKey
from vending.passwords import hash_password
from vending.storage import migrate
from vending.storage.database import Database, Txn
from vending.vendors import create_vendor, get_operator, set_operator_password
from xmlvend.cli import _serve

PUBLIC = "192.0.2.1"


def _args(**overrides: object) -> argparse.Namespace:
    values = {
        "host": None,
        "port": None,
        "workers": None,
        "worker_index": None,
        "ready_fd": None,
        "metrics_dir": None,
        "allow_insecure": False,
        "config": None,
        "verbose": False,
    }
    values.update(overrides)
    return argparse.Namespace(**values)


@pytest.fixture
def demo_context(tmp_path: Path) -> Iterator[Context]:
    config = Config(
        database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'evd.db'}"),
        server=ServerConfig(host=PUBLIC, port=0),
        security=SecurityConfig(scrypt_log_n=10, master_key=MasterKey.generate().to_base64()),
    )
    context = Context(config=config)
    migrate.upgrade(context.database.engine)
    context.database.run_txn("seed", seed_core, password_log_n=10)
    try:
        yield context
    finally:
        context.close()


def test_serve_refuses_a_public_address_with_demo_credentials(demo_context: Context) -> None:
    with pytest.raises(CommandError) as refused:
        _serve(demo_context, _args())
    message = str(refused.value)
    assert message.startswith(f"refusing to listen on {PUBLIC}, which is not loopback")
    assert "6004708000090 cashier1" in message
    assert "demo1234" not in message  # the password itself is never printed


def test_forcing_gets_past_the_check(demo_context: Context, tmp_path: Path) -> None:
    """--allow-insecure goes on to the next step (here: reading a TLS certificate that
    does not exist, so nothing starts)."""
    tls = TLSConfig(enabled=True, cert=str(tmp_path / "missing.pem"), key="missing.key")
    forced = Context(config=demo_context.config.replace(tls=tls))
    forced._database = demo_context.database
    with pytest.raises(CommandError, match=r"tls\.cert: cannot read"):
        _serve(forced, _args(allow_insecure=True))
    with pytest.raises(CommandError, match="refusing to listen"):
        _serve(forced, _args())


def _change_demo_passwords(txn: Txn) -> None:
    for client_id, name in (
        ("6004708000090", "cashier1"),
        ("6004708000106", "platform"),
        ("6004708000113", "lowcred"),
    ):
        operator = get_operator(txn, name, client_id)
        set_operator_password(txn, operator.id, hash_password("n3w-secret", log_n=10), actor="t")


def _open_vendor(txn: Txn) -> None:
    create_vendor(txn, client_id="OPEN-KIOSK", name="Kiosk", currency="ZAR", require_auth=False)


def test_what_counts_as_exposed(demo_context: Context) -> None:
    database = demo_context.database

    def assess(**kwargs: object) -> Exposure:
        settings = {"host": PUBLIC, "require_auth_default": True, "client_certificates": False}
        settings.update(kwargs)
        return assess_exposure(database, **settings)  # type: ignore[arg-type]

    found = assess()
    assert found.refused and len(found.demo_credentials) == 3
    assert not assess(host="127.0.0.1").refused  # loopback: fine for the demo
    database.run_txn("t_passwords", _change_demo_passwords)
    assert not assess().refused
    database.run_txn("t_open", _open_vendor)
    assert assess().open_vendors == ("OPEN-KIOSK",)
    assert assess().refused
    assert not assess(client_certificates=True).refused  # a certificate is needed anyway
    assert assess(require_auth_default=False).open_vendors == (
        "6004708000090",
        "6004708000106",
        "6004708000113",
        "OPEN-KIOSK",
    )
    assert not assess(forced=True).refused


def test_serve_needs_client_certificates_for_open_vendors(demo_context: Context) -> None:
    demo_context.database.run_txn("t_passwords", _change_demo_passwords)
    demo_context.database.run_txn("t_open", _open_vendor)
    with pytest.raises(CommandError, match="OPEN-KIOSK"):
        _serve(demo_context, _args())


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("", False),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.1", False),
        ("no-such-host.invalid", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_healthz_reports_the_exposure(
    database: Database, keyring: Keyring, secrets_sentinel: object
) -> None:
    exposure = Exposure(public=True, demo_credentials=("6004708000090 cashier1",), forced=True)
    world: World = build_world(
        database,
        keyring,
        secrets_sentinel,
        vouchers=0,
        health_details={"exposure": exposure.health()},
    )
    answer = world.get("/healthz")
    assert answer.status == 200
    report = json.loads(answer.body)["exposure"]
    assert report["public_address"] is True and report["forced"] is True
    assert "6004708000090 cashier1" in report["insecure"][0]


def test_tls_config_is_needed_for_certificates() -> None:
    """client_certificates means tls.enabled with a client CA (see xmlvend.cli._exposure)."""
    config = Config(tls=TLSConfig(enabled=False, client_ca="ca.pem"))
    assert not (config.tls.enabled and bool(config.tls.client_ca))
