"""Is this server safe to expose beyond this machine?

Two states make a server on a public address an open till: the demo operators of
``evd demo`` still log in with their published passwords, or a vendor sells without
operator authentication while clients need no certificate (``tls.client_ca`` unset), so
knowing a clientID is enough to sell. ``evd serve`` refuses to listen on a non-loopback
address in either state unless forced, and ``/healthz`` reports what was found at start.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, or_, select

from vending.demo import DEMO_VENDORS
from vending.passwords import verify_password
from vending.storage.database import Database, Txn
from vending.storage.schema import operators, vendors


def is_loopback(host: str) -> bool:
    """True when ``host`` (an address or a name) is reachable from this machine only. The
    wildcard addresses (``""``, ``0.0.0.0``, ``::``) and names that do not resolve, or
    resolve to any other address, are not."""
    if host in ("", "0.0.0.0", "::"):
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)


@dataclass(frozen=True)
class Exposure:
    """What was found, and whether the server may listen."""

    public: bool
    demo_credentials: tuple[str, ...] = ()  # "clientID operator" still logging in
    open_vendors: tuple[str, ...] = ()  # clientIDs selling without authentication
    forced: bool = False

    @property
    def reasons(self) -> list[str]:
        found = []
        if self.demo_credentials:
            found.append(
                "demo operators still log in with their published passwords: "
                + ", ".join(self.demo_credentials)
                + " (change them with `evd operator passwd`, or block them)"
            )
        if self.open_vendors:
            found.append(
                "vendors sell without operator authentication and clients need no "
                "certificate: "
                + ", ".join(self.open_vendors[:10])
                + (" ..." if len(self.open_vendors) > 10 else "")
                + " (require authentication, or set tls.client_ca)"
            )
        return found

    @property
    def refused(self) -> bool:
        return self.public and bool(self.reasons) and not self.forced

    def health(self) -> dict[str, Any]:
        """The ``/healthz`` view (no password, only what is at risk)."""
        return {
            "public_address": self.public,
            "insecure": self.reasons,
            "forced": self.forced and bool(self.reasons),
        }


def _candidates(
    txn: Txn, require_auth_default: bool
) -> tuple[list[tuple[str, str, str]], list[str]]:
    demo = {(v.client_id, v.operator) for v in DEMO_VENDORS}
    rows = txn.execute(
        select(vendors.c.client_id, operators.c.name, operators.c.password_hash)
        .join(operators, operators.c.vendor_id == vendors.c.id)
        .where(vendors.c.client_id.in_([client for client, _ in demo]))
        .where(vendors.c.blocked == false(), operators.c.blocked == false())
    ).all()
    logins = [(r.client_id, r.name, r.password_hash) for r in rows if (r.client_id, r.name) in demo]
    no_auth = vendors.c.require_auth == false()
    if not require_auth_default:
        no_auth = or_(no_auth, vendors.c.require_auth.is_(None))
    open_vendors = txn.execute(
        select(vendors.c.client_id)
        .where(and_(vendors.c.blocked == false(), no_auth))
        .order_by(vendors.c.client_id)
    ).scalars()
    return logins, list(open_vendors)


def assess_exposure(
    database: Database,
    *,
    host: str,
    require_auth_default: bool,
    client_certificates: bool,
    forced: bool = False,
    verify: Callable[[str, str], bool] = verify_password,
) -> Exposure:
    """Blocking (a read, and one scrypt per demo operator found)."""
    logins, open_vendors = database.run_txn("assess_exposure", _candidates, require_auth_default)
    passwords = {(v.client_id, v.operator): v.password for v in DEMO_VENDORS}
    demo = tuple(
        f"{client} {name}"
        for client, name, stored in logins
        if verify(passwords[(client, name)], stored)
    )
    return Exposure(
        public=not is_loopback(host),
        demo_credentials=demo,
        open_vendors=() if client_certificates else tuple(open_vendors),
        forced=forced,
    )


__all__ = ["Exposure", "assess_exposure", "is_loopback"]
