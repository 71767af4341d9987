"""Studio users: argon2 hashes (argon2-cffi), roles per account, and a login throttle kept in the store.

The throttle lives in the user's row, not in memory, so it holds across studio processes and restarts: after
FREE_FAILURES wrong passwords in a row the user is locked for LOCK_BASE_S, doubling with each further failure up
to LOCK_MAX_S. An unknown user costs the same argon2 verification as a known one, so timing does not tell which
names exist. The first admin comes from ACTP_STUDIO_ADMIN_USER / ACTP_STUDIO_ADMIN_PASSWORD (EnvVars) when the
store has no user yet.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

from actp_pipeline.store import schema

ROLES = ("viewer", "approver", "admin")  # each can do what the ones before it can
ALL = "*"
FREE_FAILURES = 5
LOCK_BASE_S = 30.0
LOCK_MAX_S = 900.0
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HASHER = PasswordHasher()
_DUMMY = _HASHER.hash("not a password anyone has")


class UserError(ValueError):
    """A user or role that cannot be made as asked (the message says what and why)."""


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    username: str
    reason: str  # "ok" | "bad" (unknown user or wrong password: never told apart) | "locked"
    retry_after_s: float = 0.0


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    return role


def add_user(engine: Engine, username: str, password: str, *, by: str = "cli") -> None:
    """A new user (no role yet). Refuses a bad name, a short password, or a name already taken."""
    if not _NAME.match(username or ""):
        raise UserError(f"user name {username!r}: use 1-64 letters, digits and _ . @ -")
    if len(password or "") < MIN_PASSWORD:
        raise UserError(f"the password of {username!r} is shorter than {MIN_PASSWORD} characters")
    now = schema.utcnow()
    with engine.begin() as conn:
        if conn.execute(sa.select(schema.studio_users.c.username).where(
                schema.studio_users.c.username == username)).first():
            raise UserError(f"user {username!r} exists already")
        conn.execute(schema.studio_users.insert().values(
            username=username, password_hash=_HASHER.hash(password), failed_logins=0, active=True,
            created_at=now, password_changed_at=now))
        _audit(conn, by, "user_add", None, username, "user created")


def grant(engine: Engine, username: str, account: str, role: str, *, by: str = "cli") -> None:
    """Give `username` `role` on `account` ("*" = every account), replacing a role it had there."""
    check_role(role)
    if not account or len(account) > 128:
        raise UserError("an account key is 1-128 characters ('*' = every account)")
    t = schema.studio_roles
    with engine.begin() as conn:
        if not conn.execute(sa.select(schema.studio_users.c.username).where(
                schema.studio_users.c.username == username)).first():
            raise UserError(f"no user {username!r}: add it first (actp studio user add)")
        conn.execute(t.delete().where(t.c.username == username, t.c.account == account))
        conn.execute(t.insert().values(username=username, account=account, role=role, granted_by=by,
                                       granted_at=schema.utcnow()))
        _audit(conn, by, "grant", account, username, f"role {role}")


def roles_of(engine: Engine, username: str) -> dict[str, str]:
    """account -> role for an active user ({} for an unknown or disabled one)."""
    u, r = schema.studio_users, schema.studio_roles
    with engine.connect() as conn:
        rows = conn.execute(sa.select(r.c.account, r.c.role).join(u, u.c.username == r.c.username).where(
            r.c.username == username, u.c.active.is_(True))).all()
    return {row.account: row.role for row in rows}


def _lock_s(failures: int) -> float:
    over = failures - FREE_FAILURES
    return 0.0 if over < 0 else min(LOCK_MAX_S, LOCK_BASE_S * 2 ** over)


def authenticate(engine: Engine, username: str, password: str, now: dt.datetime | None = None) -> LoginResult:
    """Check a login; counts a failure against the user and locks it per the throttle."""
    now = now or schema.utcnow()
    u = schema.studio_users
    with engine.begin() as conn:
        row = conn.execute(sa.select(u).where(u.c.username == username)).first() if _NAME.match(username or "") \
            else None
        if row is not None and row.locked_until and row.locked_until > now:
            return LoginResult(False, username, "locked", (row.locked_until - now).total_seconds())
        ok = _verify(row.password_hash if row is not None and row.active else _DUMMY, password or "")
        if row is None or not row.active:
            _audit(conn, username[:64] or "?", "login_failed", None, None, "unknown or disabled user")
            return LoginResult(False, username, "bad")
        if ok:
            conn.execute(u.update().where(u.c.username == username).values(failed_logins=0, locked_until=None))
            _audit(conn, username, "login", None, None, "password accepted")
            return LoginResult(True, username, "ok")
        failures = row.failed_logins + 1
        lock = _lock_s(failures)
        conn.execute(u.update().where(u.c.username == username).values(
            failed_logins=failures, locked_until=now + dt.timedelta(seconds=lock) if lock else None))
        _audit(conn, username, "login_failed", None, None, f"wrong password ({failures} in a row)")
        return LoginResult(False, username, "bad")


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def ensure_first_admin(engine: Engine, environ: dict[str, str] | None = None) -> str | None:
    """On a store with no user, make the admin named by the EnvVars (admin of "*"); the name made, or None."""
    env = os.environ if environ is None else environ
    with engine.connect() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(schema.studio_users)).scalar_one():
            return None
    name, password = env.get("ACTP_STUDIO_ADMIN_USER"), env.get("ACTP_STUDIO_ADMIN_PASSWORD")
    if not name or not password:
        return None
    add_user(engine, name, password, by="env")
    grant(engine, name, ALL, "admin", by="env")
    return name


def _audit(conn, username: str, action: str, account: str | None, subject: str | None, reason: str,
           details: dict | None = None) -> None:
    conn.execute(schema.studio_audit.insert().values(at=schema.utcnow(), username=username, action=action,
                                                     account=account, subject=subject, reason=reason,
                                                     details=details))


def audit(engine: Engine, username: str, action: str, *, account: str | None = None, subject: str | None = None,
          reason: str = "", details: dict | None = None) -> None:
    """One row of the studio's audit log (settings changes and the like; approvals log themselves)."""
    with engine.begin() as conn:
        _audit(conn, username, action, account, subject, reason, details)
