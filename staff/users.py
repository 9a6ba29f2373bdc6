"""Staff and partner users: transaction functions (``fn(txn, ...)``) over ``staff_users``
and the login history. Passwords are hashed by the caller (off the database threads); the
TOTP secret is encrypted with the keyring's data key, its aad naming the user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update

from distribution.tables import distribution_nodes
from staff import roles
from staff.tables import staff_logins, staff_sessions, staff_users
from vending import audit
from vending.errors import InvalidRequest, NotFound
from vending.keyring import Keyring
from vending.storage.database import Txn

USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


class UnknownUser(NotFound):
    code = "unknown_user"


@dataclass(frozen=True)
class StaffUser:
    """Who acts in the admin suite. ``node_code``: a partner's node (its scope is that
    node's subtree); None for staff, who see the whole network."""

    id: int
    username: str
    display_name: str
    role: str
    permissions: frozenset[str]
    node_id: int | None
    node_code: str | None
    status: str
    must_change_password: bool
    totp_enabled: bool
    created_at: datetime
    last_login_at: datetime | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def is_partner(self) -> bool:
        return self.node_id is not None

    @property
    def actor(self) -> str:
        """The name written in audit records and ledger transfers."""
        return f"staff:{self.username}"[:64]


def _query():  # type: ignore[no-untyped-def]
    return select(staff_users, distribution_nodes.c.code.label("node_code")).outerjoin(
        distribution_nodes, distribution_nodes.c.id == staff_users.c.node_id
    )


