"""Users, roles and API tokens of the metadata store.

A user has a name, one role and an API token. Only an argon2 hash of the
token is stored; the token itself is shown once, when the user is added or the
token is rotated. The command line identifies its user from
``SYNTHGATE_USER`` plus ``SYNTHGATE_TOKEN``; a web console calls
:func:`authenticate` with what its login form received.

**Bootstrap mode.** While the store has no user at all (a fresh install, the
demo), nobody can authenticate, so identities are taken at their word:
``SYNTHGATE_USER`` names the actor and every permission is granted, but
four-eyes still holds (nobody approves a release requested under their own
name). Adding the first user, who must be an ``admin``, ends bootstrap mode
for good: from then on every write (run, approve, reject, publish, revoke,
users) needs a valid token.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from synthgate.audit import AuditLog
from synthgate.audit._log import HEAD_ID
from synthgate.errors import ConfigError, NotAuthenticated, PermissionDenied, register_secret
from synthgate.release._throttle import guard_for
from synthgate.store import Store, utcnow
from synthgate.store.models import AuditHead, LoginThrottle, UserRow, WebSession

__all__ = [
    "LOCK_AFTER_FAILURES",
    "LOCK_MINUTES",
    "MIN_PASSWORD_LENGTH",
    "ROLE_PERMISSIONS",
    "SYSTEM",
    "SYSTEM_ACTOR",
    "TOKEN_ENV",
    "Actor",
    "LoginLocked",
    "Permission",
    "Role",
    "UserInfo",
    "add_user",
    "authenticate",
    "disable_user",
    "has_users",
    "hash_token",
    "identify",
    "list_users",
    "password_login",
    "require",
    "rotate_token",
    "set_password",
    "token_from_env",
    "verify_token",
]

TOKEN_ENV = "SYNTHGATE_TOKEN"  # noqa: S105 - the variable name, not a token
SYSTEM = "system"  # the actor of automatic steps (auto-approval, expiry); no user has this name
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_TOKEN_PREFIX = "sgt_"  # noqa: S105 - marks tokens so secret scanners find them
_HASHER = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
_MAX_PASSWORD_LENGTH = 1024
LOCK_AFTER_FAILURES = 5  # failed sign-ins of one user name from one client address …
LOCK_MINUTES = 15  # … lock that pair out for this long
_INVALID = "<invalid name>"
LOCAL = "local"  # the client address of the command line
_AUTH_HINT = (
    "set SYNTHGATE_USER and SYNTHGATE_TOKEN to a registered user and that user's API token "
    "(an admin creates one with: synthgate users add NAME --role ROLE)"
)


class Role(enum.StrEnum):
    ENGINEER = "engineer"  # runs jobs, requests and publishes releases
    APPROVER = "approver"  # compliance: approves, rejects, revokes, registers policy packs
    AUDITOR = "auditor"  # reads releases, reports and the audit log
    ADMIN = "admin"  # everything, including users


class Permission(enum.StrEnum):
    RUN = "run jobs"
    DECIDE = "approve or reject releases"
    PUBLISH = "publish releases"
    REVOKE = "revoke releases"
    EXPIRE = "expire releases"
    MANAGE_USERS = "manage users"
    MANAGE_AUDIT = "rekey the audit log"
    REGISTER_POLICIES = "register policy packs"
    READ = "read releases and the audit log"


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ENGINEER: frozenset(
        {Permission.RUN, Permission.PUBLISH, Permission.EXPIRE, Permission.READ}
    ),
    Role.APPROVER: frozenset(
        {
            Permission.DECIDE,
            Permission.REVOKE,
            Permission.EXPIRE,
            Permission.REGISTER_POLICIES,
            Permission.READ,
        }
    ),
    Role.AUDITOR: frozenset({Permission.READ}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something. ``role`` is ``None`` in bootstrap mode and for the system."""

    name: str
    role: Role | None
    authenticated: bool

    @property
    def bootstrap(self) -> bool:
        return self.role is None and not self.authenticated

    def can(self, permission: Permission) -> bool:
        if self.bootstrap:
            return True
        return self.role is not None and permission in ROLE_PERMISSIONS[self.role]

    def audit_details(self) -> dict[str, Any]:
        """What the audit log records about how the actor was identified."""
        if self.bootstrap:
            return {"authenticated": False, "bootstrap": True}
        role = self.role.value if self.role else None
        return {"authenticated": self.authenticated, "actor_role": role}

    def __str__(self) -> str:
        return self.name


SYSTEM_ACTOR = Actor(SYSTEM, None, True)


