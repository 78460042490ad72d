"""Geofence events for the HQ: units entering or leaving hazard areas, shelters and the regions set
on their phones (ingest/geofence.py writes them at ingest)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from gisapp.deps import HQUser, ReadConn, ReadRoute
from ingest import geofence
from sensors.topics import DEVICE_ID_RE

router = APIRouter(tags=["devices"], route_class=ReadRoute)


@router.get("/api/geofence-events", summary="Units entering / leaving zones, newest first / 区域の出入り")
def geofence_events(
    conn: ReadConn,
    user: HQUser,
    unit: Annotated[
        str | None, Query(pattern=DEVICE_ID_RE.pattern, description="無線機 ID / unit id")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="この時刻以降 / at or after (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=geofence.MAX_LIST)] = 200,
) -> dict:
    items = geofence.list_events(conn, unit, since, limit)
    return {
        "items": [{k: v.isoformat() if isinstance(v, datetime) else v for k, v in i.items()} for i in items]
    }