def _user(row: Row) -> StaffUser:
    return StaffUser(
        id=int(row.id),
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        permissions=roles.parse_permissions(row.permissions),
        node_id=row.node_id,
        node_code=row.node_code,
        status=row.status,
        must_change_password=bool(row.must_change_password),
        totp_enabled=bool(row.totp_enabled),
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def get_user(txn: Txn, user_id: int) -> StaffUser:
    row = txn.execute(_query().where(staff_users.c.id == user_id)).first()
    if row is None:
        raise UnknownUser(f"no user {user_id}")
    return _user(row)


def find_user(txn: Txn, username: str) -> StaffUser | None:
    row = txn.execute(_query().where(staff_users.c.username == username.lower())).first()
    return None if row is None else _user(row)


def password_hash(txn: Txn, user_id: int) -> str:
    return txn.execute(
        select(staff_users.c.password_hash).where(staff_users.c.id == user_id)
    ).scalar_one()


def list_users(txn: Txn, node_ids: set[int] | None = None) -> list[StaffUser]:
    """Every user, or (``node_ids``) the partner users of those nodes."""
    query = _query().order_by(staff_users.c.username)
    if node_ids is not None:
        query = query.where(staff_users.c.node_id.in_(sorted(node_ids)))
    return [_user(row) for row in txn.execute(query)]


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not 3 <= len(name) <= 64 or not set(name) <= USERNAME_CHARS:
        raise InvalidRequest(
            "a username is 3 to 64 characters: letters, digits, '.', '_', '-', '@'"
        )
    return name


def create_user(
    txn: Txn,
    *,
    username: str,
    display_name: str,
    role: str,
    password_hash: str,
    node_code: str | None,
    must_change_password: bool,
    permissions: frozenset[str] | None = None,
    actor: str,
    now: datetime,
) -> StaffUser:
    name = check_username(username)
    template = roles.role(role)
    if not display_name.strip() or len(display_name) > 80:
        raise InvalidRequest("a display name is 1 to 80 characters")
    if find_user(txn, name) is not None:
        raise InvalidRequest(f"user {name!r} already exists")
    node_id = None
    if template.partner:
        if not node_code:
            raise InvalidRequest(f"a {template.title} user belongs to a node of the network")
        node = txn.execute(
            select(distribution_nodes.c.id, distribution_nodes.c.level).where(
                distribution_nodes.c.code == node_code
            )
        ).first()
        if node is None:
            raise InvalidRequest(f"no node {node_code!r}")
        node_id = int(node.id)
    elif node_code:
        raise InvalidRequest(f"a {template.title} user sees the whole network: no node")
    granted = template.permissions if permissions is None else permissions
    result = txn.execute(
        insert(staff_users).values(
            username=name,
            display_name=display_name.strip(),
            role=template.name,
            permissions=roles.format_permissions(granted),
            node_id=node_id,
            password_hash=password_hash,
            must_change_password=must_change_password,
            totp_enabled=False,
            status="active",
            created_at=now,
            created_by=actor[:64],
        )
    )
    user_id = int(result.inserted_primary_key[0])
    audit.record(
        txn,
        actor=actor,
        action="user.create",
        subject=f"user:{name}",
        details={
            "after": {"role": template.name, "node": node_code, "permissions": sorted(granted)}
        },
        now=now,
    )
    return get_user(txn, user_id)


def _set(txn: Txn, user_id: int, **values: Any) -> None:
    txn.execute(update(staff_users).where(staff_users.c.id == user_id).values(**values))


def update_access(
    txn: Txn,
    *,
    user_id: int,
    role: str,
    permissions: frozenset[str],
    status: str,
    actor: str,
    now: datetime,
) -> StaffUser:
    """A user's role, permission set and status, audited with before and after."""
    before = get_user(txn, user_id)
    template = roles.role(role)
    if template.partner != before.is_partner:
        raise InvalidRequest("a staff user cannot become a partner user, nor the reverse")
    if status not in ("active", "blocked"):
        raise InvalidRequest("status is active or blocked")
    _set(
        txn,
        user_id,
        role=template.name,
        permissions=roles.format_permissions(permissions),
        status=status,
    )
    if status == "blocked":
        end_sessions(txn, user_id, now)
    after = get_user(txn, user_id)
    audit.record(
        txn,
        actor=actor,
        action="user.access",
        subject=f"user:{before.username}",
        details={
            "before": {
                "role": before.role,
                "status": before.status,
                "permissions": sorted(before.permissions),
            },
            "after": {
                "role": after.role,
                "status": after.status,
                "permissions": sorted(after.permissions),
            },
        },
        now=now,
    )
    return after


def set_password(
    txn: Txn,
    *,
    user_id: int,
    password_hash: str,
    must_change: bool,
    actor: str,
    now: datetime,
    action: str = "user.password",
) -> None:
    """A new password: every session of the user ends (a reset locks out whoever held one)
    unless the user changed it itself (``must_change`` False keeps the current session,
    which the caller rotates)."""
    user = get_user(txn, user_id)
    _set(
        txn,
        user_id,
        password_hash=password_hash,
        must_change_password=must_change,
        password_changed_at=now,
    )
    if must_change:
        end_sessions(txn, user_id, now)
    audit.record(
        txn,
        actor=actor,
        action=action,
        subject=f"user:{user.username}",
        details={"after": {"must_change_password": must_change}},
        now=now,
    )


def totp_secret(txn: Txn, keyring: Keyring, user_id: int) -> str | None:
    row = txn.execute(
        select(staff_users.c.totp_key_id, staff_users.c.totp_secret).where(
            staff_users.c.id == user_id
        )
    ).one()
    if row.totp_secret is None:
        return None
    return keyring.decrypt(txn, row.totp_key_id, row.totp_secret, aad=_totp_aad(user_id)).decode()


def _totp_aad(user_id: int) -> bytes:
    return b"staff-totp:%d" % user_id


def store_totp_secret(
    txn: Txn, keyring: Keyring, *, user_id: int, secret: str, enabled: bool
) -> None:
    key_id, blob = keyring.encrypt(txn, secret.encode(), aad=_totp_aad(user_id))
    _set(
        txn,
        user_id,
        totp_key_id=key_id,
        totp_secret=blob,
        totp_enabled=enabled,
        totp_last_step=None,
    )


def enable_totp(txn: Txn, user_id: int, step: int, now: datetime) -> None:
    _set(txn, user_id, totp_enabled=True, totp_last_step=step)
    user = get_user(txn, user_id)
    audit.record(
        txn,
        actor=f"staff:{user.username}",
        action="user.totp_enrolled",
        subject=f"user:{user.username}",
        now=now,
    )


def reset_totp(txn: Txn, *, user_id: int, actor: str, now: datetime) -> None:
    """Forget the second factor: the user enrols again at the next login."""
    user = get_user(txn, user_id)
    _set(txn, user_id, totp_key_id=None, totp_secret=None, totp_enabled=False, totp_last_step=None)
    end_sessions(txn, user_id, now)
    audit.record(
        txn, actor=actor, action="user.totp_reset", subject=f"user:{user.username}", now=now
    )


def use_totp_step(txn: Txn, user_id: int, step: int) -> bool:
    """Accept a TOTP time step once: False when it (or a later one) was used already, so a
    code seen over a shoulder cannot be replayed inside its window."""
    result = txn.execute(
        update(staff_users)
        .where(staff_users.c.id == user_id)
        .where((staff_users.c.totp_last_step.is_(None)) | (staff_users.c.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return (result.rowcount or 0) == 1


def logged_in(txn: Txn, user_id: int, now: datetime) -> None:
    _set(txn, user_id, last_login_at=now)


def end_sessions(txn: Txn, user_id: int, now: datetime) -> None:
    txn.execute(
        update(staff_sessions)
        .where(staff_sessions.c.user_id == user_id)
        .where(staff_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


# --- login history -----------------------------------------------------------------------


@dataclass(frozen=True)
class LoginRecord:
    id: int
    at: datetime
    username: str
    user_id: int | None
    address: str
    user_agent: str
    outcome: str


def record_login(
    txn: Txn,
    *,
    username: str,
    user_id: int | None,
    address: str,
    user_agent: str,
    outcome: str,
    now: datetime,
) -> None:
    txn.execute(
        insert(staff_logins).values(
            at=now,
            username=username[:64],
            user_id=user_id,
            address=address[:64],
            user_agent=user_agent[:200],
            outcome=outcome[:24],
        )
    )


def login_history(
    txn: Txn, *, user_ids: set[int] | None = None, limit: int = 100
) -> list[LoginRecord]:
    """The latest logins, newest first; ``user_ids``: only those users' (a partner's view)."""
    query = select(staff_logins).order_by(staff_logins.c.id.desc()).limit(limit)
    if user_ids is not None:
        query = query.where(staff_logins.c.user_id.in_(sorted(user_ids)))
    return [
        LoginRecord(int(r.id), r.at, r.username, r.user_id, r.address, r.user_agent, r.outcome)
        for r in txn.execute(query)
    ]