@dataclass(frozen=True, slots=True)
class UserInfo:
    name: str
    role: Role
    active: bool
    created_at: str
    created_by: str
    disabled_at: str | None

    @classmethod
    def of(cls, row: UserRow) -> UserInfo:
        return cls(
            row.name, Role(row.role), row.active, row.created_at, row.created_by, row.disabled_at
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.value,
            "active": self.active,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "disabled_at": self.disabled_at,
        }


# --------------------------------------------------------------------------- tokens


def new_token() -> str:
    return _TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """argon2id hash of *token*, as stored."""
    return _HASHER.hash(token)


_VERIFIED: OrderedDict[tuple[str, str], None] = OrderedDict()
_VERIFIED_MAX = 1024
_VERIFIED_LOCK = threading.Lock()


def verify_token(token_hash: str, token: str) -> bool:
    """Whether *token* matches *token_hash*.

    A match is remembered (as the sha256 of the token, which is random and
    256 bits long) for this stored hash, so that an API client does not pay
    for argon2 on every request; rotating the token changes the stored hash,
    and disabled users are refused before their token is checked.
    """
    key = (token_hash, hashlib.sha256(token.encode()).hexdigest())
    with _VERIFIED_LOCK:
        if key in _VERIFIED:
            _VERIFIED.move_to_end(key)
            return True
    try:
        ok = _HASHER.verify(token_hash, token)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if ok:
        with _VERIFIED_LOCK:
            _VERIFIED[key] = None
            while len(_VERIFIED) > _VERIFIED_MAX:
                _VERIFIED.popitem(last=False)
    return ok


# --------------------------------------------------------------------------- identity


def has_users(store: Store) -> bool:
    with store.session() as s:
        return bool(s.scalar(select(func.count()).select_from(UserRow)))


def token_from_env() -> str | None:
    """This process's own ``SYNTHGATE_TOKEN``, registered as a secret: masked in every
    message even when it turns out not to match the user."""
    token = os.environ.get(TOKEN_ENV) or None
    register_secret(token)
    return token


def authenticate(
    store: Store, name: str, token: str | None, *, client: str = LOCAL, via: str = "cli"
) -> Actor:
    """The actor *name* proves to be with *token*; bootstrap actor when no user exists.

    An unknown or disabled user costs the same argon2 verification as a wrong
    token, so the answer's timing does not tell which names exist. Failures
    count against *client* (see :mod:`synthgate.release._throttle`) and are
    audited as ``auth.failed``, aggregated per address and minute.

    A token that verifies is registered as a secret. One that does not is not:
    callers of the web API could otherwise add any string to the masked set."""
    if name == SYSTEM:
        raise NotAuthenticated(f"user name {SYSTEM!r} is reserved for automatic steps")
    with store.session() as s:
        if not s.scalar(select(func.count()).select_from(UserRow)):
            return Actor(name, None, False)
        row = s.scalar(select(UserRow).where(UserRow.name == name))
    guard = guard_for(store)
    if not token:
        guard.failed(client, name=_audit_name(name), reason="no token", via=via)
        raise NotAuthenticated(f"{TOKEN_ENV} is not set, and this store has users", hint=_AUTH_HINT)
    if row is None or not row.active:
        _dummy_verify(token)  # the same work as a real check: no timing hint
        ok = False
    else:
        ok = verify_token(row.token_hash, token)
    if row is None or not ok:
        guard.failed(
            client,
            name=_audit_name(name),
            reason="unknown user, disabled user or wrong token",
            via=via,
        )
        raise NotAuthenticated(
            f"user {name!r} could not be authenticated (unknown, disabled, or wrong token)",
            hint=_AUTH_HINT,
        )
    register_secret(token)
    guard.succeeded(row.name, token)
    return Actor(row.name, Role(row.role), True)


def _audit_name(name: str) -> str:
    return name if _NAME.match(name) and name != SYSTEM else _INVALID


_DUMMY: list[str] = []
_DUMMY_LOCK = threading.Lock()


