"""Access to the admin suite (issue 15 §2): logins with password and TOTP, server-side
sessions, users and their permissions, the login history, and the guard every admin
service uses (a missing permission or a subject outside the user's scope is refused with
:class:`~staff.roles.Forbidden` AND leaves an audit record).

Logins reuse the XMLVend operators' machinery: scrypt hashes (``vending.passwords``)
checked on the hashing pool the composer injects (``call_hashing``), never a database
thread; failed passwords and second factors counted by ``vending.login_throttle`` under the
key ``("operator", "@admin <username>")`` and the client address, so a guesser is locked
out the same way. A failed step writes its record in a transaction of its own and only then
raises, so the count survives the refusal.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from distribution import nodes
from staff import roles, sessions, totp, users
from staff.roles import Forbidden
from staff.users import LoginRecord, StaffUser
from vending import audit, login_throttle
from vending.auth import dummy_hash
from vending.errors import AuthenticationFailed, InvalidRequest
from vending.keyring import Keyring
from vending.login_throttle import LoginThrottled, ThrottleKey, ThrottleSettings
from vending.passwords import PasswordPolicyError, check_policy, hash_password, verify_password
from vending.services.context import Clock, TxnRunner
from vending.storage.database import Txn

# The client id part of the throttle key: no XMLVend client id contains "@".
THROTTLE_CLIENT = "@admin"

# call_hashing(fn, *args) runs fn on the hashing pool; an awaitable of its result.
CallHashing = Callable[..., Awaitable[Any]]


async def _inline(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


class LoginRefused(AuthenticationFailed):
    """Wrong user name, password or code (one message for all: nothing tells which)."""

    code = "login_refused"


class NoSession(AuthenticationFailed):
    """No live session (never logged in, logged out, or timed out)."""

    code = "no_session"


@dataclass(frozen=True)
class AccessSettings:
    idle: timedelta = timedelta(minutes=15)
    absolute: timedelta = timedelta(hours=8)
    password_log_n: int = 14
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    totp_issuer: str = "EVD"

    @classmethod
    def from_config(cls, config: Any) -> AccessSettings:
        return cls(
            idle=timedelta(seconds=config.admin.session_idle_seconds),
            absolute=timedelta(seconds=config.admin.session_absolute_seconds),
            password_log_n=config.security.scrypt_log_n,
            throttle=ThrottleSettings.from_config(config.security),
            totp_issuer=config.admin.totp_issuer,
        )


@dataclass(frozen=True)
class SessionView:
    """A live session: who, how far the login got, its CSRF token."""

    user: StaffUser
    stage: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class Step:
    """A login step done: the session's (new) id and the stage it is at now."""

    session_id: str
    stage: str


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


def throttle_keys(username: str, address: str) -> tuple[ThrottleKey, ...]:
    return login_throttle.keys_for(THROTTLE_CLIENT, username.strip().lower()[:64], address)


def _next_stage(user: StaffUser) -> str:
    return "change" if user.must_change_password else "active"


# --- transaction functions ------------------------------------------------------------------


def _begin_login(
    txn: Txn, username: str, keys: tuple[ThrottleKey, ...], now: datetime
) -> tuple[login_throttle.Lock | None, StaffUser | None, str | None]:
    lock = login_throttle.active_lock(txn, keys, now)
    user = users.find_user(txn, username)
    stored = None if user is None else users.password_hash(txn, user.id)
    return lock, user, stored


def _finish_login(
    txn: Txn,
    *,
    ok: bool,
    user: StaffUser | None,
    username: str,
    keys: tuple[ThrottleKey, ...],
    address: str,
    user_agent: str,
    settings: AccessSettings,
    now: datetime,
) -> tuple[str, str | None, login_throttle.Lock | None]:
    """(outcome, session id, lock)."""
    user_id = None if user is None else user.id
    if not ok or user is None:
        lock = login_throttle.record_failure(txn, keys, now, settings.throttle)
        _log_login(txn, "bad_password", username, user_id, address, user_agent, now)
        return "bad_password", None, lock
    if not user.may_sign_in:
        _log_login(txn, "blocked", username, user_id, address, user_agent, now)
        return "blocked", None, None
    for key in keys:
        if key.kind == "operator":
            login_throttle.clear_failures(txn, key)
    stage = "password" if user.totp_enabled else "enrol"
    session_id = sessions.create(
        txn,
        user_id=user.id,
        stage=stage,
        address=address,
        user_agent=user_agent,
        absolute=settings.absolute,
        now=now,
    )
    _log_login(txn, "password_ok", username, user_id, address, user_agent, now)
    return stage, session_id, None


