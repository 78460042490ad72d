"""Database and broker checks for /healthz."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from sqlalchemy import Engine, text

from ingest.worker import mqtt_params


@dataclass
class Check:
    ok: bool
    detail: str


def check_database(engine: Engine) -> Check:
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
        return Check(True, f"PostGIS {version}")
    except Exception as e:
        return Check(False, type(e).__name__)


def check_broker(mqtt_url: str | None, timeout: float = 2.0) -> Check:
    """Speak MQTT to the broker without credentials: a refusal (CONNACK 'not authorized') proves it is
    up and that anonymous clients are turned away. Never log in as the ingest account here: the
    broker would hand it that client id and cut the ingest worker off."""
    if not mqtt_url:
        return Check(False, "MQTT_URL not set")
    host, port, _, _ = mqtt_params(mqtt_url)
    answered = threading.Event()
    result: dict[str, object] = {}

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        result["rc"] = reason_code
        answered.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv311)
    client.on_connect = on_connect
    try:
        client.connect(host, port, keepalive=5)
    except OSError as e:
        return Check(False, f"unreachable: {e.strerror or e}")
    deadline = time.monotonic() + timeout
    while not answered.is_set() and time.monotonic() < deadline:
        client.loop(timeout=0.1)
    client.disconnect()
    if not answered.is_set():
        return Check(False, "no CONNACK")
    rc = result["rc"]
    if rc.is_failure and rc.value in (4, 5, 134, 135):  # refused: bad credentials / not authorized
        return Check(True, "up, anonymous refused")
    if not rc.is_failure:
        return Check(False, "up, but anonymous clients are ACCEPTED")
    return Check(False, f"refused: {rc}")


class CachedHealth:
    """/healthz may be polled often; check at most every few seconds."""

    def __init__(self, engine: Engine, mqtt_url: str | None, ttl: float = 3.0) -> None:
        self.engine, self.mqtt_url, self.ttl = engine, mqtt_url, ttl
        self._at = 0.0
        self._value: dict | None = None
        self._lock = threading.Lock()

    def get(self) -> dict:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self.ttl:
                db, broker = check_database(self.engine), check_broker(self.mqtt_url)
                self._value = {
                    "status": "ok" if db.ok and broker.ok else "degraded",
                    "database": {"ok": db.ok, "detail": db.detail},
                    "broker": {"ok": broker.ok, "detail": broker.detail},
                }
                self._at = time.monotonic()
            return self._value
