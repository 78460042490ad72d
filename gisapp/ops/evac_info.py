"""避難情報 (evacuation information): the HQ issues, changes and cancels 高齢者等避難 / 避難指示 /
緊急安全確保 for areas; the database suggests from the city's 発令基準 and logs every step.

- An order (``ops.evac_order``) targets 町丁目/自治会 areas (``ops.evac_area``, by code) and/or an area
  drawn on the map; its geometry is the union, kept with the order so the public sees exactly what
  was issued even if the area table changes later.
- Every change is a new version (``ops.evac_order_version``, append-only): issue, change of level,
  change of areas, cancel (解除). A change needs the version last read (409 when someone else changed
  it meanwhile). Each version is audited here and logged by the database (``ops.hq_log``, migration
  0024), and NOTIFYs ``evacuation`` for the HQ map and the public instance.
- Suggestions (``ops.evac_suggestion``) are written by the database's own evaluation of the criteria
  (``ops.refresh_evac_suggestions``), whichever process changed an input. A person issues; issuing
  from a suggestion marks it ``issued``; dismissing marks it ``dismissed`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import shapely.errors
import shapely.geometry
import shapely.validation
from sqlalchemy import Connection, text

from common import audit
from gisapp.ops import evac_levels
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound

ISSUE_LEVELS = (3, 4, 5)
MAX_AREAS = 500
MAX_VERTICES = 20_000  # a drawn area
AREA_LAYER = "community-areas"  # the demo's 町丁目/自治会 layer

_ORDER = """o.id, o.disaster_id, o.version, o.level, o.hazard, o.area_codes, o.area_names,
  ST_AsGeoJSON(o.geom, 7)::json AS geometry, o.reason, o.status, o.issued_at, o.issued_by, o.updated_at,
  o.updated_by, o.cancelled_at"""


@dataclass(frozen=True)
class OrderIn:
    level: int
    hazard: str
    reason: str
    area_codes: tuple[str, ...] = ()
    geometry: dict[str, Any] | None = None  # GeoJSON Polygon / MultiPolygon drawn on the map
    suggestion_id: int | None = None
    disaster_id: int | None = None


@dataclass(frozen=True)
class OrderChange:
    expected_version: int
    reason: str
    level: int | None = None
    area_codes: tuple[str, ...] | None = None
    geometry: dict[str, Any] | None = None


# ------------------------------------------------------------------------------------ areas
def sync_areas_from_layer(conn: Connection, slug: str = AREA_LAYER) -> int:
    """Load the polygons of a layer into ``ops.evac_area`` (code = the feature's ``code`` or key,
    name = its ``name``); areas that left the layer go, unless an active order targets them.
    Returns how many areas came from the layer."""
    layer = conn.execute(
        text("SELECT id FROM gis.layer WHERE slug = :s AND deleted_at IS NULL"), {"s": slug}
    ).scalar_one_or_none()
    if layer is None:
        raise OpsNotFound("区域のレイヤーが見つかりません。", "No such area layer.", layer=slug)
    conn.execute(
        text(
            """INSERT INTO ops.evac_area AS a (code, name, layer_id, geom)
               SELECT coalesce(f.properties->>'code', f.source_key), coalesce(f.properties->>'name', f.source_key),
                      :l, ST_Multi(f.geom)
                 FROM gis.feature f
                WHERE f.layer_id = :l AND GeometryType(f.geom) IN ('POLYGON', 'MULTIPOLYGON')
                  AND coalesce(f.properties->>'code', f.source_key) IS NOT NULL
               ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, geom = EXCLUDED.geom, layer_id = EXCLUDED.layer_id
                 WHERE (a.name, a.layer_id, ST_AsBinary(a.geom)) IS DISTINCT FROM
                       (EXCLUDED.name, EXCLUDED.layer_id, ST_AsBinary(EXCLUDED.geom))"""
        ),
        {"l": layer},
    )
    conn.execute(
        text(
            """DELETE FROM ops.evac_area a WHERE a.layer_id = :l AND NOT EXISTS (
                 SELECT 1 FROM gis.feature f WHERE f.layer_id = :l
                    AND coalesce(f.properties->>'code', f.source_key) = a.code)
               AND NOT EXISTS (SELECT 1 FROM ops.evac_order o WHERE o.status = 'active' AND a.code = ANY(o.area_codes))"""
        ),
        {"l": layer},
    )
    return conn.execute(
        text("SELECT count(*) FROM ops.evac_area WHERE layer_id = :l"), {"l": layer}
    ).scalar_one()


def areas(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        text("SELECT code, name, ST_AsGeoJSON(geom, 7)::json AS geometry FROM ops.evac_area ORDER BY code")
    )
    return [dict(r._mapping) for r in rows]


# ------------------------------------------------------------------------------------ orders
def _labelled(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d.update(evac_levels.describe(d["level"], d["hazard"]))
    return d


def list_orders(conn: Connection, *, active_only: bool = True) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            f"SELECT {_ORDER} FROM ops.evac_order o"  # noqa: S608 - constant columns
            " WHERE (NOT :active OR o.status = 'active') ORDER BY o.level DESC, o.updated_at DESC, o.id"
        ),
        {"active": active_only},
    )
    return [_labelled(r) for r in rows]


def get_order(
    conn: Connection, order_id: int, *, history: bool = False, lock: bool = False
) -> dict[str, Any]:
    row = conn.execute(
        text(f"SELECT {_ORDER} FROM ops.evac_order o WHERE o.id = :id" + (" FOR UPDATE" if lock else "")),  # noqa: S608 - constant columns
        {"id": order_id},
    ).one_or_none()
    if row is None:
        raise OpsNotFound("避難情報が見つかりません。", "No such evacuation information.", order_id=order_id)
    order = _labelled(row)
    if history:
        order["history"] = [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    """SELECT version, action, level, hazard, area_codes, area_names, reason, actor, at
                         FROM ops.evac_order_version WHERE order_id = :id ORDER BY version"""
                ),
                {"id": order_id},
            )
        ]
    return order


def _check_level(level: int) -> None:
    if level not in ISSUE_LEVELS:
        raise OpsInvalid(
            "警戒レベルは 3（高齢者等避難）・4（避難指示）・5（緊急安全確保）のいずれかです。",
            "The level must be 3 (elderly evacuate), 4 (evacuation order) or 5 (emergency safety).",
            allowed=list(ISSUE_LEVELS),
        )


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if not 1 <= len(reason) <= 1000:
        raise OpsInvalid("理由を1〜1000文字で入力してください。", "Give a reason of 1 to 1000 characters.")
    return reason


def _target(
    conn: Connection, codes: tuple[str, ...], geometry: dict[str, Any] | None
) -> tuple[list[str], list[str], str]:
    """(area codes, area names, the union as hex EWKB) for the target, checked. The union stays in
    the database's own precision: rounding it (as GeoJSON would) can make touching parts overlap."""
    codes = tuple(dict.fromkeys(c.strip() for c in codes if c.strip()))
    if not codes and geometry is None:
        raise OpsInvalid("対象地域を1つ以上選んでください。", "Choose at least one target area.")
    if len(codes) > MAX_AREAS:
        raise OpsInvalid(
            f"対象地域は{MAX_AREAS}件までです。", f"At most {MAX_AREAS} target areas.", count=len(codes)
        )
    found = conn.execute(
        text("SELECT code, name FROM ops.evac_area WHERE code = ANY(:c)"), {"c": list(codes)}
    ).all()
    known = {r.code: r.name for r in found}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise OpsInvalid("存在しない地域コードがあります。", "Unknown area codes.", unknown=unknown[:20])
    drawn = None if geometry is None else _drawn(geometry)
    geom = conn.execute(
        text(
            """SELECT ST_AsHEXEWKB(ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(g)), 3))) FROM (
                 SELECT geom AS g FROM ops.evac_area WHERE code = ANY(:c)
                 UNION ALL SELECT ST_GeomFromEWKB(decode(CAST(:d AS text), 'hex')) WHERE :d IS NOT NULL) x"""
        ),
        {"c": list(codes), "d": drawn},
    ).scalar_one()
    names = [known[c] for c in codes] + (["指定区域（地図上で描画）"] if drawn else [])
    return list(codes), names, geom


