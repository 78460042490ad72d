"""The citizen-facing instance on a streaming replica (`gisapp up --replica`, docs/deploy.md).

A hot standby of the session's primary, cloned with pg_basebackup by the LocalStack code `gisapp up
--replica` runs, on a port of its own under the stack's data directory. Published data reaches the
public instance through it; its lag is in /healthz; writes and the reads of a citizen's own write flow
go to the primary; a replica that is down gives data routes a clear 503 while the page still loads,
and serving comes back with it. The replica and its slot are removed at the end.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from typer.testing import CliRunner

from gisapp.app import create_app
from gisapp.cli import app as cli_app
from gisapp.db import REPLICA_CONNECT_TIMEOUT, app_engine, public_read_engine
from gisapp.health import check_replication
from gisapp.localstack import LocalStack
from gisapp.localstack.stack import HBA_REPLICATION, REPLICA_SLOT, REPLICATION_ROLE
from gisapp.settings import LOCAL_ROLES, Settings, get_settings
from tests.conftest import free_port
from tests.fixtures_data import seed
from tests.support import wait_until

DATA_ROUTES = [
    "/api/public/layers",
    "/api/public/shelters/status",
    "/api/public/incidents",
    "/ogc/collections",
]


def household() -> dict:
    return {
        "representative_name": "複製 花子",
        "phone": "0463-00-0000",
        "address": "伊勢原市テスト2-2",
        "members": [{"name": "複製 花子", "birth_year": 1960, "needs_care": False}],
        "pets": 0,
    }


@pytest.fixture(scope="module")
def replica(settings: Settings) -> Iterator[tuple[Settings, LocalStack]]:
    rs = Settings(_env_file=None, GISAPP_REPLICA_PG_PORT=free_port(), GISAPP_PUBLIC_READS="replica")
    stack = LocalStack(rs, fast_unsafe=True)
    assert stack.start_replica() is True
    try:
        yield rs, stack
    finally:
        stack.remove_replica()


@pytest.fixture(scope="module")
def on_replica(replica) -> Iterator[TestClient]:
    """The citizen-facing instance reading the replica; its response cache is off, so every read
    goes to the replica (a cached answer would stand in for it while it is down: that is the
    cache's job, tested in tests/test_serving.py)."""
    rs, _ = replica
    with TestClient(create_app(rs.model_copy(update={"response_cache": False}), public=True)) as c:
        yield c


def _healthz(client: TestClient) -> dict:
    client.app.state.health._value = None  # no cached answer
    return client.get("/healthz").json()


# ------------------------------------------------------------------------------ the local stack
def test_settings_point_public_reads_at_the_replica(replica, settings):
    rs, _ = replica
    url = make_url(rs.public_read_database_url)
    assert url.port == rs.replica_pg_port and url.username == LOCAL_ROLES["public"]
    assert make_url(rs.public_database_url).port == settings.pg_port  # writes: the primary
    assert settings.public_read_database_url is None  # not asked for: reads where it writes
    assert public_read_engine(settings) is app_engine(settings, public=True)
    explicit = Settings(_env_file=None, PUBLIC_READ_DATABASE_URL=settings.public_database_url)
    assert public_read_engine(explicit) is app_engine(explicit, public=True)


def test_up_replica_is_idempotent(replica, settings):
    rs, stack = replica
    assert stack.start_replica() is False  # running: nothing to do
    stack._prepare_primary_for_replica()  # what a re-run does on the primary
    assert (stack.pg_dir / "pg_hba.conf").read_text().splitlines().count(HBA_REPLICATION) == 1
    assert REPLICATION_ROLE in stack.ensure_secrets()["pg"]
    assert stack.status()["postgres-replica"] is not None
    with psycopg.connect(stack.superuser_dsn(), autocommit=True) as conn:
        slots = conn.execute("SELECT slot_name, active FROM pg_replication_slots").fetchall()
        setting = conn.execute("SHOW max_slot_wal_keep_size").fetchone()[0]
    assert slots == [(REPLICA_SLOT, True)]
    assert setting == "2GB"  # a dead replica cannot fill the primary's disk


def test_cli_up_replica_is_idempotent_and_status_lists_it(replica, monkeypatch):
    rs, _ = replica
    monkeypatch.setenv("GISAPP_REPLICA_PG_PORT", str(rs.replica_pg_port))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        up = runner.invoke(cli_app, ["up", "--replica", "--no-serve"])
        assert up.exit_code == 0, up.output
        assert f"127.0.0.1:{rs.replica_pg_port}" in up.output
        status = runner.invoke(cli_app, ["status"])
        assert status.exit_code == 0 and re.search(r"postgres-replica\s+running pid \d+", status.output)
    finally:
        get_settings.cache_clear()
    assert os.environ.get("GISAPP_PUBLIC_READS") is None  # only the processes `up` starts are told


def test_replica_is_a_hot_standby_with_the_primarys_roles_and_grants(on_replica):
    with on_replica.app.state.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one()
        assert conn.execute(text("SELECT current_user")).scalar_one() == LOCAL_ROLES["public"]
        assert conn.execute(
            text("SELECT pg_has_role(current_user, 'gisapp_read_public', 'member')")
        ).scalar_one()
        assert not conn.execute(text("SELECT pg_has_role(current_user, 'gisapp_rw', 'member')")).scalar_one()
    for table in ("gis.feature", "gis.layer", "restricted.person_needing_help"):
        with (
            on_replica.app.state.engine.connect() as conn,
            pytest.raises(ProgrammingError, match="permission"),
        ):
            conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))  # noqa: S608 - constants
    with on_replica.app.state.write_engine.connect() as conn:
        assert not conn.execute(text("SELECT pg_is_in_recovery()")).scalar_one()
        assert conn.execute(text("SELECT current_user")).scalar_one() == LOCAL_ROLES["public"]


