"""クロノロジー (the HQ's chronology): the time-ordered record of what was reported, decided and
instructed, kept in ``ops.hq_log``.

Most entries are written by the database itself, in the transaction of what they record (migrations
0024 and 0028: issuances, suggestions, JMA telegrams, gauge alerts, incidents and their status,
dispatch, shelters, disasters, instructions); other parts of the day add theirs the same way. People
add free-text notes here — a note about an incident goes into the incident's own history
(``ops.incident_event`` kind ``note``) and the database logs it from there, so the incident page
and the chronology say the same thing.

Reading: filters (disaster, kinds, incident, department, time range, text in the summaries) with
keyset paging by id, newest first; the CSV (``chronology_csv``) reads oldest first, as a record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops import incidents
from gisapp.ops.disasters import current_disaster_id, get_disaster
from gisapp.ops.errors import OpsInvalid, OpsNotFound

# kind: (日本語, English) — the kinds ops.hq_log accepts (migration 0027).
KINDS: dict[str, tuple[str, str]] = {
    "evacuation": ("避難情報", "Evacuation"),
    "suggestion": ("提案", "Suggestion"),
    "jma": ("気象庁", "JMA"),
    "gauge_alert": ("観測", "Gauge"),
    "note": ("メモ", "Note"),
    "incident": ("事案", "Incident"),
    "dispatch": ("出動", "Dispatch"),
    "shelter": ("避難所", "Shelter"),
    "checkin": ("避難所運営", "Shelter operations"),
    "device": ("機器", "Device"),
    "unit": ("部隊", "Unit"),
    "geofence": ("区域出入", "Geofence"),
    "instruction": ("指示", "Instruction"),
    "handover": ("引継ぎ", "Handover"),
    "damage": ("被害", "Damage"),
    "disaster": ("災害", "Disaster"),
}
MAX_NOTE = 2000
MAX_PAGE = 500
MAX_QUERY = 100

COLUMNS = """l.id, l.at, l.kind, l.level, l.summary_ja, l.summary_en, l.ref, l.actor,
  coalesce(u.display_name, l.actor) AS actor_name, l.disaster_id, l.incident_id, l.shelter_id, l.unit_id,
  l.department_id, dp.name_ja AS department_ja, dp.name_en AS department_en, s.name AS shelter_name"""
FROM = """FROM ops.hq_log l
  LEFT JOIN core.app_user u ON u.username = l.actor
  LEFT JOIN core.department dp ON dp.id = l.department_id
  LEFT JOIN gis.shelter s ON s.id = l.shelter_id"""

# Every filter is a bound parameter; an absent one (NULL) matches everything.
_WHERE = """
 WHERE (CAST(:disaster AS int) IS NULL OR l.disaster_id = :disaster)
   AND (CAST(:kinds AS text[]) IS NULL OR l.kind = ANY(CAST(:kinds AS text[])))
   AND (CAST(:incident AS bigint) IS NULL OR l.incident_id = :incident)
   AND (CAST(:department AS int) IS NULL OR l.department_id = :department)
   AND (CAST(:since AS timestamptz) IS NULL OR l.at >= :since)
   AND (CAST(:until AS timestamptz) IS NULL OR l.at < :until)
   AND (CAST(:pattern AS text) IS NULL OR l.summary_ja ILIKE :pattern OR l.summary_en ILIKE :pattern)
   AND (CAST(:before AS bigint) IS NULL OR l.id < :before)
   AND (CAST(:after AS bigint) IS NULL OR l.id > :after)"""
_PAGE = text(f"SELECT {COLUMNS} {FROM} {_WHERE} ORDER BY l.id DESC LIMIT :limit")
_ALL = text(f"SELECT {COLUMNS} {FROM} {_WHERE} ORDER BY l.id LIMIT :limit")
_ONE = text(f"SELECT {COLUMNS} {FROM} WHERE l.id = :id")


@dataclass(frozen=True)
class Filters:
    disaster_id: int | None = None
    kinds: tuple[str, ...] = ()
    incident_id: int | None = None
    department_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""  # text in the Japanese or English summary

    def params(self) -> dict[str, Any]:
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise OpsInvalid(
                f"不明な種別です: {', '.join(k[:20] for k in unknown)}",
                f"Unknown kind: {', '.join(k[:20] for k in unknown)} (one of {', '.join(KINDS)}).",
                field="kind",
            )
        if self.since and self.until and self.since >= self.until:
            raise OpsInvalid(
                "開始日時は終了日時より前にしてください。", "'from' must be before 'to'.", field="from"
            )
        q = self.q.strip()
        if len(q) > MAX_QUERY:
            raise OpsInvalid(
                f"検索語は{MAX_QUERY}文字までです。",
                f"Search text: {MAX_QUERY} characters at most.",
                field="q",
            )
        return {
            "disaster": self.disaster_id,
            "kinds": list(self.kinds) or None,
            "incident": self.incident_id,
            "department": self.department_id,
            "since": self.since,
            "until": self.until,
            "pattern": like_pattern(q) if q else None,
        }


def like_pattern(q: str) -> str:
    """``%q%`` with the text's own ``%``, ``_`` and ``\\`` matched literally (ILIKE's default escape)."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def labelled(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["kind_ja"], out["kind_en"] = KINDS.get(out["kind"], (out["kind"], out["kind"]))
    return out


