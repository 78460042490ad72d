"""Test setup: a real PostGIS cluster and a real Mosquitto broker, started once per test session
under a temporary directory on free ports (the same code as `gisapp up`), migrated with Alembic."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from gisapp import migrate
from gisapp.db import make_engine
from gisapp.localstack import LocalStack
from gisapp.settings import Settings
from tests import halves


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stack_env(data_dir: Path) -> dict[str, str]:
    """Environment for a stack of our own: fresh data dir and free ports, no inherited URLs."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL") and k != "MQTT_URL"}
    env.update(
        GISAPP_DATA_DIR=str(data_dir),
        GISAPP_PG_PORT=str(free_port()),
        GISAPP_MQTT_PORT=str(free_port()),
        GISAPP_HTTP_PORT=str(free_port()),
        GISAPP_PUBLIC_HTTP_PORT=str(free_port()),
        LOG_FORMAT="text",
    )
    return env


def make_tmp_root() -> Path:
    # Under /tmp and world-traversable: the postgres and mosquitto users must reach it as root.
    root = Path(tempfile.mkdtemp(prefix="gisapp-test-", dir="/tmp"))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="session")
def stack_root() -> Iterator[Path]:
    root = make_tmp_root()
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_environ(stack_root: Path) -> dict[str, str]:
    return stack_env(stack_root / "data")


@pytest.fixture(scope="session")
def settings(stack_environ: dict[str, str]) -> Iterator[Settings]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(stack_environ)
    stack = LocalStack(Settings(_env_file=None), fast_unsafe=True)
    stack.start()
    s = Settings(_env_file=None)  # now derives URLs from the stack's secrets.json
    migrate.upgrade(s)
    try:
        yield s
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def stack(settings: Settings) -> LocalStack:
    return LocalStack(settings)


@pytest.fixture(scope="session")
def app_engine(settings: Settings) -> Iterator[Engine]:
    """Connected as the internal app's role (member of gisapp_rw)."""
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def public_engine(settings: Settings) -> Iterator[Engine]:
    """Connected as the citizen-facing instance's role (member of gisapp_read_public)."""
    engine = make_engine(settings.public_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def owner_engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.migration_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def client(settings: Settings):
    """The internal app over HTTP (in-process ASGI), against the real database and broker."""
    from fastapi.testclient import TestClient

    from gisapp.app import create_app

    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="session")
def public_client(settings: Settings):
    """The citizen-facing instance, connected as the public database role. Its response cache is
    off: these tests read their own writes at once, which a cache that serves answers up to seconds
    old would not let them (tests/test_response_cache.py tests the cache; the browser tests run
    with it)."""
    from fastapi.testclient import TestClient

    from gisapp.app import create_app

    with TestClient(create_app(settings.model_copy(update={"response_cache": False}), public=True)) as c:
        yield c


@pytest.fixture
def worker(settings: Settings, app_engine: Engine):
    """The real ingest worker, in a thread, against the session's broker and database."""
    import threading

    from gisapp.ops import radio_reports
    from ingest.worker import IngestWorker

    w = IngestWorker(
        app_engine, settings.mqtt_url, radio_reports=radio_reports, batch_wait=0.02, silence_check=0.5
    )
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    assert w.connected.wait(10), "ingest worker did not connect"
    yield w
    w.stop()
    t.join(10)


@pytest.fixture(autouse=True, scope="module")
def _login_locks_lifted(settings):
    """Every test client comes from one address ("testclient", or 127.0.0.1 for the browsers): wrong
    passwords tried on purpose by one module must not lock the next module's logins (the per-address
    throttle, gisapp/login_throttle.py), nor its citizen reports count against the next module's (5 per
    sender in 10 minutes, pub.submit_citizen_report). Each module starts with neither; tests of the
    limits set up their own. (Run in two halves, a half sends its reports in less time.)"""
    from sqlalchemy import text

    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM core.login_throttle"))
            # The sender key only serves the rate limit: earlier modules' reports get keys of their own.
            conn.execute(
                text(
                    "UPDATE ops.citizen_report SET client_key = decode(md5(random()::text)"
                    " || md5(random()::text), 'hex') WHERE created_at > now() - interval '1 hour'"
                )
            )
    finally:
        engine.dispose()
    yield


# The two halves of `make test` (tests/halves.py): xdist asks this module for its scheduler.
pytest_xdist_make_scheduler = halves.pytest_xdist_make_scheduler


_RECORDED: dict[str, float] = {}


def pytest_runtest_logreport(report):
    # On the controller too under xdist: every worker's reports pass through it.
    if os.environ.get("GISAPP_RECORD_DURATIONS"):
        name = halves.file_of(report.nodeid)
        _RECORDED[name] = _RECORDED.get(name, 0.0) + report.duration


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("GISAPP_RECORD_DURATIONS") and not hasattr(session.config, "workerinput") and _RECORDED:
        merged = {**halves.file_seconds(), **{k: round(v, 1) for k, v in _RECORDED.items()}}
        halves.DURATIONS.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")
