"""One chronology row (ops.hq_log) written by a domain call, in the caller's transaction: the shelter
operations (needs, 要配慮者数, people moved or checked out at a closing) and disaster moves and merges."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text


def write(
    conn: Connection,
    kind: str,
    summary_ja: str,
    summary_en: str,
    *,
    actor: str,
    disaster_id: int | None,
    shelter_id: int | None = None,
    incident_id: int | None = None,
    ref: dict[str, Any] | None = None,
) -> int:
    return conn.execute(
        text(
            """INSERT INTO ops.hq_log (kind, summary_ja, summary_en, ref, actor, disaster_id, shelter_id, incident_id)
               VALUES (:k, :ja, :en, CAST(:ref AS jsonb), :a, :d, :s, :i) RETURNING id"""
        ),
        {
            "k": kind,
            "ja": summary_ja[:2000],
            "en": summary_en[:2000],
            "ref": json.dumps(ref or {}, ensure_ascii=False, default=str),
            "a": actor,
            "d": disaster_id,
            "s": shelter_id,
            "i": incident_id,
        },
    ).scalar_one()
