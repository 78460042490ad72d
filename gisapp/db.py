"""Database engines and sessions.

The internal app and the ingest worker connect as a member of ``gisapp_rw``; the citizen-facing
instance connects as a member of ``gisapp_read_public``, which can read only the ``pub`` views.
Every transaction of a signed-in user carries that user's roles in ``gisapp.roles`` so that row-level
security on restricted tables can decide (see migration 0001).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Connection, Engine, create_engine, event, text

from gisapp.settings import Settings


class DatabaseNotConfigured(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "データベースが設定されていません。`gisapp up` でローカル環境を起動するか DATABASE_URL を設定してください。\n"
            "No database configured: start the local stack with `gisapp up`, or set DATABASE_URL."
        )


def make_engine(
    url: str | None,
    *,
    pool_size: int = 5,
    max_overflow: int = 10,
    application_name: str = "gisapp",
    pool_timeout: float = 10,
) -> Engine:
    if not url:
        raise DatabaseNotConfigured()
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # A request that cannot get a connection soon gets 503 (Retry-After) rather than hanging.
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
        # JIT compiles for longer than our statements run: the planner's costs for PostGIS functions
        # under row-level security and ST_AsMVT would start it on queries of a few milliseconds.
        connect_args={"application_name": application_name, "connect_timeout": 5, "options": "-c jit=off"},
    )


@lru_cache(maxsize=8)
def engine_for(url: str, application_name: str = "gisapp", concurrency: int = 16) -> Engine:
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
    )


def app_engine(settings: Settings, *, public: bool = False) -> Engine:
    url = settings.public_database_url if public else settings.database_url
    if not url:
        raise DatabaseNotConfigured()
    return engine_for(url, "gisapp-public" if public else "gisapp", settings.process_concurrency())


# A replica that is down answers the citizen's data routes with 503 within this, not after the
# primary's connect timeout: refused connections fail at once, unreachable hosts after 2 s.
REPLICA_CONNECT_TIMEOUT = 2


def public_read_engine(settings: Settings) -> Engine:
    """Where the citizen-facing instance reads: a streaming replica (PUBLIC_READ_DATABASE_URL, or the
    local one with GISAPP_PUBLIC_READS=replica) or, without one, the engine it writes with."""
    url = settings.public_read_database_url
    if not url or url == settings.public_database_url:
        return app_engine(settings, public=True)
    engine = engine_for(url, "gisapp-public-replica", settings.process_concurrency())
    if not event.contains(engine, "do_connect", _replica_connect):
        event.listen(engine, "do_connect", _replica_connect)
    return engine


def _replica_connect(dialect, conn_rec, cargs, cparams) -> None:
    cparams["connect_timeout"] = REPLICA_CONNECT_TIMEOUT


def set_roles(conn: Connection, roles: Iterable[str]) -> None:
    """Declare the acting user's roles for this transaction (read by row-level security)."""
    conn.execute(text("SELECT set_config('gisapp.roles', :r, true)"), {"r": ",".join(sorted(roles))})


@contextmanager
def transaction(engine: Engine, roles: Iterable[str] = ()) -> Iterator[Connection]:
    """One write: committed when the block ends (before the caller builds its answer), rolled back
    if it raises; the acting user's roles are set for row-level security."""
    with engine.begin() as conn:
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
    with engine.connect() as conn:
        driver = conn.connection.dbapi_connection
        driver.read_only = True
        try:
            if roles:
                set_roles(conn, roles)
            yield conn
        finally:
            try:
                conn.rollback()
                driver.read_only = None
            except Exception:
                conn.invalidate()  # never back to the pool still read-only (a later write would fail)
                raise


def psycopg_dsn(url: str) -> str:
    """SQLAlchemy URL -> libpq DSN for plain psycopg (LISTEN/NOTIFY)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