def entries(
    conn: Connection,
    filters: Filters,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Newest first. ``before``: the page below that id (keyset paging: the next page is
    ``before=<the last id shown>``); ``after``: only what was added since that id."""
    params = {**filters.params(), "before": before, "after": after, "limit": min(max(limit, 1), MAX_PAGE)}
    return [labelled(r) for r in conn.execute(_PAGE, params)]


def all_entries(conn: Connection, filters: Filters, limit: int) -> list[dict[str, Any]]:
    """Oldest first, up to ``limit`` (the export)."""
    params = {**filters.params(), "before": None, "after": None, "limit": limit}
    return [labelled(r) for r in conn.execute(_ALL, params)]


def get_entry(conn: Connection, entry_id: int) -> dict[str, Any]:
    row = conn.execute(_ONE, {"id": entry_id}).one_or_none()
    if row is None:
        raise OpsNotFound("記録が見つかりません。", "No such entry.", entry_id=entry_id)
    return labelled(row)


def check_text(body: str, what_ja: str = "記録", what_en: str = "A note") -> str:
    body = body.strip()
    if not 1 <= len(body) <= MAX_NOTE:
        raise OpsInvalid(
            f"{what_ja}は1〜{MAX_NOTE}文字で入力してください。",
            f"{what_en} needs 1 to {MAX_NOTE} characters.",
            field="text",
        )
    return body


def add_note(
    conn: Connection, body: str, actor: str, *, incident_id: int | None = None, disaster_id: int | None = None
) -> dict[str, Any]:
    """A person's note, in the current disaster (or the one given, or the incident's). A note about an
    incident goes into its history; the database writes the chronology entry from there."""
    body = check_text(body)
    if incident_id is not None:
        incident = incidents.get_incident(conn, incident_id)  # 404 first
        if disaster_id is not None and disaster_id != incident["disaster_id"]:
            raise OpsInvalid(
                "事案は指定された災害のものではありません。",
                "The incident belongs to another disaster.",
                field="incident_id",
            )
        event_id = incidents.add_note(conn, incident_id, body, actor)
        entry_id = conn.execute(
            text(
                "SELECT id FROM ops.hq_log WHERE incident_id = :i AND ref->>'incident_event_id' = CAST(:e AS text)"
            ),
            {"i": incident_id, "e": event_id},
        ).scalar_one()
    else:
        if disaster_id is not None:
            get_disaster(conn, disaster_id)  # 404, not a foreign-key error
        entry_id = conn.execute(
            text(
                """INSERT INTO ops.hq_log (kind, summary_ja, summary_en, actor, disaster_id, department_id)
                   VALUES ('note', :b, :b, :a, :d, (SELECT department_id FROM core.app_user WHERE username = :a))
                   RETURNING id"""
            ),
            {
                "b": body,
                "a": actor,
                "d": disaster_id if disaster_id is not None else current_disaster_id(conn),
            },
        ).scalar_one()
    audit.record(conn, actor, "chronology.note", str(entry_id), incident_id=incident_id)
    return get_entry(conn, entry_id)


def add_handover(conn: Connection, body: str, actor: str, since: datetime | None = None) -> dict[str, Any]:
    """引継ぎ: what the outgoing operator wants the incoming one to read first."""
    body = check_text(body, "引継ぎ事項", "A handover note")
    entry_id = conn.execute(
        text(
            """INSERT INTO ops.hq_log (kind, summary_ja, summary_en, ref, actor, disaster_id, department_id)
               VALUES ('handover', :b, :b,
                       CASE WHEN CAST(:since AS timestamptz) IS NULL THEN '{}'::jsonb
                            ELSE jsonb_build_object('since', CAST(:since AS timestamptz)) END,
                       :a, :d, (SELECT department_id FROM core.app_user WHERE username = :a))
               RETURNING id"""
        ),
        {"b": body, "a": actor, "d": current_disaster_id(conn), "since": since},
    ).scalar_one()
    audit.record(conn, actor, "chronology.handover", str(entry_id))
    return get_entry(conn, entry_id)
