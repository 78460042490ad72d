"""The hash-chained audit log (migration 0013) and `gisapp audit verify`, on the real PostGIS.

Tampering needs rights the app never has (UPDATE/DELETE are refused by triggers even for the owner),
so the attacker here is the owner switching the triggers off. On the session database that happens
inside a transaction that is rolled back (DDL is transactional), leaving the shared log as it was.
Other tests may append entries meanwhile: nothing here assumes the log is ours alone.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from common import audit
from gisapp import migrate
from gisapp.audit_chain import GENESIS, Anchor, BreakKind, entry_bytes, verify
from gisapp.localstack import LocalStack
from tests.support import wait_until

ENTRY = text(
    "SELECT seq, id, at, actor, action, target, details::text AS details, prev_hash, hash "
    "FROM audit.log WHERE seq = :s"
)


def entry(conn: Connection, seq: int):
    return conn.execute(ENTRY, {"s": seq}).one()


def record_one(conn: Connection, tag: str, **details) -> int:
    """Append one entry through gisapp.audit and return its chain position."""
    audit.record(conn, "test", "test.chain", tag, **details)
    return conn.execute(
        text("SELECT seq FROM audit.log WHERE target = :t ORDER BY seq DESC"), {"t": tag}
    ).first()[0]


def python_hash(e, prev_hash: bytes | None = None) -> bytes:
    return hashlib.sha256(
        (e.prev_hash if prev_hash is None else prev_hash)
        + entry_bytes(e.seq, e.id, e.at, e.actor, e.action, e.target, e.details)
    ).digest()


@pytest.fixture
def attacker(owner_engine: Engine) -> Iterator[Connection]:
    """The owner with the log's triggers off, in a transaction that is always rolled back."""
    with owner_engine.connect() as conn:
        tx = conn.begin()
        try:
            conn.execute(text("ALTER TABLE audit.log DISABLE TRIGGER USER"))
            yield conn
        finally:
            tx.rollback()


def fresh_entries(conn: Connection, n: int, tag: str) -> list[int]:
    """n new entries in the attacker's transaction (triggers back on while appending)."""
    conn.execute(text("ALTER TABLE audit.log ENABLE TRIGGER USER"))
    seqs = [record_one(conn, f"{tag}-{i}", i=i) for i in range(n)]
    conn.execute(text("ALTER TABLE audit.log DISABLE TRIGGER USER"))
    return seqs


# ------------------------------------------------------------------------ chaining
def test_recorded_entries_are_chained(app_engine):
    with app_engine.begin() as conn:
        # Japanese, newlines, big numbers, nested keys out of order, escaped control characters
        s1 = record_one(conn, "chain-a\n改行", 地区="伊勢原市", depth=1.50, z={"b": 1, "a": [True, None]})
        s2 = record_one(conn, "chain-b", note='引用 "x" \\ \t\u0001', big=12345678901234567890)
        s3 = record_one(conn, "")
        assert (s2, s3) == (s1 + 1, s1 + 2)  # one transaction holds the chain head: no interleaving
        entries = [entry(conn, s) for s in (s1, s2, s3)]
        before = entry(conn, s1 - 1).hash if s1 > 1 else GENESIS
        assert [e.prev_hash for e in entries] == [before, entries[0].hash, entries[1].hash]
        for e in entries:
            assert e.hash == python_hash(e)  # the trigger (SQL) and the verifier (Python) agree
        sql_bytes = conn.execute(
            text(
                "SELECT audit.entry_bytes(seq, id, at, actor, action, target, details) FROM audit.log WHERE seq = :s"
            ),
            {"s": s1},
        ).scalar_one()
        e = entries[0]
        assert sql_bytes == entry_bytes(e.seq, e.id, e.at, e.actor, e.action, e.target, e.details)
        report = verify(conn)
        assert report.ok, report.broken
        assert report.checked >= s3 and report.head.seq >= s3