def _drawn(geometry: Any) -> str:
    """An area drawn on the map (GeoJSON Polygon / MultiPolygon, lon/lat) as hex EWKB, or OpsInvalid
    saying why not. Read by shapely first, so no malformed document reaches PostGIS."""
    wrong_type = OpsInvalid(
        "描いた区域は GeoJSON の Polygon か MultiPolygon で指定してください。",
        "A drawn area must be a GeoJSON Polygon or MultiPolygon.",
    )
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise wrong_type
    try:
        shape = shapely.geometry.shape(geometry)
    except (shapely.errors.ShapelyError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        raise wrong_type from None
    if shape.is_empty or shapely.get_num_coordinates(shape) > MAX_VERTICES:
        raise OpsInvalid(
            f"描いた区域は頂点1〜{MAX_VERTICES}個で指定してください。",
            f"A drawn area needs 1 to {MAX_VERTICES} vertices.",
        )
    coords = shapely.get_coordinates(shape)
    if not np.isfinite(coords).all():
        raise wrong_type
    if not shape.is_valid:
        raise OpsInvalid(
            "描いた区域の形が正しくありません（自己交差など）。",
            "The drawn area is not a valid polygon (self-intersection or similar).",
            reason=shapely.validation.explain_validity(shape),
        )
    w, s_, e, n = shape.bounds
    if not (122 <= w and e <= 154 and 20 <= s_ and n <= 46) or not shape.area > 0:
        raise OpsInvalid("描いた区域が日本の範囲にありません。", "The drawn area is not in Japan.")
    return shapely.to_wkb(shapely.set_srid(shape, 4326), hex=True, include_srid=True)


def _version_row(conn: Connection, order_id: int, action: str, actor: str) -> None:
    conn.execute(
        text(
            """INSERT INTO ops.evac_order_version
                 (order_id, version, action, level, hazard, area_codes, area_names, geom, reason, actor, at)
               SELECT id, version, :action, level, hazard, area_codes, area_names, geom, reason, :actor, updated_at
                 FROM ops.evac_order WHERE id = :id"""
        ),
        {"id": order_id, "action": action, "actor": actor},
    )


def issue(conn: Connection, new: OrderIn, actor: str) -> dict[str, Any]:
    """発令: a new order, version 1. From a suggestion, that suggestion becomes ``issued``."""
    _check_level(new.level)
    if new.hazard not in evac_levels.HAZARDS:
        raise OpsInvalid(
            "災害種別が正しくありません。", "Unknown hazard type.", allowed=sorted(evac_levels.HAZARDS)
        )
    reason = _check_reason(new.reason)
    codes, names, geom = _target(conn, new.area_codes, new.geometry)
    disaster_id = new.disaster_id
    if disaster_id is None:  # the disaster in progress, if there is one
        disaster_id = conn.execute(
            text("SELECT id FROM ops.disaster WHERE closed_at IS NULL ORDER BY opened_at DESC LIMIT 1")
        ).scalar_one_or_none()
    elif conn.execute(text("SELECT 1 FROM ops.disaster WHERE id = :id"), {"id": disaster_id}).first() is None:
        raise OpsNotFound("災害が見つかりません。", "No such disaster.", disaster_id=disaster_id)
    suggestion = None
    if new.suggestion_id is not None:
        suggestion = conn.execute(
            text("SELECT id, state FROM ops.evac_suggestion WHERE id = :id FOR UPDATE"),
            {"id": new.suggestion_id},
        ).one_or_none()
        if suggestion is None:
            raise OpsNotFound(
                "提案が見つかりません。", "No such suggestion.", suggestion_id=new.suggestion_id
            )
    order_id = conn.execute(
        text(
            """INSERT INTO ops.evac_order (disaster_id, level, hazard, area_codes, area_names, geom, reason,
                                            issued_by, updated_by)
               VALUES (:d, :level, :hazard, :codes, :names, CAST(:geom AS geometry), :reason, :actor, :actor)
               RETURNING id"""
        ),
        {"d": disaster_id, "level": new.level, "hazard": new.hazard, "codes": codes, "names": names,
         "geom": geom, "reason": reason, "actor": actor},
    ).scalar_one()  # fmt: skip
    _version_row(conn, order_id, "issue", actor)
    if suggestion is not None and suggestion.state == "open":
        conn.execute(
            text(
                """UPDATE ops.evac_suggestion SET state = 'issued', order_id = :o, decided_by = :a,
                          decided_at = now(), updated_at = now() WHERE id = :id"""
            ),
            {"o": order_id, "a": actor, "id": suggestion.id},
        )
    audit.record(
        conn, actor, "evacuation.issue", str(order_id), level=new.level, hazard=new.hazard, areas=codes,
        reason=reason, suggestion_id=new.suggestion_id,
    )  # fmt: skip
    return get_order(conn, order_id, history=True)


def change(conn: Connection, order_id: int, ch: OrderChange, actor: str) -> dict[str, Any]:
    """レベル変更 / 対象地域の変更 (extend or reduce): a new version of an active order."""
    current = get_order(conn, order_id, lock=True)
    _stale(current, ch.expected_version)
    if current["status"] != "active":
        raise OpsConflict(
            "解除済みの避難情報は変更できません。", "This evacuation information was cancelled."
        )
    reason = _check_reason(ch.reason)
    level = current["level"] if ch.level is None else ch.level
    _check_level(level)
    if ch.area_codes is None and ch.geometry is None:
        codes, names = current["area_codes"], current["area_names"]
        geom = conn.execute(
            text("SELECT ST_AsHEXEWKB(geom) FROM ops.evac_order WHERE id = :id"), {"id": order_id}
        ).scalar_one()
    else:
        codes, names, geom = _target(conn, ch.area_codes or (), ch.geometry)
    level_changed = level != current["level"]
    areas_changed = (codes, names) != (
        current["area_codes"],
        current["area_names"],
    ) or ch.geometry is not None
    if not level_changed and not areas_changed:
        raise OpsInvalid("変更内容がありません。", "Nothing to change.")
    action = (
        "change" if level_changed and areas_changed else "change_level" if level_changed else "change_areas"
    )
    conn.execute(
        text(
            """UPDATE ops.evac_order SET version = version + 1, level = :level, area_codes = :codes,
                      area_names = :names, geom = CAST(:geom AS geometry), reason = :reason,
                      updated_at = now(), updated_by = :actor
                WHERE id = :id"""
        ),
        {"id": order_id, "level": level, "codes": codes, "names": names, "geom": geom, "reason": reason,
         "actor": actor},
    )  # fmt: skip
    _version_row(conn, order_id, action, actor)
    audit.record(
        conn, actor, f"evacuation.{action}", str(order_id), level=level, areas=codes, reason=reason,
        version=current["version"] + 1,
    )  # fmt: skip
    return get_order(conn, order_id, history=True)


def cancel(conn: Connection, order_id: int, expected_version: int, reason: str, actor: str) -> dict[str, Any]:
    """解除."""
    current = get_order(conn, order_id, lock=True)
    _stale(current, expected_version)
    if current["status"] != "active":
        raise OpsConflict(
            "この避難情報はすでに解除されています。", "This evacuation information was cancelled already."
        )
    reason = _check_reason(reason)
    conn.execute(
        text(
            """UPDATE ops.evac_order SET version = version + 1, status = 'cancelled', cancelled_at = now(),
                      reason = :reason, updated_at = now(), updated_by = :actor WHERE id = :id"""
        ),
        {"id": order_id, "reason": reason, "actor": actor},
    )
    _version_row(conn, order_id, "cancel", actor)
    audit.record(
        conn, actor, "evacuation.cancel", str(order_id), reason=reason, version=current["version"] + 1
    )
    return get_order(conn, order_id, history=True)


def _stale(current: dict[str, Any], expected: int) -> None:
    if current["version"] != expected:
        raise OpsConflict(
            "ほかの人がこの避難情報を変更しました。最新の内容を確認してください。",
            "Someone else changed this evacuation information; check the current state.",
            current_version=current["version"],
        )


# ------------------------------------------------------------------------------------ suggestions
def refresh_suggestions(conn: Connection) -> None:
    """Evaluate the criteria now (the database also does so by itself when an input changes)."""
    conn.execute(text("SELECT ops.refresh_evac_suggestions()"))


def list_suggestions(
    conn: Connection, *, open_only: bool = True, suggestion_id: int | None = None
) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            """SELECT s.id, s.criterion_id, c.name AS criterion_name, s.hazard, s.level, s.area_codes,
                      ARRAY(SELECT a.name FROM unnest(s.area_codes) WITH ORDINALITY u(code, i)
                              JOIN ops.evac_area a ON a.code = u.code ORDER BY u.i) AS area_names,
                      coalesce((SELECT json_agg(json_build_object(
                                  'id', sh.id, 'name', sh.name, 'open', EXISTS (
                                     SELECT 1 FROM ops.shelter_opening so JOIN ops.disaster d ON d.id = so.disaster_id
                                      WHERE so.shelter_id = sh.id AND so.closed_at IS NULL AND d.closed_at IS NULL))
                                  ORDER BY u.i)
                                  FROM unnest(s.shelter_ids) WITH ORDINALITY u(id, i)
                                  JOIN gis.shelter sh ON sh.id = u.id), '[]'::json) AS shelters,
                      s.reason_ja, s.reason_en, s.trigger, s.state, s.order_id, s.decided_by, s.decided_at,
                      s.created_at, s.updated_at
                 FROM ops.evac_suggestion s JOIN ops.issuance_criterion c ON c.id = s.criterion_id
                WHERE (NOT :open OR s.state = 'open') AND (CAST(:sid AS bigint) IS NULL OR s.id = :sid)
                ORDER BY s.state = 'open' DESC, s.level DESC, s.updated_at DESC LIMIT 200"""
        ),
        {"open": open_only, "sid": suggestion_id},
    )
    return [_labelled(r) for r in rows]


