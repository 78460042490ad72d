"""Device health and gauges for the HQ map (sensors/health.py), the gauge alert log with its
acknowledgement and a gauge's chart series (gisapp/ops/gauge_alerts.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from gisapp.auth import User
from gisapp.db import transaction
from gisapp.deps import EngineDep, HQUser, ReadConn, ReadRoute, require_roles
from gisapp.ops import gauge_alerts
from gisapp.params import IdPath
from sensors import health
from sensors.topics import DEVICE_ID_RE

router = APIRouter(prefix="/api/devices", tags=["devices"], route_class=ReadRoute)
gauges_router = APIRouter(prefix="/api/gauges", tags=["gauges"], route_class=ReadRoute)

AckUser = Annotated[User, Depends(require_roles("hq_operator"))]  # and admin
DeviceIdPath = Annotated[str, Path(pattern=DEVICE_ID_RE.pattern, description="device id / 機器ID")]


@router.get("/status", summary="Every device's state / 機器の状態（通信中・途絶・オフライン）")
def device_status(conn: ReadConn, user: HQUser) -> list[dict]:
    return health.device_status(conn)


@gauges_router.get("", summary="Rain and water-level gauges with their values / 雨量計・水位計")
def gauges(conn: ReadConn, user: HQUser) -> dict:
    return health.gauges(conn)


@gauges_router.get("/alerts", summary="Gauge alert log, newest first / 雨量計・水位計の警報履歴")
def alerts(
    conn: ReadConn,
    user: HQUser,
    unacknowledged: bool = False,
    limit: Annotated[int, Query(ge=1, le=gauge_alerts.MAX_LIMIT)] = 100,
) -> dict:
    return {
        "alerts": gauge_alerts.list_alerts(conn, unacknowledged, limit),
        "unacknowledged": gauge_alerts.unacknowledged_count(conn),
    }


@gauges_router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an alert / 警報を確認")
def acknowledge(alert_id: IdPath, engine: EngineDep, user: AckUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return gauge_alerts.acknowledge(conn, alert_id, user.username)


@gauges_router.get("/{device_id}/series", summary="A gauge's last hours for its chart / 雨量計・水位計の推移")
def series(
    device_id: DeviceIdPath,
    conn: ReadConn,
    user: HQUser,
    hours: Annotated[int, Query(ge=1, le=gauge_alerts.MAX_HOURS)] = 24,
) -> dict:
    return gauge_alerts.series(conn, device_id, hours)
