"""Reading dead letters (what the ingest worker refused) for the HQ/admin screen and /healthz, and
marking them as reviewed. The worker writes them (ingest/store.py); nothing here changes a letter but
its review mark.

A payload may hold a radio unit's position: callers show these to the roles that see the HQ map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from common import audit
from common.errors import InvalidInput
from sensors.topics import DEVICE_ID_RE

# Reason codes the worker writes (docs/mqtt.md); a filter may name any of them.
REASON_CODES = (
    "invalid_json",
    "invalid_payload",
    "invalid_timestamp",
    "unsupported_type",
    "payload_too_large",
    "empty",
    "unknown_device",
    "unknown_topic",
    "unknown_category",  # before issue 14 (now filed as その他): old letters still carry it
    "wrong_kind",
    "retained",
    "db_rejected",
)
REASON_RE = re.compile(r"^[a-z_]{1,40}$")
MAX_LIST = 500
PREVIEW_CHARS = 300  # of the stored payload text, in a list; the stored payload is at most 4 KiB


@dataclass(frozen=True)
class Filters:
    device: str | None = None
    reason: str | None = None
    unreviewed: bool = False
    before_id: int | None = None  # the next page: letters older than this one
    limit: int = 100


class DeadLetterInvalid(InvalidInput):
    """A filter or review request no letter can match (422 with the field it names)."""

    def __init__(self, field: str, ja: str, en: str) -> None:
        super().__init__(ja, en, field=field)


def check_filters(f: Filters) -> Filters:
    """Refuse values no letter can match, with the reason."""
    if f.device is not None and not DEVICE_ID_RE.match(f.device):
        raise DeadLetterInvalid("device", "機器 ID の形式が正しくありません。", "Not a device id.")
    if f.reason is not None and not REASON_RE.match(f.reason):
        raise DeadLetterInvalid("reason", "理由コードの形式が正しくありません。", "Not a reason code.")
    if not 1 <= f.limit <= MAX_LIST:
        raise DeadLetterInvalid("limit", f"件数は 1〜{MAX_LIST} です。", f"limit must be 1 to {MAX_LIST}.")
    return f


_LIST = text(
    """SELECT id, received_at, topic,
              CASE WHEN topic LIKE 'gisapp/v1/%' THEN nullif(split_part(topic, '/', 4), '') END AS device_id,
              reason_code, reason, payload_size, encode(payload_sha256, 'hex') AS payload_sha256,
              payload, reviewed_at, reviewed_by
         FROM ingest.dead_letter
        WHERE (CAST(:device AS text) IS NULL
               OR (topic LIKE 'gisapp/v1/%' AND split_part(topic, '/', 4) = CAST(:device AS text)))
          AND (CAST(:reason AS text) IS NULL OR reason_code = CAST(:reason AS text))
          AND (NOT :unreviewed OR reviewed_at IS NULL)
          AND (CAST(:before_id AS bigint) IS NULL OR id < CAST(:before_id AS bigint))
        ORDER BY id DESC
        LIMIT :limit"""
)


def recent(conn: Connection, filters: Filters, *, preview: int | None = None) -> list[dict[str, Any]]:
    """The newest dead letters first. ``payload_text``: the stored bytes as UTF-8 (undecodable bytes
    replaced), cut to ``preview`` characters when given; ``truncated`` says whether anything is left
    out (the store keeps 4 KiB of each payload)."""
    f = check_filters(filters)
    rows = conn.execute(
        _LIST,
        {
            "device": f.device,
            "reason": f.reason,
            "unreviewed": f.unreviewed,
            "before_id": f.before_id,
            "limit": f.limit,
        },
    ).mappings()
    out = []
    for r in rows:
        stored = bytes(r["payload"])
        payload_text = stored.decode("utf-8", errors="replace")
        cut = preview is not None and len(payload_text) > preview
        out.append(
            {
                **{k: v for k, v in r.items() if k != "payload"},
                "payload_text": payload_text[:preview] if cut else payload_text,
                "truncated": cut or len(stored) < r["payload_size"],
            }
        )
    return out


_COUNTS = text(
    """SELECT reason_code,
              count(*) FILTER (WHERE received_at > now() - interval '1 hour') AS last_hour,
              count(*) AS last_24h,
              count(*) FILTER (WHERE reviewed_at IS NULL) AS unreviewed_24h
         FROM ingest.dead_letter
        WHERE received_at > now() - interval '24 hours'
        GROUP BY reason_code
        ORDER BY last_24h DESC, reason_code"""
)


def counts_by_reason(conn: Connection) -> list[dict[str, Any]]:
    """Per reason code: letters in the last hour, in the last 24 hours, and not yet reviewed (24 h)."""
    return [dict(r) for r in conn.execute(_COUNTS).mappings()]


_LAST_HOUR = text(
    """SELECT count(*) AS total, count(*) FILTER (WHERE reviewed_at IS NULL) AS unreviewed
         FROM ingest.dead_letter WHERE received_at > now() - interval '1 hour'"""
)


def last_hour(conn: Connection) -> tuple[int, int]:
    """(all, not yet reviewed) dead letters received in the last hour: for /healthz."""
    row = conn.execute(_LAST_HOUR).one()
    return row.total, row.unreviewed


_REVIEW = text(
    """UPDATE ingest.dead_letter SET reviewed_at = now(), reviewed_by = :by
        WHERE id = ANY(CAST(:ids AS bigint[])) AND reviewed_at IS NULL
       RETURNING id"""
)
MAX_REVIEW = 1000


def mark_reviewed(conn: Connection, ids: list[int], by: str) -> list[int]:
    """Mark letters as reviewed by ``by`` (once: an already reviewed one keeps its first mark).
    Returns the ids this call marked; audited in the caller's transaction, which commits."""
    if not ids:
        return []
    if any(not 1 <= i < 2**63 for i in ids):
        raise DeadLetterInvalid("ids", "ID が範囲外です。", "An id is out of range.")
    if len(ids) > MAX_REVIEW:
        raise DeadLetterInvalid(
            "ids", f"一度に確認済みにできるのは {MAX_REVIEW} 件までです。", f"At most {MAX_REVIEW} at a time."
        )
    marked = sorted(r.id for r in conn.execute(_REVIEW, {"ids": sorted(set(ids)), "by": by[:200]}))
    audit.record(conn, by, "dead_letter.review", "", count=len(marked), ids=marked[:100])
    return marked


def as_json(letter: dict[str, Any]) -> dict[str, Any]:
    """A letter with its times as ISO 8601 strings."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in letter.items()}