def dismiss(conn: Connection, suggestion_id: int, reason: str, actor: str) -> dict[str, Any]:
    """見送り: the HQ decided not to issue now. The criterion suggests again only after it stops and
    starts holding anew (or when its areas change)."""
    reason = _check_reason(reason)
    row = conn.execute(
        text(
            """UPDATE ops.evac_suggestion SET state = 'dismissed', decided_by = :a, decided_at = now(),
                      updated_at = now(), trigger = trigger || jsonb_build_object('dismissed_because', CAST(:r AS text))
                WHERE id = :id AND state = 'open' RETURNING id"""
        ),
        {"id": suggestion_id, "a": actor, "r": reason},
    ).one_or_none()
    if row is None:
        exists = conn.execute(
            text("SELECT 1 FROM ops.evac_suggestion WHERE id = :id"), {"id": suggestion_id}
        ).first()
        if exists is None:
            raise OpsNotFound("提案が見つかりません。", "No such suggestion.", suggestion_id=suggestion_id)
        raise OpsConflict("この提案はすでに処理されています。", "This suggestion was already decided.")
    conn.execute(
        text(
            """INSERT INTO ops.hq_log (kind, summary_ja, summary_en, ref, actor)
               SELECT 'suggestion', format('【提案見送り】%s（理由：%s）', c.name, CAST(:r AS text)),
                      format('[Suggestion dismissed] %s (reason: %s)', c.name, CAST(:r AS text)),
                      jsonb_build_object('suggestion_id', s.id), :a
                 FROM ops.evac_suggestion s JOIN ops.issuance_criterion c ON c.id = s.criterion_id WHERE s.id = :id"""
        ),
        {"id": suggestion_id, "r": reason, "a": actor},
    )
    audit.record(conn, actor, "evacuation.suggestion.dismiss", str(suggestion_id), reason=reason)
    refresh_suggestions(conn)  # a less severe criterion held back by this one may now speak
    return list_suggestions(conn, open_only=False, suggestion_id=suggestion_id)[0]


