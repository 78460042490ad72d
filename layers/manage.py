"""Managing the catalog: owner-department staff create, edit and delete their layers; publishing to
the citizen map (internal → public) and withdrawing it are single, audited actions. Deleting and
restoring are in ``layers.deletion``; importing checks ``managed_layer`` too (import rights equal edit
rights)."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from common import audit  # a plain SQL helper (no web app): every management action is recorded
from layers.catalog import KINDS, Layer, Visibility, get_layer, get_layer_unfiltered
from layers.errors import LayerConflict, LayerForbidden, LayerInvalid, LayerNotFound

GEOMETRY_TYPES = (
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
    "Geometry",
)


class Actor(Protocol):
    """Who acts (gisapp.auth.User fits)."""

    username: str
    department_id: int | None
    roles: Set[str]


@dataclass(frozen=True)
class LayerSpec:
    slug: str
    title_ja: str
    title_en: str
    geometry_type: str = "Geometry"
    kind: str = "generic"
    visibility: str = Visibility.internal.value
    description_ja: str = ""
    description_en: str = ""
    source: str = ""
    licence: str = ""
    source_crs: str = "EPSG:4326"


# Who edits a layer's description, publishes or withdraws it, imports into it, deletes and restores
# it: one rule. An hq_operator runs the HQ; the layers belong to their departments' staff.
MANAGING_ROLES = frozenset({"staff", "welfare"})


def may_manage(actor: Actor, layer: Layer) -> bool:
    """Admins, and staff of the layer's owner department."""
    if "admin" in actor.roles:
        return True
    return bool(MANAGING_ROLES & set(actor.roles)) and actor.department_id == layer.owner_department_id


def forbidden() -> LayerForbidden:
    return LayerForbidden(
        "このレイヤーを管理（編集・公開・取込・削除）できるのは所管課の職員と管理者だけです。",
        "Only staff of the owner department and administrators may manage (edit, publish, import into,"
        " delete) this layer.",
    )


def _audit(conn: Connection, actor: Actor, action: str, slug: str, **details: object) -> None:
    audit.record(conn, actor.username, action, slug, **details)


def managed_layer(conn: Connection, actor: Actor, slug: str) -> Layer:
    """The layer if the actor may manage it (``may_manage``): 404 when they cannot see it (unknown and
    not visible answer the same), 403 when they see it but may not manage it."""
    layer = get_layer(conn, slug, actor.roles)
    if layer is None:
        raise LayerNotFound(slug)
    if not may_manage(actor, layer):
        raise forbidden()
    return layer


_managed = managed_layer


def may_create(actor: Actor) -> bool:
    """Whoever may manage the layers of a department may create one for it: the same rule as edit,
    publish, import and delete (a layer its creator could not then edit would make no sense)."""
    if "admin" in actor.roles:
        return True
    return bool(MANAGING_ROLES & set(actor.roles)) and actor.department_id is not None


def create_layer(conn: Connection, actor: Actor, spec: LayerSpec) -> Layer:
    if not may_create(actor):
        raise LayerForbidden(
            "レイヤーを作成できるのは部署に所属する職員と管理者だけです。",
            "Only staff of a department and administrators may create layers.",
        )
    if spec.kind not in KINDS or spec.kind == "person_needing_help":
        raise LayerInvalid(
            f"不明なレイヤー種別です: {spec.kind}", f"Unknown layer kind: {spec.kind}", field="kind"
        )
    if spec.geometry_type not in GEOMETRY_TYPES:
        raise LayerInvalid(
            "不明なジオメトリ型です。", f"Unknown geometry type: {spec.geometry_type}", field="geometry_type"
        )
    if spec.visibility == Visibility.public:
        # Publishing is its own, audited action, after the data is in.
        raise LayerInvalid(
            "新しいレイヤーは庁内または限定で作成し、確認後に公開してください。",
            "Create a layer as internal or restricted, then publish it once checked.",
            field="visibility",
        )
    if conn.execute(text("SELECT 1 FROM gis.raster WHERE slug = :s"), {"s": spec.slug}).first():
        # One namespace of OGC collection ids with the rasters (layers.raster.store).
        raise LayerConflict(
            f"識別子 {spec.slug} は既にラスターで使われています。",
            f"The id {spec.slug} is already taken by a raster.",
            field="slug",
        )
    try:
        with conn.begin_nested():
            conn.execute(
                text(
                    """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                         geometry_type, source, licence, source_crs, description_ja, description_en)
                       VALUES (:slug, :title_ja, :title_en, :dept, :visibility, :kind, :geometry_type,
                         :source, :licence, :source_crs, :description_ja, :description_en)"""
                ),
                {**spec.__dict__, "dept": actor.department_id},
            )
    except IntegrityError as e:
        if "layer_slug_key" in str(e.orig):
            # A deleted layer keeps its id until it is purged, so that it can be restored.
            raise LayerConflict(
                f"識別子 {spec.slug} は既に使われています（削除済みのレイヤーは復元期間が過ぎるまで識別子を保持します）。",
                f"The id {spec.slug} is already taken (a deleted layer keeps its id until it is purged).",
                field="slug",
            ) from e
        raise LayerInvalid(
            "識別子は英小文字・数字・ハイフン・下線で 63 文字以内にしてください。",
            "The id must be lowercase letters, digits, '-' or '_', at most 63 characters.",
            field="slug",
        ) from e
    _audit(conn, actor, "layer.create", spec.slug, visibility=spec.visibility, kind=spec.kind)
    layer = get_layer_unfiltered(conn, spec.slug)
    assert layer is not None
    return layer


EDITABLE = ("title_ja", "title_en", "description_ja", "description_en", "source", "licence")


def update_layer(conn: Connection, actor: Actor, slug: str, changes: dict[str, str]) -> Layer:
    layer = _managed(conn, actor, slug)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise LayerInvalid(
            "変更できない項目があります。", f"These fields cannot be changed here: {sorted(unknown)}"
        )
    if changes:
        # One statement per field keeps every column name a constant.
        for column in EDITABLE:
            if column in changes:
                conn.execute(
                    text(f"UPDATE gis.layer SET {column} = :v, updated_at = now() WHERE id = :id"),  # noqa: S608
                    {"v": changes[column], "id": layer.id},
                )
        _audit(conn, actor, "layer.update", slug, fields=sorted(changes))
    updated = get_layer_unfiltered(conn, slug)
    assert updated is not None
    return updated


def set_visibility(conn: Connection, actor: Actor, slug: str, visibility: str) -> Layer:
    """Publish (→ public) or withdraw (→ internal); one action, one audit record."""
    layer = _managed(conn, actor, slug)
    if visibility not in (Visibility.public, Visibility.internal):
        raise LayerInvalid("公開または庁内のみ指定できます。", "Only public or internal can be set here.")
    if layer.kind == "person_needing_help" or layer.visibility == Visibility.restricted:
        raise LayerConflict(
            "限定公開のレイヤーは公開できません。", "A restricted layer cannot be published or withdrawn."
        )
    if layer.visibility == visibility:
        return layer
    conn.execute(
        text("UPDATE gis.layer SET visibility = :v WHERE id = :id"), {"v": visibility, "id": layer.id}
    )
    # New revision + NOTIFY: caches of tiles and items drop the layer on every server.
    conn.execute(text("SELECT gis.touch_layers(ARRAY[:id])"), {"id": layer.id})
    action = "layer.publish" if visibility == Visibility.public else "layer.withdraw"
    _audit(conn, actor, action, slug, before=layer.visibility, after=visibility)
    updated = get_layer_unfiltered(conn, slug)
    assert updated is not None
    return updated
