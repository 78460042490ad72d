"""Database engines and sessions.

The internal app and the ingest worker connect as a member of ``gisapp_rw``; the citizen-facing
instance connects as a member of ``gisapp_read_public``, which can read only the ``pub`` views.
Every transaction of a signed-in user carries that user's roles in ``gisapp.roles`` so that row-level
security on restricted tables can decide (see migration 0001).
"""

from __future__ import annotations

import select
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine, event, exc, text

from gisapp.settings import Settings


class DatabaseNotConfigured(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "データベースが設定されていません。`gisapp up` でローカル環境を起動するか DATABASE_URL を設定してください。\n"
            "No database configured: start the local stack with `gisapp up`, or set DATABASE_URL."
        )


# Every connection of the app:
# - jit=off: JIT compiles for longer than our statements run (the planner's costs for PostGIS
#   functions under row-level security and ST_AsMVT would start it on queries of a few milliseconds);
# - plan_cache_mode=force_custom_plan: psycopg prepares a statement on its 5th use, and PostgreSQL
#   then plans it once for any parameters. For a spatial filter that generic plan is estimated cheaper
#   but runs 2-3x slower (it reads the layer row once per feature, and rebuilds the filter geometry
#   from its WKB for every row instead of once), and a tiny and a city-wide bbox would share one
#   plan. Each execution is planned for its own values (a fraction of a millisecond); the statement
#   stays prepared (no parsing again).
SESSION_OPTIONS = "-c jit=off -c plan_cache_mode=force_custom_plan"
# The citizen-facing instance's connections also
# - never start parallel workers: on the disaster day its many small reads must not take the
#   database's cores from the HQ (on the primary they share), and a tile capped at its feature limit
#   is then always the same subset for one revision (its ETag), with no SET LOCAL round trip per tile
#   (layers/tiles.py);
# - are read only unless a transaction says otherwise: its reads (no signed-in user, no roles to
#   set) run as single statements in autocommit, each its own READ ONLY transaction, with no BEGIN
#   and ROLLBACK round trips (two of a small read's three), and its writes (``transaction()``) open
#   with BEGIN READ WRITE.
CITIZEN_OPTIONS = "-c max_parallel_workers_per_gather=0 -c default_transaction_read_only=on"
_CITIZEN: weakref.WeakSet[Engine] = weakref.WeakSet()


def make_engine(
    url: str | None,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    application_name: str = "gisapp",
    pool_timeout: float = 10,
    citizen: bool = False,
) -> Engine:
    if not url:
        raise DatabaseNotConfigured()
    options = f"{SESSION_OPTIONS} {CITIZEN_OPTIONS}" if citizen else SESSION_OPTIONS
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # A request that cannot get a connection soon gets 503 (Retry-After) rather than hanging.
        pool_timeout=pool_timeout,
        connect_args={"application_name": application_name, "connect_timeout": 5, "options": options},
    )
    event.listen(engine, "checkin", _checked_in)
    dialect = engine.dialect

    def checkout(dbapi_connection, record, proxy) -> None:
        _checkout_ping(dialect, dbapi_connection, record)

    event.listen(engine, "checkout", checkout)
    if citizen:
        _CITIZEN.add(engine)
    return engine


# --- checking a pooled connection before use ----------------------------------------------------
# SQLAlchemy's pool_pre_ping sends ``SELECT 1`` at every checkout: a round trip on every request
# (of a read's five: ping, BEGIN, two statements, ROLLBACK). A connection back from a request a
# moment ago and whose socket has nothing to read is used as it is: a server that restarts or
# terminates the backend writes its FATAL message and closes the socket, which makes it readable. Any
# other connection (idle for longer, or with something on its socket) is pinged as before, and one
# that fails is replaced, with every connection older than it (the pre-ping's own rule).
RECENT_SECONDS = 5.0
_IDLE_SINCE = "gisapp_idle_since"


def _checked_in(dbapi_connection, record) -> None:
    if dbapi_connection is not None:
        record.info[_IDLE_SINCE] = time.monotonic()


def _quiet_and_recent(dbapi_connection, record) -> bool:
    since = record.info.get(_IDLE_SINCE)
    if since is None or time.monotonic() - since > RECENT_SECONDS:
        return False
    try:
        fd = dbapi_connection.pgconn.socket
        readable, _, _ = select.select([fd], [], [], 0)
    except Exception:  # a closed or unusual connection: ping it
        return False
    return not readable


def _checkout_ping(dialect, dbapi_connection, record) -> None:
    if _quiet_and_recent(dbapi_connection, record):
        return
    if not dialect._do_ping_w_event(dbapi_connection):
        raise exc.InvalidatePoolError()  # the pool replaces it (and every connection older)