def test_chain_values_from_a_client_are_overwritten(app_engine):
    with app_engine.begin() as conn:
        record_one(conn, "forge-before")  # so that the forged position 1 is taken
        forged = b"\x11" * 32
        conn.execute(
            text(
                "INSERT INTO audit.log (actor, action, target, seq, prev_hash, hash) "
                "VALUES ('test', 'test.forge', 'forge-attempt', 1, :f, :f)"
            ),
            {"f": forged},
        )
        e = conn.execute(text("SELECT * FROM audit.log WHERE target = 'forge-attempt'")).one()
        assert e.seq > 1 and forged not in (e.prev_hash, e.hash)
        assert entry(conn, e.seq - 1).hash == e.prev_hash
        assert verify(conn).ok


def test_app_role_cannot_move_the_chain_head(app_engine):
    with app_engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("UPDATE audit.chain_head SET seq = seq + 1"))


def test_concurrent_writers_keep_one_chain(app_engine):
    threads, per_thread = 8, 50
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with app_engine.begin() as conn:
                    audit.record(conn, f"writer-{t}", "test.concurrent", f"concurrent-{t}-{i}", i=i)
        except BaseException as e:  # surfaced by the assertion below
            errors.append(e)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert not errors, errors
    with app_engine.connect() as conn:
        seqs = (
            conn.execute(text("SELECT seq FROM audit.log WHERE action = 'test.concurrent'")).scalars().all()
        )
        assert len(seqs) == len(set(seqs)) == threads * per_thread
        report = verify(conn)
    assert report.ok, report.broken
    assert report.checked >= max(seqs)


def test_rolled_back_append_leaves_no_gap(app_engine):
    with app_engine.connect() as conn:
        record_one(conn, "rolled-back")
        conn.rollback()
    with app_engine.begin() as conn:
        s = record_one(conn, "after-rollback")
    with app_engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM audit.log WHERE target = 'rolled-back'")).scalar_one()
            == 0
        )
        assert (
            conn.execute(text("SELECT count(*) FROM audit.log WHERE seq <= :s"), {"s": s}).scalar_one() == s
        )
        assert verify(conn).ok


def test_chain_order_is_commit_order_not_id_order(app_engine, owner_engine):
    """A writer that drew its id first but got the chain head later is chained later; it verifies."""
    with app_engine.connect() as holder, app_engine.connect() as waiter:
        record_one(holder, "inv-hold")  # holds the chain head until commit
        pid = waiter.execute(text("SELECT pg_backend_pid()")).scalar_one()
        t = threading.Thread(target=lambda: audit.record(waiter, "test", "test.chain", "inv-early-id"))
        t.start()
        with owner_engine.connect() as watch:
            wait_until(
                lambda: watch.execute(text("SELECT pg_blocking_pids(:p)"), {"p": pid}).scalar_one(), 10
            )
        record_one(holder, "inv-late-id")  # its id is drawn after the waiter's
        holder.commit()
        t.join(10)
        waiter.commit()
    with app_engine.connect() as conn:
        early = conn.execute(text("SELECT id, seq FROM audit.log WHERE target = 'inv-early-id'")).one()
        late = conn.execute(text("SELECT id, seq FROM audit.log WHERE target = 'inv-late-id'")).one()
        assert early.id < late.id and early.seq > late.seq
        assert verify(conn).ok


# ------------------------------------------------------------------------ tampering
def test_altered_details_are_named(attacker):
    s = fresh_entries(attacker, 3, "alter")[1]
    e = entry(attacker, s)
    attacker.execute(text("UPDATE audit.log SET details = details || '{\"i\": 99}' WHERE seq = :s"), {"s": s})
    report = verify(attacker)
    assert report.broken.kind == BreakKind.altered
    assert (report.broken.seq, report.broken.entry_id) == (s, e.id)
    assert f"id {e.id}" in report.broken.message_ja and f"id {e.id}" in report.broken.message_en
    assert report.checked == s - 1 and report.head.seq == s - 1


def test_deleted_entry_is_named(attacker):
    seqs = fresh_entries(attacker, 3, "delete")
    attacker.execute(text("DELETE FROM audit.log WHERE seq = :s"), {"s": seqs[1]})
    report = verify(attacker)
    assert report.broken.kind == BreakKind.missing
    assert report.broken.seq == seqs[1]
    assert report.broken.entry_id == entry(attacker, seqs[2]).id  # named: the entry after the gap
    assert f"#{seqs[1]}" in report.broken.message_en


