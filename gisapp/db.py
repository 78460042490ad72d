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

from sqlalchemy import Connection, Engine, create_engine, text

from gisapp.settings import Settings


class DatabaseNotConfigured(RuntimeError):
    def __init__(self) -> None:
        super().__init__(
            "データベースが設定されていません。`gisapp up` でローカル環境を起動するか DATABASE_URL を設定してください。\n"
            "No database configured: start the local stack with `gisapp up`, or set DATABASE_URL."
        )


def make_engine(
    url: str | None, *, pool_size: int = 5, max_overflow: int = 10, application_name: str = "gisapp"
) -> Engine:
    if not url:
        raise DatabaseNotConfigured()
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # A request that cannot get a connection soon gets 503 (Retry-After) rather than hanging.
        pool_timeout=10,
        pool_pre_ping=True,
        # JIT compiles for longer than our statements run: the planner's costs for PostGIS functions
        # under row-level security and ST_AsMVT would start it on queries of a few milliseconds.
        connect_args={"application_name": application_name, "connect_timeout": 5, "options": "-c jit=off"},
    )


# Connections of one web instance (internal or public), shared by its worker processes
# (`gisapp serve --workers N`): N processes of both instances stay within the local stack's
# max_connections = 100 (gisapp/localstack/stack.py). Per process add its LISTEN connections (events,
# layer directory); docs/deploy.md has the sum.
INSTANCE_CONNECTIONS = 30


def pool_sizes(workers: int = 1) -> tuple[int, int]:
    """(pool_size, max_overflow) of one of `workers` processes: 10 + 20 for a single process."""
    per_process = max(4, -(-INSTANCE_CONNECTIONS // workers))
    pool = max(2, per_process // 3)
    return pool, per_process - pool


@lru_cache(maxsize=8)
def engine_for(url: str, application_name: str = "gisapp", workers: int = 1) -> Engine:
    # Up to 30 connections for the 40 worker threads of an app process: a request holds its
    # connection from its dependencies to the end of its route, in separate worker threads, so a
    # pool much smaller than the thread pool starves under load.
    pool_size, max_overflow = pool_sizes(workers)
    return make_engine(url, pool_size=pool_size, max_overflow=max_overflow, application_name=application_name)


def app_engine(settings: Settings, *, public: bool = False) -> Engine:
    url = settings.public_database_url if public else settings.database_url
    if not url:
        raise DatabaseNotConfigured()
    return engine_for(url, "gisapp-public" if public else "gisapp", settings.web_workers)


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


_READ_ONLY = text("SET TRANSACTION READ ONLY")


@contextmanager
def read_only(engine: Engine, roles: Iterable[str] = ()) -> Iterator[Connection]:
    """A read: a READ ONLY transaction (PostgreSQL refuses any write in it), never committed."""
    with engine.connect() as conn:
        conn.execute(_READ_ONLY)
        if roles:
            set_roles(conn, roles)
        try:
            yield conn
        finally:
            conn.rollback()


def psycopg_dsn(url: str) -> str:
    """SQLAlchemy URL -> libpq DSN for plain psycopg (LISTEN/NOTIFY)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
