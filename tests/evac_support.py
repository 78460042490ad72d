"""Evacuation orders for the tests of the public outputs, written the way an issuance writes them.

Until the issuing domain (gisapp/ops/evac_info.py) is on main, these insert through the owner engine
what an issuance commits: one ``ops.evac_order`` row (its current version) and one
``ops.evac_order_version`` row per version, in one transaction (the triggers of migration 0024 then
NOTIFY and log). This is the one place to switch to the domain call when it lands.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

# Two 町丁目 of the test: squares near 伊勢原 (lon, lat), and a two-part area (a multipolygon).
AREAS = {
    "T-KAMI": (
        "テスト上町",
        "MULTIPOLYGON(((139.30 35.40, 139.31 35.40, 139.31 35.41, 139.30 35.41, 139.30 35.40)))",
    ),
    "T-SHIMO": (
        "テスト下町",
        "MULTIPOLYGON(((139.32 35.40, 139.33 35.40, 139.33 35.41, 139.32 35.41, 139.32 35.40)),"
        "((139.34 35.40, 139.35 35.40, 139.35 35.41, 139.34 35.41, 139.34 35.40)))",
    ),
}
INSIDE_KAMI = (139.305, 35.405)
OUTSIDE = (139.50, 35.50)

_AREA = text(
    "INSERT INTO ops.evac_area (code, name, geom) VALUES (:code, :name, ST_GeomFromText(:wkt, 4326)) "
    "ON CONFLICT (code) DO NOTHING"
)
_ORDER = text(
    """INSERT INTO ops.evac_order (level, hazard, area_codes, area_names, geom, reason, issued_by, updated_by)
       SELECT :level, :hazard, :codes, array_agg(name ORDER BY array_position(:codes, code)),
              ST_Multi(ST_Union(geom)), :reason, :actor, :actor
         FROM ops.evac_area WHERE code = ANY(:codes)
       RETURNING id, version, level, hazard, area_codes, area_names, geom, reason"""
)
_UPDATE = text(
    """UPDATE ops.evac_order o
          SET version = o.version + 1, level = :level, updated_at = now(), updated_by = :actor,
              status = CASE WHEN :cancel THEN 'cancelled' ELSE 'active' END,
              cancelled_at = CASE WHEN :cancel THEN now() END,
              area_codes = :codes,
              area_names = (SELECT array_agg(name ORDER BY array_position(:codes, code))
                              FROM ops.evac_area WHERE code = ANY(:codes)),
              geom = (SELECT ST_Multi(ST_Union(geom)) FROM ops.evac_area WHERE code = ANY(:codes))
        WHERE o.id = :id
       RETURNING id, version, level, hazard, area_codes, area_names, geom, reason"""
)
_VERSION = text(
    """INSERT INTO ops.evac_order_version
         (order_id, version, action, level, hazard, area_codes, area_names, geom, reason, actor)
       VALUES (:id, :version, :action, :level, :hazard, :area_codes, :area_names, :geom, :reason, :actor)"""
)


def ensure_areas(owner: Engine) -> None:
    with owner.begin() as conn:
        for code, (name, wkt) in AREAS.items():
            conn.execute(_AREA, {"code": code, "name": name, "wkt": wkt})


def _version(conn, row, action: str, actor: str) -> None:
    conn.execute(_VERSION, {**dict(row._mapping), "action": action, "actor": actor})


def issue(
    owner: Engine,
    level: int,
    area_codes: list[str],
    hazard: str = "landslide",
    reason: str = "土砂災害警戒情報（テスト）",
    actor: str = "test-hq",
) -> int:
    """発令: returns the order's id."""
    ensure_areas(owner)
    with owner.begin() as conn:
        row = conn.execute(
            _ORDER, {"level": level, "hazard": hazard, "codes": area_codes, "reason": reason, "actor": actor}
        ).one()
        _version(conn, row, "issue", actor)
        return row.id


def change(
    owner: Engine, order_id: int, *, level: int | None = None, area_codes: list[str] | None = None
) -> None:
    """A change of level and/or areas (action change_level / change_areas / change)."""
    with owner.begin() as conn:
        cur = conn.execute(
            text("SELECT level, area_codes FROM ops.evac_order WHERE id = :id"), {"id": order_id}
        ).one()
        new_level = level if level is not None else cur.level
        codes = area_codes if area_codes is not None else list(cur.area_codes)
        action = (
            "change"
            if level is not None and area_codes is not None
            else "change_level"
            if level is not None
            else "change_areas"
        )
        row = conn.execute(
            _UPDATE, {"id": order_id, "level": new_level, "codes": codes, "cancel": False, "actor": "test-hq"}
        ).one()
        _version(conn, row, action, "test-hq")


def cancel(owner: Engine, order_id: int) -> None:
    """解除."""
    with owner.begin() as conn:
        cur = conn.execute(
            text("SELECT level, area_codes FROM ops.evac_order WHERE id = :id"), {"id": order_id}
        ).one()
        row = conn.execute(
            _UPDATE,
            {
                "id": order_id,
                "level": cur.level,
                "codes": list(cur.area_codes),
                "cancel": True,
                "actor": "test-hq",
            },
        ).one()
        _version(conn, row, "cancel", "test-hq")


def clear(owner: Engine) -> None:
    """Cancel every active order (tests share one database)."""
    with owner.begin() as conn:
        ids = [r.id for r in conn.execute(text("SELECT id FROM ops.evac_order WHERE status = 'active'"))]
    for order_id in ids:
        cancel(owner, order_id)
