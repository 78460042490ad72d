"""Login throttling per account and per address: 429 with Retry-After before any hashing, in both
languages, shared through the database; one audit entry per lock; an administrator can unlock."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gisapp import auth, login_throttle
from gisapp.login_throttle import Policy
from tests.fixtures_data import seed

_addresses = itertools.count(1)


@pytest.fixture(scope="module")
def seeded(app_engine):
    return seed(app_engine, "thr")


@pytest.fixture(autouse=True)
def clean_throttle(app_engine):
    """Each test starts with no counts and leaves none behind for other modules (which share the
    TestClient's address)."""
    with app_engine.begin() as conn:
        conn.execute(text("DELETE FROM core.login_throttle"))
    yield
    with app_engine.begin() as conn:
        conn.execute(text("DELETE FROM core.login_throttle"))


@pytest.fixture
def policy(monkeypatch):
    def use(**changes) -> Policy:
        p = Policy(**changes)
        monkeypatch.setattr(login_throttle, "POLICY", p)
        return p

    return use


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every password check (argon2) the login makes, by the username it was for."""
    calls: list[str] = []
    real = auth._password_matches

    def counting(row, password):
        calls.append(row.username if row else "?")
        return real(row, password)

    monkeypatch.setattr(auth, "_password_matches", counting)
    return calls


def from_address(client) -> TestClient:
    """The same app as seen from a client address of its own."""
    return TestClient(client.app, client=(f"192.0.2.{next(_addresses)}", 50000))


def login(c: TestClient, username: str, password: str):
    return c.post("/api/auth/login", json={"username": username, "password": password})


def audit_mark(engine) -> int:
    """The last audit entry so far: counts below are of the entries after it (the log is shared)."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(id), 0) FROM audit.log")).scalar_one()


def audit_count(engine, action: str, target: str, since: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM audit.log WHERE action = :a AND target = :t AND id > :since"),
            {"a": action, "t": target, "since": since},
        ).scalar_one()


def assert_locked(r, *, retry_after: int | None = None) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    if retry_after is not None:
        assert r.headers["retry-after"] == str(retry_after)
    err = r.json()["error"]
    assert err["code"] == "too_many_requests" and err["retry_after"] == int(r.headers["retry-after"])
    assert "ログイン" in err["message_ja"] and "Try again" in err["message_en"]


def test_account_locks_after_n_failures_and_refuses_even_the_right_password(client, seeded, hashes):
    c = from_address(client)
    for _ in range(4):
        assert login(c, "thr-staff", "wrong").status_code == 401
    assert_locked(login(c, "thr-staff", "wrong"), retry_after=60)  # the 5th failure starts the lock
    assert len(hashes) == 5
    assert_locked(login(c, "thr-staff", seeded.passwords["staff"]))
    # From another address too: the lock is the account's.
    assert_locked(login(from_address(client), "THR-Staff ", seeded.passwords["staff"]))
    assert len(hashes) == 5, "no password is checked while locked"
    # Other accounts from the same address are not affected (5 failures are below the address limit).
    assert login(c, "thr-hq", seeded.passwords["hq"]).status_code == 200


def test_throttled_attempts_write_no_audit_entry_and_the_lock_is_audited_once(client, seeded, app_engine):
    c = from_address(client)
    mark = audit_mark(app_engine)
    for _ in range(5):
        login(c, "thr-welfare", "wrong")
    failed = audit_count(app_engine, "auth.login_failed", "thr-welfare", mark)
    for _ in range(20):
        assert login(c, "thr-welfare", "wrong").status_code == 429
    assert audit_count(app_engine, "auth.login_failed", "thr-welfare", mark) == failed == 5
    assert audit_count(app_engine, "auth.locked", "thr-welfare", mark) == 1
    with app_engine.connect() as conn:
        details = conn.execute(
            text(
                "SELECT details FROM audit.log WHERE action = 'auth.locked' AND target = 'thr-welfare'"
                " AND id > :m"
            ),
            {"m": mark},
        ).scalar_one()
    assert details == {"scope": "account", "failures": 5, "seconds": 60}