# ------------------------------------------------------------------------------------ serving
def test_published_data_reaches_the_public_instance_through_the_replica(on_replica, app_engine):
    tag = f"repl{secrets.token_hex(3)}"
    data = seed(app_engine, tag)  # committed on the primary, after the public instance started
    public, internal = data.slugs["public"], data.slugs["internal"]

    def listed() -> bool:
        return public in {layer["slug"] for layer in on_replica.get("/api/public/layers").json()}

    wait_until(listed, 20)
    layers = {layer["slug"] for layer in on_replica.get("/api/public/layers").json()}
    assert internal not in layers and data.slugs["restricted"] not in layers
    fc = on_replica.get(f"/api/public/layers/{public}/features").json()
    assert [f["properties"]["name"] for f in fc["features"]] == [f"public-canary-{public}"]
    # A later change to the published layer follows.
    with app_engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                   SELECT id, 'k2', '{"name": "second"}', ST_SetSRID(ST_MakePoint(139.32, 35.41), 4326)
                   FROM gis.layer WHERE slug = :s"""
            ),
            {"s": public},
        )
    wait_until(
        lambda: len(on_replica.get(f"/api/public/layers/{public}/features").json()["features"]) == 2, 20
    )
    # Tiles too; the fast path's directory follows the primary (a standby cannot LISTEN).
    assert on_replica.get(f"/ogc/collections/{public}/tiles/WebMercatorQuad/0/0/0").status_code == 200
    wait_until(lambda: public in (on_replica.app.state.layer_directory.layers or {}), 20)


def test_healthz_shows_the_replicas_lag(on_replica):
    # Reads first (each a READ ONLY transaction): the pooled connections they leave behind must still
    # open the health check's transaction on a hot standby (BEGIN READ WRITE there: NotSupportedError).
    for _ in range(3):
        assert on_replica.get("/ogc/collections").status_code == 200
    state = _healthz(on_replica)
    assert state["database"]["ok"] and state["primary"]["ok"], state
    assert state["replica"]["ok"] and state["replica"]["detail"].startswith("streaming"), state
    assert isinstance(state["replica_lag_s"], float) and 0 <= state["replica_lag_s"] <= 10, state
    # Nothing written for a while: the replica is current, its lag 0 (not the age of the last commit).
    wait_until(lambda: _healthz(on_replica)["replica_lag_s"] == 0, 20, interval=0.5)
    assert _healthz(on_replica)["status"] in ("ok", "attention")  # attention: e.g. a dead letter elsewhere


def test_internal_healthz_shows_the_replication_slot(settings, app_engine, on_replica):
    # It needs the replica up (on_replica): under xdist the module's fixtures can be made again between tests.
    check = check_replication(app_engine)
    assert check is not None and check.ok, check
    assert f"{REPLICA_SLOT}: streaming, reserved" in check.detail
    with TestClient(create_app(settings)) as c:
        assert c.get("/healthz").json()["replication"]["ok"]


def test_writes_and_own_reads_go_to_the_primary(on_replica, app_engine):
    r = on_replica.post("/api/register", json=household())
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    # Read right after the write: from the primary, so never "not found" while the replica catches up.
    assert on_replica.get(f"/api/register/{token}").status_code == 200
    assert on_replica.get(f"/register/{token}").status_code == 200
    assert on_replica.get("/report").status_code == 200
    # The access counter writes through the primary too.
    slug = on_replica.get("/api/public/layers").json()[0]["slug"]
    on_replica.get(f"/api/public/layers/{slug}/features")
    on_replica.app.state.access.flush()
    with app_engine.connect() as conn:
        hits = conn.execute(
            text(
                """SELECT coalesce(sum(hits), 0) FROM gis.layer_access_daily a JOIN gis.layer l ON l.id = a.layer_id
                   WHERE l.slug = :s"""
            ),
            {"s": slug},
        ).scalar_one()
    assert hits >= 1


# ------------------------------------------------------------------------------ failing soft
def test_a_down_replica_gives_503_on_data_routes_while_the_page_loads(replica, on_replica):
    _, stack = replica
    stack.stop_replica("immediate")
    try:
        for path in DATA_ROUTES:
            started = time.monotonic()
            r = on_replica.get(path)
            took = time.monotonic() - started
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.headers["Retry-After"].isdigit(), path
            err = r.json()["error"]
            assert err["code"] == "busy" and err["message_ja"] and err["message_en"], err
            print(
                f"{path}: 503 in {took * 1000:.0f} ms (replica connect timeout {REPLICA_CONNECT_TIMEOUT} s)"
            )
        # The citizen page still loads: the whole page, saying its answers could not be read and
        # that it tries again (503, so a phone's offline copy takes over where it has one).
        page = on_replica.get("/")
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert 'id="citizen-shelter-list"' in page.text and 'data-state="failed"' in page.text
        assert on_replica.get("/static/css/base.css").status_code == 200
        # Writes still reach the primary.
        assert on_replica.post("/api/register", json=household()).status_code == 201
        state = _healthz(on_replica)
        assert state["status"] == "degraded" and not state["database"]["ok"] and state["primary"]["ok"], state
        assert on_replica.get("/healthz").status_code == 503
    finally:
        assert stack.start_replica() is True
    # Back by itself: the pool's pre-ping drops the dead connections.
    wait_until(lambda: on_replica.get("/api/public/layers").status_code == 200, 30, interval=0.3)
    for path in DATA_ROUTES:
        assert on_replica.get(path).status_code == 200, path
    wait_until(lambda: _healthz(on_replica)["replica"]["ok"], 30, interval=0.5)


def test_a_replica_whose_slot_is_gone_is_cloned_again(replica, app_engine, on_replica):
    """A slot dropped (or given up past max_slot_wal_keep_size) means the replica may never catch up:
    `gisapp up --replica` makes a new copy."""
    _, stack = replica
    marker = stack.replica_dir / "old-copy"
    marker.write_text("")
    stack.stop_replica()
    with psycopg.connect(stack.superuser_dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot(%s)", [REPLICA_SLOT])
    assert stack.start_replica() is True
    assert not marker.exists()
    wait_until(lambda: on_replica.get("/api/public/layers").status_code == 200, 30, interval=0.3)
    check = check_replication(app_engine)
    assert check is not None and check.ok, check


def test_secrets_of_an_older_install_gain_the_replication_password(tmp_path):
    s = Settings(_env_file=None, GISAPP_DATA_DIR=str(tmp_path))
    old = {
        "pg": {"postgres": "a", **{r: "b" for r in LOCAL_ROLES.values()}},
        "mqtt": {},
        "session_secret": "c",
    }
    s.secrets_path.write_text(json.dumps(old))
    data = LocalStack(s).ensure_secrets()
    assert data["pg"]["postgres"] == "a" and len(data["pg"][REPLICATION_ROLE]) >= 24
    assert json.loads(s.secrets_path.read_text()) == data
    assert LocalStack(s).ensure_secrets() == data  # generated once
