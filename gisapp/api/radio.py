"""Radio units (無線機) for the HQ map: where every unit is (or was at time T), and one unit's track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from common.errors import InvalidInput
from gisapp.deps import HQUser, ReadConn, ReadRoute
from gisapp.ops import radio_units

router = APIRouter(prefix="/api/radio-units", tags=["radio units"], route_class=ReadRoute)

MAX_TRACK = timedelta(days=7)
DEFAULT_TRACK = timedelta(hours=2)


@router.get("", summary="Latest position of every radio unit / 無線機の最新位置")
def latest_positions(conn: ReadConn, user: HQUser) -> dict:
    return radio_units.unit_positions(conn)


@router.get("/at", summary="Where every unit was at time T / 時刻 T の各無線機の位置")
def positions_at(
    conn: ReadConn,
    user: HQUser,
    t: Annotated[AwareDatetime, Query(description="ISO 8601 with offset, e.g. 2026-11-21T09:00:00+09:00")],
) -> dict:
    """Each unit's last reported position at or before T (its ``device_ts`` tells how old it was)."""
    return radio_units.unit_positions(conn, t)


@router.get("/{device_id}/track", summary="One unit's track / 無線機の移動経路")
def track(
    device_id: str,
    conn: ReadConn,
    user: HQUser,
    since: Annotated[
        AwareDatetime | None, Query(alias="from", description="default: 2 hours before `to`")
    ] = None,
    until: Annotated[AwareDatetime | None, Query(alias="to", description="default: now")] = None,
) -> dict:
    until = until or datetime.now(UTC)
    since = since or until - DEFAULT_TRACK
    if since > until:
        raise InvalidInput("from は to より前にしてください。", "`from` must be before `to`.")
    if until - since > MAX_TRACK:
        raise InvalidInput("期間は 7 日以内にしてください。", "The period may be at most 7 days.")
    return radio_units.track(conn, device_id, since, until)
