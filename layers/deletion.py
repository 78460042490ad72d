"""Deleting a layer is deliberate: a soft delete with a restore window, refused for registries and
for layers that open operations refer to, and audited with the rows it holds; purging after the
window is an explicit administrator's command (``gisapp layers purge``).

A cascade never removes rows the caller cannot read: the foreign keys from restricted tables are
``ON DELETE RESTRICT`` (migration 0020), so the purge deletes plans and people itself, under the
row-level rule of whoever runs it, and the database refuses whatever that rule hides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from common import audit
from layers import manage
from layers.catalog import KINDS, Layer, get_deleted_layer, get_layer_unfiltered, visible_levels
from layers.errors import LayerConflict, LayerNotFound
from layers.manage import Actor, forbidden, managed_layer, may_manage

RESTORE_DAYS = 30  # 復元期間: a deleted layer can be restored this long, then purged


# --- what a layer holds ------------------------------------------------------------------------
# Per kind, the tables whose rows belong to the layer beyond its own feature table (all constants).
_EXTRA_COUNTS: dict[str, dict[str, str]] = {
    "road_segment": {
        "gis.road_closure": "SELECT count(*) FROM gis.road_closure c JOIN gis.road_segment r"
        " ON r.id = c.road_segment_id WHERE r.layer_id = :l",
    },
    "shelter": {
        "ops.shelter_opening": "SELECT count(*) FROM ops.shelter_opening o JOIN gis.shelter s"
        " ON s.id = o.shelter_id WHERE s.layer_id = :l",
    },
    "person_needing_help": {
        "restricted.evacuation_plan": "SELECT count(*) FROM restricted.evacuation_plan ep"
        " JOIN restricted.person_needing_help p ON p.id = ep.person_id WHERE p.layer_id = :l",
    },
}
_COMMON_COUNTS = {
    "gis.import_run": "SELECT count(*) FROM gis.import_run WHERE layer_id = :l",
    "gis.layer_access_daily": "SELECT count(*) FROM gis.layer_access_daily WHERE layer_id = :l",
}


def row_counts(conn: Connection, layer: Layer) -> dict[str, int]:
    """Rows per table the layer holds, as the caller's transaction sees them (restricted tables:
    under its row-level rule)."""
    table = KINDS[layer.kind].table
    queries = {
        table: f"SELECT count(*) FROM {table} WHERE layer_id = :l",  # noqa: S608 - the catalog's constant
        **_EXTRA_COUNTS.get(layer.kind, {}),
        **_COMMON_COUNTS,
    }
    return {name: conn.execute(text(sql), {"l": layer.id}).scalar_one() for name, sql in queries.items()}


# --- what keeps a layer from being deleted -----------------------------------------------------
@dataclass(frozen=True)
class Blocker:
    code: str
    count: int
    ja: str
    en: str

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "count": self.count, "reason_ja": self.ja, "reason_en": self.en}


# (kind, code, counting SQL, ja, en): open operations that refer to a layer's features.
_IN_USE = (
    ("shelter", "shelter_open",
     "SELECT count(*) FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id"
     " JOIN ops.disaster d ON d.id = o.disaster_id WHERE s.layer_id = :l AND d.closed_at IS NULL",
     "対応中の災害で開設された避難所があります", "shelters are opened in a disaster that is still open"),
    ("shelter", "shelter_checked_in",
     "SELECT count(*) FROM ops.checkin_presence p JOIN ops.shelter_opening o ON o.id = p.opening_id"
     " JOIN gis.shelter s ON s.id = o.shelter_id WHERE s.layer_id = :l",
     "避難所に入所中の世帯があります", "households are checked in at its shelters"),
    ("road_segment", "road_closed",
     "SELECT count(*) FROM gis.road_closure c JOIN gis.road_segment r ON r.id = c.road_segment_id"
     " WHERE r.layer_id = :l AND c.reopened_at IS NULL",
     "通行止め中の区間があります", "segments are closed to traffic (active road closures)"),
    ("road_segment", "road_incident",
     "SELECT count(*) FROM ops.incident i JOIN gis.road_segment r ON r.id = i.road_segment_id"
     " WHERE r.layer_id = :l AND i.status IN ('unhandled', 'in_progress')",
     "未対応・対応中の事案が区間を参照しています", "open incidents refer to its segments"),
)  # fmt: skip

# A purge removes rows for good: a shelter that was ever opened is part of an operation's record.
_PURGE_BLOCKS = (
    ("shelter", "shelter_opened",
     "SELECT count(*) FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id WHERE s.layer_id = :l",
     "開設の記録がある避難所があります", "its shelters have openings on record"),
)  # fmt: skip


# The community areas residents report their evacuation status by (restricted.report_status, 0017,
# names this layer; gisapp.ops.evacuation.AREA_LAYER): in use while a disaster is open.
AREA_LAYER = "community-areas"
_OPEN_DISASTERS = "SELECT count(*) FROM ops.disaster WHERE closed_at IS NULL"


def blockers(conn: Connection, layer: Layer, *, purge: bool = False) -> list[Blocker]:
    found = []
    if layer.slug == AREA_LAYER:
        n = conn.execute(text(_OPEN_DISASTERS)).scalar_one()
        if n:
            found.append(
                Blocker(
                    "areas_in_use", n,
                    f"対応中の災害の避難状況報告がこの地区区分を使っています（{n} 件）",
                    f"evacuation status reports of open disasters use these community areas ({n})",
                )
            )  # fmt: skip
    if layer.kind == "person_needing_help":
        found.append(
            Blocker(
                "registry", 1,
                "避難行動要支援者名簿は汎用のレイヤー削除では削除できません（名簿の管理で個別に扱います）",
                "the registry of people needing evacuation help cannot be deleted as a layer"
                " (it is kept person by person)",
            )
        )  # fmt: skip
    for kind, code, sql, ja, en in _IN_USE + (_PURGE_BLOCKS if purge else ()):
        if kind == layer.kind:
            n = conn.execute(text(sql), {"l": layer.id}).scalar_one()
            if n:
                found.append(Blocker(code, n, f"{ja}（{n} 件）", f"{en} ({n})"))
    return found


def _refuse(layer: Layer, found: list[Blocker]) -> LayerConflict:
    return LayerConflict(
        "このレイヤーは削除できません: " + "、".join(b.ja for b in found) + "。何も変更していません。",
        f"The layer {layer.slug} cannot be deleted: "
        + "; ".join(b.en for b in found)
        + ". Nothing was changed.",
        reasons=[b.as_json() for b in found],
    )


# --- delete and restore ------------------------------------------------------------------------
def delete_layer(conn: Connection, actor: Actor, slug: str) -> dict[str, Any]:
    """Soft delete: the layer vanishes from every read and can be restored for RESTORE_DAYS."""
    layer = managed_layer(conn, actor, slug)
    found = blockers(conn, layer)
    if found:
        raise _refuse(layer, found)
    counts = row_counts(conn, layer)
    deleted_at, until = conn.execute(
        text(
            """UPDATE gis.layer SET deleted_at = now(), deleted_by = :by WHERE id = :id AND deleted_at IS NULL
               RETURNING deleted_at, deleted_at + make_interval(days => :days)"""
        ),
        {"by": actor.username, "id": layer.id, "days": RESTORE_DAYS},
    ).one()
    # New revision + NOTIFY: caches of tiles and items drop the layer on every server.
    conn.execute(text("SELECT gis.touch_layers(ARRAY[:id])"), {"id": layer.id})
    audit.record(
        conn, actor.username, "layer.delete", slug, kind=layer.kind, visibility=layer.visibility,
        counts=counts, restorable_until=until.isoformat(),
    )  # fmt: skip
    return {"slug": slug, "deleted_at": deleted_at, "restorable_until": until, "counts": counts}


def restore_layer(conn: Connection, actor: Actor, slug: str) -> Layer:
    """Undo a delete within the window (admins and the owner department's staff)."""
    found = get_deleted_layer(conn, slug, actor.roles)
    if found is None:
        raise LayerNotFound(slug)
    layer, _, deleted_by = found
    if not may_manage(actor, layer):
        raise forbidden()
    restored = conn.execute(
        text(
            """UPDATE gis.layer SET deleted_at = NULL, deleted_by = NULL
               WHERE id = :id AND deleted_at > now() - make_interval(days => :days) RETURNING id"""
        ),
        {"id": layer.id, "days": RESTORE_DAYS},
    ).first()
    if restored is None:
        raise LayerConflict(
            f"削除から {RESTORE_DAYS} 日を過ぎたため復元できません。",
            f"The layer was deleted more than {RESTORE_DAYS} days ago and can no longer be restored.",
        )
    conn.execute(text("SELECT gis.touch_layers(ARRAY[:id])"), {"id": layer.id})
    audit.record(
        conn, actor.username, "layer.restore", slug, kind=layer.kind, deleted_by=deleted_by,
        counts=row_counts(conn, layer),
    )  # fmt: skip
    live = get_layer_unfiltered(conn, slug)
    assert live is not None
    return live


_DELETED_LIST = text(
    """SELECT l.slug, l.title_ja, l.title_en, l.kind, l.owner_department_id, l.deleted_at, l.deleted_by,
              l.deleted_at + make_interval(days => :days) AS restorable_until
         FROM gis.layer l WHERE l.deleted_at IS NOT NULL AND l.visibility = ANY(:levels)
        ORDER BY l.deleted_at DESC"""
)


def list_deleted(conn: Connection, actor: Actor) -> list[dict[str, Any]]:
    """Deleted layers the actor may restore (their department's, or all for admins)."""
    rows = conn.execute(_DELETED_LIST, {"days": RESTORE_DAYS, "levels": visible_levels(actor.roles)})
    return [
        dict(r._mapping)
        for r in rows
        if "admin" in actor.roles
        or (manage.MANAGING_ROLES & set(actor.roles) and r.owner_department_id == actor.department_id)
    ]


# --- purge after the window --------------------------------------------------------------------
@dataclass
class Purged:
    slug: str
    kind: str
    deleted_at: datetime
    deleted_by: str
    counts: dict[str, int]
    purged: bool = False
    reasons: list[dict[str, Any]] = field(default_factory=list)


_EXPIRED = text(
    """SELECT l.slug, l.deleted_at, l.deleted_by FROM gis.layer l
        WHERE l.deleted_at IS NOT NULL AND l.deleted_at <= now() - make_interval(days => :days)
        ORDER BY l.deleted_at, l.id"""
)
# Restricted rows first, explicitly: their foreign keys RESTRICT (migration 0020), so rows the
# purging transaction cannot see under row-level security stop the purge instead of vanishing.
_PURGE_RESTRICTED = (
    "DELETE FROM restricted.evacuation_plan ep USING restricted.person_needing_help p"
    " WHERE p.id = ep.person_id AND p.layer_id = :l",
    "DELETE FROM restricted.person_needing_help WHERE layer_id = :l",
)


def purge(conn: Connection, actor: str, *, dry_run: bool = False) -> list[Purged]:
    """Remove for good the layers deleted more than RESTORE_DAYS ago, each in a savepoint; a layer
    still referenced, or holding rows the caller may not read, is kept and says why."""
    out = []
    for slug, deleted_at, deleted_by in conn.execute(_EXPIRED, {"days": RESTORE_DAYS}).all():
        layer = _any_layer(conn, slug)
        result = Purged(slug, layer.kind, deleted_at, deleted_by, row_counts(conn, layer))
        result.reasons = [b.as_json() for b in blockers(conn, layer, purge=True) if b.code != "registry"]
        out.append(result)
        if result.reasons or dry_run:
            continue
        try:
            with conn.begin_nested():
                if layer.kind == "person_needing_help":
                    for sql in _PURGE_RESTRICTED:
                        conn.execute(text(sql), {"l": layer.id})
                conn.execute(text("DELETE FROM gis.layer WHERE id = :id"), {"id": layer.id})
        except IntegrityError:
            result.reasons.append(
                {
                    "code": "referenced",
                    "count": 0,
                    "reason_ja": "参照している行（閲覧権限のない行を含む）があるためデータベースが削除を拒否しました",
                    "reason_en": "the database refused: rows refer to it (possibly rows you may not read)",
                }
            )
            continue
        result.purged = True
        audit.record(
            conn, actor, "layer.purge", slug, kind=layer.kind, counts=result.counts,
            deleted_at=deleted_at.isoformat(), deleted_by=deleted_by,
        )  # fmt: skip
    return out


_ANY_DELETED = text(
    """SELECT l.id, l.slug, l.title_ja, l.title_en, l.kind, l.geometry_type, l.visibility, l.source,
              l.licence, l.updated_at, l.revision, l.description_ja, l.description_en, l.owner_department_id
         FROM gis.layer l WHERE l.slug = :slug"""
)


def _any_layer(conn: Connection, slug: str) -> Layer:
    return Layer(**conn.execute(_ANY_DELETED, {"slug": slug}).one()._mapping)
