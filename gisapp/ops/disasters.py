"""Disasters (災害): HQ activation opens one; incidents belong to one. Closing (only when nothing is left
behind) is gisapp/ops/disaster_close.py, merging one into another gisapp/ops/disaster_merge.py."""

from __future__ import annotations

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops.errors import OpsInvalid, OpsNotFound

_COLUMNS = "id, name, opened_at, opened_by, closed_at, closed_by, merged_into"


def open_disaster(conn: Connection, name: str, actor: str) -> dict:
    name = name.strip()
    if not 1 <= len(name) <= 200:
        raise OpsInvalid(
            "災害名は1〜200文字で指定してください。", "A disaster name needs 1 to 200 characters."
        )
    row = conn.execute(
        text(f"INSERT INTO ops.disaster (name, opened_by) VALUES (:n, :a) RETURNING {_COLUMNS}"),  # noqa: S608 - constant columns
        {"n": name, "a": actor},
    ).one()
    audit.record(conn, actor, "disaster.open", str(row.id), name=name)
    return dict(row._mapping)


def get_disaster(conn: Connection, disaster_id: int) -> dict:
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM ops.disaster WHERE id = :id"),  # noqa: S608 - constant columns
        {"id": disaster_id},
    ).one_or_none()
    if row is None:
        raise OpsNotFound("災害が見つかりません。", "No such disaster.", disaster_id=disaster_id)
    return dict(row._mapping)


def list_disasters(conn: Connection) -> list[dict]:
    rows = conn.execute(
        text(f"SELECT {_COLUMNS} FROM ops.disaster ORDER BY closed_at IS NULL DESC, opened_at DESC")  # noqa: S608 - constant columns
    )
    return [dict(r._mapping) for r in rows]


def current_disaster_id(conn: Connection) -> int | None:
    """The most recently opened disaster that is still open."""
    return conn.execute(
        text("SELECT id FROM ops.disaster WHERE closed_at IS NULL ORDER BY opened_at DESC, id DESC LIMIT 1")
    ).scalar()