def _dummy_verify(secret: str) -> None:
    """An argon2 verification that fails, with the hasher's own parameters."""
    with _DUMMY_LOCK:
        if not _DUMMY:
            _DUMMY.append(_HASHER.hash(secrets.token_urlsafe(16)))
        digest = _DUMMY[0]
    try:
        _HASHER.verify(digest, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        role = actor.role.value if actor.role else "no role"
        allowed = ", ".join(r.value for r, perms in ROLE_PERMISSIONS.items() if permission in perms)
        raise PermissionDenied(
            f"user {actor.name!r} (role {role}) may not {permission.value}",
            hint=f"roles that may: {allowed}",
        )


def identify(store: Store, name: str, token: str | None, permission: Permission) -> Actor:
    """Authenticate and check one permission: what every command that writes does first."""
    actor = authenticate(store, name, token)
    require(actor, permission)
    return actor


# --------------------------------------------------------------------------- user management


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(
            f"user name {name!r} is not allowed",
            hint="use letters, digits and . _ @ - (up to 128 characters), starting with a "
            "letter or digit",
        )
    if name == SYSTEM:
        raise ConfigError(f"user name {SYSTEM!r} is reserved for automatic steps")


def _lock(session: Session) -> None:
    """Serialise user changes (bootstrap included) behind the audit head's row lock."""
    session.scalar(select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update())


def _get(session: Session, name: str) -> UserRow:
    row = session.scalar(select(UserRow).where(UserRow.name == name))
    if row is None:
        raise ConfigError(f"no user {name!r}", hint="list them with: synthgate users list")
    return row


def add_user(store: Store, actor: Actor, name: str, role: Role) -> tuple[UserInfo, str]:
    """Create a user and return it with its API token (shown once, stored hashed).

    The very first user needs no authentication (bootstrap) and must be an admin.
    """
    _check_name(name)
    token = new_token()
    register_secret(token)
    with store.session() as s:
        _lock(s)
        count = int(s.scalar(select(func.count()).select_from(UserRow)) or 0)
        if count == 0:
            if role is not Role.ADMIN:
                raise PermissionDenied(
                    "the first user must be an admin",
                    hint=f"run: synthgate users add {name} --role admin",
                )
        elif actor.bootstrap:
            raise NotAuthenticated("this store has users now", hint=_AUTH_HINT)
        else:
            require(actor, Permission.MANAGE_USERS)
        if s.scalar(select(UserRow).where(UserRow.name == name)) is not None:
            raise ConfigError(f"user {name!r} already exists", hint="pick another name")
        row = UserRow(
            name=name,
            role=role.value,
            token_hash=hash_token(token),
            active=True,
            created_at=utcnow(),
            created_by=actor.name,
            disabled_at=None,
        )
        s.add(row)
        AuditLog(store).append_in(
            s,
            actor=actor.name,
            action="user.added",
            subject=name,
            details={"role": role.value, "first_admin": count == 0, **actor.audit_details()},
        )
        info = UserInfo.of(row)
    return info, token


def list_users(store: Store, actor: Actor) -> list[UserInfo]:
    require(actor, Permission.MANAGE_USERS)
    with store.session() as s:
        return [UserInfo.of(r) for r in s.scalars(select(UserRow).order_by(UserRow.name))]


def disable_user(store: Store, actor: Actor, name: str) -> UserInfo:
    """Disable a user: their token stops working. The last active admin stays."""
    require(actor, Permission.MANAGE_USERS)
    with store.session() as s:
        _lock(s)
        row = _get(s, name)
        if not row.active:
            raise ConfigError(f"user {name!r} is already disabled")
        if row.role == Role.ADMIN.value:
            admins = s.scalar(
                select(func.count())
                .select_from(UserRow)
                .where(UserRow.role == Role.ADMIN.value, UserRow.active.is_(True))
            )
            if int(admins or 0) <= 1:
                raise PermissionDenied(
                    f"{name!r} is the last active admin; disabling them would lock everyone out",
                    hint="add another admin first",
                )
        row.active = False
        row.disabled_at = utcnow()
        AuditLog(store).append_in(
            s,
            actor=actor.name,
            action="user.disabled",
            subject=name,
            details={"role": row.role, **actor.audit_details()},
        )
        return UserInfo.of(row)


def rotate_token(store: Store, actor: Actor, name: str) -> str:
    """A new token for *name* (an admin, or the user themself); the old one stops working."""
    if actor.name != name or actor.bootstrap:
        require(actor, Permission.MANAGE_USERS)
    token = new_token()
    register_secret(token)
    with store.session() as s:
        _lock(s)
        row = _get(s, name)
        if not row.active:
            raise ConfigError(f"user {name!r} is disabled", hint="add a new user instead")
        row.token_hash = hash_token(token)
        AuditLog(store).append_in(
            s,
            actor=actor.name,
            action="user.token_rotated",
            subject=name,
            details=actor.audit_details(),
        )
    return token


# --------------------------------------------------------------------------- console passwords


class LoginLocked(NotAuthenticated):
    """Too many failed sign-ins of one user name from one client address."""


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def set_password(store: Store, actor: Actor, name: str, password: str) -> None:
    """Set *name*'s console password (an admin, or the user themself).

    Only an argon2id hash is stored. The user's open console sessions end.
    """
    if actor.name != name or actor.bootstrap:
        require(actor, Permission.MANAGE_USERS)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"the password is {len(password)} characters long; it needs at least "
            f"{MIN_PASSWORD_LENGTH}",
            hint="a passphrase of a few words is easy to type and hard to guess",
        )
    if len(password) > _MAX_PASSWORD_LENGTH:
        raise ConfigError(f"the password is longer than {_MAX_PASSWORD_LENGTH} characters")
    if password.strip().lower() == name.lower():
        raise ConfigError("the password must not be the user name")
    digest = _HASHER.hash(password)
    with store.session() as s:
        _lock(s)
        row = _get(s, name)
        if not row.active:
            raise ConfigError(f"user {name!r} is disabled", hint="add a new user instead")
        row.password_hash = digest
        s.execute(delete(WebSession).where(WebSession.user_name == name))
        AuditLog(store).append_in(
            s,
            actor=actor.name,
            action="user.password_set",
            subject=name,
            details=actor.audit_details(),
        )