@lru_cache(maxsize=8)
def engine_for(
    url: str, application_name: str = "gisapp", concurrency: int = 16, citizen: bool = False
) -> Engine:
    """The pool of an app process. Admission control (gisapp/admission.py) lets at most
    ``concurrency`` requests work at once; a request may hold two connections for a moment (its
    read and the write of its domain call, or its login lookup), and the process's own background
    work (access counts, health) needs a few: so the pool never makes an admitted request wait, and
    the short timeout is only a last guard (503, Retry-After)."""
    return make_engine(
        url,
        pool_size=concurrency,
        max_overflow=concurrency + 4,
        application_name=application_name,
        pool_timeout=3,
        citizen=citizen,
    )


def app_engine(settings: Settings, *, public: bool = False) -> Engine:
    url = settings.public_database_url if public else settings.database_url
    if not url:
        raise DatabaseNotConfigured()
    return engine_for(
        url, "gisapp-public" if public else "gisapp", settings.process_concurrency(), citizen=public
    )


# A replica that is down answers the citizen's data routes with 503 within this, not after the
# primary's connect timeout: refused connections fail at once, unreachable hosts after 2 s.
REPLICA_CONNECT_TIMEOUT = 2


def public_read_engine(settings: Settings) -> Engine:
    """Where the citizen-facing instance reads: a streaming replica (PUBLIC_READ_DATABASE_URL, or the
    local one with GISAPP_PUBLIC_READS=replica) or, without one, the engine it writes with."""
    url = settings.public_read_database_url
    if not url or url == settings.public_database_url:
        return app_engine(settings, public=True)
    engine = engine_for(url, "gisapp-public-replica", settings.process_concurrency(), citizen=True)
    if not event.contains(engine, "do_connect", _replica_connect):
        event.listen(engine, "do_connect", _replica_connect)
    return engine


def _replica_connect(dialect, conn_rec, cargs, cparams) -> None:
    cparams["connect_timeout"] = REPLICA_CONNECT_TIMEOUT


def set_roles(conn: Connection, roles: Iterable[str]) -> None:
    """Declare the acting user's roles for this transaction (read by row-level security)."""
    conn.execute(text("SELECT set_config('gisapp.roles', :r, true)"), {"r": ",".join(sorted(roles))})


@contextmanager
def _driver_flag(conn: Connection, name: str, value: object) -> Iterator[None]:
    """The driver connection's ``name`` (psycopg: read_only, autocommit) set for the block and put back
    to its pool default afterwards; a connection that cannot be put back (a broken one) is invalidated,
    never returned to the pool so set, and the block's own error stays the one raised."""
    driver = conn.connection.dbapi_connection
    default = {"read_only": None, "autocommit": False}[name]
    setattr(driver, name, value)
    try:
        yield
    finally:
        try:
            setattr(driver, name, default)
        except Exception:
            conn.invalidate()


@contextmanager
def transaction(engine: Engine, roles: Iterable[str] = ()) -> Iterator[Connection]:
    """One write: committed when the block ends (before the caller builds its answer), rolled back
    if it raises; the acting user's roles are set for row-level security."""
    # The citizen-facing instance's sessions are read only by default: its writes say READ WRITE.
    citizen = engine in _CITIZEN
    with engine.connect() as conn:
        with _driver_flag(conn, "read_only", False) if citizen else nullcontext(), conn.begin():
            if roles:
                set_roles(conn, roles)
            yield conn


@contextmanager
def read_only(engine: Engine, roles: Iterable[str] = ()) -> Iterator[Connection]:
    """A read: a READ ONLY transaction (PostgreSQL refuses any write in it), never committed.
    psycopg opens it with ``BEGIN READ ONLY``: one round trip on every read route, where a separate
    ``SET TRANSACTION READ ONLY`` cost a second.

    The flag is set on the driver's connection and put back to None (the server's default) here, not
    with SQLAlchemy's ``postgresql_readonly`` option: that one resets it to False when the connection
    returns to the pool, and psycopg then opens every later transaction with ``BEGIN READ WRITE``,
    which a hot-standby replica refuses (NotSupportedError on every read of the replica instance)."""
    if not roles and engine in _CITIZEN:
        # Single statements, each its own READ ONLY transaction (the session's default, see
        # CITIZEN_OPTIONS): no BEGIN, no ROLLBACK. Two statements of one read may see two snapshots.
        with engine.connect() as conn, _driver_flag(conn, "autocommit", True):
            yield conn
        return
    # Never back to the pool still read only (a later write would fail): _driver_flag puts it back,
    # after the rollback (psycopg cannot change it inside a transaction), or invalidates the connection.
    with engine.connect() as conn, _driver_flag(conn, "read_only", True):
        try:
            if roles:
                set_roles(conn, roles)
            yield conn
        finally:
            conn.rollback()


def psycopg_dsn(url: str) -> str:
    """SQLAlchemy URL -> libpq DSN for plain psycopg (LISTEN/NOTIFY)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