def test_lock_ends_after_its_period_and_doubles_on_the_next_failure(client, seeded, policy):
    policy(account_failures=3, account_lock=timedelta(seconds=3))
    c = from_address(client)
    for _ in range(2):
        assert login(c, "thr-admin", "wrong").status_code == 401
    # Each lock began while its request was served: waiting from the answer on is long enough even
    # when a loaded machine takes a while to answer (waiting from the request failed under load).
    r = login(c, "thr-admin", "wrong")
    started = time.monotonic()
    assert_locked(r, retry_after=3)
    assert_locked(login(c, "thr-admin", seeded.passwords["admin"]))
    time.sleep(max(0.0, started + 3.2 - time.monotonic()))
    # One more failure after the lock: locked again, twice as long.
    r = login(c, "thr-admin", "wrong")
    started = time.monotonic()
    assert_locked(r, retry_after=6)
    time.sleep(max(0.0, started + 6.2 - time.monotonic()))
    r = login(c, "thr-admin", seeded.passwords["admin"])
    assert r.status_code == 200 and r.json()["user"]["username"] == "thr-admin"


def test_success_resets_the_account_count(client, seeded, app_engine):
    c = from_address(client)
    for _ in range(4):
        assert login(c, "thr-hq", "wrong").status_code == 401
    assert login(c, "thr-hq", seeded.passwords["hq"]).status_code == 200
    with app_engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM core.login_throttle WHERE scope = 'account' AND key = 'thr-hq'")
        ).scalar_one()
    assert left == 0
    for _ in range(4):
        assert login(c, "thr-hq", "wrong").status_code == 401  # counting starts over
    assert login(c, "thr-hq", "wrong").status_code == 429


def test_a_right_password_at_the_last_allowed_attempt_logs_in_and_leaves_no_lock(client, seeded, app_engine):
    c = from_address(client)
    mark = audit_mark(app_engine)
    for _ in range(4):
        assert login(c, "thr-staff", "wrong").status_code == 401
    assert login(c, "thr-staff", seeded.passwords["staff"]).status_code == 200
    assert login(c, "thr-staff", "wrong").status_code == 401  # counting starts over
    assert audit_count(app_engine, "auth.locked", "thr-staff", mark) == 0


def test_a_burst_of_concurrent_attempts_checks_no_more_passwords_than_allowed(
    client, seeded, hashes, monkeypatch
):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(login_throttle, "HASH_WAIT", 60.0)  # all wait for a hashing slot: none is 503
    c = from_address(client)
    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(lambda _: login(c, "thr-hq", "wrong").status_code, range(24)))
    assert len(hashes) == 5, "each attempt is counted before its password is checked"
    assert statuses == [401] * 4 + [429] * 20


def test_when_every_hashing_slot_is_taken_a_login_is_busy_and_counted_nowhere(
    client, seeded, app_engine, monkeypatch, hashes
):
    import threading

    slots = threading.BoundedSemaphore(1)
    monkeypatch.setattr(login_throttle, "_hash_slots", slots)
    monkeypatch.setattr(login_throttle, "HASH_WAIT", 0.1)
    c = from_address(client)
    mark = audit_mark(app_engine)
    assert slots.acquire()  # a storm holds the slot
    try:
        r = login(c, "thr-staff", seeded.passwords["staff"])
        page = c.post("/login", data={"username": "thr-staff", "password": "x", "lang": "en"})
    finally:
        slots.release()
    assert r.status_code == 503 and r.headers["retry-after"] == "2"
    assert r.json()["error"]["message_ja"] and "busy" in r.json()["error"]["message_en"]
    assert page.status_code == 503 and "busy" in page.text and "混み合っています" in page.text
    assert hashes == []
    with app_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM core.login_throttle")).scalar_one() == 0
        assert (
            conn.execute(text("SELECT count(*) FROM audit.log WHERE id > :m"), {"m": mark}).scalar_one() == 0
        )
    assert login(c, "thr-staff", seeded.passwords["staff"]).status_code == 200


