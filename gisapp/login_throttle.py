"""Login throttling per account and per address.

Every failed password check counts against the normalised username, whether or not an account has that
name (so a lock does not reveal which accounts exist), and against the client address, stored as an
HMAC of the address. While either is locked a login is refused (429 with Retry-After) after one SELECT:
no password hashing and no audit entry per attempt; one `auth.locked` entry when a lock starts. The
state is in PostgreSQL (core.login_throttle, migration 0019) so that every server process shares it.
An attempt is counted before its password is checked and given back if it succeeds, so a burst of
concurrent attempts cannot slip past the limit; each process checks few passwords at once. See
docs/login.md.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection, text

from common import audit
from common.errors import Busy, TooManyRequests
from gisapp.settings import Settings


@dataclass(frozen=True)
class Policy:
    """The whole policy in one place; tests replace ``POLICY`` with shorter periods."""

    account_failures: int = 5  # consecutive failures that lock an account …
    account_lock: timedelta = timedelta(seconds=60)  # … for this long, doubling per further failure …
    account_lock_max: timedelta = timedelta(minutes=15)  # … up to this
    account_forget: timedelta = timedelta(hours=1)  # an hour without failures clears the count
    address_failures: int = 20  # failures from one address within the window …
    address_window: timedelta = timedelta(minutes=10)
    address_lock: timedelta = timedelta(minutes=10)  # … lock every login from it for this long

    def lock_seconds(self, scope: str, failures: int) -> int | None:
        """How long this failure locks its account or address (None: not locked)."""
        if scope == "account":
            if failures < self.account_failures:
                return None
            doubled = self.account_lock * 2 ** min(failures - self.account_failures, 20)
            return math.ceil(min(doubled, self.account_lock_max).total_seconds())
        if failures < self.address_failures:
            return None
        return math.ceil(self.address_lock.total_seconds())


POLICY = Policy()

# Password checks at once per process. argon2 costs ~200 ms of one core and 64 MiB by design: a storm
# from many addresses, which no per-account or per-address count stops, then waits here instead of
# taking every worker thread, every core and gigabytes from the HQ's reads. A login that gets no slot
# within HASH_WAIT seconds is answered 503 (Busy, Retry-After) and counted nowhere.
HASH_SLOTS = max(1, (os.cpu_count() or 2) // 2)
HASH_WAIT = 2.0
_hash_slots = threading.BoundedSemaphore(HASH_SLOTS)


@contextmanager
def hash_slot() -> Iterator[None]:
    """Hold one of the process's password-check slots (Busy when none frees up within HASH_WAIT)."""
    if not _hash_slots.acquire(timeout=HASH_WAIT):
        raise Busy(
            "ログインが混み合っています。少し待ってからもう一度お試しください。",
            "Logins are busy: please try again shortly.",
        )
    try:
        yield
    finally:
        _hash_slots.release()


def account_key(username: str) -> str:
    """The key an attempt counts against: the username as the login looks it up."""
    return username.strip().lower()[:64]


def key_secret(settings: Settings) -> bytes:
    """The HMAC key for addresses: derived from the install's client-key secret (the citizen reports'
    too, ``Settings.client_key_secret``), so the two keyed hashes of one address differ."""
    return hmac.new(settings.client_key_secret(), b"login-throttle-address", hashlib.sha256).digest()


def address_key(secret: bytes, address: str) -> str:
    """A keyed hash of the client address: enough to count its failures, not to recover it."""
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()


_RETRY_AFTER = text(
    """SELECT ceil(extract(epoch FROM max(locked_until) - now()))::int FROM core.login_throttle
       WHERE ((scope = 'account' AND key = :account) OR (scope = 'address' AND key = :address))
         AND locked_until > now()"""
)


def retry_after(conn: Connection, account: str, address: str) -> int | None:
    """Seconds until the longer of the account's and the address's locks ends (None: not locked)."""
    wait = conn.execute(_RETRY_AFTER, {"account": account, "address": address}).scalar()
    return max(1, wait) if wait is not None else None


# One statement per attempt, atomic under concurrent attempts from several processes. The count starts
# over when the account has been quiet for `account_forget`, or when the address's window has passed.
_CHARGE = """INSERT INTO core.login_throttle AS t (scope, key, failures) VALUES (:scope, :key, 1)
  ON CONFLICT (scope, key) DO UPDATE SET
    failures = CASE WHEN t.{since} < now() - :reset THEN 1 ELSE t.failures + 1 END,
    window_start = CASE WHEN t.{since} < now() - :reset THEN now() ELSE t.window_start END,
    last_failure_at = now()
  RETURNING failures, coalesce(t.locked_until > now(), false) AS locked"""
_CHARGE_SQL = {
    "account": text(_CHARGE.format(since="last_failure_at")),
    "address": text(_CHARGE.format(since="window_start")),
}
_LOCK = text(
    """UPDATE core.login_throttle SET locked_until = now() + make_interval(secs => :seconds)
       WHERE scope = :scope AND key = :key"""
)
# Rows that would start over at their next failure anyway.
_PRUNE = text(
    """DELETE FROM core.login_throttle
       WHERE last_failure_at < now() - :quiet AND (locked_until IS NULL OR locked_until < now())"""
)


