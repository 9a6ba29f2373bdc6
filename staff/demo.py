"""Demo data of the admin suite (``evd demo``, entry point ``evd.demo: staff``): a small
distribution network over the demo vendors, a demo administrator and a demo dealer user.
Their passwords and TOTP secret are published on purpose (``make run``'s banner prints
them): they exist only in a database seeded by ``evd demo``. Idempotent."""

from __future__ import annotations

from datetime import datetime

from distribution import nodes
from staff import users
from vending.cli.context import Context
from vending.passwords import hash_password
from vending.storage.database import Txn

# (username, password, TOTP secret): demo only.
DEMO_ADMIN = ("admin", "demo-admin-2026", "EVDDEMOADMINTOTPSECRET2345")
DEMO_DEALER = ("dealer.a", "demo-dealer-2026", DEMO_ADMIN[2])
CURRENCY = "ZAR"

# code, name, parent, vendor client id (merchants)
DEMO_NETWORK = (
    ("NET-SD", "Demo Super Distributor", "OPERATOR", None),
    ("NET-DIST", "Demo Distributor North", "NET-SD", None),
    ("DEALER-A", "Demo Dealer A", "NET-DIST", None),
    ("DEALER-B", "Demo Dealer B", "NET-DIST", None),
    ("SHOP-CAFE", "Corner Cafe (merchant)", "DEALER-A", "6004708000090"),
    ("SHOP-KIOSK", "Low Credit Kiosk (merchant)", "DEALER-B", "6004708000113"),
)


def _seed(txn: Txn, keyring: object, log_n: int, *, now: datetime) -> list[str]:
    created: list[str] = []
    if nodes.root_code(txn) is None:
        nodes.create_root(
            txn, code="OPERATOR", name="Demo Operator", currency=CURRENCY, actor="demo", now=now
        )
        created.append("distribution network root OPERATOR")
    for code, name, parent, vendor in DEMO_NETWORK:
        try:
            nodes.get_node(txn, code)
        except nodes.UnknownNode:
            nodes.create_node(
                txn,
                actor_node="OPERATOR",
                parent=parent,
                code=code,
                name=name,
                vendor_client_id=vendor,
                actor="demo",
                now=now,
            )
            created.append(f"network node {code} under {parent}")
    for (username, password, secret), role, node, title in (
        (DEMO_ADMIN, "super_admin", None, "Demo Administrator"),
        (DEMO_DEALER, "dealer", "DEALER-A", "Demo Dealer A user"),
    ):
        if users.find_user(txn, username) is not None:
            continue
        user = users.create_user(
            txn,
            username=username,
            display_name=title,
            role=role,
            password_hash=hash_password(password, log_n=log_n),
            node_code=node,
            must_change_password=False,
            actor="demo",
            now=now,
        )
        users.store_totp_secret(
            txn,
            keyring,
            user_id=user.id,
            secret=secret,  # type: ignore[arg-type]
            enabled=True,
        )
        created.append(f"admin user {username} ({role}; password {password}, TOTP {secret})")
    return created


def seed(context: Context) -> list[str]:
    return context.run(
        "demo_seed_staff",
        _seed,
        context.keyring,
        context.config.security.scrypt_log_n,
        now=context.now(),
    )
