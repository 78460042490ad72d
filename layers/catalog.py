"""The layer catalog and who may see what.

Visibility levels: ``public`` (citizens), ``internal`` (staff of any department), ``restricted``
(named roles only; every read is audited: ``layers.reading``). A deleted layer (in its restore
window) is in none of the reads here but ``get_deleted_layer``. The citizen-facing instance never calls the
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
    revision: int
    description_ja: str = ""
    description_en: str = ""
    # Internal only: the public views do not say which department owns a layer.
    owner_department_id: int | None = None
    department_code: str | None = None
    department_ja: str | None = None
    department_en: str | None = None
    source_crs: str | None = None  # as the source declared it, e.g. "EPSG:6676" (the OGC API offers it)

    def as_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        code, ja, en = d.pop("department_code"), d.pop("department_ja"), d.pop("department_en")
        if code is not None:
            d["department"] = {"code": code, "name_ja": ja, "name_en": en}
        return d

    def as_public_json(self) -> dict[str, Any]:
        hidden = {"visibility", "owner_department_id", "department"}
        return {k: v for k, v in self.as_json().items() if k not in hidden}


_INTERNAL = (
    "SELECT l.id, l.slug, l.title_ja, l.title_en, l.kind, l.geometry_type, l.visibility, l.source,"
    " l.licence, l.updated_at, l.revision, l.description_ja, l.description_en, l.owner_department_id,"
    " d.code AS department_code, d.name_ja AS department_ja, d.name_en AS department_en, l.source_crs"
    " FROM gis.layer l JOIN core.department d ON d.id = l.owner_department_id"
)
_PUBLIC = (
    "SELECT id, slug, title_ja, title_en, kind, geometry_type, 'public' AS visibility, source, licence,"
    " updated_at, revision, description_ja, description_en, source_crs FROM pub.layer"
)
# Composed from the constants above only; values are bound parameters.
# A deleted layer (in its restore window, migration 0020) is in none of these reads but the last two.
_LIVE = " AND l.deleted_at IS NULL"
_LIST = text(_INTERNAL + " WHERE l.visibility = ANY(:levels)" + _LIVE + " ORDER BY d.code, l.title_ja, l.id")
_ONE = text(_INTERNAL + " WHERE l.slug = :slug AND l.visibility = ANY(:levels)" + _LIVE)
_ANY = text(_INTERNAL + " WHERE l.slug = :slug" + _LIVE)
_DELETED = text(
    _INTERNAL.replace(" FROM ", ", l.deleted_at, l.deleted_by FROM ", 1)
    + " WHERE l.slug = :slug AND l.visibility = ANY(:levels) AND l.deleted_at IS NOT NULL"
)
_PUB_LIST = text(_PUBLIC + " ORDER BY id")
PUBLIC_LAYERS_SQL = _PUBLIC  # for async listeners that load the published catalog (tiles_fast.py)
_PUB_ONE = text(_PUBLIC + " WHERE slug = :slug")


def list_layers(conn: Connection, roles: Iterable[str] | None) -> list[Layer]:
    return [Layer(**r._mapping) for r in conn.execute(_LIST, {"levels": visible_levels(roles)})]


def get_layer(conn: Connection, slug: str, roles: Iterable[str] | None) -> Layer | None:
    row = conn.execute(_ONE, {"slug": slug, "levels": visible_levels(roles)}).first()
    return Layer(**row._mapping) if row else None


def get_layer_unfiltered(conn: Connection, slug: str) -> Layer | None:
    """Any visibility (not deleted): for management checks that decide themselves what the caller may do."""
    row = conn.execute(_ANY, {"slug": slug}).first()
    return Layer(**row._mapping) if row else None


def get_deleted_layer(
    conn: Connection, slug: str, roles: Iterable[str] | None
) -> tuple[Layer, Any, str] | None:
    """A deleted layer the viewer could see before it was deleted: (layer, deleted_at, deleted_by)."""
    row = conn.execute(_DELETED, {"slug": slug, "levels": visible_levels(roles)}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    deleted_at, deleted_by = values.pop("deleted_at"), values.pop("deleted_by")
    return Layer(**values), deleted_at, deleted_by


def list_public_layers(conn: Connection) -> list[Layer]:
    return [Layer(**r._mapping) for r in conn.execute(_PUB_LIST)]


def get_public_layer(conn: Connection, slug: str) -> Layer | None:
    row = conn.execute(_PUB_ONE, {"slug": slug}).first()
    return Layer(**row._mapping) if row else None


# --- where each kind of layer keeps its features ---------------------------------------------
@dataclass(frozen=True)
class KindTable:
    """Storage of one kind of layer: the internal table, the view the public instance reads, the
    typed columns served as feature properties, and the natural key a re-import updates by."""

    table: str
    public_view: str | None  # None: never published (restricted kinds)
    properties: tuple[str, ...]
    key: str | None
    has_attributes: bool = True  # a JSONB column of extra source attributes

    def source(self, public: bool) -> str:
        if public and self.public_view is None:
            raise PermissionError(self.table)
        return self.public_view if public else self.table  # type: ignore[return-value]


KINDS: dict[str, KindTable] = {
    "generic": KindTable("gis.feature", "pub.feature", (), "source_key", has_attributes=False),
    "road_segment": KindTable(
        "gis.road_segment",
        "pub.road_segment",
        ("route_no", "route_name", "road_class", "width_m", "length_m"),
        "route_no",
    ),
    "hazard_area": KindTable(
        "gis.hazard_area", "pub.hazard_area", ("hazard_type", "depth_rank", "name"), "source_key"
    ),
    "shelter": KindTable(
        "gis.shelter",
        "pub.shelter",
        ("code", "name", "address", "capacity", "is_designated_shelter", "suits_flood", "suits_landslide",
         "suits_storm_surge", "suits_earthquake", "suits_tsunami", "suits_fire", "suits_inland_flood",
         "suits_volcano"),
        "code",
    ),
    "sewer_pipe": KindTable(
        "gis.sewer_pipe",
        "pub.sewer_pipe",
        ("pipe_no", "pipe_use", "material", "diameter_mm", "laid_year", "length_m"),
        "pipe_no",
    ),
    "person_needing_help": KindTable(
        "restricted.person_needing_help",
        None,
        ("external_id", "name", "name_kana", "care_category", "consent"),
        "external_id",
        has_attributes=False,
    ),
}  # fmt: skip


# --- features as one GeoJSON FeatureCollection, built by PostGIS -----------------------------
def _collection(kind: KindTable, public: bool) -> TextClause:
    # Composed from the constants above only; values are always bound parameters.
    columns = ", ".join(("id", "layer_id", "geom", *kind.properties))
    if kind.table == "gis.feature":
        columns += ", properties"
    elif kind.has_attributes:
        columns += ", attributes"
    select_sql = f"SELECT {columns} FROM {kind.source(public)}"  # noqa: S608
    return text(
        "SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg("  # noqa: S608
        "json_build_object('type', 'Feature', 'id', t.id, 'geometry', ST_AsGeoJSON(t.geom, 7)::json,"
        " 'properties', to_jsonb(t) - 'geom' - 'layer_id' - 'id')), '[]'::json))"
        f" FROM ({select_sql} WHERE layer_id = :layer_id ORDER BY id LIMIT :limit) t"
    )


# Statements are fixed per (instance, kind): nothing in them comes from a request.
_FEATURES: dict[tuple[bool, str], TextClause] = {
    (public, name): _collection(kind, public)
    for name, kind in KINDS.items()
    for public in (False, True)
    if not (public and kind.public_view is None)
}

MAX_FEATURES = 20_000


def features_geojson(conn: Connection, layer: Layer, *, public: bool, limit: int = MAX_FEATURES) -> dict:
    """Features of a layer the caller has already been allowed to see. Extra source attributes
    (JSONB) are merged under the typed properties; a generic layer's properties are its JSONB."""
    if public and layer.visibility != Visibility.public:
        raise PermissionError(layer.slug)
    stmt = _FEATURES[(public, layer.kind)]
    fc = conn.execute(stmt, {"layer_id": layer.id, "limit": limit}).scalar_one()
    for f in fc["features"]:
        props = f["properties"]
        extra = props.pop("properties", None) or props.pop("attributes", None) or {}
        f["properties"] = {**extra, **props}
    return fc
