"""Device registry: gauges and radio units, each with its own broker credentials (stored hashed)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import bindparam

from sensors.broker import BrokerAccount
from sensors.credentials import mosquitto_hash, new_password
from sensors.thresholds import validate as validate_thresholds
from sensors.topics import DEVICE_ID_RE


class DeviceKind(StrEnum):
    radio_unit = "radio_unit"  # 無線機
    rain_gauge = "rain_gauge"  # 雨量計
    water_gauge = "water_gauge"  # 水位計


@dataclass(frozen=True)
class DeviceSpec:
    id: str
    kind: DeviceKind
    name: str
    lon: float | None = None
    lat: float | None = None
    owner_department_id: int | None = None
    thresholds: dict[str, Any] | None = None


_UPSERT = text(
    """INSERT INTO sensor.device (id, kind, name, owner_department_id, location, thresholds,
                                  mqtt_password_hash)
       VALUES (:id, :kind, :name, :dept,
               CASE WHEN CAST(:lon AS float8) IS NULL THEN NULL
                    ELSE ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) END,
               :thresholds, :hash)
       ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name,
         owner_department_id = EXCLUDED.owner_department_id, location = EXCLUDED.location,
         thresholds = EXCLUDED.thresholds
       RETURNING (xmax = 0) AS inserted"""
).bindparams(bindparam("thresholds", type_=JSONB))


def ensure_device(conn: Connection, spec: DeviceSpec) -> str | None:
    """Create or update a device. Returns its new password when created, None when it existed
    (an existing device keeps its credentials; use rotate_password to change them)."""
    if not DEVICE_ID_RE.match(spec.id):
        raise ValueError(f"不正な機器ID / invalid device id: {spec.id!r}")
    thresholds = validate_thresholds(spec.kind.value, spec.thresholds)
    password = new_password()
    inserted = conn.execute(
        _UPSERT,
        {
            "id": spec.id,
            "kind": spec.kind.value,
            "name": spec.name,
            "dept": spec.owner_department_id,
            "lon": spec.lon,
            "lat": spec.lat,
            "thresholds": thresholds,
            "hash": mosquitto_hash(password),
        },
    ).scalar_one()
    return password if inserted else None


def rotate_password(conn: Connection, device_id: str) -> str:
    password = new_password()
    updated = conn.execute(
        text("UPDATE sensor.device SET mqtt_password_hash = :h WHERE id = :id"),
        {"h": mosquitto_hash(password), "id": device_id},
    ).rowcount
    if not updated:
        raise LookupError(f"機器がありません / no such device: {device_id}")
    return password


def disable_devices(conn: Connection, device_ids: list[str]) -> int:
    return conn.execute(
        text("UPDATE sensor.device SET enabled = false WHERE id = ANY(:ids)"), {"ids": device_ids}
    ).rowcount


def broker_accounts(conn: Connection) -> list[BrokerAccount]:
    rows = conn.execute(
        text("SELECT id, mqtt_password_hash, kind FROM sensor.device WHERE enabled ORDER BY id")
    )
    return [BrokerAccount(r.id, r.mqtt_password_hash, r.kind) for r in rows]


def enabled_ids(conn: Connection, ids: list[str]) -> set[str]:
    rows = conn.execute(text("SELECT id FROM sensor.device WHERE enabled AND id = ANY(:ids)"), {"ids": ids})
    return {r.id for r in rows}


def set_thresholds(conn: Connection, device_id: str, thresholds: dict[str, Any]) -> None:
    """Replace a gauge's thresholds (checked against its kind); the next observation is judged by them."""
    kind = conn.execute(text("SELECT kind FROM sensor.device WHERE id = :id"), {"id": device_id}).scalar()
    if kind is None:
        raise LookupError(f"機器がありません / no such device: {device_id}")
    conn.execute(
        text("UPDATE sensor.device SET thresholds = :t WHERE id = :id").bindparams(
            bindparam("t", type_=JSONB)
        ),
        {"t": validate_thresholds(kind, thresholds), "id": device_id},
    )
