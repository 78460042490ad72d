"""One geometry type per generic layer.

GDAL, QGIS and the OGC collection document type a layer by one geometry type; a layer holding both
Polygon and MultiPolygon (or LineString/MultiLineString, Point/MultiPoint) was reported as "Geometry",
and clients that typed it from the first page then met the other. So an import decides the layer's type
from what the layer will hold (the file, the features it keeps, the type declared at creation):

- one family, single and multi mixed → every feature is promoted to the Multi type (``ST_Multi``, in the
  upsert and for the features already stored) and the layer's ``geometry_type`` becomes that type;
- one family, all single (or all multi) → that type;
- several families (points and polygons) → the import is refused, naming the counts: a department that
  mixes them in one file means two layers, and which split it wants is its choice, not ours.
Migration 0034 applies the same rule to the layers stored before it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Connection, text

from layers.importers.errors import ImportRejected

FAMILY_NAMES = {"Point": ("点", "points"), "LineString": ("線", "lines"), "Polygon": ("面", "polygons"),
                "GeometryCollection": ("混合（GeometryCollection）", "geometry collections")}  # fmt: skip
_STORED = text(
    "SELECT ST_GeometryType(geom), count(*) FROM gis.feature WHERE layer_id = :layer_id GROUP BY 1"
)
_PROMOTE_STORED = text(
    "UPDATE gis.feature SET geom = ST_Multi(geom)"
    " WHERE layer_id = :layer_id AND ST_GeometryType(geom) IN ('ST_Point', 'ST_LineString', 'ST_Polygon')"
)
_SET_TYPE = text(
    "UPDATE gis.layer SET geometry_type = :geometry_type"
    " WHERE id = :layer_id AND geometry_type IS DISTINCT FROM :geometry_type"
)


@dataclass(frozen=True)
class Plan:
    geometry_type: str  # what the layer will be: Point, MultiPolygon, …, or Geometry (collections only)
    promote: bool  # store every feature as the Multi type


def _family(geom_type: str) -> str:
    return geom_type.removeprefix("Multi")


def plan(conn: Connection, layer_id: int, declared: str, file_types: Counter[str], *, replace: bool) -> Plan:
    """The layer's type after this import, or ImportRejected when it would mix families."""
    stored: Counter[str] = Counter()
    if not replace:  # a replace keeps none of the stored features the file does not bring again
        rows = conn.execute(_STORED, {"layer_id": layer_id}).all()
        stored = Counter({t.removeprefix("ST_"): n for t, n in rows})
    types = set(file_types) | set(stored) | ({declared} if declared != "Geometry" else set())
    families = {_family(t) for t in types}
    if len(families) > 1:
        file_counts = Counter()
        for t, n in file_types.items():
            file_counts[_family(t)] += n
        layer_counts = Counter()
        for t, n in stored.items():
            layer_counts[_family(t)] += n
        ja = "、".join(f"{FAMILY_NAMES[f][0]} {n} 件" for f, n in sorted(file_counts.items()))
        en = ", ".join(f"{n} {FAMILY_NAMES[f][1]}" for f, n in sorted(file_counts.items()))
        if layer_counts or declared != "Geometry":
            held = "、".join(FAMILY_NAMES[f][0] for f in sorted(layer_counts or {_family(declared): 1}))
            held_en = ", ".join(FAMILY_NAMES[f][1] for f in sorted(layer_counts or {_family(declared): 1}))
            ja, en = f"{ja}（レイヤーには {held}）", f"{en} (the layer holds {held_en})"
        raise ImportRejected(
            f"1 つのレイヤーには 1 種類の形状しか入れられません: {ja}。形状ごとに別のレイヤーへ取り込んでください。",
            f"A layer holds one kind of geometry; this import would mix {en}. Import each kind into a layer"
            " of its own.",
            code="mixed_geometry",
        )
    if not families or families == {"GeometryCollection"}:
        return Plan("Geometry", False)
    family = families.pop()
    promote = any(t.startswith("Multi") for t in types)
    return Plan(f"Multi{family}" if promote else family, promote)


def apply(conn: Connection, layer_id: int, layer_plan: Plan) -> None:
    """After the upsert: promote the features kept from before, record the layer's type."""
    if layer_plan.promote:
        conn.execute(_PROMOTE_STORED, {"layer_id": layer_id})
    conn.execute(_SET_TYPE, {"layer_id": layer_id, "geometry_type": layer_plan.geometry_type})
