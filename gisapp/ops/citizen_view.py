"""The resident's three questions on the disaster day, answered in one read of the ``pub`` views:
*must I evacuate* (避難情報 in force here, else every order in force, else the open disasters),
*where is the nearest open shelter with room* (open shelters by distance, with congestion, fitness for
the hazard in force and the walk), *is my place dangerous* (hazard areas at the place); and the
public incidents and road closures around.

The place is a position (the phone's) or a 町丁目 chosen from the evacuation areas (its point on
surface); without one, shelters are listed by name and every order in force is shown. Distances are
geography metres in PostGIS. The walk is the straight line × ``DETOUR`` (said as 約): the road network
lives outside the views the citizen-facing role may read.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from gisapp.ops import evac_levels, evac_public
from gisapp.ops.errors import OpsInvalid, OpsNotFound
from gisapp.ops.public_incidents import citizen_state
from gisapp.ops.shelters import HAZARDS, LEVEL_LABELS

DETOUR = 1.3  # walking distance / straight line on a town grid (said as 約)
WALK_M_PER_MIN = 80  # 4.8 km/h, the usual figure for 徒歩 (不動産の表示: 80 m = 1 分)
NEAREST = 10  # shelters in the list when the place is known (the rest: "more")

_SHELTER_COLUMNS = """shelter_id, name, address, capacity, occupancy, percent, level, stale, updated_at,
       ST_X(geom) AS lon, ST_Y(geom) AS lat, """ + ", ".join(HAZARDS.values())
# One row per shelter (a shelter opened for two disasters at once is listed once, its latest count).
_SHELTERS = {
    False: text(
        f"""SELECT * FROM (SELECT DISTINCT ON (shelter_id) {_SHELTER_COLUMNS}, NULL::float8 AS distance_m
              FROM pub.shelter_status ORDER BY shelter_id, updated_at DESC) s
            ORDER BY name, shelter_id"""  # noqa: S608 - constant columns
    ),
    True: text(
        f"""SELECT * FROM (SELECT DISTINCT ON (shelter_id) {_SHELTER_COLUMNS},
                   ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)
                     AS distance_m
              FROM pub.shelter_status ORDER BY shelter_id, updated_at DESC) s
            ORDER BY distance_m, name, shelter_id"""  # noqa: S608 - constant columns
    ),
}
_HAZARDS_HERE = text(
    """SELECT DISTINCT hazard_type, depth_rank, name FROM pub.hazard_area
        WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY hazard_type, depth_rank, name"""
)
_AREAS = text("SELECT code, name FROM pub.evac_area ORDER BY code")
_AREA = text(
    """SELECT code, name, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
         FROM pub.evac_area WHERE code = :code"""
)
_AREA_AT = text(
    """SELECT code, name FROM pub.evac_area
        WHERE ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY code LIMIT 1"""
)
_DISASTERS = text("SELECT id, name, opened_at FROM pub.disaster ORDER BY opened_at, id")
_CLOSURES = text(
    """SELECT id, route_name, closed_at, ST_AsGeoJSON(geom, 5) AS geometry
         FROM pub.road_closure ORDER BY closed_at DESC, id"""
)
_INCIDENTS = text(
    """SELECT id, category, category_ja, category_en, status, updated_at, ST_X(geom) AS lon, ST_Y(geom) AS lat
         FROM pub.incident ORDER BY updated_at DESC, id"""
)

# hazard_area.hazard_type -> (ja, en)
HAZARD_AREA_LABELS = {
    "landslide_special": (
        "土砂災害特別警戒区域（レッドゾーン）",
        "Landslide special warning zone (red zone)",
    ),
    "landslide_warning": ("土砂災害警戒区域（イエローゾーン）", "Landslide warning zone (yellow zone)"),
    "flood": ("洪水浸水想定区域", "River flood inundation zone"),
    "inland_flood": ("内水浸水想定区域", "Inland flooding zone"),
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def check_position(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    """Both or neither, finite, on the globe; errors name the field."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        field = "lat" if lat is None else "lon"
        raise OpsInvalid(
            "位置は緯度（lat）と経度（lon）の両方で指定してください。",
            "Give the position as both latitude (lat) and longitude (lon).",
            field=field,
        )
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise OpsInvalid(
            "緯度（lat）は -90〜90 の数で指定してください。", "lat must be -90 to 90.", field="lat"
        )
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise OpsInvalid(
            "経度（lon）は -180〜180 の数で指定してください。", "lon must be -180 to 180.", field="lon"
        )
    return lat, lon


def areas(conn: Connection) -> list[dict]:
    """The 町丁目 a resident may choose when the phone gives no position."""
    return [dict(r._mapping) for r in conn.execute(_AREAS)]


def _area(conn: Connection, code: str) -> dict:
    row = conn.execute(_AREA, {"code": code}).one_or_none()
    if row is None:
        raise OpsNotFound("その地区は見つかりません。", "No such area.", field="area")
    return dict(row._mapping)


