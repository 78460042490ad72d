"""Evacuation orders for the tests of the public outputs, written the way an issuance writes them.

Through the issuing domain (gisapp/ops/evac_info.py), one transaction per step as the API does.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from gisapp.db import transaction
from gisapp.ops import evac_info

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


def ensure_areas(owner: Engine) -> None:
    with owner.begin() as conn:
        for code, (name, wkt) in AREAS.items():
            conn.execute(_AREA, {"code": code, "name": name, "wkt": wkt})


def issue(
    owner: Engine,
    level: int,
    area_codes: list[str],
    hazard: str = "landslide",
    reason: str = "土砂災害警戒情報（テスト）",
    actor: str = "test-hq",
) -> int:
    """発令 (the issuing domain, as the API calls it): returns the order's id."""
    ensure_areas(owner)
    with transaction(owner, ["admin"]) as conn:
        new = evac_info.OrderIn(level=level, hazard=hazard, reason=reason, area_codes=tuple(area_codes))
        return evac_info.issue(conn, new, actor)["id"]


def _current_version(conn, order_id: int) -> int:
    return conn.execute(
        text("SELECT version FROM ops.evac_order WHERE id = :id"), {"id": order_id}
    ).scalar_one()


def change(
    owner: Engine, order_id: int, *, level: int | None = None, area_codes: list[str] | None = None
) -> None:
    """A change of level and/or areas (action change_level / change_areas / change)."""
    with transaction(owner, ["admin"]) as conn:
        codes = None if area_codes is None else tuple(area_codes)
        ch = evac_info.OrderChange(_current_version(conn, order_id), "変更（テスト）", level, codes)
        evac_info.change(conn, order_id, ch, "test-hq")


def cancel(owner: Engine, order_id: int) -> None:
    """解除."""
    with transaction(owner, ["admin"]) as conn:
        evac_info.cancel(conn, order_id, _current_version(conn, order_id), "解除（テスト）", "test-hq")


def clear(owner: Engine) -> None:
    """Cancel every active order (tests share one database)."""
    with owner.begin() as conn:
        ids = [r.id for r in conn.execute(text("SELECT id FROM ops.evac_order WHERE status = 'active'"))]
    for order_id in ids:
        cancel(owner, order_id)