def test_unknown_usernames_are_throttled_the_same_way(client, seeded):
    c = from_address(client)
    known = [login(c, "thr-staff", "wrong") for _ in range(6)]
    unknown = [login(c, "thr-nobody", "wrong") for _ in range(6)]
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [401] * 4 + [429] * 2
    for a, b in zip(known, unknown, strict=True):
        assert a.json() == b.json() and a.headers.get("retry-after") == b.headers.get("retry-after")


def test_address_locks_across_usernames(client, seeded, policy, hashes):
    policy(address_failures=6)
    c = from_address(client)
    for i in range(5):
        assert login(c, f"thr-guess{i}", "wrong").status_code == 401
    assert_locked(login(c, "thr-guess5", "wrong"), retry_after=600)
    # Every login from that address now waits, even a right password for an account never tried…
    assert_locked(login(c, "thr-staff", seeded.passwords["staff"]))
    assert len(hashes) == 6
    # … while the same account from another address is fine.
    assert login(from_address(client), "thr-staff", seeded.passwords["staff"]).status_code == 200


def test_form_login_shows_the_wait_in_both_languages(client, seeded):
    c = from_address(client)
    form = {"username": "thr-staff", "password": "wrong", "next": "/hq"}
    for _ in range(4):
        assert c.post("/login", data=form).status_code == 401
    assert c.post("/login", data=form).status_code == 429
    r = c.post("/login", data={**form, "password": seeded.passwords["staff"]}, follow_redirects=False)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
    assert "gisapp_session" not in r.headers.get("set-cookie", "")
    assert '<html lang="ja">' in r.text and 'role="alert"' in r.text
    assert "ログインを一時的に止めています" in r.text and "Try again in" in r.text and 'lang="en"' in r.text
    en = c.post("/login", data={**form, "lang": "en"})
    assert en.status_code == 429 and '<html lang="en">' in en.text
    assert en.text.index("Try again in") < en.text.index("ログインを一時的に止めています")


def test_an_administrator_unlocks_an_account_and_it_is_audited(client, seeded, app_engine):
    from typer.testing import CliRunner

    from gisapp import cli
    from gisapp.settings import get_settings

    c = from_address(client)
    mark = audit_mark(app_engine)
    for _ in range(5):
        login(c, "thr-staff", "wrong")
    assert login(c, "thr-staff", seeded.passwords["staff"]).status_code == 429
    get_settings.cache_clear()  # the CLI reads the session's environment: the test stack
    try:
        listed = CliRunner().invoke(cli.app, ["users", "locks"])
        assert listed.exit_code == 0 and "thr-staff" in listed.output
        done = CliRunner().invoke(cli.app, ["users", "unlock", "thr-staff"])
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0 and "unlocked" in done.output, done.output
    assert audit_count(app_engine, "auth.unlocked", "thr-staff", mark) == 1
    assert login(c, "thr-staff", seeded.passwords["staff"]).status_code == 200


def test_unlock_an_address(app_engine, settings):
    secret = login_throttle.key_secret(settings)
    key = login_throttle.address_key(secret, "198.51.100.7")
    with app_engine.begin() as conn:
        for i in range(20):
            attempt = login_throttle.charge(conn, f"x{i}", key)
            login_throttle.settle(conn, attempt, succeeded=False)
        assert login_throttle.retry_after(conn, "someone", key) == 600
    with app_engine.begin() as conn:
        assert login_throttle.unlock(conn, "address", key, actor="test") is True
        assert login_throttle.retry_after(conn, "someone", key) is None
    # The raw address is stored nowhere.
    with app_engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM core.login_throttle WHERE key LIKE '%198.51%'"))
        assert stored.scalar_one() == 0
