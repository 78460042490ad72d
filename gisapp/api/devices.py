"""Device health and gauges for the HQ map (sensors/health.py)."""

from __future__ import annotations

from fastapi import APIRouter

from gisapp.deps import HQUser, ReadConn
from sensors import health

router = APIRouter(prefix="/api/devices", tags=["devices"])
gauges_router = APIRouter(prefix="/api/gauges", tags=["gauges"])


@router.get("/status", summary="Every device's state / 機器の状態（通信中・途絶・オフライン）")
def device_status(conn: ReadConn, user: HQUser) -> list[dict]:
    return health.device_status(conn)


@gauges_router.get("", summary="Rain and water-level gauges with their values / 雨量計・水位計")
def gauges(conn: ReadConn, user: HQUser) -> dict:
    return health.gauges(conn)