def test_deleted_last_entries_are_caught_by_the_chain_head(attacker):
    seqs = fresh_entries(attacker, 2, "tail")
    attacker.execute(text("DELETE FROM audit.log WHERE seq >= :s"), {"s": seqs[0]})
    report = verify(attacker)
    assert report.broken.kind == BreakKind.missing
    assert report.broken.seq == seqs[0] and report.broken.entry_id is None


def test_swapped_entries_are_named(attacker):
    a, b, _ = fresh_entries(attacker, 3, "swap")
    id_a, id_b = entry(attacker, a).id, entry(attacker, b).id
    for old, new in ((a, -a), (b, a), (-a, b)):  # seq is unique: through a free value
        attacker.execute(text("UPDATE audit.log SET seq = :new WHERE seq = :old"), {"old": old, "new": new})
    report = verify(attacker)
    assert report.broken.kind == BreakKind.reordered
    assert (report.broken.seq, report.broken.entry_id) == (a, id_b)
    assert f"id {id_a}" in report.broken.message_en


def test_rehashed_entry_is_named(attacker):
    """Content changed and its hash recomputed the way the trigger does: the next entry gives it away."""
    s = fresh_entries(attacker, 3, "rehash")[1]
    attacker.execute(
        text(
            "UPDATE audit.log SET details = '{\"i\": 42}', hash = sha256(prev_hash || audit.entry_bytes("
            "seq, id, at, actor, action, target, '{\"i\": 42}')) WHERE seq = :s"
        ),
        {"s": s},
    )
    report = verify(attacker)
    assert report.broken.kind == BreakKind.forged
    assert (report.broken.seq, report.broken.entry_id) == (s, entry(attacker, s).id)


def test_rehashed_last_entry_is_caught_by_the_chain_head(attacker):
    s = fresh_entries(attacker, 1, "rehash-last")[0]
    attacker.execute(
        text(
            "UPDATE audit.log SET actor = 'someone', hash = sha256(prev_hash || audit.entry_bytes("
            "seq, id, at, 'someone', action, target, details)) WHERE seq = :s"
        ),
        {"s": s},
    )
    report = verify(attacker)
    assert (report.broken.kind, report.broken.seq) == (BreakKind.forged, s)


def test_replaced_hash_field_is_named(attacker):
    s = fresh_entries(attacker, 2, "hashfield")[0]
    attacker.execute(text("UPDATE audit.log SET hash = sha256(hash) WHERE seq = :s"), {"s": s})
    report = verify(attacker)
    assert (report.broken.kind, report.broken.seq) == (BreakKind.forged, s)


def test_rewritten_chain_needs_an_anchor(attacker):
    """Rewriting every later entry and the head defeats the chain alone; an anchor noted earlier does not."""
    seqs = fresh_entries(attacker, 3, "rechain")
    anchor = Anchor(seqs[2], entry(attacker, seqs[2]).hash)
    attacker.execute(text("UPDATE audit.log SET target = 'rewritten' WHERE seq = :s"), {"s": seqs[0]})
    prev = entry(attacker, seqs[0] - 1).hash if seqs[0] > 1 else GENESIS
    for e in attacker.execute(
        text(ENTRY.text.replace("seq = :s", "seq >= :s") + " ORDER BY seq"), {"s": seqs[0]}
    ).all():
        h = python_hash(e, prev)
        attacker.execute(
            text("UPDATE audit.log SET prev_hash = :p, hash = :h WHERE seq = :s"),
            {"p": prev, "h": h, "s": e.seq},
        )
        prev = h
    attacker.execute(text("UPDATE audit.chain_head SET hash = :h"), {"h": prev})
    assert verify(attacker).ok
    report = verify(attacker, anchor=anchor)
    assert (report.broken.kind, report.broken.seq) == (BreakKind.forged, seqs[2])


def test_anchor_beyond_the_log_means_missing_entries(app_engine):
    with app_engine.connect() as conn:
        head = verify(conn).head
        report = verify(conn, anchor=Anchor(head.seq + 1000, bytes(32)))
    assert report.broken.kind == BreakKind.missing


def test_tampering_is_rolled_back(app_engine, owner_engine):
    with owner_engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit.log'::regclass AND tgenabled = 'D'"
                )
            ).scalar_one()
            == 0
        )
    with app_engine.connect() as conn:
        assert verify(conn).ok


