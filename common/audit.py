"""The append-only audit log (the table refuses UPDATE, DELETE and TRUNCATE)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import bindparam

_INSERT = text(
    "INSERT INTO audit.log (actor, action, target, details) VALUES (:actor, :action, :target, :details)"
).bindparams(bindparam("details", type_=JSONB))


def record(conn: Connection, actor: str, action: str, target: str = "", **details: Any) -> None:
    conn.execute(_INSERT, {"actor": actor, "action": action, "target": target, "details": details})