def _load_session(txn: Txn, session_id: str, idle: timedelta, now: datetime) -> SessionView | None:
    found = sessions.load(txn, session_id, idle=idle, now=now)
    if found is None:
        return None
    user = users.get_user(txn, found.user_id)
    if not user.may_sign_in:
        sessions.end(txn, session_id, now)
        return None
    return SessionView(user, found.stage, found.csrf_token, found.expires_at)


def _second_factor(
    txn: Txn,
    keyring: Keyring,
    *,
    session_id: str,
    code: str,
    stage: str,
    address: str,
    user_agent: str,
    settings: AccessSettings,
    now: datetime,
) -> tuple[str, str | None, login_throttle.Lock | None]:
    """Check the TOTP of a session at ``stage`` (password: a login; enrol: the first code of
    a new secret). (outcome, new session id, lock)."""
    view = _load_session(txn, session_id, settings.idle, now)
    if view is None or view.stage != stage:
        return "no_session", None, None
    user = view.user
    keys = throttle_keys(user.username, address)
    lock = login_throttle.active_lock(txn, keys, now)
    if lock is not None:
        sessions.end(txn, session_id, now)
        _log_login(txn, "locked", user.username, user.id, address, user_agent, now)
        return "locked", None, lock
    secret = users.totp_secret(txn, keyring, user.id)
    step = None if secret is None else totp.matching_step(secret, code, now)
    if step is None or not users.use_totp_step(txn, user.id, step):
        lock = login_throttle.record_failure(txn, keys, now, settings.throttle)
        if lock is not None:
            sessions.end(txn, session_id, now)
        _log_login(txn, "bad_totp", user.username, user.id, address, user_agent, now)
        return "bad_totp", None, lock
    if stage == "enrol":
        users.enable_totp(txn, user.id, step, now)
    for key in keys:
        if key.kind == "operator":
            login_throttle.clear_failures(txn, key)
    nxt = _next_stage(user)
    fresh = sessions.advance(txn, session_id, nxt)
    users.logged_in(txn, user.id, now)
    _log_login(txn, "success", user.username, user.id, address, user_agent, now)
    return nxt, fresh, None


def _enrolment(
    txn: Txn, keyring: Keyring, session_id: str, settings: AccessSettings, now: datetime
) -> Enrolment | None:
    view = _load_session(txn, session_id, settings.idle, now)
    if view is None or view.stage != "enrol":
        return None
    secret = users.totp_secret(txn, keyring, view.user.id)
    if secret is None:
        secret = totp.new_secret()
        users.store_totp_secret(txn, keyring, user_id=view.user.id, secret=secret, enabled=False)
    return Enrolment(
        secret, totp.provisioning_uri(secret, view.user.username, settings.totp_issuer)
    )


def _log_login(
    txn: Txn,
    outcome: str,
    username: str,
    user_id: int | None,
    address: str,
    user_agent: str,
    now: datetime,
) -> None:
    """One row of the staff login history: who tried, from where, and what came of it."""
    users.record_login(
        txn,
        username=username,
        user_id=user_id,
        address=address,
        user_agent=user_agent,
        outcome=outcome,
        now=now,
    )


def _deny(
    txn: Txn, *, actor: StaffUser, action: str, subject: str, reason: str, now: datetime
) -> None:
    audit.record(
        txn,
        actor=actor.actor,
        action="forbidden",
        subject=subject[:120],
        details={
            "attempted": action,
            "reason": reason,
            "role": actor.role,
            "node": actor.node_code,
        },
        now=now,
    )


# --- the service ----------------------------------------------------------------------------


