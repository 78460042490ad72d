"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, make_url, text

# ../shared/data beside the repository; GISAPP_SHARED_DATA points elsewhere (a git worktree's tests).
SHARED_DATA = Path(
    os.environ.get("GISAPP_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)


def count(engine: Engine, sql: str, **params) -> int:
    with engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        return conn.execute(text(sql), params).scalar_one()


def shared_data(*parts: str) -> Path:
    """A file from ../shared/data: fail clearly in CI when missing, skip elsewhere."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        msg = f"shared data not found: {path} (tests read ../shared/data beside the repository)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def wait_until(predicate, timeout: float, interval: float = 0.1):
    """Poll a condition in a test (never in product code); fail with a clear message on timeout."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {getattr(predicate, '__name__', predicate)}")


def register_devices(settings, engine, specs) -> dict[str, str]:
    """Register devices (new passwords for ones that exist) and put them on the real broker."""
    import time

    from gisapp.localstack import LocalStack
    from sensors import registry
    from sensors.broker import reload_broker

    creds = {}
    with engine.begin() as conn:
        for spec in specs:
            creds[spec.id] = registry.ensure_device(conn, spec) or registry.rotate_password(conn, spec.id)
        accounts = registry.broker_accounts(conn)
    stack = LocalStack(settings)
    stack.write_broker_accounts(accounts)
    assert reload_broker(stack.mqtt_pidfile)
    time.sleep(0.5)  # SIGHUP is asynchronous
    return creds


class EventListener:
    """LISTEN gisapp_events on a connection of its own (LISTEN needs autocommit, which must not leak
    into the pool): what the HQ event stream would carry."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.seen: list[dict] = []

    def collect(self, timeout: float = 2, stop_after: int = 100) -> list[dict]:
        self.seen += [
            json.loads(n.payload) for n in self.conn.notifies(timeout=timeout, stop_after=stop_after)
        ]
        return self.seen

    def wait_for(self, predicate, timeout: float = 10) -> dict:
        """The first event (seen so far or arriving within `timeout`) that matches."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.seen:
                if predicate(event):
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no matching event in {timeout} s; saw {[e.get('type') for e in self.seen]}"
                )
            self.collect(timeout=min(left, 0.5), stop_after=50)


@contextlib.contextmanager
def listen_events(settings) -> Iterator[EventListener]:
    url = make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("LISTEN gisapp_events")
        yield EventListener(conn)
