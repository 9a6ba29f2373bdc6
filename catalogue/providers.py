"""The provider registry and the product <-> provider code mapping table.

A provider is reached by one protocol at one URL within its timeout; callbacks from it are
accepted from its allow-listed addresses and signed with its shared secret (stored only
encrypted). A mapping says that a product (an operator's recharge, a biller category) is
sold through a provider under the provider's own code, at a priority (lower first).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from catalogue.errors import UnknownProvider
from catalogue.tables import PROVIDER_PROTOCOLS, provider_mappings, providers
from vending import audit
from vending.errors import InvalidRequest
from vending.keyring import Keyring
from vending.products import get_product
from vending.storage.database import Database, Txn

PROVIDER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Provider:
    id: int
    name: str
    protocol: str
    url: str
    timeout_ms: int
    active: bool
    callback_ips: tuple[str, ...]
    has_secret: bool

    @property
    def timeout_seconds(self) -> float:
        return self.timeout_ms / 1000.0


@dataclass(frozen=True)
class Mapping:
    product_code: str
    provider: str
    provider_code: str
    priority: int
    active: bool


def _aad(name: str) -> bytes:
    return f"evd-provider-secret:{name}".encode()


def _provider(row) -> Provider:  # type: ignore[no-untyped-def]
    ips = tuple(ip for ip in row.callback_ips.split(",") if ip)
    return Provider(
        row.id,
        row.name,
        row.protocol,
        row.url,
        row.timeout_ms,
        row.active,
        ips,
        row.secret is not None,
    )


def add_provider(
    txn: Txn,
    keyring: Keyring,
    *,
    name: str,
    protocol: str,
    url: str,
    timeout_ms: int = 5000,
    callback_ips: tuple[str, ...] = (),
    secret: bytes | None = None,
    actor: str,
    now: datetime,
) -> Provider:
    if not PROVIDER_NAME.fullmatch(name):
        raise InvalidRequest("a provider name is 1-32 lower-case letters, digits, '_' or '-'")
    if protocol not in PROVIDER_PROTOCOLS:
        raise InvalidRequest(f"protocol must be one of {', '.join(PROVIDER_PROTOCOLS)}")
    if not url.startswith(("http://", "https://")):
        raise InvalidRequest("the provider URL must be http:// or https://")
    if timeout_ms <= 0:
        raise InvalidRequest("the timeout must be positive")
    for ip in callback_ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidRequest(f"callback address {ip!r} is not an IP address") from None
    if txn.execute(select(providers.c.id).where(providers.c.name == name)).first():
        raise InvalidRequest(f"provider {name!r} exists already")
    data_key, blob = (None, None)
    if secret is not None:
        if len(secret) < 16:
            raise InvalidRequest("the callback secret must be at least 16 bytes")
        data_key, blob = keyring.encrypt(txn, secret, aad=_aad(name))
    txn.execute(
        insert(providers).values(
            name=name,
            protocol=protocol,
            url=url,
            timeout_ms=timeout_ms,
            active=True,
            callback_ips=",".join(callback_ips),
            data_key_id=data_key,
            secret=blob,
            created_at=now,
        )
    )
    audit.record(
        txn, actor=actor, action="provider.add", subject=name, details={"url": url}, now=now
    )
    return get_provider(txn, name)


def get_provider(txn: Txn, name: str) -> Provider:
    row = txn.execute(select(providers).where(providers.c.name == name)).first()
    if row is None:
        raise UnknownProvider(f"no provider {name!r}")
    return _provider(row)


def list_providers(txn: Txn) -> list[Provider]:
    return [_provider(r) for r in txn.execute(select(providers).order_by(providers.c.name))]


def set_provider_active(
    txn: Txn, name: str, active: bool, *, actor: str, now: datetime
) -> Provider:
    provider = get_provider(txn, name)
    txn.execute(update(providers).where(providers.c.id == provider.id).values(active=active))
    audit.record(
        txn,
        actor=actor,
        action="provider.enable" if active else "provider.disable",
        subject=name,
        now=now,
    )
    return get_provider(txn, name)


def provider_secret(txn: Txn, keyring: Keyring, name: str) -> bytes | None:
    """The callback HMAC secret (decrypted; never logged)."""
    row = txn.execute(select(providers).where(providers.c.name == name)).first()
    if row is None:
        raise UnknownProvider(f"no provider {name!r}")
    if row.secret is None:
        return None
    return keyring.decrypt(txn, row.data_key_id, bytes(row.secret), aad=_aad(name))


def map_product(
    txn: Txn,
    *,
    product_code: str,
    provider: str,
    provider_code: str,
    priority: int = 1,
    actor: str,
    now: datetime,
) -> Mapping:
    """Sell ``product_code`` through ``provider`` under its ``provider_code`` (or change it)."""
    if not re.fullmatch(r"[A-Za-z0-9*_.-]{1,32}", provider_code):
        raise InvalidRequest("a provider code is 1-32 letters, digits, '_', '.', '-' or '*'")
    if not 0 <= priority <= 99:
        raise InvalidRequest("priority is 0-99 (lower first)")
    product = get_product(txn, product_code)
    found = get_provider(txn, provider)
    existing = txn.execute(
        select(provider_mappings.c.id).where(
            provider_mappings.c.product_id == product.id,
            provider_mappings.c.provider_id == found.id,
        )
    ).first()
    values = {"provider_code": provider_code, "priority": priority, "active": True}
    if existing is None:
        txn.execute(
            insert(provider_mappings).values(product_id=product.id, provider_id=found.id, **values)
        )
    else:
        txn.execute(
            update(provider_mappings).where(provider_mappings.c.id == existing.id).values(**values)
        )
    audit.record(
        txn,
        actor=actor,
        action="provider.map",
        subject=f"{product_code}->{provider}",
        details={"provider_code": provider_code, "priority": priority},
        now=now,
    )
    return Mapping(product_code, provider, provider_code, priority, True)


def unmap_product(txn: Txn, *, product_code: str, provider: str, actor: str, now: datetime) -> None:
    product = get_product(txn, product_code)
    found = get_provider(txn, provider)
    txn.execute(
        update(provider_mappings)
        .where(
            provider_mappings.c.product_id == product.id,
            provider_mappings.c.provider_id == found.id,
        )
        .values(active=False)
    )
    audit.record(
        txn, actor=actor, action="provider.unmap", subject=f"{product_code}->{provider}", now=now
    )


def list_mappings(txn: Txn, product_code: str | None = None) -> list[Mapping]:
    from vending.storage.schema import products

    query = (
        select(
            products.c.code,
            providers.c.name,
            provider_mappings.c.provider_code,
            provider_mappings.c.priority,
            provider_mappings.c.active,
        )
        .join(products, products.c.id == provider_mappings.c.product_id)
        .join(providers, providers.c.id == provider_mappings.c.provider_id)
        .order_by(products.c.code, provider_mappings.c.priority, providers.c.name)
    )
    if product_code is not None:
        query = query.where(products.c.code == product_code)
    return [Mapping(*row) for row in txn.execute(query)]


def load_active_providers(
    database: Database, keyring: Keyring
) -> list[tuple[Provider, bytes | None]]:
    """Every active provider with its decrypted callback secret, read in one transaction: what
    the process composer needs to build one client per provider at start-up."""

    def load(txn: Txn) -> list[tuple[Provider, bytes | None]]:
        return [(p, provider_secret(txn, keyring, p.name)) for p in list_providers(txn) if p.active]

    return database.run_txn("catalogue_active_providers", load)
