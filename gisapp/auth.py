"""Staff accounts, roles and sessions.

Passwords are argon2id hashes. A login yields an opaque random token: as a cookie for pages, as a
bearer token for the API. Only the token's SHA-256 is stored, so a database leak reveals no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, text

from common import audit
from gisapp import login_throttle
from gisapp.db import transaction


class Role(StrEnum):
    staff = "staff"  # 各課職員 department staff
    hq_operator = "hq_operator"  # 災害対策本部オペレーター
    welfare = "welfare"  # 要支援者担当 welfare staff
    admin = "admin"  # システム管理者


ROLE_LABELS = {
    Role.staff: ("職員", "Department staff"),
    Role.hq_operator: ("災害対策本部", "HQ operator"),
    Role.welfare: ("要支援者担当", "Welfare staff"),
    Role.admin: ("管理者", "Administrator"),
}

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    department_id: int | None
    roles: frozenset[str] = field(default_factory=frozenset)

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles & set(roles)) or Role.admin in self.roles


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create_user(
    conn: Connection,
    username: str,
    display_name: str,
    password: str,
    roles: list[str],
    department_id: int | None = None,
    *,
    actor: str = "system",
) -> int:
    """Create or update (by username) a staff account."""
    unknown = set(roles) - {r.value for r in Role}
    if unknown:
        raise ValueError(f"不明なロール / unknown roles: {sorted(unknown)}")
    user_id = conn.execute(
        text(
            """INSERT INTO core.app_user (username, display_name, department_id, roles, password_hash)
               VALUES (:u, :d, :dept, :roles, :h)
               ON CONFLICT (username) DO UPDATE SET display_name = EXCLUDED.display_name,
                 department_id = EXCLUDED.department_id, roles = EXCLUDED.roles,
                 password_hash = EXCLUDED.password_hash, is_active = true
               RETURNING id"""
        ),
        {
            "u": username,
            "d": display_name,
            "dept": department_id,
            "roles": roles,
            "h": hash_password(password),
        },
    ).scalar_one()
    audit.record(conn, actor, "user.upsert", username, roles=roles, department_id=department_id)
    return user_id


def _account(conn: Connection, username: str):
    return conn.execute(
        text(
            """SELECT id, username, display_name, department_id, roles, password_hash
               FROM core.app_user WHERE username = :u AND is_active"""
        ),
        {"u": login_throttle.account_key(username)},
    ).first()


def _password_matches(row, password: str) -> bool:
    try:
        # Verified against a dummy when the username is unknown, so both paths take the same time.
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return row is not None


def _signed_in(conn: Connection, row, password: str) -> User:
    if _hasher.check_needs_rehash(row.password_hash):
        conn.execute(
            text("UPDATE core.app_user SET password_hash = :h WHERE id = :id"),
            {"h": hash_password(password), "id": row.id},
        )
    return User(row.id, row.username, row.display_name, row.department_id, frozenset(row.roles))


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    """The user with this password, without throttling (the CLI and tests); logins use ``log_in``."""
    row = _account(conn, username)
    return _signed_in(conn, row, password) if _password_matches(row, password) else None


def log_in(
    engine: Engine, username: str, password: str, kind: str, lifetime: timedelta, *, address: str | None
) -> tuple[User, str] | None:
    """One login attempt: (user, session token), or None for a wrong username or password.

    ``address`` is the client's key (login_throttle.address_key); None turns throttling off (only the
    benchmark's baseline does). While the account or the address is locked this raises TooManyRequests
    before any hashing and writes nothing; when no hashing slot frees up soon it raises Busy (503) and
    writes nothing. Otherwise two short transactions, both committed before the caller answers: the
    attempt is counted before hashing (so that concurrent attempts see it), and the outcome (the count
    kept or cleared, audit, session) after. No transaction stays open over argon2.
    """
    name = login_throttle.account_key(username)
    attempt = None
    if address is None:  # unthrottled: as before throttling existed
        with engine.connect() as conn:
            row = _account(conn, username)
        ok = _password_matches(row, password)
    else:
        with engine.connect() as conn:  # locked: answered after one read, without queueing for a slot
            wait = login_throttle.retry_after(conn, name, address)
        if wait:
            raise login_throttle.locked(wait)
        with login_throttle.hash_slot():
            # Counted before the password is checked, and committed: see login_throttle.charge.
            with transaction(engine) as conn:
                attempt = login_throttle.charge(conn, name, address)
                row = None if attempt.refused else _account(conn, username)
            if attempt.refused:
                raise login_throttle.locked(attempt.refused)
            # argon2 runs holding no database connection or row lock, so a storm of wrong passwords
            # neither ties up the pool that the HQ's reads need nor serialises logins.
            ok = _password_matches(row, password)
    with transaction(engine) as conn:
        if attempt:
            login_throttle.settle(conn, attempt, succeeded=ok)
        if not ok:
            audit.record(conn, "anonymous", "auth.login_failed", name)
            found = None
        else:
            user = _signed_in(conn, row, password)
            token = open_session(conn, user, kind, lifetime)
            audit.record(conn, user.username, "auth.login", user.username, kind=kind)
            found = (user, token)
    if not ok and attempt and attempt.lock_seconds:
        raise login_throttle.locked(attempt.lock_seconds)  # after the commit: the failure stays counted
    return found


def open_session(conn: Connection, user: User, kind: str, lifetime: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    conn.execute(
        text(
            """INSERT INTO core.auth_session (token_hash, user_id, kind, expires_at)
               VALUES (:h, :uid, :kind, now() + :life)"""
        ),
        {"h": token_digest(token), "uid": user.id, "kind": kind, "life": lifetime},
    )
    return token


def user_for_token(conn: Connection, token: str, kind: str) -> User | None:
    row = conn.execute(
        text(
            """SELECT u.id, u.username, u.display_name, u.department_id, u.roles
               FROM core.auth_session s JOIN core.app_user u ON u.id = s.user_id
               WHERE s.token_hash = :h AND s.kind = :kind AND s.revoked_at IS NULL
                 AND s.expires_at > now() AND u.is_active"""
        ),
        {"h": token_digest(token), "kind": kind},
    ).first()
    if row is None:
        return None
    return User(row.id, row.username, row.display_name, row.department_id, frozenset(row.roles))


def close_session(conn: Connection, token: str, actor: str | None = None) -> None:
    """Revoke a session; a signed-in user's logout (``actor``) is audited in the same transaction."""
    conn.execute(
        text("UPDATE core.auth_session SET revoked_at = now() WHERE token_hash = :h AND revoked_at IS NULL"),
        {"h": token_digest(token)},
    )
    if actor is not None:
        audit.record(conn, actor, "auth.logout", actor)
