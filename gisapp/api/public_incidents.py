"""Incidents of the categories HQ made public (e.g. 通行止め), with their status only.

Both instances mount this router. The public instance reads the ``pub`` views (``pub.incident``,
``pub.incident_category``) through its restricted DB role; the views already leave out title,
description, address, source and reporter, and incidents of closed disasters or cancelled ones. The
internal instance reads the same views, so both show exactly the same.
"""

from __future__ import annotations

from fastapi import APIRouter

from gisapp.deps import ReadConn, ReadRoute
from gisapp.ops import public_incidents as domain

router = APIRouter(tags=["public incidents / 公開事案"], route_class=ReadRoute)


@router.get("/api/public/incidents", summary="Public incidents (GeoJSON) / 公開事案")
def public_incidents(conn: ReadConn) -> dict:
    return domain.public_incidents(conn)


@router.get("/api/public/incident-categories", summary="Categories shown to citizens / 公開事案の種別")
def public_categories(conn: ReadConn) -> list[dict]:
    return domain.public_categories(conn)
