"""Closing a disaster (災害の終了) only when nothing is left behind, and moving incidents between
disasters (issue 14, Wrong 3).

A disaster with open incidents (未対応 / 対応中) is not closed: they are resolved first, or moved to
another open disaster (``incidents_to``, or one by one with ``move_incident``). Its open shelters are
not closed silently either: the request must choose (``shelters``): ``close_empty`` closes those with
nobody inside; ``checkout`` also checks out everyone still inside, with ``reason`` (their exit events
recorded). A refusal (409) lists everything in the way at once, so the screen can show it in one dialog.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops import hq_entry, shelter_close
from gisapp.ops.disasters import get_disaster
from gisapp.ops.errors import OpsConflict, OpsInvalid
from gisapp.ops.incidents import STATUSES, _append_event, get_incident

OPEN_STATUSES = ("unhandled", "in_progress")  # 未対応, 対応中
Shelters = Literal["close_empty", "checkout"]
_COLUMNS = "id, name, opened_at, opened_by, closed_at, closed_by, merged_into"


def open_incidents(conn: Connection, disaster_id: int) -> list[dict]:
    rows = conn.execute(
        text(
            """SELECT id, title, status, category, version FROM ops.incident
                WHERE disaster_id = :d AND status IN ('unhandled', 'in_progress') ORDER BY id"""
        ),
        {"d": disaster_id},
    )
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["status_ja"], item["status_en"] = STATUSES[item["status"]]
        out.append(item)
    return out


def open_shelters(conn: Connection, disaster_id: int) -> list[dict]:
    rows = conn.execute(
        text(
            """SELECT o.shelter_id, s.name, o.occupancy,
                      (SELECT count(*) FROM ops.checkin_presence p WHERE p.opening_id = o.id) AS households
                 FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id
                WHERE o.disaster_id = :d AND o.closed_at IS NULL ORDER BY s.code, s.id"""
        ),
        {"d": disaster_id},
    )
    return [dict(r._mapping) for r in rows]


def close_check(conn: Connection, disaster_id: int) -> dict:
    """What stands in the way of closing the disaster now."""
    disaster = get_disaster(conn, disaster_id)
    return {
        "disaster_id": disaster_id,
        "closed": disaster["closed_at"] is not None,
        "open_incidents": open_incidents(conn, disaster_id),
        "open_shelters": open_shelters(conn, disaster_id),
    }


def _target(conn: Connection, disaster_id: int, *, field: str) -> dict:
    target = get_disaster(conn, disaster_id)
    if target["closed_at"] is not None:
        raise OpsConflict(
            "移動先の災害はすでに終了しています。", "The disaster to move to is closed.", field=field,
            reason="target_closed",
        )  # fmt: skip
    return target


def move_incident(
    conn: Connection, incident_id: int, to_disaster: int, actor: str, *,
    expected_version: int | None = None, note: str = "",
) -> dict:  # fmt: skip
    """Move one incident (with its events, dispatches and photos, which hang on it) to another open
    disaster: a ``moved`` incident event, an audit record and a chronology row (kind ``disaster``)."""
    note = note.strip()
    if len(note) > 2000:
        raise OpsInvalid("メモは2000文字までです。", "Note: 2000 characters max.", field="note")
    current = get_incident(conn, incident_id, for_update=True)
    if expected_version is not None and current["version"] != expected_version:
        raise OpsConflict(
            "他の担当者が先に更新しました。最新の内容を確認してください。",
            "Someone else changed this incident first; check the current state.",
            current={"id": incident_id, "version": current["version"], "disaster_id": current["disaster_id"]},
        )
    if current["disaster_id"] == to_disaster:
        raise OpsInvalid(
            "この事案はすでにその災害に属しています。", "The incident belongs to that disaster already.",
            field="disaster_id",
        )  # fmt: skip
    target = _target(conn, to_disaster, field="disaster_id")
    source = get_disaster(conn, current["disaster_id"])
    _move(conn, [current], source, target, actor, note)
    return get_incident(conn, incident_id)


def _move(conn: Connection, incidents: list[dict], source: dict, target: dict, actor: str, note: str) -> None:
    for incident in incidents:
        conn.execute(
            text(
                "UPDATE ops.incident SET disaster_id = :d, version = version + 1, updated_at = now() WHERE id = :id"
            ),
            {"d": target["id"], "id": incident["id"]},
        )
        _append_event(
            conn, incident["id"], actor, "moved", incident["version"] + 1, note=note,
            data={"from_disaster": source["id"], "to_disaster": target["id"]},
        )  # fmt: skip
        hq_entry.write(
            conn, "disaster",
            f"事案#{incident['id']}「{incident['title']}」を災害「{source['name']}」から移動",
            f"Incident #{incident['id']} ({incident['title']}) moved here from disaster {source['name']}",
            actor=actor, disaster_id=target["id"], incident_id=incident["id"],
            ref={"from_disaster": source["id"], "to_disaster": target["id"]},
        )  # fmt: skip
        audit.record(
            conn,
            actor,
            "incident.move",
            str(incident["id"]),
            from_disaster=source["id"],
            to_disaster=target["id"],
        )


def close_disaster(
    conn: Connection, disaster_id: int, actor: str, *,
    incidents_to: int | None = None, shelters: Shelters | None = None, reason: str = "",
) -> dict:  # fmt: skip
    disaster = conn.execute(
        text(f"SELECT {_COLUMNS} FROM ops.disaster WHERE id = :id FOR UPDATE"),  # noqa: S608 - constant columns
        {"id": disaster_id},
    ).one_or_none()
    if disaster is None:
        get_disaster(conn, disaster_id)  # 404
    if disaster.closed_at is not None:
        raise OpsInvalid("この災害はすでに閉じています。", "This disaster is closed already.")
    if incidents_to == disaster_id:
        raise OpsInvalid(
            "移動先には別の災害を選んでください。", "Choose another disaster.", field="incidents_to"
        )
    incidents = open_incidents(conn, disaster_id)
    if incidents and incidents_to is not None:
        target = _target(conn, incidents_to, field="incidents_to")
        _move(
            conn, incidents, dict(disaster._mapping), target, actor, "災害の終了に伴う移動 / moved at closing"
        )
        incidents = []
    sheltered = open_shelters(conn, disaster_id)
    occupied = [s for s in sheltered if s["occupancy"] > 0]
    blocked_shelters = sheltered if shelters is None else (occupied if shelters == "close_empty" else [])
    reason = reason.strip()
    if shelters == "checkout" and occupied and not 1 <= len(reason) <= 200:
        raise OpsInvalid(
            "退所の理由を1〜200文字で入力してください。", "Give the reason for the check-out (1 to 200 characters).",
            field="reason",
        )  # fmt: skip
    if incidents or blocked_shelters:
        people = sum(s["occupancy"] for s in blocked_shelters)
        raise OpsConflict(
            f"未対応・対応中の事案が{len(incidents)}件、開設中の避難所が{len(blocked_shelters)}か所（入所 {people}名）"
            "あります。事案を対応済にするか別の災害へ移し、避難所の扱いを選んでから終了してください。",
            f"{len(incidents)} open incidents and {len(blocked_shelters)} open shelters ({people} people inside)"
            " remain. Resolve the incidents or move them to another disaster, and choose what happens to the"
            " shelters, before closing.",
            reason="disaster_not_clear",
            open_incidents=[
                {k: i[k] for k in ("id", "title", "status", "status_ja", "status_en")} for i in incidents
            ],
            open_shelters=blocked_shelters,
        )
    for s in sheltered:
        choice = "checkout" if s["occupancy"] > 0 else None
        shelter_close.close_shelter(conn, disaster_id, s["shelter_id"], actor, people=choice, reason=reason)
    row = conn.execute(
        text(
            f"UPDATE ops.disaster SET closed_at = now(), closed_by = :a WHERE id = :id RETURNING {_COLUMNS}"  # noqa: S608 - constant columns
        ),
        {"a": actor, "id": disaster_id},
    ).one()
    audit.record(conn, actor, "disaster.close", str(disaster_id), shelters_closed=len(sheltered))
    return dict(row._mapping)
