"""Permissions and the role templates (pure: no storage).

A user holds its own set of permissions (``staff_users.permissions``); a role is the
template the set starts from, so an administrator can grant or withhold single permissions
without inventing a role. Partner roles (distributor, dealer, merchant) need a node: their
scope is that node's subtree, enforced by the services on every query and action.
"""

from __future__ import annotations

from dataclasses import dataclass

from vending.errors import VendingError

# Every permission, with what it allows (shown on the users screen).
PERMISSIONS: dict[str, str] = {
    "dashboard.view": "see the dashboard",
    "users.view": "list users, roles and login history",
    "users.manage": "create users, change roles and permissions, reset passwords, block",
    "audit.view": "read the audit log",
    "approvals.decide": "approve or reject another user's pending action",
    "hierarchy.view": "see distributors, dealers, merchants and their balances",
    "hierarchy.manage": "create nodes and edit their limits",
    "hierarchy.block": "block and unblock nodes",
    "hierarchy.credit": "credit or debit a node (four-eyes above the threshold)",
    "operators.manage": "create and block operators and API keys of merchants",
    "catalogue.view": "see products, commission slabs, tariffs and suppliers",
    "catalogue.manage": "change products, commission slabs, tariffs and suppliers",
    "meters.view": "see meters",
    "meters.manage": "block and unblock meters",
    "stock.view": "see voucher stock levels and imports",
    "stock.import": "upload voucher stock files, and (with approvals.decide) approve them",
    "transactions.view": "search transactions",
    "transactions.reverse": "reverse or refund a transaction (four-eyes)",
    "transactions.reprint": "see a transaction's PIN or token in clear (recorded, like a reprint)",
    "deposits.view": "see deposits and the manual queue",
    "deposits.manage": "assign and reject deposits",
    "fundrequests.decide": "approve or reject fund requests",
    "points.view": "see reward points",
    "points.adjust": "adjust reward points",
    "faults.view": "see fault reports",
    "reports.view": "run reports",
    "monitoring.view": "monitor user activity",
}

ALL = frozenset(PERMISSIONS)
VIEW_ONLY = frozenset(p for p in PERMISSIONS if p.endswith(".view"))

_PARTNER = frozenset(
    {
        "dashboard.view",
        "hierarchy.view",
        "hierarchy.manage",
        "hierarchy.block",
        "hierarchy.credit",
        "operators.manage",
        "transactions.view",
        "fundrequests.decide",
        "reports.view",
    }
)


@dataclass(frozen=True)
class Role:
    name: str
    title: str
    permissions: frozenset[str]
    # A partner role's user belongs to a node of the distribution network.
    partner: bool = False
    # The deepest network level (distribution.nodes.LEVELS) its node may be at... and the
    # shallowest: a dealer user's node is a dealer node.
    level: int | None = None


ROLES: dict[str, Role] = {
    role.name: role
    for role in (
        Role("super_admin", "Super administrator", ALL),
        Role(
            "finance",
            "Finance",
            frozenset(
                {
                    "dashboard.view",
                    "audit.view",
                    "approvals.decide",
                    "hierarchy.view",
                    "hierarchy.credit",
                    "catalogue.view",
                    "stock.view",
                    "transactions.view",
                    "transactions.reverse",
                    "deposits.view",
                    "deposits.manage",
                    "fundrequests.decide",
                    "points.view",
                    "points.adjust",
                    "reports.view",
                }
            ),
        ),
        Role(
            "support",
            "Support",
            frozenset(
                {
                    "dashboard.view",
                    "users.view",
                    "hierarchy.view",
                    "hierarchy.block",
                    "operators.manage",
                    "catalogue.view",
                    "meters.view",
                    "meters.manage",
                    "stock.view",
                    "transactions.view",
                    "faults.view",
                    "monitoring.view",
                }
            ),
        ),
        Role("auditor", "Read-only auditor", VIEW_ONLY),
        Role("distributor", "Distributor", _PARTNER, partner=True, level=2),
        Role("dealer", "Dealer", _PARTNER, partner=True, level=3),
        Role(
            "merchant",
            "Merchant",
            frozenset(
                {
                    "dashboard.view",
                    "hierarchy.view",
                    "operators.manage",
                    "transactions.view",
                    "reports.view",
                }
            ),
            partner=True,
            level=4,
        ),
    )
}


class Forbidden(VendingError):
    """The user may not do this (a missing permission, or a subject outside its scope)."""

    code = "forbidden"


class UnknownRole(VendingError):
    code = "unknown_role"


def role(name: str) -> Role:
    try:
        return ROLES[name]
    except KeyError:
        raise UnknownRole(f"no role {name!r} (roles: {', '.join(ROLES)})") from None


def parse_permissions(text: str) -> frozenset[str]:
    """A stored set (space separated); unknown names are dropped (a permission removed
    from the code is gone from every user)."""
    return frozenset(p for p in text.split() if p in PERMISSIONS)


def format_permissions(permissions: frozenset[str] | set[str]) -> str:
    unknown = set(permissions) - ALL
    if unknown:
        raise UnknownRole(f"unknown permissions: {', '.join(sorted(unknown))}")
    return " ".join(sorted(permissions))
