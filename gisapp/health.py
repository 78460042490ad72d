"""Database and broker checks for /healthz."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from sqlalchemy import Engine, text

from ingest import dead_letters
from ingest.worker import mqtt_params

# More dead letters than this in the last hour, not yet reviewed on /hq/dead-letters, and the ingest
# side is degraded: a device sends junk steadily (a wrong firmware, a wrong clock), or someone probes.
DEAD_LETTERS_DEGRADED_1H = 100
# A replica further behind than this calls for attention: citizens then see shelter congestion this
# much older than HQ does, on top of the public answers' cache lifetimes (docs/deploy.md, "Read replica").
REPLICA_LAG_ATTENTION_S = 10.0


@dataclass
class Check:
    ok: bool
    detail: str
    count: float | None = None  # a figure worth graphing, shown beside the check


REQUIRED = ("database", "broker")  # a failed one answers 503; the other checks answer 200 "attention"


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


_DROPPED = text("SELECT value FROM ingest.broker_stat WHERE name = 'publish/messages/dropped'")


def check_broker_drops(engine: Engine) -> Check:
    """Messages the broker dropped (full queues), as the ingest worker last read them from $SYS."""
    try:
        with engine.connect() as conn:
            dropped = conn.execute(_DROPPED).scalar_one_or_none()
    except Exception as e:  # health reports any failure
        return Check(False, type(e).__name__)
    if dropped is None:
        return Check(True, "no report from the ingest worker yet")
    if dropped:
        return Check(False, f"{dropped} messages dropped by the broker since it started")
    return Check(True, "0 dropped")


def check_dead_letters(engine: Engine, threshold: int = DEAD_LETTERS_DEGRADED_1H) -> Check:
    """Dead letters of the last hour; too many of them not yet reviewed is degraded."""
    try:
        with engine.connect() as conn:
            total, unreviewed = dead_letters.last_hour(conn)
    except Exception as e:  # health reports any failure
        return Check(False, type(e).__name__)
    detail = f"{total} in the last hour, {unreviewed} not reviewed (degraded above {threshold})"
    return Check(unreviewed <= threshold, detail, total)


_REPLAY = text(
    """SELECT pg_is_in_recovery() AS standby,
              EXISTS (SELECT FROM pg_stat_wal_receiver) AS receiving,
              pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS caught_up,
              EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS since"""
)


def check_replica(engine: Engine, threshold: float = REPLICA_LAG_ATTENTION_S) -> Check:
    """How far the replica this instance reads is behind the primary, in seconds (the count). Lag is
    0 while it is connected and has replayed all it received: the age of the last replayed commit
    would otherwise grow while nothing is written although the replica is current. Connected but
    still replaying, or cut off from the primary: the age of the last replayed commit."""
    try:
        with engine.connect() as conn:
            row = conn.execute(_REPLAY).one()
    except Exception as e:  # health reports any failure
        return Check(False, type(e).__name__)
    if not row.standby:
        return Check(False, "not a standby: this database is a primary")
    lag = 0.0 if row.receiving and row.caught_up else max(row.since or 0.0, 0.0)
    if not row.receiving:
        return Check(False, f"not connected to the primary; last commit replayed {lag:.1f} s ago", lag)
    detail = f"streaming, {lag:.1f} s behind (attention above {threshold:g} s)"
    return Check(lag <= threshold, detail, lag)


_SLOTS = text(
    """SELECT s.slot_name, s.active, s.wal_status,
              (pg_current_wal_lsn() - s.restart_lsn)::bigint AS held,
              (SELECT count(*) FROM pg_stat_replication) AS senders
       FROM pg_replication_slots s WHERE s.slot_type = 'physical' ORDER BY s.slot_name"""
)


def check_replication(engine: Engine) -> Check | None:
    """On the primary: its replicas' slots (None when there is none). A slot nobody streams from
    holds WAL until max_slot_wal_keep_size, then is given up ("lost") and its replica must be cloned
    again: both call for attention."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(_SLOTS).all()
    except Exception as e:  # health reports any failure
        return Check(False, type(e).__name__)
    if not rows:
        return None
    parts = []
    for r in rows:
        state = "streaming" if r.active else "NOT CONNECTED"
        held = f"{(r.held or 0) / 1048576:.0f} MB WAL held" if r.wal_status != "lost" else "WAL given up"
        parts.append(f"{r.slot_name}: {state}, {r.wal_status}, {held}")
    ok = all(r.active and r.wal_status in ("reserved", "extended") for r in rows)
    return Check(ok, f"{rows[0].senders} WAL sender(s); " + "; ".join(parts))


