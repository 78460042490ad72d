"""Shelters per disaster (避難所の開設), suitability per hazard (災害種別), counts and congestion.
Closing is gisapp/ops/shelter_close.py (the people inside are accounted for).

Congestion levels: vacant 空き, moderate やや混雑, crowded 混雑, full 満員 (unknown 不明 without a
capacity); the thresholds are one settings row that HQ edits.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops.disasters import get_disaster
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound

# 災害種別 -> the shelter's flag column (constants: the only identifiers put into SQL here).
HAZARDS = {
    "flood": "suits_flood",  # 洪水
    "landslide": "suits_landslide",  # 崖崩れ、土石流及び地滑り
    "storm_surge": "suits_storm_surge",  # 高潮
    "earthquake": "suits_earthquake",  # 地震
    "tsunami": "suits_tsunami",  # 津波
    "fire": "suits_fire",  # 大規模な火事
    "inland_flood": "suits_inland_flood",  # 内水氾濫
    "volcano": "suits_volcano",  # 火山現象
}

LEVEL_LABELS = {
    "vacant": ("空き", "Vacant"),
    "moderate": ("やや混雑", "Somewhat crowded"),
    "crowded": ("混雑", "Crowded"),
    "full": ("満員", "Full"),
    "unknown": ("不明", "Unknown"),
}

_SHELTER = "s.id, s.code, s.name, s.address, s.capacity, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat"


def suitable_shelters(conn: Connection, hazard: str | None, levels: tuple[str, ...]) -> list[dict]:
    """Shelters of the layers the user may see, those suited to ``hazard`` only when given."""
    where = ""
    if hazard is not None:
        column = HAZARDS.get(hazard)
        if column is None:
            raise OpsInvalid("災害種別が正しくありません。", "Unknown hazard type.", allowed=sorted(HAZARDS))
        where = f" AND s.{column}"
    flags = ", ".join(f"s.{c}" for c in HAZARDS.values())
    rows = conn.execute(
        text(
            f"SELECT {_SHELTER}, s.is_designated_shelter, {flags} FROM gis.shelter s"  # noqa: S608 - constant columns
            f" JOIN gis.layer l ON l.id = s.layer_id WHERE l.visibility = ANY(:levels) AND l.deleted_at IS NULL"
            f"{where} ORDER BY s.code, s.id"
        ),
        {"levels": list(levels)},
    )
    return [dict(r._mapping) for r in rows]


def _shelter(conn: Connection, shelter_id: int) -> dict:
    row = conn.execute(
        text(
            f"SELECT {_SHELTER} FROM gis.shelter s JOIN gis.layer l ON l.id = s.layer_id"  # noqa: S608 - constant columns
            " WHERE s.id = :id AND l.deleted_at IS NULL"
        ),
        {"id": shelter_id},
    ).one_or_none()
    if row is None:
        raise OpsNotFound("避難所が見つかりません。", "No such shelter.", shelter_id=shelter_id)
    return dict(row._mapping)


def open_shelter(conn: Connection, disaster_id: int, shelter_id: int, responsible: str, actor: str) -> dict:
    """Open (or reopen) a shelter for a disaster; occupancy carries over a reopening."""
    disaster = get_disaster(conn, disaster_id)
    if disaster["closed_at"] is not None:
        raise OpsInvalid("この災害はすでに閉じています。", "This disaster is closed already.")
    _shelter(conn, shelter_id)
    responsible = responsible.strip()
    if not 1 <= len(responsible) <= 100:
        raise OpsInvalid(
            "責任者を1〜100文字で指定してください。", "Name the responsible staff (1 to 100 characters)."
        )
    row = conn.execute(
        text(
            """INSERT INTO ops.shelter_opening (disaster_id, shelter_id, opened_by, responsible_staff)
               VALUES (:d, :s, :a, :r)
               ON CONFLICT (disaster_id, shelter_id) DO UPDATE
                 SET opened_at = now(), opened_by = :a, responsible_staff = :r, closed_at = NULL, closed_by = NULL
                 WHERE ops.shelter_opening.closed_at IS NOT NULL
               RETURNING id"""
        ),
        {"d": disaster_id, "s": shelter_id, "a": actor, "r": responsible},
    ).one_or_none()
    if row is None:
        raise OpsConflict("この避難所はすでに開設されています。", "This shelter is open already.")
    audit.record(
        conn, actor, "shelter.open", str(shelter_id), disaster_id=disaster_id, responsible=responsible
    )
    return opening(conn, disaster_id, shelter_id)


# Constant columns only (S608: no request value is formatted into it).
_OPENING = f"""SELECT o.id AS opening_id, o.disaster_id, {_SHELTER}, o.opened_at, o.opened_by,
       o.responsible_staff, o.closed_at, o.closed_by, o.occupancy, o.walk_ins,
       (SELECT count(*) FROM ops.checkin_presence p WHERE p.opening_id = o.id) AS households,
       coalesce(o.last_event_at, o.opened_at) AS updated_at,
       CASE WHEN s.capacity > 0 THEN round(o.occupancy * 100.0 / s.capacity, 1) END AS percent,
       ops.congestion_level(o.occupancy, s.capacity) AS level,
       coalesce(o.last_event_at, o.opened_at) < now() - make_interval(mins => c.stale_minutes) AS stale
  FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id
  CROSS JOIN ops.congestion_setting c"""  # noqa: S608 - constant columns


def _labelled(row) -> dict:
    item = dict(row._mapping)
    item["level_ja"], item["level_en"] = LEVEL_LABELS[item["level"]]
    return item


def opening(conn: Connection, disaster_id: int, shelter_id: int) -> dict:
    row = conn.execute(
        text(_OPENING + " WHERE o.disaster_id = :d AND o.shelter_id = :s"),
        {"d": disaster_id, "s": shelter_id},
    ).one_or_none()
    if row is None:
        raise OpsNotFound(
            "この災害で開設された避難所ではありません。", "This shelter was not opened for this disaster."
        )
    return _labelled(row)


def disaster_status(conn: Connection, disaster_id: int, *, open_only: bool = False) -> dict:
    """Every shelter opened for the disaster with its counts, and the HQ totals."""
    get_disaster(conn, disaster_id)
    where = " WHERE o.disaster_id = :d" + (" AND o.closed_at IS NULL" if open_only else "")
    items = [
        _labelled(r)
        for r in conn.execute(text(_OPENING + where + " ORDER BY s.code, s.id"), {"d": disaster_id})
    ]
    open_items = [i for i in items if i["closed_at"] is None]
    capacity = sum(i["capacity"] or 0 for i in open_items)
    occupancy = sum(i["occupancy"] for i in open_items)
    totals = {
        "open_shelters": len(open_items),
        "occupancy": occupancy,
        "walk_ins": sum(i["walk_ins"] for i in open_items),
        "households": sum(i["households"] for i in open_items),
        "capacity": capacity,
        "percent": round(occupancy * 100 / capacity, 1) if capacity else None,
        "stale_shelters": sum(1 for i in open_items if i["stale"]),
        "by_level": {level: sum(1 for i in open_items if i["level"] == level) for level in LEVEL_LABELS},
    }
    return {"disaster_id": disaster_id, "shelters": items, "totals": totals}


# ------------------------------------------------------------------------------ thresholds
_SETTING = "vacant_below, moderate_below, crowded_below, stale_minutes, updated_by, updated_at"


def get_settings(conn: Connection) -> dict:
    row = conn.execute(text(f"SELECT {_SETTING} FROM ops.congestion_setting WHERE id = 1")).one()  # noqa: S608 - constant columns
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row._mapping.items()}


def set_settings(
    conn: Connection,
    vacant_below: float,
    moderate_below: float,
    crowded_below: float,
    stale_minutes: int,
    actor: str,
) -> dict:
    if not (0 < vacant_below < moderate_below < crowded_below <= 200):
        raise OpsInvalid(
            "閾値は 0 < 空き < やや混雑 < 混雑 ≦ 200 % の昇順で指定してください。",
            "Thresholds must ascend: 0 < vacant < somewhat crowded < crowded ≤ 200 %.",
        )
    if not 1 <= stale_minutes <= 1440:
        raise OpsInvalid(
            "更新なし警告は1〜1440分で指定してください。", "The stale warning needs 1 to 1440 minutes."
        )
    conn.execute(
        text(
            """UPDATE ops.congestion_setting SET vacant_below = :v, moderate_below = :m, crowded_below = :c,
                      stale_minutes = :st, updated_by = :a, updated_at = now() WHERE id = 1"""
        ),
        {"v": vacant_below, "m": moderate_below, "c": crowded_below, "st": stale_minutes, "a": actor},
    )
    audit.record(
        conn,
        actor,
        "congestion_setting.update",
        "1",
        vacant_below=vacant_below,
        moderate_below=moderate_below,
        crowded_below=crowded_below,
        stale_minutes=stale_minutes,
    )
    return get_settings(conn)


def public_status(conn: Connection) -> list[dict]:
    """Open shelters for the citizen map (pub view: numbers only, public layers only)."""
    rows = conn.execute(
        text(
            """SELECT shelter_id, disaster_id, name, address, capacity, occupancy, percent, level, stale,
                      updated_at, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM pub.shelter_status
                ORDER BY name, shelter_id"""
        )
    )
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["percent"] = float(item["percent"]) if item["percent"] is not None else None
        item["level_ja"], item["level_en"] = LEVEL_LABELS[item["level"]]
        out.append(item)
    return out