@dataclass
class Charge:
    """One attempt, counted as a failure before its password is checked (see ``charge``)."""

    account: str
    address: str
    refused: int | None = None  # seconds to wait: a lock holds, the password must not be checked
    started: list[tuple[str, int, int]] = field(default_factory=list)  # (scope, failures, seconds)

    @property
    def lock_seconds(self) -> int | None:
        """The longest lock this attempt started (None: none)."""
        return max((seconds for _, _, seconds in self.started), default=None)


def charge(conn: Connection, account: str, address: str) -> Charge:
    """Count this attempt as a failure of its account and address *before* its password is checked.

    The caller commits before hashing, so concurrent attempts (several processes, a burst of requests)
    see the count: no more attempts than the allowance reach argon2 however many arrive at once. While
    a lock holds nothing is written and ``refused`` says how long to wait. A success gives the charge
    back and a failure audits the locks it started (``settle``).
    """
    wait = retry_after(conn, account, address)
    if wait:
        return Charge(account, address, refused=wait)
    policy = POLICY
    reset = {"account": policy.account_forget, "address": policy.address_window}
    found = Charge(account, address)
    for scope, key in (("account", account), ("address", address)):
        failures, locked = conn.execute(
            _CHARGE_SQL[scope], {"scope": scope, "key": key, "reset": reset[scope]}
        ).one()
        if locked:  # a concurrent attempt locked it since the check above
            found.refused = retry_after(conn, account, address) or 1
            continue
        seconds = policy.lock_seconds(scope, failures)
        if seconds is not None:
            conn.execute(_LOCK, {"scope": scope, "key": key, "seconds": seconds})
            found.started.append((scope, failures, seconds))
    if found.refused:
        _audit_locks(conn, found)  # this attempt ends here: its locks stand
    if random.random() < 0.01:  # housekeeping, not security
        conn.execute(_PRUNE, {"quiet": max(policy.account_forget, policy.address_window)})
    return found


def settle(conn: Connection, attempt: Charge, *, succeeded: bool) -> None:
    """After the password check. A failure stays counted and each lock it started is audited once
    (`auth.locked`). A success clears its account's count and lock, and gives the address back this
    one attempt (an address's count is of failures only; one valid account must not let an address go
    on guessing others, so a success does not clear it)."""
    if not succeeded:
        _audit_locks(conn, attempt)
        return
    conn.execute(
        text("DELETE FROM core.login_throttle WHERE scope = 'account' AND key = :k"), {"k": attempt.account}
    )
    lifted = any(scope == "address" for scope, _, _ in attempt.started)
    conn.execute(
        text(
            """UPDATE core.login_throttle SET failures = greatest(failures - 1, 0),
                 locked_until = CASE WHEN :lifted THEN NULL ELSE locked_until END
               WHERE scope = 'address' AND key = :k"""
        ),
        {"k": attempt.address, "lifted": lifted},
    )


def _audit_locks(conn: Connection, attempt: Charge) -> None:
    for scope, failures, seconds in attempt.started:
        target = attempt.account if scope == "account" else f"address:{attempt.address[:16]}"
        audit.record(
            conn, "anonymous", "auth.locked", target, scope=scope, failures=failures, seconds=seconds
        )


def unlock(conn: Connection, scope: str, key: str, *, actor: str) -> bool:
    """Lift a lock and clear the count (an administrator's decision, audited); False if there was none."""
    gone = conn.execute(
        text("DELETE FROM core.login_throttle WHERE scope = :s AND key = :k RETURNING locked_until > now()"),
        {"s": scope, "k": key},
    ).scalar()
    target = key if scope == "account" else f"address:{key[:16]}"
    audit.record(conn, actor, "auth.unlocked", target, scope=scope, was_locked=bool(gone))
    return bool(gone)


def active_locks(conn: Connection) -> list[dict]:
    """Locks in force now, longest first (addresses by the start of their key)."""
    rows = conn.execute(
        text(
            """SELECT scope, CASE WHEN scope = 'address' THEN 'address:' || left(key, 16) ELSE key END AS key,
                      failures, locked_until,
                      ceil(extract(epoch FROM locked_until - now()))::int AS seconds_left
               FROM core.login_throttle WHERE locked_until > now() ORDER BY locked_until DESC"""
        )
    )
    return [dict(r._mapping) for r in rows]


def _wait_text(seconds: int) -> tuple[str, str]:
    if seconds < 60:
        return f"{seconds}秒", f"{seconds} seconds" if seconds != 1 else "1 second"
    minutes = math.ceil(seconds / 60)
    return f"約{minutes}分", f"about {minutes} minutes" if minutes != 1 else "about 1 minute"


def locked(seconds: int) -> TooManyRequests:
    """The refusal while a lock holds, in both languages, with Retry-After."""
    ja, en = _wait_text(seconds)
    return TooManyRequests(
        f"ログインの失敗が続いたため、ログインを一時的に止めています。{ja}後にもう一度お試しください。",
        f"Too many failed logins: logging in is paused. Try again in {en}.",
        retry_after=seconds,
    )
