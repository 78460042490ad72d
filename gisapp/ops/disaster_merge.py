"""Merging a disaster into another (災害の統合): a radio report auto-opened a disaster beside the real one.

In one transaction: every incident moves (a ``moved`` event each; dispatches, photos and citizen reports
hang on the incident and follow it), every shelter opening moves with its check-ins and presences — or,
where the surviving disaster opened the same shelter, the people inside transfer into that opening by
exit and entry events — needs and 要配慮者数 reports, evacuation orders and chronology rows move, the
households' evacuation status reports are copied; then the merged disaster is closed with
``merged_into``. The HQ totals of the survivor after = its totals before + the merged one's.

Refused: into itself, into or from a closed disaster, or when a household is checked in under both
(it would be in two shelters at once: check it out of one first).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops import hq_entry, shelter_close
from gisapp.ops.disaster_close import _move
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound

# Every table that refers to ops.disaster, and how a merge treats it (tests compare with the catalog).
HANDLED = {
    "ops.incident": "moved, each with an incident event",
    "ops.shelter_opening": "moved, or its people transferred into the survivor's opening of the shelter",
    "ops.shelter_need": "moved",
    "ops.shelter_care_count": "moved where the survivor has no report for the shelter",
    "ops.evac_order": "moved",
    "ops.hq_log": "moved",
    "ops.instruction": "moved, open or closed (a closed one changes nothing else)",
    "ops.disaster": "merged_into set on the merged one",
    "restricted.household_status": "copied (append-only, restricted)",
}


def _lock(conn: Connection, source: int, target: int) -> dict[int, dict]:
    rows = conn.execute(
        text("SELECT id, name, closed_at FROM ops.disaster WHERE id IN (:a, :b) ORDER BY id FOR UPDATE"),
        {"a": source, "b": target},
    )
    return {r.id: dict(r._mapping) for r in rows}


def _count(conn: Connection, sql: str, **params: object) -> int:
    return conn.execute(text(sql), params).scalar_one()


def merge_disasters(conn: Connection, source_id: int, target_id: int, actor: str) -> dict:
    if source_id == target_id:
        raise OpsInvalid(
            "同じ災害には統合できません。", "A disaster cannot be merged into itself.", field="into"
        )
    found = _lock(conn, source_id, target_id)
    if source_id not in found or target_id not in found:
        missing = source_id if source_id not in found else target_id
        raise OpsNotFound("災害が見つかりません。", "No such disaster.", disaster_id=missing)
    source, target = found[source_id], found[target_id]
    if target["closed_at"] is not None:
        raise OpsConflict(
            "統合先の災害はすでに終了しています。",
            "The disaster to merge into is closed.",
            reason="target_closed",
        )
    if source["closed_at"] is not None:
        raise OpsConflict(
            "この災害はすでに終了しています。", "This disaster is closed already.", reason="closed"
        )
    both = _count(
        conn,
        """SELECT count(*) FROM ops.checkin_presence a JOIN ops.checkin_presence b USING (household_id)
            WHERE a.disaster_id = :s AND b.disaster_id = :t""",
        s=source_id,
        t=target_id,
    )
    if both:
        raise OpsConflict(
            f"両方の災害で入所中の世帯が{both}あります。先にどちらかで退所を記録してください。",
            f"{both} households are checked in under both disasters: record their exit from one first.",
            reason="checked_in_twice",
            households=both,
        )
    moved: dict[str, int] = {}

    incidents = [
        dict(r._mapping)
        for r in conn.execute(
            text("SELECT id, title, version FROM ops.incident WHERE disaster_id = :s ORDER BY id FOR UPDATE"),
            {"s": source_id},
        )
    ]
    _move(conn, incidents, source, target, actor, f"災害の統合 / merged into disaster {target_id}")
    moved["incidents"] = len(incidents)

    people = openings = 0
    for o in conn.execute(
        text(
            """SELECT o.id, o.shelter_id, o.occupancy, o.closed_at, t.id AS target_opening
                 FROM ops.shelter_opening o
                 LEFT JOIN ops.shelter_opening t ON t.disaster_id = :t AND t.shelter_id = o.shelter_id
                WHERE o.disaster_id = :s ORDER BY o.id"""
        ),
        {"s": source_id, "t": target_id},
    ).all():
        if o.target_opening is None:  # the survivor never opened this shelter: the opening itself moves
            conn.execute(
                text("UPDATE ops.shelter_opening SET disaster_id = :t WHERE id = :o"),
                {"t": target_id, "o": o.id},
            )
            conn.execute(
                text("UPDATE ops.checkin_event SET disaster_id = :t WHERE opening_id = :o"),
                {"t": target_id, "o": o.id},
            )
            conn.execute(
                text("UPDATE ops.checkin_presence SET disaster_id = :t WHERE opening_id = :o"),
                {"t": target_id, "o": o.id},
            )
            openings += 1
            people += o.occupancy if o.closed_at is None else 0
            continue
        locked = shelter_close.lock_openings(conn, o.id, o.target_opening)
        src, dst = locked[o.id], locked[o.target_opening]
        if src.closed_at is not None:
            continue  # history of a shelter the survivor also opened: stays with the merged disaster
        if src.occupancy > 0:
            if dst.closed_at is not None:  # the survivor closed it: reopened to take the people in
                conn.execute(
                    text("UPDATE ops.shelter_opening SET closed_at = NULL, closed_by = NULL WHERE id = :o"),
                    {"o": dst.id},
                )
                dst = shelter_close.lock_openings(conn, dst.id)[dst.id]
            people += shelter_close.transfer(conn, src, dst, actor, "merged", f"統合 / merged {source_id}")[
                "persons"
            ]
        conn.execute(
            text("UPDATE ops.shelter_opening SET closed_at = now(), closed_by = :a WHERE id = :o"),
            {"a": actor, "o": src.id},
        )
    moved["shelter_openings"] = openings
    moved["people"] = people

    moved["needs"] = conn.execute(
        text("UPDATE ops.shelter_need SET disaster_id = :t WHERE disaster_id = :s"),
        {"s": source_id, "t": target_id},
    ).rowcount
    moved["care_reports"] = conn.execute(
        text(
            """UPDATE ops.shelter_care_count c SET disaster_id = :t WHERE c.disaster_id = :s
                 AND NOT EXISTS (SELECT 1 FROM ops.shelter_care_count x
                                  WHERE x.disaster_id = :t AND x.shelter_id = c.shelter_id)"""
        ),
        {"s": source_id, "t": target_id},
    ).rowcount
    moved["evac_orders"] = conn.execute(
        text("UPDATE ops.evac_order SET disaster_id = :t WHERE disaster_id = :s"),
        {"s": source_id, "t": target_id},
    ).rowcount
    moved["instructions"] = conn.execute(
        text("UPDATE ops.instruction SET disaster_id = :t WHERE disaster_id = :s"),
        {"s": source_id, "t": target_id},
    ).rowcount
    moved["log_entries"] = conn.execute(
        text("UPDATE ops.hq_log SET disaster_id = :t WHERE disaster_id = :s"),
        {"s": source_id, "t": target_id},
    ).rowcount
    moved["status_reports"] = conn.execute(
        text("SELECT restricted.copy_household_status(:s, :t)"), {"s": source_id, "t": target_id}
    ).scalar_one()

    conn.execute(
        text("UPDATE ops.disaster SET closed_at = now(), closed_by = :a, merged_into = :t WHERE id = :s"),
        {"a": actor, "t": target_id, "s": source_id},
    )
    hq_entry.write(
        conn, "disaster",
        f"災害「{source['name']}」を統合：事案 {moved['incidents']}件、避難所 {openings}か所、入所者 {people}名",
        f"Disaster {source['name']} merged in: {moved['incidents']} incidents, {openings} shelters,"
        f" {people} people",
        actor=actor, disaster_id=target_id, ref={"merged": source_id, **moved},
    )  # fmt: skip
    audit.record(conn, actor, "disaster.merge", str(source_id), into=target_id, **moved)
    return {"merged": source_id, "into": target_id, "moved": moved}
