"""The layer catalog and who may see what.

Visibility levels: ``public`` (citizens), ``internal`` (staff of any department), ``restricted``
(named roles only; every read is audited by the caller). The citizen-facing instance never calls the
internal functions here: it reads the ``pub`` views, which its database role is limited to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, TextClause, text


class Visibility(StrEnum):
    public = "public"  # 公開
    internal = "internal"  # 庁内
    restricted = "restricted"  # 限定（要支援者など）


RESTRICTED_ROLES = frozenset({"welfare", "admin"})
STAFF_ROLES = frozenset({"staff", "hq_operator", "welfare", "admin"})


def visible_levels(roles: Iterable[str] | None) -> list[str]:
    """What a viewer with these roles may see; None = anonymous citizen."""
    roles = set(roles or ())
    levels = [Visibility.public.value]
    if roles & STAFF_ROLES:
        levels.append(Visibility.internal.value)
    if roles & RESTRICTED_ROLES:
        levels.append(Visibility.restricted.value)
    return levels


@dataclass(frozen=True)
class Layer:
    id: int
    slug: str
    title_ja: str
    title_en: str
    kind: str
    geometry_type: str
    visibility: str
    source: str
    licence: str
    updated_at: Any

    def as_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        return d


_LIST = text(
    "SELECT id, slug, title_ja, title_en, kind, geometry_type, visibility, source, licence, updated_at"
    " FROM gis.layer WHERE visibility = ANY(:levels) ORDER BY id"
)
_ONE = text(
    "SELECT id, slug, title_ja, title_en, kind, geometry_type, visibility, source, licence, updated_at"
    " FROM gis.layer WHERE slug = :slug AND visibility = ANY(:levels)"
)
_PUB_LIST = text(
    "SELECT id, slug, title_ja, title_en, kind, geometry_type, 'public' AS visibility, source, licence,"
    " updated_at FROM pub.layer ORDER BY id"
)
_PUB_ONE = text(
    "SELECT id, slug, title_ja, title_en, kind, geometry_type, 'public' AS visibility, source, licence,"
    " updated_at FROM pub.layer WHERE slug = :slug"
)


def list_layers(conn: Connection, roles: Iterable[str] | None) -> list[Layer]:
    return [Layer(**r._mapping) for r in conn.execute(_LIST, {"levels": visible_levels(roles)})]


def get_layer(conn: Connection, slug: str, roles: Iterable[str] | None) -> Layer | None:
    row = conn.execute(_ONE, {"slug": slug, "levels": visible_levels(roles)}).first()
    return Layer(**row._mapping) if row else None


def list_public_layers(conn: Connection) -> list[Layer]:
    return [Layer(**r._mapping) for r in conn.execute(_PUB_LIST)]


def get_public_layer(conn: Connection, slug: str) -> Layer | None:
    row = conn.execute(_PUB_ONE, {"slug": slug}).first()
    return Layer(**row._mapping) if row else None


# --- features as one GeoJSON FeatureCollection, built by PostGIS -----------------------------
def _collection(select_sql: str) -> TextClause:
    # Composed from this module's constants only; values are always bound parameters.
    return text(
        "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg("  # noqa: S608
        "json_build_object('type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON(t.geom, 7)::json,"
        " 'properties', to_jsonb(t) - 'geom' - 'layer_id' - 'id')), '[]'::json))"
        f" FROM ({select_sql} WHERE layer_id = :layer_id ORDER BY id LIMIT :limit) t"
    )


_GENERIC = "SELECT id, layer_id, geom, properties FROM {schema}.feature"
_ROAD = "SELECT id, layer_id, geom, route_no, route_name, road_class, width_m, length_m FROM {schema}.road_segment"
_HAZARD = "SELECT id, layer_id, geom, hazard_type, depth_rank, name FROM {schema}.hazard_area"
_SHELTER = (
    "SELECT id, layer_id, geom, code, name, address, capacity, is_designated_shelter, suits_flood,"
    " suits_landslide, suits_storm_surge, suits_earthquake, suits_tsunami, suits_fire,"
    " suits_inland_flood, suits_volcano FROM {schema}.shelter"
)
_PERSON = (
    "SELECT id, layer_id, geom, external_id, name, name_kana, care_category, consent"
    " FROM restricted.person_needing_help"
)

# Statements are fixed per (instance, kind): the schema is never taken from a request.
_FEATURES: dict[tuple[str, str], TextClause] = {
    **{
        (schema, kind): _collection(sql.format(schema=schema))
        for schema in ("gis", "pub")
        for kind, sql in (
            ("generic", _GENERIC),
            ("road_segment", _ROAD),
            ("hazard_area", _HAZARD),
            ("shelter", _SHELTER),
        )
    },
    ("gis", "person_needing_help"): _collection(_PERSON),
}

MAX_FEATURES = 20_000


def features_geojson(conn: Connection, layer: Layer, *, public: bool, limit: int = MAX_FEATURES) -> dict:
    """Features of a layer the caller has already been allowed to see."""
    key = ("pub" if public else "gis", layer.kind)
    if public and layer.visibility != Visibility.public:
        raise PermissionError(layer.slug)
    stmt = _FEATURES[key]
    # GeoJSON FeatureCollection with properties flattened by PostGIS; generic layers keep their JSONB.
    fc = conn.execute(stmt, {"layer_id": layer.id, "limit": min(limit, MAX_FEATURES)}).scalar_one()
    if layer.kind == "generic":
        for f in fc["features"]:
            f["properties"] = f["properties"].get("properties", {})
    return fc