class StaffAccess:
    """Logins, sessions, users and the guard. ``call_hashing(fn, *args)``: the hashing
    pool (``evd serve``: the XMLVend server's kind of pool, threads of their own at a lower
    priority); tests hash inline."""

    def __init__(
        self,
        runner: TxnRunner,
        keyring: Keyring,
        clock: Clock,
        settings: AccessSettings | None = None,
        call_hashing: CallHashing | None = None,
    ) -> None:
        self._runner = runner
        self._keyring = keyring
        self._clock = clock
        self.settings = settings or AccessSettings()
        self._hash = call_hashing or _inline
        self._dummy = dummy_hash(self.settings.password_log_n)

    # --- the guard (every admin service calls these) ---

    async def deny(self, actor: StaffUser, action: str, subject: str, reason: str) -> None:
        """Write the refusal to the audit trail (a transaction of its own: the refused
        change rolled back), then raise :class:`Forbidden`."""
        await self._runner.run(
            "admin_forbidden",
            _deny,
            actor=actor,
            action=action,
            subject=subject,
            reason=reason,
            now=self._clock(),
        )
        raise Forbidden(f"you may not {action.replace('.', ' ')} {subject}".strip())

    async def record_refusal(
        self, actor: StaffUser, action: str, subject: str, reason: str
    ) -> None:
        """Audit a refusal the adapter decided (a form without its CSRF token)."""
        await self._runner.run(
            "admin_forbidden",
            _deny,
            actor=actor,
            action=action,
            subject=subject,
            reason=reason,
            now=self._clock(),
        )

    async def require(self, actor: StaffUser, permission: str, subject: str = "") -> None:
        if not actor.can(permission):
            await self.deny(actor, permission, subject or permission, "missing permission")

    async def guarded(
        self,
        actor: StaffUser,
        permission: str,
        subject: str,
        desc: str,
        fn: Callable[..., Any],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Run transaction function ``fn`` for ``actor`` once it holds ``permission``; a
        subject outside its scope (``OutsideSubtree``, ``Forbidden`` raised inside) is
        refused and audited like a missing permission."""
        await self.require(actor, permission, subject)
        try:
            return await self._runner.run(desc, fn, *args, **kwargs)
        except (nodes.OutsideSubtree, Forbidden) as exc:
            await self.deny(actor, permission, subject, exc.message)

    async def hash_call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` (a password hash or check) on the hashing pool."""
        return await self._hash(fn, *args)

    def scope_node(self, actor: StaffUser, root_code: str | None) -> str | None:
        """The node an actor acts as in the network: its own (partners), else the root."""
        return actor.node_code if actor.is_partner else root_code

    # --- logging in ---

    async def login(self, username: str, password: str, *, address: str, user_agent: str) -> Step:
        name = username.strip().lower()[:64]
        keys = throttle_keys(name, address)
        now = self._clock()
        lock, user, stored = await self._runner.run(
            "admin_login_begin", _begin_login, name, keys, now
        )
        if lock is not None:
            await self._runner.run(
                "admin_login_locked",
                _log_login,
                outcome="locked",
                username=name,
                user_id=None if user is None else user.id,
                address=address,
                user_agent=user_agent,
                now=now,
            )
            raise LoginThrottled(lock.key, lock.until, now)
        ok = await self._hash(verify_password, password[:200], stored or self._dummy)
        outcome, session_id, lock = await self._runner.run(
            "admin_login_finish",
            _finish_login,
            ok=bool(ok and stored),
            user=user,
            username=name,
            keys=keys,
            address=address,
            user_agent=user_agent,
            settings=self.settings,
            now=self._clock(),
        )
        if lock is not None:
            raise LoginThrottled(lock.key, lock.until, self._clock())
        if session_id is None:
            raise LoginRefused("wrong user name or password, or the user is blocked")
        return Step(session_id, outcome)

    async def session(self, session_id: str) -> SessionView | None:
        if not session_id:
            return None
        return await self._runner.run(
            "admin_session", _load_session, session_id, self.settings.idle, self._clock()
        )

    async def second_factor(
        self, session_id: str, code: str, *, address: str, user_agent: str, stage: str = "password"
    ) -> Step:
        outcome, fresh, lock = await self._runner.run(
            "admin_login_totp",
            _second_factor,
            self._keyring,
            session_id=session_id,
            code=code,
            stage=stage,
            address=address,
            user_agent=user_agent,
            settings=self.settings,
            now=self._clock(),
        )
        if lock is not None:
            raise LoginThrottled(lock.key, lock.until, self._clock())
        if outcome == "no_session":
            raise NoSession("the login timed out; start again")
        if fresh is None:
            raise LoginRefused("wrong code")
        return Step(fresh, outcome)

    async def enrolment(self, session_id: str) -> Enrolment:
        found = await self._runner.run(
            "admin_totp_enrolment",
            _enrolment,
            self._keyring,
            session_id,
            self.settings,
            self._clock(),
        )
        if found is None:
            raise NoSession("the login timed out; start again")
        return found

    async def confirm_enrolment(
        self, session_id: str, code: str, *, address: str, user_agent: str
    ) -> Step:
        return await self.second_factor(
            session_id, code, address=address, user_agent=user_agent, stage="enrol"
        )

    async def change_own_password(
        self, session_id: str, current: str, new: str, *, address: str
    ) -> Step:
        """The user's own new password (forced at the first login, or by choice)."""
        view = await self.session(session_id)
        if view is None or view.stage not in ("change", "active"):
            raise NoSession("the login timed out; start again")
        if new == current:
            raise InvalidRequest("the new password must differ from the current one")
        check_staff_password(new)
        stored = await self._runner.run("admin_password_hash", users.password_hash, view.user.id)
        if not await self._hash(verify_password, current[:200], stored):
            raise LoginRefused("the current password is wrong")
        new_hash = await self._hash(self._hash_password, new)

        def change(txn: Txn) -> str:
            users.set_password(
                txn,
                user_id=view.user.id,
                password_hash=new_hash,
                must_change=False,
                actor=view.user.actor,
                now=self._clock(),
                action="user.password_changed",
            )
            return sessions.advance(txn, session_id, "active")

        return Step(await self._runner.run("admin_password_change", change), "active")

    async def logout(self, session_id: str, *, address: str, user_agent: str) -> None:
        now = self._clock()

        def end(txn: Txn) -> None:
            user_id = sessions.end(txn, session_id, now)
            if user_id is not None:
                user = users.get_user(txn, user_id)
                _log_login(txn, "logout", user.username, user_id, address, user_agent, now)

        await self._runner.run("admin_logout", end)

    def _hash_password(self, password: str) -> str:
        return hash_password(password, log_n=self.settings.password_log_n)

    async def prune_sessions(self) -> int:
        """Delete sessions that ended or expired more than a day ago; how many."""
        return await self._runner.run(
            "admin_sessions_prune", sessions.prune, keep=timedelta(days=1), now=self._clock()
        )

    # --- users (staff with users.*) ---

    async def users(self, actor: StaffUser) -> list[StaffUser]:
        await self.require(actor, "users.view", "users")
        if actor.is_partner:  # never reached with the templates; a hand-granted partner
            await self.deny(actor, "users.view", "users", "staff only")
        return await self._runner.run("admin_users", users.list_users)

    async def user(self, actor: StaffUser, user_id: int) -> StaffUser:
        await self.require(actor, "users.view", f"user:{user_id}")
        if actor.is_partner:
            await self.deny(actor, "users.view", f"user:{user_id}", "staff only")
        return await self._runner.run("admin_user", users.get_user, user_id)

    async def create_user(
        self,
        actor: StaffUser,
        *,
        username: str,
        display_name: str,
        role: str,
        node_code: str | None = None,
    ) -> tuple[StaffUser, str]:
        """A new user with a one-time password (changed at the first login) and no second
        factor yet (enrolled at the first login): the user and that password."""
        await self.require(actor, "users.manage", f"user:{username}")
        if actor.is_partner:
            await self.deny(actor, "users.manage", f"user:{username}", "staff only")
        await self._no_escalation(actor, roles.role(role).permissions, f"user:{username}")
        temporary = one_time_password()
        hashed = await self._hash(self._hash_password, temporary)
        user = await self._runner.run(
            "admin_user_create",
            users.create_user,
            username=username,
            display_name=display_name,
            role=role,
            password_hash=hashed,
            node_code=node_code or None,
            must_change_password=True,
            actor=actor.actor,
            now=self._clock(),
        )
        return user, temporary

    async def update_access(
        self, actor: StaffUser, user_id: int, *, role: str, permissions: set[str], status: str
    ) -> StaffUser:
        await self.require(actor, "users.manage", f"user:{user_id}")
        if actor.is_partner:
            await self.deny(actor, "users.manage", f"user:{user_id}", "staff only")
        if user_id == actor.id and ("users.manage" not in permissions or status != "active"):
            raise InvalidRequest("you cannot take your own user management away")
        await self._no_escalation(actor, frozenset(permissions), f"user:{user_id}")
        return await self._runner.run(
            "admin_user_access",
            users.update_access,
            user_id=user_id,
            role=role,
            permissions=frozenset(permissions),
            status=status,
            actor=actor.actor,
            now=self._clock(),
        )

    async def _no_escalation(
        self, actor: StaffUser, permissions: frozenset[str], subject: str
    ) -> None:
        """Nobody hands out a permission they do not hold themselves."""
        beyond = sorted(permissions - actor.permissions)
        if beyond:
            await self.deny(actor, "users.manage", subject, f"cannot grant {', '.join(beyond)}")

    async def reset_password(self, actor: StaffUser, user_id: int) -> str:
        """A new one-time password (shown once to the administrator); the user's sessions
        end and the next login must change it."""
        await self.require(actor, "users.manage", f"user:{user_id}")
        if actor.is_partner:
            await self.deny(actor, "users.manage", f"user:{user_id}", "staff only")
        temporary = one_time_password()
        hashed = await self._hash(self._hash_password, temporary)
        await self._runner.run(
            "admin_user_reset",
            users.set_password,
            user_id=user_id,
            password_hash=hashed,
            must_change=True,
            actor=actor.actor,
            now=self._clock(),
            action="user.password_reset",
        )
        return temporary

    async def reset_totp(self, actor: StaffUser, user_id: int) -> None:
        await self.require(actor, "users.manage", f"user:{user_id}")
        if actor.is_partner:
            await self.deny(actor, "users.manage", f"user:{user_id}", "staff only")
        await self._runner.run(
            "admin_user_totp_reset",
            users.reset_totp,
            user_id=user_id,
            actor=actor.actor,
            now=self._clock(),
        )

    async def login_history(
        self, actor: StaffUser, *, user_id: int | None = None, limit: int = 100
    ) -> list[LoginRecord]:
        """Staff with users.view see every login (or one user's); anyone sees their own."""
        if user_id is None and not actor.can("users.view"):
            user_id = actor.id
        if user_id is not None and user_id != actor.id:
            await self.require(actor, "users.view", f"user:{user_id}")
        if actor.is_partner and user_id != actor.id:
            await self.deny(actor, "users.view", f"user:{user_id}", "staff only")
        ids = None if user_id is None else {user_id}
        return await self._runner.run(
            "admin_login_history", users.login_history, user_ids=ids, limit=min(limit, 500)
        )

    # --- the audit log ---

    async def audit_log(
        self,
        actor: StaffUser,
        *,
        who: str = "",
        action: str = "",
        subject: str = "",
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        await self.require(actor, "audit.view", "audit log")
        if actor.is_partner:
            await self.deny(actor, "audit.view", "audit log", "staff only")
        return await self._runner.run(
            "admin_audit_log",
            audit.search,
            actor=who,
            action=action,
            subject=subject,
            before_id=before_id,
            limit=min(limit, 200),
        )


# Staff passwords guard money: longer than an XMLVend operator's (6 characters minimum).
STAFF_MIN_LENGTH = 10


def check_staff_password(password: str) -> None:
    try:
        check_policy(password)
    except PasswordPolicyError as exc:
        raise InvalidRequest(str(exc)) from None
    if len(password) < STAFF_MIN_LENGTH:
        raise InvalidRequest(f"a staff password has at least {STAFF_MIN_LENGTH} characters")


def one_time_password() -> str:
    """A one-time password an administrator hands over (read aloud: no look-alikes)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


__all__ = [
    "AccessSettings",
    "Enrolment",
    "Forbidden",
    "LoginRefused",
    "NoSession",
    "SessionView",
    "StaffAccess",
    "Step",
    "one_time_password",
    "roles",
]