def _shelter(row: dict, hazards: list[str]) -> dict:
    distance = row["distance_m"]
    walk_m = distance * DETOUR if distance is not None else None
    fits = {h: bool(row[HAZARDS[h]]) for h in hazards if h in HAZARDS}
    return {
        "id": row["shelter_id"],
        "name": row["name"],
        "address": row["address"],
        "capacity": row["capacity"],
        "occupancy": row["occupancy"],
        "percent": float(row["percent"]) if row["percent"] is not None else None,
        "level": row["level"],
        "level_ja": LEVEL_LABELS[row["level"]][0],
        "level_en": LEVEL_LABELS[row["level"]][1],
        "stale": bool(row["stale"]),
        "updated_at": _iso(row["updated_at"]),
        "lon": row["lon"],
        "lat": row["lat"],
        "distance_m": round(distance) if distance is not None else None,
        # rounded to 10 m: "約" a figure, not a promise
        "walk_m": int(round(walk_m, -1)) if walk_m is not None else None,
        "walk_min": max(1, math.ceil(walk_m / WALK_M_PER_MIN)) if walk_m is not None else None,
        # None: no hazard named by an order in force, so nothing to judge by
        "suits": all(fits.values()) if fits else None,
        "suits_by_hazard": fits,
    }


def _incident(row: dict) -> dict:
    return {
        "id": row["id"],
        "category": row["category"],
        "category_ja": row["category_ja"],
        "category_en": row["category_en"],
        "status": row["status"],
        # road_closure, state, and the words of the state (a closure reads 通行止め, never 未対応)
        **citizen_state(row["category"], row["status"]),
        "updated_at": _iso(row["updated_at"]),
        "lon": row["lon"],
        "lat": row["lat"],
    }


def here(
    conn: Connection, *, lat: float | None = None, lon: float | None = None, area: str | None = None
) -> dict:
    """The answers for a place (position, else the chosen area, else none). Read only."""
    position = check_position(lat, lon)
    place: dict | None = None
    if position is not None:
        found = conn.execute(_AREA_AT, {"lon": position[1], "lat": position[0]}).one_or_none()
        place = {
            "source": "position",
            "lat": position[0],
            "lon": position[1],
            "area": found.code if found else None,
            "area_name": found.name if found else None,
        }
    elif area:
        chosen = _area(conn, area)
        place = {
            "source": "area",
            "lat": chosen["lat"],
            "lon": chosen["lon"],
            "area": chosen["code"],
            "area_name": chosen["name"],
        }
    at = {"lon": place["lon"], "lat": place["lat"]} if place else {}
    evacuation = evac_public.evacuation_info(conn, **at)
    orders = evacuation["orders"]
    # Orders in force elsewhere in the city when none covers the place: said, not hidden.
    elsewhere = evac_public.evacuation_info(conn)["orders"] if place and not orders else []
    hazards = sorted({o["hazard"] for o in orders or elsewhere})
    shelters = [_shelter(dict(r._mapping), hazards) for r in conn.execute(_SHELTERS[place is not None], at)]
    hazard_areas = []
    if place is not None:
        for r in conn.execute(_HAZARDS_HERE, at):
            ja, en = HAZARD_AREA_LABELS.get(r.hazard_type, (r.hazard_type, r.hazard_type))
            hazard_areas.append(
                {"type": r.hazard_type, "label_ja": ja, "label_en": en, "depth": r.depth_rank, "name": r.name}
            )
    closures = [
        {
            "id": r.id,
            "route_name": r.route_name,
            "closed_at": _iso(r.closed_at),
            "geometry": json.loads(r.geometry),
        }
        for r in conn.execute(_CLOSURES)
    ]
    return {
        "failed": False,
        "generated_at": datetime.now(UTC).isoformat(),
        "place": place,
        "evacuation": {
            "version": evacuation["version"],
            "orders": orders,
            "here": evacuation.get("here"),
            "elsewhere": elsewhere,
            # 解除 in the last 24 h (at the place, or in the city): a resident sees that it ended
            "cancelled": evacuation["cancelled"],
            "hazards": [
                {
                    "hazard": h,
                    "hazard_ja": evac_levels.HAZARDS.get(h, (h, h))[0],
                    "hazard_en": evac_levels.HAZARDS.get(h, (h, h))[1],
                }
                for h in hazards
            ],
        },  # fmt: skip
        "disasters": [
            {"id": r.id, "name": r.name, "opened_at": _iso(r.opened_at)} for r in conn.execute(_DISASTERS)
        ],
        "shelters": shelters,
        "hazard_areas": hazard_areas,
        "incidents": [_incident(dict(r._mapping)) for r in conn.execute(_INCIDENTS)],
        "closures": closures,
        "walk": {"detour": DETOUR, "metres_per_minute": WALK_M_PER_MIN},
    }


def unavailable() -> dict:
    """The shape of ``here``'s answer when the database could not be read: ``failed`` so a page says
    "could not load" (and retries), never "no shelter open"."""
    return {
        "failed": True,
        "generated_at": datetime.now(UTC).isoformat(),
        "place": None,
        "evacuation": {
            "version": 0,
            "orders": [],
            "here": None,
            "elsewhere": [],
            "cancelled": [],
            "hazards": [],
        },
        "disasters": [],
        "shelters": [],
        "hazard_areas": [],
        "incidents": [],
        "closures": [],
        "walk": {"detour": DETOUR, "metres_per_minute": WALK_M_PER_MIN},
    }