def password_login(
    store: Store, name: str, password: str, *, client: str, now: datetime | None = None
) -> Actor:
    """The actor *name* proves to be with their console *password*, from address *client*.

    Every attempt is counted before its password is checked, in one
    transaction on the pair's ``login_throttle`` row (locked for it): the
    :data:`LOCK_AFTER_FAILURES`-th attempt within :data:`LOCK_MINUTES` minutes
    locks the pair out for :data:`LOCK_MINUTES` minutes (:class:`LoginLocked`),
    so however many guesses arrive at once, at most that many are checked. A
    successful sign-in clears the count. Failures are ``auth.failed`` audit
    events, aggregated per address and minute.
    """
    moment = now or datetime.now(UTC)
    valid = bool(_NAME.match(name)) and name != SYSTEM
    key = name if valid else _INVALID
    client = client[:64]
    guard = guard_for(store)
    until = _take_attempt(store, key, client, moment)
    if until is not None:
        guard.failed(client, name=key, reason="locked out after repeated failures", via="console")
        raise LoginLocked(
            f"too many failed sign-ins for {key!r} from this address; try again after "
            f"{until[:16].replace('T', ' ')} UTC"
        )
    with store.session() as s:
        row = s.scalar(select(UserRow).where(UserRow.name == name)) if valid else None
    digest = row.password_hash if row is not None and row.active else None
    if digest is None:
        _dummy_verify(password)  # the same work as a real check: no timing hint
        ok = False
    else:
        try:
            ok = _HASHER.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    if not ok or row is None:
        guard.failed(
            client,
            name=key,
            reason="unknown user, disabled user, no password set or wrong password",
            via="console",
        )
        raise NotAuthenticated("wrong user name or password")
    with store.session() as s:
        s.execute(
            delete(LoginThrottle).where(
                LoginThrottle.user_name == key, LoginThrottle.client == client
            )
        )
        AuditLog(store).append_in(
            s,
            actor=row.name,
            action="auth.signed_in",
            subject=row.name,
            details={"via": "console", "client": client, "actor_role": row.role},
        )
    return Actor(row.name, Role(row.role), True)


def _throttle_row(s: Session, key: str, client: str, stamp: str) -> LoginThrottle:
    """The pair's row, created if missing, locked until the transaction ends."""
    values = {"user_name": key, "client": client, "failures": 0, "last_failure_at": stamp}
    dialect = s.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        s.execute(insert(LoginThrottle).values(**values).on_conflict_do_nothing())
    elif s.get(LoginThrottle, (key, client)) is None:
        s.add(LoginThrottle(**values))
        s.flush()
    return s.get_one(LoginThrottle, (key, client), with_for_update=True, populate_existing=True)


def _take_attempt(store: Store, key: str, client: str, moment: datetime) -> str | None:
    """Count one sign-in attempt of the pair, before its password is checked.

    Returns the time the pair is locked out until (the attempt is refused), or
    None (it may be checked; the attempt that reaches the limit locks the pair).
    """
    stamp = _stamp(moment)
    window_start = _stamp(moment - timedelta(minutes=LOCK_MINUTES))
    with store.session() as s:
        row = _throttle_row(s, key, client, stamp)
        if row.locked_until and row.locked_until > stamp:
            return row.locked_until
        if row.last_failure_at < window_start:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = stamp
        if row.failures >= LOCK_AFTER_FAILURES:
            row.locked_until = _stamp(moment + timedelta(minutes=LOCK_MINUTES))
            row.failures = 0
        return None
