"""Staging and upsert in the caller's transaction, and the record of every import run.

The rows travel as one JSON array, expanded by ``jsonb_to_recordset`` (our database role may not
create temporary tables), and are merged with INSERT … ON CONFLICT on the kind's natural key, so a
re-import updates rows in place (ids stay). ``replace`` also deletes the layer's rows whose key is
not in the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, TextClause, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import bindparam

from layers.catalog import KINDS
from layers.importers.mapping import KEY_COLUMN, ROWS, SUITS

# SQL types of the staged columns (geometry travels as hex EWKB text).
TYPES = {"capacity": "int", "is_designated_shelter": "boolean", **dict.fromkeys(SUITS, "boolean"),
         "width_m": "numeric", "diameter_mm": "int", "laid_year": "int", "attributes": "jsonb",
         "properties": "jsonb"}  # fmt: skip
# Kinds whose 延長 (length) is measured by PostGIS on the geography, never taken from the file.
MEASURED = ("road_segment", "sewer_pipe")


@dataclass(frozen=True)
class Counts:
    read: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int

    def as_json(self) -> dict[str, int]:
        return dict(self.__dict__)


def _statements(kind: str) -> dict[str, TextClause]:
    # Identifiers come only from our constants (KINDS, mapping.ROWS); every value is bound.
    table, key = KINDS[kind].table, KEY_COLUMN[kind]
    columns = ROWS[kind][1]
    staged = ", ".join(f"{c} {TYPES.get(c, 'text')}" for c in (*columns, "geom"))
    targets = ", ".join((*columns, "geom", *(("length_m",) if kind in MEASURED else ())))
    geom = "s.geom::geometry"
    if kind == "generic":  # single geometries promoted to Multi when the layer mixes both (geometry_type.py)
        geom = f"CASE WHEN CAST(:promote AS boolean) THEN ST_Multi({geom}) ELSE {geom} END"
    values = ", ".join(f"s.{c}" for c in columns) + f", {geom}"
    if kind in MEASURED:
        values += ", round(ST_Length(s.geom::geometry::geography)::numeric, 1)"
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in targets.split(", ") if c != key)
    changed = " OR ".join(f"t.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in columns if c != key)
    upsert = (
        f"INSERT INTO {table} AS t (layer_id, {targets})"  # noqa: S608
        f" SELECT :layer_id, {values} FROM jsonb_to_recordset(:rows) AS s({staged})"
        f" ON CONFLICT (layer_id, {key}) DO UPDATE SET {updates}"
        f" WHERE {changed} OR ST_AsBinary(t.geom) <> ST_AsBinary(EXCLUDED.geom)"
        " RETURNING (xmax = 0) AS inserted"
    )
    delete = (
        f"DELETE FROM {table} t WHERE t.layer_id = :layer_id AND (t.{key} IS NULL OR t.{key} <> ALL(:keys))"  # noqa: S608
    )
    return {
        "upsert": text(upsert).bindparams(bindparam("rows", type_=JSONB)),
        "delete": text(delete),
    }


SQL = {kind: _statements(kind) for kind in ROWS}


def upsert(conn: Connection, kind: str, layer_id: int, columns: tuple[str, ...], rows: list[tuple],
           *, replace: bool, promote: bool = False) -> Counts:  # fmt: skip
    sql = SQL[kind]
    staged = [dict(zip(columns, row, strict=True)) for row in rows]
    params = {"layer_id": layer_id, "rows": staged}
    if kind == "generic":
        params["promote"] = promote
    flags = conn.execute(sql["upsert"], params).scalars().all()
    deleted = 0
    if replace:
        key = columns.index(KEY_COLUMN[kind])
        deleted = conn.execute(sql["delete"], {"layer_id": layer_id, "keys": [r[key] for r in rows]}).rowcount
    inserted = sum(1 for f in flags if f)
    updated = len(flags) - inserted
    return Counts(len(rows), inserted, updated, len(rows) - inserted - updated, deleted)


_RUN: TextClause = text(
    """INSERT INTO gis.import_run (layer_id, source_name, source_sha256, source_bytes, format, mode,
         source_crs, encoding, actor, started_at, status, counts, repaired, rejected, notes)
       VALUES (:layer_id, :source_name, :source_sha256, :source_bytes, :format, :mode, :source_crs,
         :encoding, :actor, :started_at, :status, :counts, :repaired, :rejected, :notes)
       RETURNING id"""
).bindparams(*(bindparam(n, type_=JSONB) for n in ("counts", "repaired", "rejected", "notes")))


def record_run(conn: Connection, **values) -> int:
    return conn.execute(_RUN, values).scalar_one()


def set_source_crs(conn: Connection, layer_id: int, crs: str) -> None:
    conn.execute(
        text("UPDATE gis.layer SET source_crs = :crs WHERE id = :id AND source_crs IS DISTINCT FROM :crs"),
        {"crs": crs, "id": layer_id},
    )
