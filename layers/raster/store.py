"""The raster catalogue (``gis.raster``, migration 0033) and who may see what.

Same visibility levels as vector layers (``layers.catalog``): the internal reads filter by the
viewer's roles; the citizen-facing instance reads ``pub.raster`` only (its role can read nothing else).
Uploading, publishing, withdrawing and deleting follow the layers' one management rule
(``layers.manage.may_create`` / ``may_manage``) and are audited. Deletion is soft (the row stays with
``deleted_at``; the file stays, other rasters may share it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from common import audit
from layers.catalog import Visibility, visible_levels
from layers.errors import LayerConflict, LayerForbidden, LayerInvalid, LayerNotFound
from layers.manage import Actor, may_create, may_manage
from layers.raster import cog, render
from layers.raster.errors import RasterRejected
from layers.raster.limits import MAX_BYTES, MAX_PIXELS_BYTES, MIB


@dataclass(frozen=True)
class Raster:
    id: int
    slug: str
    title_ja: str
    title_en: str
    description_ja: str
    description_en: str
    source: str
    licence: str
    visibility: str
    file_name: str
    sha256: str
    width: int
    height: int
    band_count: int
    west: float
    south: float
    east: float
    north: float
    minzoom: int
    maxzoom: int
    updated_at: Any
    # Internal only: the public view says nothing of who owns it or where it came from.
    owner_department_id: int | None = None
    source_crs: str | None = None
    source_name: str | None = None
    bytes: int | None = None

    @property
    def bounds(self) -> list[float]:
        return [self.west, self.south, self.east, self.north]

    def as_json(self, *, public: bool = False) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("west", "south", "east", "north")}
        d["updated_at"] = self.updated_at.isoformat() if self.updated_at else None
        d["bounds"] = self.bounds
        d["kind"] = "raster"
        d.pop("file_name")  # where it lies on the server is nobody's business
        if public:
            for hidden in ("visibility", "owner_department_id", "source_crs", "source_name", "bytes"):
                d.pop(hidden, None)
        return d


_COLUMNS = (
    " slug, title_ja, title_en, description_ja, description_en, source, licence, file_name, sha256, width,"
    " height, band_count, west, south, east, north, minzoom, maxzoom, updated_at"
)
# Constants only; values are bound parameters.
_INTERNAL = (
    "SELECT id, visibility, owner_department_id, source_crs, source_name, bytes,"  # noqa: S608
    + _COLUMNS
    + " FROM gis.raster WHERE deleted_at IS NULL AND visibility = ANY(:levels)"
)
_PUBLIC = "SELECT id, 'public' AS visibility," + _COLUMNS + " FROM pub.raster"  # noqa: S608
_LIST = text(_INTERNAL + " ORDER BY title_ja, id")
_ONE = text(_INTERNAL + " AND slug = :slug")
_PUB_LIST = text(_PUBLIC + " ORDER BY title_ja, id")
_PUB_ONE = text(_PUBLIC + " WHERE slug = :slug")
_ALL_LEVELS = [v.value for v in Visibility]


def list_rasters(conn: Connection, roles: Iterable[str] | None) -> list[Raster]:
    return [Raster(**r._mapping) for r in conn.execute(_LIST, {"levels": visible_levels(roles)})]


def get_raster(conn: Connection, slug: str, roles: Iterable[str] | None) -> Raster | None:
    row = conn.execute(_ONE, {"slug": slug, "levels": visible_levels(roles)}).first()
    return Raster(**row._mapping) if row else None


def _any_level(conn: Connection, slug: str) -> Raster | None:
    """Whatever its visibility (for the management calls, which have checked the caller already)."""
    row = conn.execute(_ONE, {"slug": slug, "levels": _ALL_LEVELS}).first()
    return Raster(**row._mapping) if row else None


def list_public_rasters(conn: Connection) -> list[Raster]:
    return [Raster(**r._mapping) for r in conn.execute(_PUB_LIST)]


def get_public_raster(conn: Connection, slug: str) -> Raster | None:
    row = conn.execute(_PUB_ONE, {"slug": slug}).first()
    return Raster(**row._mapping) if row else None


def file_path(directory: Path, raster: Raster) -> Path:
    # file_name is '<sha256>.tif' (a CHECK constraint): never a path a person chose.
    return directory / raster.file_name


# --- upload -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RasterSpec:
    slug: str
    title_ja: str
    title_en: str = ""
    visibility: str = Visibility.internal.value
    description_ja: str = ""
    description_en: str = ""
    source: str = ""
    licence: str = ""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = MAX_BYTES
    max_pixels_bytes: int = MAX_PIXELS_BYTES

    @classmethod
    def in_mib(cls, max_mb: int, max_pixels_mb: int) -> Limits:
        return cls(max_mb * MIB, max_pixels_mb * MIB)


def check_upload(conn: Connection, actor: Actor, spec: RasterSpec) -> None:
    """Who may upload, and what: checked before the file is read (and again when it is catalogued)."""
    if not may_create(actor) or actor.department_id is None:
        raise LayerForbidden(
            "ラスターを登録できるのは部署に所属する職員と管理者だけです。",
            "Only staff of a department (and administrators with one) may upload rasters.",
        )
    if spec.visibility not in (Visibility.internal, Visibility.restricted):
        # As for vector layers: publishing is its own, audited action, after the picture is checked.
        raise LayerInvalid(
            "新しいラスターは庁内または限定で登録し、確認後に公開してください。",
            "Upload a raster as internal or restricted, then publish it once checked.",
            field="visibility",
        )
    taken = conn.execute(
        text("SELECT 1 FROM gis.layer WHERE slug = :s UNION ALL SELECT 1 FROM gis.raster WHERE slug = :s"),
        {"s": spec.slug},
    ).first()
    if taken:  # one namespace of OGC collection ids; a deleted raster keeps its slug
        raise _slug_taken(spec.slug)


def _slug_taken(slug: str) -> LayerConflict:
    return LayerConflict(
        f"識別子 {slug} は既にレイヤーかラスターで使われています。",
        f"The id {slug} is already taken by a layer or a raster.",
        field="slug",
    )


@dataclass(frozen=True)
class Prepared:
    """A checked upload, written as a COG under the raster directory, not yet catalogued."""

    info: cog.RasterInfo
    sha256: str
    path: Path
    created: bool  # False: the same file was already there (another raster shares it)
    minzoom: int
    maxzoom: int


def prepare(path: Path, directory: Path, limits: Limits = Limits()) -> Prepared:
    """Check ``path`` and write its COG (no database: a large file converts without holding a
    connection). Raises RasterRejected with the reason; nothing is left behind then."""
    info = cog.inspect(path, max_bytes=limits.max_bytes, max_pixels_bytes=limits.max_pixels_bytes)
    sha, final, created = cog.to_cog(path, directory, info)
    try:
        minzoom, maxzoom = render.zoom_range(final)
    except BaseException:
        _forget(final, created)
        raise
    return Prepared(info, sha, final, created, minzoom, maxzoom)


def discard(prepared: Prepared) -> None:
    _forget(prepared.path, prepared.created)


def catalogue(conn: Connection, actor: Actor, spec: RasterSpec, prepared: Prepared, *, name: str) -> Raster:
    """The catalogue entry and its audit record, on ``conn`` (the caller's one transaction). On any
    failure the prepared file is removed (unless another raster shares it)."""
    info = prepared.info
    try:
        check_upload(conn, actor, spec)
        with conn.begin_nested():
            conn.execute(
                text(
                    """INSERT INTO gis.raster (slug, title_ja, title_en, description_ja, description_en, source,
                         licence, visibility, owner_department_id, file_name, sha256, bytes, source_name,
                         source_crs, width, height, band_count, dtype, west, south, east, north, minzoom,
                         maxzoom, created_by)
                       VALUES (:slug, :title_ja, :title_en, :description_ja, :description_en, :source,
                         :licence, :visibility, :dept, :file_name, :sha256, :bytes, :source_name,
                         :source_crs, :width, :height, :band_count, :dtype, :west, :south, :east, :north,
                         :minzoom, :maxzoom, :actor)"""
                ),
                {**spec.__dict__, "dept": actor.department_id, "file_name": prepared.path.name,
                 "sha256": prepared.sha256, "bytes": prepared.path.stat().st_size, "source_name": name[:200],
                 "source_crs": info.source_crs, "width": info.width, "height": info.height,
                 "band_count": info.band_count, "dtype": info.dtype, "west": info.bounds[0],
                 "south": info.bounds[1], "east": info.bounds[2], "north": info.bounds[3],
                 "minzoom": prepared.minzoom, "maxzoom": prepared.maxzoom, "actor": actor.username},
            )  # fmt: skip
    except IntegrityError as e:
        discard(prepared)
        if "raster_slug_key" in str(e.orig):
            raise _slug_taken(spec.slug) from e
        raise LayerInvalid(
            "識別子（英小文字・数字・-・_、63 文字以内）か題名（1〜200 文字）が正しくありません。",
            "The id (lowercase letters, digits, '-', '_', at most 63) or the title (1–200 characters) is"
            " not valid.",
            field="slug",
        ) from e
    except BaseException:
        discard(prepared)
        raise
    audit.record(conn, actor.username, "raster.upload", spec.slug, sha256=prepared.sha256,
                 source_name=name[:200], visibility=spec.visibility, crs=info.source_crs,
                 size=[info.width, info.height])  # fmt: skip
    raster = _any_level(conn, spec.slug)
    assert raster is not None
    return raster


def _forget(final: Path, created: bool) -> None:
    if created:  # a file another raster already had stays
        final.unlink(missing_ok=True)


def audit_refusal(conn: Connection, actor: Actor, slug: str, name: str, error: RasterRejected) -> None:
    audit.record(
        conn, actor.username, "raster.upload_rejected", slug, source_name=name[:200], reason=error.code
    )


# --- publish, withdraw, delete ------------------------------------------------------------------
def _managed(conn: Connection, actor: Actor, slug: str) -> Raster:
    raster = get_raster(conn, slug, actor.roles)
    if raster is None:
        raise LayerNotFound(slug)
    if not may_manage(actor, raster):  # type: ignore[arg-type]  # the layers' rule: owner department, admins
        raise LayerForbidden(
            "このラスターを管理（公開・削除）できるのは所管課の職員と管理者だけです。",
            "Only staff of the owner department and administrators may manage (publish, delete) this raster.",
        )
    return raster


def set_visibility(conn: Connection, actor: Actor, slug: str, visibility: str) -> Raster:
    """Publish (→ public) or withdraw (→ internal); a restricted raster stays restricted."""
    raster = _managed(conn, actor, slug)
    if raster.visibility == Visibility.restricted:
        raise LayerConflict(
            "限定のラスターは公開できません。", "A restricted raster cannot be published or withdrawn."
        )
    if raster.visibility != visibility:
        conn.execute(
            text("UPDATE gis.raster SET visibility = :v, updated_at = now() WHERE id = :id"),
            {"v": visibility, "id": raster.id},
        )
        action = "raster.publish" if visibility == Visibility.public else "raster.withdraw"
        audit.record(conn, actor.username, action, slug, before=raster.visibility, after=visibility)
    updated = _any_level(conn, slug)
    assert updated is not None
    return updated


def delete_raster(conn: Connection, actor: Actor, slug: str) -> None:
    """Soft delete: gone from every read (and from pub.raster) at once; the file stays."""
    raster = _managed(conn, actor, slug)
    conn.execute(
        text("UPDATE gis.raster SET deleted_at = now(), deleted_by = :by WHERE id = :id"),
        {"by": actor.username, "id": raster.id},
    )
    audit.record(conn, actor.username, "raster.delete", slug, sha256=raster.sha256)


def department_id(conn: Connection, code: str) -> int | None:
    """A department's id by its code (the CLI names the owner department)."""
    return conn.execute(text("SELECT id FROM core.department WHERE code = :c"), {"c": code}).scalar()