# ------------------------------------------------------------------------------------ HQ log
def log_entries(conn: Connection, after: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Newest first; ``after`` gives only the entries added since (for a client that missed events)."""
    rows = conn.execute(
        text(
            """SELECT id, at, kind, level, summary_ja, summary_en, ref, actor, disaster_id FROM ops.hq_log
                WHERE CAST(:after AS bigint) IS NULL OR id > :after ORDER BY id DESC LIMIT :limit"""
        ),
        {"after": after, "limit": limit},
    )
    return [dict(r._mapping) for r in rows]


def add_note(conn: Connection, body: str, actor: str) -> dict[str, Any]:
    body = body.strip()
    if not 1 <= len(body) <= 2000:
        raise OpsInvalid("記録は1〜2000文字で入力してください。", "A note needs 1 to 2000 characters.")
    row = conn.execute(
        text(
            """INSERT INTO ops.hq_log (kind, summary_ja, summary_en, actor, disaster_id)
               VALUES ('note', :b, :b, :a,
                       (SELECT id FROM ops.disaster WHERE closed_at IS NULL ORDER BY opened_at DESC LIMIT 1))
               RETURNING id, at, kind, level, summary_ja, summary_en, ref, actor, disaster_id"""
        ),
        {"b": body, "a": actor},
    ).one()
    audit.record(conn, actor, "hq_log.note", str(row.id))
    return dict(row._mapping)


# ------------------------------------------------------------------------------------ criteria
def list_criteria(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM ops.issuance_criterion ORDER BY id"))]


def list_level_rules(conn: Connection) -> list[dict[str, Any]]:
    return [
        dict(r._mapping)
        for r in conn.execute(text("SELECT * FROM ops.alert_level_rule ORDER BY source, level DESC, match"))
    ]


# The demo city's 発令基準 (伊勢原市 demo; a city loads its own with the same columns).
DEMO_CRITERIA: tuple[dict[str, Any], ...] = (
    {"name": "土砂災害警戒情報 → 避難指示（土砂災害警戒区域を含む町丁目）", "hazard": "landslide", "source": "jma",
     "min_level": 4, "suggest_level": 4, "target": "hazard_areas"},
    {"name": "大雨警報（土砂災害） → 高齢者等避難（土砂災害警戒区域を含む町丁目）", "hazard": "landslide", "source": "jma",
     "min_level": 3, "suggest_level": 3, "target": "hazard_areas"},
    {"name": "大雨特別警報 → 緊急安全確保（土砂災害警戒区域を含む町丁目）", "hazard": "landslide", "source": "jma",
     "min_level": 5, "suggest_level": 5, "target": "hazard_areas"},
    {"name": "市の雨量計が危険 → 避難指示（土砂災害警戒区域を含む町丁目）", "hazard": "landslide", "source": "gauge",
     "min_level": 4, "suggest_level": 4, "target": "hazard_areas"},
    {"name": "鈴川 氾濫危険水位 → 避難指示（鈴川の浸水想定区域の町丁目）", "hazard": "flood", "source": "gauge",
     "min_level": 4, "suggest_level": 4, "target": "hazard_areas", "river": "鈴川（架空）", "device": "鈴川"},
    {"name": "鈴川 避難判断水位 → 高齢者等避難（鈴川の浸水想定区域の町丁目）", "hazard": "flood", "source": "gauge",
     "min_level": 3, "suggest_level": 3, "target": "hazard_areas", "river": "鈴川（架空）", "device": "鈴川"},
    {"name": "渋田川 氾濫危険水位 → 避難指示（渋田川の浸水想定区域の町丁目）", "hazard": "flood", "source": "gauge",
     "min_level": 4, "suggest_level": 4, "target": "hazard_areas", "river": "渋田川（架空）", "device": "渋田川"},
    {"name": "指定河川洪水予報 氾濫危険情報 → 避難指示（浸水想定区域の町丁目）", "hazard": "flood", "source": "jma",
     "min_level": 4, "suggest_level": 4, "target": "hazard_areas"},
)  # fmt: skip


def load_demo_criteria(conn: Connection) -> int:
    """The demo's criteria (replacing earlier demo rows of the same name). A river criterion's gauge
    is the first water gauge whose name starts with the river's name."""
    for c in DEMO_CRITERIA:
        device = None
        if c.get("device"):
            device = conn.execute(
                text(
                    "SELECT id FROM sensor.device WHERE kind = 'water_gauge' AND name LIKE :p ORDER BY id LIMIT 1"
                ),
                {"p": c["device"] + "%"},
            ).scalar_one_or_none()
        conn.execute(
            text(
                """INSERT INTO ops.issuance_criterion (name, hazard, source, min_level, suggest_level, target, river,
                                                      device_id)
                   VALUES (:name, :hazard, :source, :min_level, :suggest_level, :target, :river, :device)
                   ON CONFLICT (name) DO UPDATE SET hazard = EXCLUDED.hazard, source = EXCLUDED.source,
                     min_level = EXCLUDED.min_level, suggest_level = EXCLUDED.suggest_level, target = EXCLUDED.target,
                     river = EXCLUDED.river, device_id = EXCLUDED.device_id
                   WHERE (ops.issuance_criterion.hazard, ops.issuance_criterion.source,
                          ops.issuance_criterion.min_level, ops.issuance_criterion.suggest_level,
                          ops.issuance_criterion.target, ops.issuance_criterion.river,
                          ops.issuance_criterion.device_id)
                         IS DISTINCT FROM (EXCLUDED.hazard, EXCLUDED.source, EXCLUDED.min_level,
                          EXCLUDED.suggest_level, EXCLUDED.target, EXCLUDED.river, EXCLUDED.device_id)"""
            ),
            {"river": "", **{k: v for k, v in c.items() if k != "device"}, "device": device},
        )
    return len(DEMO_CRITERIA)


_CRITERION_KEYS = {
    "name", "hazard", "source", "min_level", "suggest_level", "target", "jma_area_codes", "jma_kind",
    "device_id", "river", "area_codes", "enabled",
}  # fmt: skip
_CRITERION_HAZARDS = ("landslide", "flood", "inland_flood")


def _criterion(i: int, item: Any) -> dict[str, Any]:
    """One criterion of a city's file, checked; the error names the entry and the field."""

    def bad(field: str, ja: str, en: str) -> OpsInvalid:
        return OpsInvalid(
            f"発令基準 {i + 1} 件目の {field}：{ja}", f"criterion {i + 1}, {field}: {en}", index=i
        )

    if not isinstance(item, dict):
        raise bad("(全体)", "オブジェクトで指定してください", "must be an object")
    unknown = sorted(set(item) - _CRITERION_KEYS)
    if unknown:
        raise bad(
            unknown[0], "不明な項目です", f"unknown key (allowed: {', '.join(sorted(_CRITERION_KEYS))})"
        )
    c = {
        "jma_area_codes": [],
        "jma_kind": None,
        "device_id": None,
        "river": "",
        "area_codes": [],
        "enabled": True,
    }
    c |= item
    if not isinstance(c.get("name"), str) or not 1 <= len(c["name"].strip()) <= 200:
        raise bad("name", "1〜200文字の名前が必要です", "a name of 1 to 200 characters is required")
    if c.get("hazard") not in _CRITERION_HAZARDS:
        raise bad(
            "hazard", f"{'・'.join(_CRITERION_HAZARDS)} のいずれか", f"one of {', '.join(_CRITERION_HAZARDS)}"
        )
    if c.get("source") not in ("jma", "gauge"):
        raise bad("source", "jma か gauge", "jma or gauge")
    if c.get("target") not in ("hazard_areas", "listed_areas", "all_areas"):
        raise bad(
            "target",
            "hazard_areas・listed_areas・all_areas のいずれか",
            "hazard_areas, listed_areas or all_areas",
        )
    if not isinstance(c.get("min_level"), int) or not 1 <= c["min_level"] <= 5:
        raise bad("min_level", "1〜5 の整数（警戒レベル相当）", "an integer 1-5 (equivalent alert level)")
    if c.get("suggest_level") not in ISSUE_LEVELS:
        raise bad("suggest_level", "3・4・5 のいずれか", "3, 4 or 5")
    for key in ("jma_area_codes", "area_codes"):
        if not isinstance(c[key], list) or not all(isinstance(v, str) and 0 < len(v) <= 40 for v in c[key]):
            raise bad(key, "文字列の配列で指定してください", "must be a list of strings")
    if c["target"] == "listed_areas" and not c["area_codes"]:
        raise bad("area_codes", "listed_areas には地域コードが必要です", "listed_areas needs area codes")
    for key in ("jma_kind", "device_id"):
        if c[key] is not None and not (isinstance(c[key], str) and 0 < len(c[key]) <= 64):
            raise bad(key, "文字列で指定してください", "must be a string")
    if not isinstance(c["river"], str) or len(c["river"]) > 100:
        raise bad("river", "100文字までの文字列", "a string of at most 100 characters")
    if not isinstance(c["enabled"], bool):
        raise bad("enabled", "true か false", "true or false")
    c["name"] = c["name"].strip()
    return c


def load_criteria(conn: Connection, items: Any, *, replace: bool, actor: str) -> dict[str, int]:
    """A city's 発令基準 from a JSON document (a list of criteria, by name): added or updated; with
    ``replace``, criteria not in the document are disabled (kept for the suggestions that name them).
    All or nothing: the first bad entry refuses the whole file."""
    if not isinstance(items, list) or not items:
        raise OpsInvalid(
            "発令基準は1件以上の配列で指定してください。", "Criteria must be a non-empty JSON list."
        )
    checked = [_criterion(i, item) for i, item in enumerate(items)]
    names = [c["name"] for c in checked]
    if len(set(names)) != len(names):
        raise OpsInvalid("発令基準の名前が重複しています。", "Criterion names must be unique.")
    missing_areas = conn.execute(
        text("SELECT array(SELECT unnest(CAST(:c AS text[])) EXCEPT SELECT code FROM ops.evac_area)"),
        {"c": sorted({a for c in checked for a in c["area_codes"]})},
    ).scalar_one()
    if missing_areas:
        raise OpsInvalid(
            "存在しない地域コードがあります。", "Unknown area codes.", unknown=missing_areas[:20]
        )
    devices = sorted({c["device_id"] for c in checked if c["device_id"]})
    known = set(
        conn.execute(text("SELECT id FROM sensor.device WHERE id = ANY(:d)"), {"d": devices}).scalars()
    )
    if set(devices) - known:
        raise OpsInvalid(
            "存在しない機器があります。", "Unknown devices.", unknown=sorted(set(devices) - known)
        )
    for c in checked:
        conn.execute(
            text(
                """INSERT INTO ops.issuance_criterion (name, hazard, source, min_level, suggest_level, target,
                                                      jma_area_codes, jma_kind, device_id, river, area_codes, enabled)
                   VALUES (:name, :hazard, :source, :min_level, :suggest_level, :target, :jma_area_codes, :jma_kind,
                           :device_id, :river, :area_codes, :enabled)
                   ON CONFLICT (name) DO UPDATE SET hazard = EXCLUDED.hazard, source = EXCLUDED.source,
                     min_level = EXCLUDED.min_level, suggest_level = EXCLUDED.suggest_level,
                     target = EXCLUDED.target, jma_area_codes = EXCLUDED.jma_area_codes,
                     jma_kind = EXCLUDED.jma_kind, device_id = EXCLUDED.device_id, river = EXCLUDED.river,
                     area_codes = EXCLUDED.area_codes, enabled = EXCLUDED.enabled"""
            ),
            c,
        )
    disabled = 0
    if replace:
        disabled = conn.execute(
            text("UPDATE ops.issuance_criterion SET enabled = false WHERE enabled AND NOT (name = ANY(:n))"),
            {"n": names},
        ).rowcount
    audit.record(conn, actor, "evacuation.criteria.load", "", count=len(checked), disabled=disabled)
    return {"loaded": len(checked), "disabled": disabled}
