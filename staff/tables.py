"""Admin-suite tables, on the core's shared ``metadata`` (created by migration ``0014_admin``;
keep the two in step)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
)

from vending.storage.schema import metadata
from vending.storage.types import Id, UTCDateTime

USER_STATUSES = ("active", "blocked")

staff_users = Table(
    "staff_users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(80), nullable=False),
    # The template the permissions came from (staff.roles.ROLES); informative once created.
    Column("role", String(24), nullable=False),
    # The user's own permission set, space separated (fine-grained: may differ from the role).
    Column("permissions", String(2000), nullable=False),
    # A partner user's scope: its node and the subtree below; NULL for staff (whole network).
    Column("node_id", Id, ForeignKey("distribution_nodes.id"), nullable=True),
    Column("password_hash", String(200), nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    # TOTP secret, encrypted with the keyring's data key (aad: the user id); NULL until enrolled.
    Column("totp_key_id", Integer, nullable=True),
    Column("totp_secret", LargeBinary, nullable=True),
    Column("totp_enabled", Boolean, nullable=False),
    # The last TOTP time step accepted: a code is good once (no replay inside its window).
    Column("totp_last_step", BigInteger, nullable=True),
    Column("status", String(8), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=True),
    Column("last_login_at", UTCDateTime, nullable=True),
    CheckConstraint(
        "status IN (" + ", ".join(f"'{s}'" for s in USER_STATUSES) + ")", name="status"
    ),
)

SESSION_STAGES = ("password", "enrol", "change", "active")

# Server-side sessions: the browser holds a random id, the table only its SHA-256.
staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("id_hash", String(64), nullable=False, unique=True),
    Column("user_id", Id, ForeignKey("staff_users.id"), nullable=False),
    # password (second factor due) -> enrol (first TOTP) / change (new password) -> active.
    Column("stage", String(8), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("address", String(64), nullable=False),
    Column("user_agent", String(200), nullable=False),
    CheckConstraint("stage IN (" + ", ".join(f"'{s}'" for s in SESSION_STAGES) + ")", name="stage"),
    Index("ix_staff_sessions_user_id", "user_id"),
)

# Every login attempt (and logout): time, address, user agent, outcome.
staff_logins = Table(
    "staff_logins",
    metadata,
    Column("id", Id, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("username", String(64), nullable=False),
    Column("user_id", Id, ForeignKey("staff_users.id"), nullable=True),
    Column("address", String(64), nullable=False),
    Column("user_agent", String(200), nullable=False),
    Column("outcome", String(24), nullable=False),
    Index("ix_staff_logins_user_id_id", "user_id", "id"),
    Index("ix_staff_logins_at", "at"),
)

APPROVAL_STATES = ("pending", "approved", "rejected", "failed")

# Four-eyes approvals: an action someone asked for, waiting for someone else.
approvals = Table(
    "approvals",
    metadata,
    Column("id", Id, primary_key=True),
    Column("kind", String(48), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("summary", String(200), nullable=False),
    Column("amount", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    # What the action needs to run (JSON; never a secret).
    Column("payload", JSON, nullable=False),
    # The requester's scope node (NULL: staff); an approver must see it.
    Column("node_id", Id, ForeignKey("distribution_nodes.id"), nullable=True),
    Column("requested_by_id", Id, ForeignKey("staff_users.id"), nullable=False),
    Column("requested_by", String(64), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("state", String(10), nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", UTCDateTime, nullable=True),
    Column("note", String(200), nullable=False, server_default=""),
    Column("result", JSON, nullable=True),
    CheckConstraint(
        "state IN (" + ", ".join(f"'{s}'" for s in APPROVAL_STATES) + ")", name="state"
    ),
    Index("ix_approvals_state_id", "state", "id"),
)
