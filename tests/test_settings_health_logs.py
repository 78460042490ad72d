"""Settings fall back to the local stack; /healthz tells a dead broker; logs are JSON lines."""

from __future__ import annotations

import json
import logging
import stat

from fastapi.testclient import TestClient
from sqlalchemy import text

from gisapp.app import create_app
from gisapp.logs import JsonFormatter
from gisapp.settings import Settings
from tests.conftest import free_port


def test_unset_urls_resolve_to_the_local_stack(settings):
    assert settings.database_url.startswith("postgresql+psycopg://gisapp_app:")
    assert settings.public_database_url.startswith("postgresql+psycopg://gisapp_public:")
    assert settings.migration_database_url.startswith("postgresql+psycopg://gisapp_owner:")
    assert settings.mqtt_url.startswith("mqtt://gisapp-ingest:")
    assert f":{settings.pg_port}/" in settings.database_url and f":{settings.mqtt_port}" in settings.mqtt_url


def test_secrets_are_generated_per_install_and_private(settings):
    mode = stat.S_IMODE(settings.secrets_path.stat().st_mode)
    assert mode == 0o600
    secrets = json.loads(settings.secrets_path.read_text())
    passwords = [*secrets["pg"].values(), *secrets["mqtt"].values()]
    assert len(set(passwords)) == len(passwords) and all(len(p) >= 24 for p in passwords)


def test_explicit_environment_wins(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://someone:pw@db.example:5432/gis")
    monkeypatch.setenv("GISAPP_HTTP_PORT", "9123")
    s = Settings(_env_file=None)
    assert s.database_url == "postgresql+psycopg://someone:pw@db.example:5432/gis"
    assert s.http_port == 9123
    assert s.public_database_url == settings.public_database_url  # the rest still from the stack


def test_without_a_stack_nothing_is_invented(tmp_path, monkeypatch):
    monkeypatch.setenv("GISAPP_DATA_DIR", str(tmp_path / "none"))
    for var in ("DATABASE_URL", "PUBLIC_DATABASE_URL", "MIGRATION_DATABASE_URL", "MQTT_URL"):
        monkeypatch.delenv(var, raising=False)
    s = Settings(_env_file=None)
    assert s.database_url is None and s.mqtt_url is None


def test_health_is_degraded_when_the_broker_is_down(settings):
    dead = settings.model_copy(update={"mqtt_url": f"mqtt://127.0.0.1:{free_port()}"})
    with TestClient(create_app(dead, public=True)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded" and body["database"]["ok"] and not body["broker"]["ok"]


def test_health_is_degraded_when_the_database_is_down(settings):
    dead = settings.model_copy(
        update={"public_database_url": f"postgresql+psycopg://gisapp_public:x@127.0.0.1:{free_port()}/gisapp"}
    )
    with TestClient(create_app(dead, public=True)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and not r.json()["database"]["ok"] and r.json()["broker"]["ok"]


def test_logs_are_one_json_object_per_line_with_context():
    record = logging.LogRecord("gisapp.ingest", logging.WARNING, __file__, 1, "dead letter", None, None)
    record.topic = "gisapp/v1/radio/R001/position"
    record.code = "invalid_json"
    line = JsonFormatter().format(record)
    doc = json.loads(line)
    assert "\n" not in line
    assert doc["level"] == "warning" and doc["msg"] == "dead letter"
    assert doc["topic"] == "gisapp/v1/radio/R001/position" and doc["code"] == "invalid_json"


def test_app_connections_run_without_jit(app_engine, public_engine):
    """JIT compiled for ~150 ms before queries of a few milliseconds (OGC items under RLS, tiles)."""
    for engine in (app_engine, public_engine):
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar_one() == "off"


def test_broker_drops_call_for_attention(settings, app_engine, client):
    """The ingest worker records Mosquitto's $SYS dropped counter; anything above 0 calls for attention
    (200: the API still serves; only a failed database or broker is "degraded", 503)."""
    from gisapp.health import CachedHealth

    health = CachedHealth(app_engine, settings.mqtt_url, ttl=0, drops=True)
    with app_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ingest.broker_stat (name, value) VALUES ('publish/messages/dropped', 3)"
                " ON CONFLICT (name) DO UPDATE SET value = 3"
            )
        )
    try:
        state = health.get()
        assert state["status"] == "attention" and "3 messages dropped" in state["broker_drops"]["detail"]
    finally:
        with app_engine.begin() as conn:
            conn.execute(
                text("UPDATE ingest.broker_stat SET value = 0 WHERE name = 'publish/messages/dropped'")
            )
    assert health.get()["broker_drops"]["ok"]  # (dead letters of other tests may make the whole degraded)
    assert "broker_drops" not in CachedHealth(app_engine, settings.mqtt_url, ttl=0).get()  # public instance


def test_the_worker_records_the_brokers_dropped_counter(settings, app_engine):
    """A $SYS message as the broker sends it goes through the worker's own batch path into the table
    /healthz reads."""
    from gisapp.health import CachedHealth
    from gisapp.ops import radio_reports
    from ingest.worker import IngestWorker, Received

    w = IngestWorker(app_engine, settings.mqtt_url, radio_reports=radio_reports)
    item = Received("$SYS/broker/publish/messages/dropped", b"5", mid=0, qos=0, generation=0)
    with app_engine.begin() as conn:
        batch = w._validate(conn, [item])
        assert batch.broker_stats == {"publish/messages/dropped": 5} and not batch.dead
        w._write(conn, batch)
    try:
        state = CachedHealth(app_engine, settings.mqtt_url, ttl=0, drops=True).get()
        assert state["status"] == "attention" and "5 messages dropped" in state["broker_drops"]["detail"]
        with app_engine.begin() as conn:
            junk = w._validate(conn, [Received("$SYS/broker/publish/messages/dropped", b"n/a", 0, 0, 0)])
        assert junk.broker_stats == {} and not junk.dead  # the broker's own text: ignored, not dead-lettered
    finally:
        with app_engine.begin() as conn:
            conn.execute(
                text("UPDATE ingest.broker_stat SET value = 0 WHERE name = 'publish/messages/dropped'")
            )


def test_a_starved_connection_pool_answers_503_not_a_hang(settings):
    """When no database connection frees up in time the request gets 503 with Retry-After, in both
    languages, instead of hanging its worker thread."""
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine

    from gisapp.app import create_app

    tiny = create_engine(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=0.5)
    app = create_app(settings)
    with TestClient(app) as c:
        app.state.engine = tiny
        held = tiny.connect()  # the only connection
        try:
            r = c.get("/api/public/layers")
        finally:
            held.close()
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.json()["error"]["message_ja"] and r.json()["error"]["message_en"]
        assert c.get("/api/public/layers").status_code == 200  # free again
    tiny.dispose()