# ------------------------------------------------------------------------ migration backfill, CLI
@pytest.fixture(scope="module")
def own_db(settings) -> Iterator[dict[str, str]]:
    """A database of its own, migrated to 0012, with entries written before the chain existed,
    then migrated to head (0013 chains them). Its log may be tampered with for good."""
    stack = LocalStack(settings)
    name = "gisapp_audit_chain_test"
    with psycopg.connect(stack.superuser_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER gisapp_owner").format(sql.Identifier(name)))
    with psycopg.connect(stack.superuser_dsn(name), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    owner_url = (
        make_url(settings.migration_database_url).set(database=name).render_as_string(hide_password=False)
    )
    app_url = make_url(settings.database_url).set(database=name).render_as_string(hide_password=False)
    s = settings.model_copy(update={"migration_database_url": owner_url})
    migrate.upgrade(s, "0012")
    engine = create_engine(owner_url)
    try:
        with engine.begin() as conn:
            for i in range(5):
                audit.record(conn, "before", "test.backfill", f"old-{i}", i=i, 名前="旧エントリ")
        migrate.upgrade(s)
        yield {"owner": owner_url, "app": app_url, "name": name}
    finally:
        engine.dispose()
        with psycopg.connect(stack.superuser_dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_migration_chains_existing_entries_in_id_order(own_db):
    engine = create_engine(own_db["app"])
    try:
        with engine.begin() as conn:
            old = conn.execute(
                text("SELECT id, seq FROM audit.log WHERE action = 'test.backfill' ORDER BY id")
            ).all()
            assert [r.seq for r in old] == list(range(1, 6))
            assert entry(conn, 1).prev_hash == GENESIS
            audit.record(conn, "after", "test.backfill", "new")
            assert conn.execute(text("SELECT seq FROM audit.log WHERE target = 'new'")).scalar_one() == 6
            report = verify(conn)
        assert report.ok and report.checked == 6
    finally:
        engine.dispose()


def gisapp(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOG_FORMAT": "text", "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "gisapp.cli", "audit", "verify", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_reports_intact_log(settings):
    done = gisapp(settings.database_url)
    assert done.returncode == 0, done.stderr
    assert "監査ログは改ざんされていません / audit log intact:" in done.stdout
    anchor = done.stdout.split("(--anchor): ", 1)[1].strip()
    again = gisapp(settings.database_url, "--anchor", anchor)
    assert again.returncode == 0, again.stderr
    nowhere = make_url(settings.database_url).set(database="no_such_db").render_as_string(hide_password=False)
    down = gisapp(nowhere)
    assert down.returncode == 2  # could not check: not the same as tampered
    assert "監査ログを読めません" in down.stderr and "Cannot read the audit log" in down.stderr


def test_cli_names_the_tampered_entry(own_db):
    engine = create_engine(own_db["owner"])
    try:
        with engine.begin() as conn:
            ok = gisapp(own_db["app"])
            assert ok.returncode == 0 and "intact:" in ok.stdout
            victim = conn.execute(text("SELECT id, seq FROM audit.log WHERE target = 'old-2'")).one()
        with engine.begin() as conn:  # committed: the CLI runs in a process of its own
            conn.execute(text("ALTER TABLE audit.log DISABLE TRIGGER USER"))
            conn.execute(text("UPDATE audit.log SET actor = 'intruder' WHERE id = :i"), {"i": victim.id})
            conn.execute(text("ALTER TABLE audit.log ENABLE TRIGGER USER"))
        bad = gisapp(own_db["app"])
        assert bad.returncode == 1
        assert "監査ログが改ざんされています" in bad.stderr and "audit log tampered with" in bad.stderr
        assert (
            f"#{victim.seq}（id {victim.id}）" in bad.stderr
            and f"Entry #{victim.seq} (id {victim.id})" in bad.stderr
        )
        assert "intact" not in bad.stdout
        wrong = gisapp(own_db["app"], "--anchor", "not-an-anchor")
        assert wrong.returncode == 2 and "--anchor" in wrong.stderr and "SEQ:SHA256" in wrong.stderr
    finally:
        engine.dispose()
