"""Device health for the HQ map: online, silent (quiet longer than its kind's limit), offline (its
last will came) or never heard."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from gisapp.deps import ConnDep, HQUser

router = APIRouter(prefix="/api/devices", tags=["devices"])

_HEALTH = text(
    "SELECT device_id, kind, name, last_seen, last_will_at, state FROM sensor.device_health ORDER BY device_id"
)


@router.get("/status", summary="Every device's state / 機器の状態（通信中・途絶・オフライン）")
def device_status(conn: ConnDep, user: HQUser) -> list[dict]:
    return [
        {
            **r._mapping,
            "last_seen": r.last_seen.isoformat() if r.last_seen else None,
            "last_will_at": r.last_will_at.isoformat() if r.last_will_at else None,
        }
        for r in conn.execute(_HEALTH)
    ]