def check_jma(engine: Engine, urls: list[str], stale_minutes: int) -> tuple[Check, list[dict]]:
    """The JMA feeds: each polled successfully within ``stale_minutes`` and without an error. No feed
    configured is fine (telegrams then come by `gisapp jma import`)."""
    from gisapp.ops import jma_feeds

    if not urls:
        return Check(True, "no feed configured (GISAPP_JMA_FEED_URL); telegrams by `gisapp jma import`"), []
    try:
        with engine.connect() as conn:
            feeds = jma_feeds.states(conn, urls, stale_minutes)
    except Exception as e:  # health reports any failure
        return Check(False, type(e).__name__), []
    bad = [f for f in feeds if f.error or f.stale]
    parts = [
        f"{f.url}: {'STALE (no successful poll for ' + str(stale_minutes) + ' min) ' if f.stale else ''}"
        f"{'error: ' + f.error if f.error else 'ok' if not f.stale else ''}".strip()
        for f in feeds
    ]
    return Check(not bad, "; ".join(parts)), [f.as_json() for f in feeds]


class CachedHealth:
    """/healthz may be polled often; check at most every few seconds. The internal instance also
    reports messages the broker dropped and the ingest worker's dead letters of the last hour (the
    public instance's role can read neither) and the state of the replicas' slots, if there are any.
    A citizen-facing instance that reads a replica (``primary`` is then the engine it writes with)
    checks the replica as its database, reports its lag, and the primary as a check that calls for
    attention: the map still serves while citizen reports and registrations cannot be stored."""

    def __init__(
        self,
        engine: Engine,
        mqtt_url: str | None,
        ttl: float = 3.0,
        *,
        drops: bool = False,
        primary: Engine | None = None,
        jma: tuple[list[str], int] | None = None,
    ) -> None:
        self.engine, self.mqtt_url, self.ttl, self.drops = engine, mqtt_url, ttl, drops
        self.primary = primary
        self.jma = jma  # (feed URLs, stale minutes) on the internal instance
        self._at = 0.0
        self._value: dict | None = None
        self._lock = threading.Lock()

    def get(self) -> dict:
        with self._lock:
            if self._value is None or time.monotonic() - self._at > self.ttl:
                checks = {"database": check_database(self.engine), "broker": check_broker(self.mqtt_url)}
                if self.drops:
                    checks["broker_drops"] = check_broker_drops(self.engine)
                    checks["dead_letters"] = check_dead_letters(self.engine)
                    replication = check_replication(self.engine)
                    if replication is not None:
                        checks["replication"] = replication
                jma_feeds: list[dict] | None = None
                if self.jma is not None:
                    checks["jma"], jma_feeds = check_jma(self.engine, *self.jma)
                if self.primary is not None:
                    checks["replica"] = check_replica(self.engine)
                    checks["primary"] = check_database(self.primary)
                # The database and the broker decide whether this instance can serve (503 takes it out
                # of a load balancer); drops and dead letters call for a person's attention, not for a
                # restart or for sending citizens elsewhere.
                required_ok = all(c.ok for name, c in checks.items() if name in REQUIRED)
                status = "ok" if all(c.ok for c in checks.values()) else "attention"
                self._value = {
                    "status": status if required_ok else "degraded",
                    **{name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
                }
                if self.drops:
                    self._value["dead_letters_1h"] = checks["dead_letters"].count
                if jma_feeds is not None:
                    self._value["jma"]["feeds"] = jma_feeds
                if self.primary is not None:
                    lag = checks["replica"].count
                    self._value["replica_lag_s"] = None if lag is None else round(lag, 3)
                self._at = time.monotonic()
            return self._value
