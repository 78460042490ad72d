"""Gauge alerts for the HQ (雨量計・水位計の警報): the alert log with its 警戒レベル相当, acknowledgement
(確認: who, when; audited), and a gauge's last hours as a chart series.

Alerts are written by the ingest worker (``ingest.gauges``: one ``sensor.alert`` row per real change of
level, after hysteresis) and get their 警戒レベル相当 from ``ops.alert_level_rule`` by a trigger
(migration 0024). The series reuses ``ingest.gauges``' definitions of the sums, so the chart and the
alerts never disagree.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops.errors import OpsConflict, OpsNotFound
from ingest.gauges import level_series, rain_series, reset_hours
from sensors.thresholds import RAIN_LEVELS, RAIN_MEASURES, WATER_LEVELS

MAX_LIMIT = 500
MAX_HOURS = 24 * 7

_ALERTS = """SELECT a.id, a.device_id, d.name AS device_name, d.kind AS device_kind, a.measure, a.level_from,
         a.level_to, a.alert_level, a.value, a.at, a.created_at, a.acknowledged_by, a.acknowledged_at
    FROM sensor.alert a JOIN sensor.device d ON d.id = a.device_id"""


def list_alerts(conn: Connection, unacknowledged: bool = False, limit: int = 100) -> list[dict[str, Any]]:
    """The newest alerts first (by device time, then by arrival), at most ``limit``."""
    where = " WHERE a.acknowledged_at IS NULL" if unacknowledged else ""
    rows = conn.execute(
        text(_ALERTS + where + " ORDER BY a.at DESC, a.id DESC LIMIT :n"),  # own constants only
        {"n": max(1, min(limit, MAX_LIMIT))},
    )
    return [dict(r._mapping) for r in rows]


def unacknowledged_count(conn: Connection) -> int:
    """How many alerts no one has acknowledged yet (all of them, not one page)."""
    return conn.execute(text("SELECT count(*) FROM sensor.alert WHERE acknowledged_at IS NULL")).scalar_one()


def get_alert(conn: Connection, alert_id: int, *, for_update: bool = False) -> dict[str, Any]:
    row = conn.execute(
        text(_ALERTS + " WHERE a.id = :id" + (" FOR UPDATE OF a" if for_update else "")), {"id": alert_id}
    ).one_or_none()
    if row is None:
        raise OpsNotFound("警報が見つかりません。", "No such gauge alert.", alert_id=alert_id)
    return dict(row._mapping)


def acknowledge(conn: Connection, alert_id: int, actor: str) -> dict[str, Any]:
    """Mark one alert as seen by ``actor`` (確認). A second acknowledgement is a conflict naming the
    first (who, when): the record of who saw it first is never overwritten."""
    alert = get_alert(conn, alert_id, for_update=True)
    if alert["acknowledged_at"] is not None:
        raise OpsConflict(
            "この警報はすでに確認されています。",
            "This alert has been acknowledged already.",
            acknowledged_by=alert["acknowledged_by"],
            acknowledged_at=alert["acknowledged_at"].isoformat(),
        )
    conn.execute(
        text("UPDATE sensor.alert SET acknowledged_by = :who, acknowledged_at = now() WHERE id = :id"),
        {"who": actor, "id": alert_id},
    )
    audit.record(conn, actor, "gauge_alert.acknowledge", str(alert_id), device_id=alert["device_id"])
    return get_alert(conn, alert_id)


_DEVICE = text(
    """SELECT d.id, d.name, d.kind, d.thresholds, g.as_of, g.levels,
              (SELECT max(o.device_ts) FROM sensor.observation o WHERE o.device_id = d.id) AS newest,
              now() AS now
         FROM sensor.device d LEFT JOIN sensor.gauge_state g ON g.device_id = d.id
        WHERE d.id = :d AND d.kind IN ('rain_gauge', 'water_gauge')"""
)


def series(conn: Connection, device_id: str, hours: int = 24) -> dict[str, Any]:
    """A gauge's values over the ``hours`` up to its newest observation (device time): rain — each
    10-minute value with the 60-minute sum and 連続雨量 at its time; water — each level, with the
    gauge's own thresholds (水防団待機水位 … 氾濫危険水位) in order."""
    device = conn.execute(_DEVICE, {"d": device_id}).one_or_none()
    if device is None:
        raise OpsNotFound("雨量計・水位計が見つかりません。", "No such gauge.", device_id=device_id)
    thresholds = device.thresholds if isinstance(device.thresholds, dict) else {}
    until = device.newest or device.now
    since = until - timedelta(hours=max(1, min(hours, MAX_HOURS)))
    doc: dict[str, Any] = {
        "device_id": device.id,
        "name": device.name,
        "kind": device.kind,
        "hours": hours,
        "since": since,
        "until": until,
        "as_of": device.as_of,
        "levels": device.levels or {},
    }
    if device.kind == "rain_gauge":
        doc["reset_hours"] = reset_hours(thresholds)
        doc["points"] = rain_series(conn, device.id, thresholds, since, until)
        doc["thresholds"] = {
            m: [{"name": k, "value": thresholds[m][k]} for k in RAIN_LEVELS if k in thresholds[m]]
            for m in RAIN_MEASURES
            if isinstance(thresholds.get(m), dict)
        }
    else:
        doc["points"] = level_series(conn, device.id, since, until)
        doc["thresholds"] = {
            "level_m": [{"name": k, "value": thresholds[k]} for k in WATER_LEVELS if k in thresholds]
        }
    return doc
