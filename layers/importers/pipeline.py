"""Import one file into one layer: read → validate → reproject → repair-or-reject → stage → upsert.

All or nothing: any refused row refuses the file, and the store step runs in a savepoint that is
rolled back on any failure. Every run, succeeded or refused, is recorded in ``gis.import_run`` on the
caller's connection; the caller commits (and writes the audit log).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shapely.errors import GEOSException
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from layers.importers import geometry_type
from layers.importers import read as readers
from layers.importers.csv_read import read_csv
from layers.importers.errors import ImportRejected, Problem, rows_rejected
from layers.importers.geometry import prepare
from layers.importers.mapping import HAZARD_TYPES, ROWS, Context, map_rows
from layers.importers.osm import read_osm
from layers.importers.store import record_run, set_source_crs, upsert

MODES = ("upsert", "replace")
STAGES = ("read", "validate", "store")
READERS: dict[str, Callable[[Path], readers.Source]] = {
    "geojson": readers.read_geojson,
    "shapefile": readers.read_shapefile,
    "gpkg": readers.read_gpkg,
    "citygml": readers.read_citygml,
    "shelter_csv": read_csv,
    "osm": read_osm,
}
# The kind a new layer gets from what the file is (CLI --create).
KIND_OF_FORMAT = {"shelter_csv": "shelter", "citygml": "hazard_area", "osm": "road_segment"}
GEOMETRY_OF_KIND = {"shelter": "Point", "hazard_area": "MultiPolygon", "road_segment": "MultiLineString",
                    "sewer_pipe": "MultiLineString"}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """The layer being imported into (already checked: the caller may write to it)."""

    id: int
    slug: str
    kind: str
    geometry_type: str


@dataclass
class ImportResult:
    run_id: int
    layer: str
    format: str
    mode: str
    source_crs: str
    encoding: str | None
    counts: dict[str, int]
    repaired: list[dict] = field(default_factory=list)
    notes: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict:
        return dict(self.__dict__)


def get_target(conn: Connection, slug: str) -> Target | None:
    row = conn.execute(
        text("SELECT id, slug, kind, geometry_type FROM gis.layer WHERE slug = :s AND deleted_at IS NULL"),
        {"s": slug},
    ).first()
    return Target(**row._mapping) if row else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_options(target: Target, fmt: str | None, mode: str, hazard_type: str | None) -> None:
    if target.kind not in ROWS:
        raise ImportRejected(
            f"この種類のレイヤー（{target.kind}）には取り込めません。",
            f"Layers of kind {target.kind} cannot be imported into.",
            code="unsupported_kind",
        )
    if mode not in MODES:
        raise ImportRejected(f"mode は upsert か replace です（{mode}）", f"mode must be upsert or replace ({mode})",
                             code="invalid_option")  # fmt: skip
    if hazard_type is not None and hazard_type not in HAZARD_TYPES:
        raise ImportRejected(f"hazard_type が不正です（{hazard_type}）", f"unknown hazard_type ({hazard_type})",
                             code="invalid_option")  # fmt: skip


def import_file(
    conn: Connection,
    target: Target,
    path: Path,
    *,
    name: str | None = None,
    fmt: str | None = None,
    mode: str = "upsert",
    actor: str,
    hazard_type: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import ``path`` (shown to people as ``name``) into ``target``; raises ImportRejected, with the
    refused run already recorded on ``conn``, when nothing was stored."""
    name = name or path.name
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    step = progress or (lambda stage: None)
    run = {"layer_id": target.id, "source_name": name, "source_sha256": "0" * 64, "source_bytes": 0,
           "format": fmt or "", "mode": mode, "source_crs": None, "encoding": None, "actor": actor,
           "started_at": started, "notes": []}  # fmt: skip
    try:
        _check_options(target, fmt, mode, hazard_type)
        run["source_bytes"] = readers.check_size(path)  # before anything is read
        run["format"] = fmt = readers.detect_format(name, fmt)
        run["source_sha256"] = _sha256(path)
        try:
            source = READERS[fmt](path)
        except (ValueError, OSError, GEOSException) as e:  # a file that parses but makes no sense
            raise readers.unreadable(f"{type(e).__name__}: {e}") from e
        run.update(source_crs=source.crs, encoding=source.encoding)
        step("read")
        prepared = prepare(source)
        ctx = Context(target.kind, target.geometry_type, source.layout, name, hazard_type)
        mapped = map_rows(prepared.frame, ctx)
        notes = run["notes"] = source.notes + prepared.notes
        rejected = source.rejected + prepared.rejected + mapped.rejected
        if rejected:
            raise rows_rejected(rejected)
        if not mapped.rows:
            raise ImportRejected(
                "ファイルに地物がありません。", "The file has no features.", code="no_features"
            )
        layer_plan = None
        if target.kind == "generic":  # one geometry type per layer (layers/importers/geometry_type.py)
            file_types = Counter(prepared.frame.geometry.geom_type.loc[mapped.numbers])
            layer_plan = geometry_type.plan(
                conn, target.id, target.geometry_type, file_types, replace=mode == "replace"
            )
        step("validate")
        keys = dict(zip(mapped.numbers, mapped.keys, strict=True))
        repaired = [
            Problem(p.row, p.reason_ja, p.reason_en, keys.get(p.row)).as_json() for p in prepared.repaired
        ]
        try:
            with conn.begin_nested():
                counts = upsert(
                    conn, target.kind, target.id, mapped.columns, mapped.rows, replace=mode == "replace",
                    promote=bool(layer_plan and layer_plan.promote),
                )  # fmt: skip
                if layer_plan:
                    geometry_type.apply(conn, target.id, layer_plan)
                set_source_crs(conn, target.id, source.crs)
        except DBAPIError as e:
            detail = str(e.orig).splitlines()[0] if e.orig else str(e)
            raise ImportRejected(f"データベースが取り込みを拒否しました: {detail}",
                                 f"The database refused the import: {detail}", code="store_failed") from e  # fmt: skip
        step("store")
    except ImportRejected as e:
        refused = [p.as_json() for p in e.rejected] or [{"row": 0, "reason_ja": e.ja, "reason_en": e.en}]
        e.run_id = record_run(conn, **run, status="rejected", counts={}, repaired=[], rejected=refused)
        raise
    run_id = record_run(
        conn, **run, status="succeeded", counts=counts.as_json(), repaired=repaired, rejected=[]
    )
    return ImportResult(run_id, target.slug, fmt, mode, source.crs, source.encoding, counts.as_json(), repaired,
                        notes, round(time.perf_counter() - clock, 3))  # fmt: skip
