"""Dispatch (出動): radio units assigned to incidents, dispatched → on scene → cleared.

No unit is ever dispatched twice: the database holds at most one assignment per unit that is not
cleared (a unique partial index), so two operators pressing "dispatch" at once cannot both win,
whatever the application does. The loser learns which incident holds the unit.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from gisapp import audit
from gisapp.ops import incidents
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound

ASSIGNMENT_STATES = {  # state: (日本語, English)
    "dispatched": ("出動中", "Dispatched"),
    "on_scene": ("現着", "On scene"),
    "cleared": ("解除", "Cleared"),
}
NEXT_STATES = {
    "dispatched": frozenset({"on_scene", "cleared"}),
    "on_scene": frozenset({"cleared"}),
    "cleared": frozenset(),
}
ACTIVE_CONSTRAINT = "assignment_one_active_per_unit"


def dispatch(conn: Connection, incident_id: int, unit_id: str, actor: str, note: str = "") -> dict:
    """Assign `unit_id` to the incident. OpsConflict (naming the holding incident) when the unit is
    already on an assignment that is not cleared."""
    incident = incidents.get_incident(conn, incident_id, for_update=True)
    if incident["status"] in ("done", "cancelled"):
        raise OpsInvalid(
            "対応済・取消の事案には出動できません。",
            "Cannot dispatch to an incident that is done or cancelled.",
            status=incident["status"],
        )
    unit = conn.execute(
        text("SELECT kind, enabled FROM sensor.device WHERE id = :u"), {"u": unit_id}
    ).one_or_none()
    if unit is None or unit.kind != "radio_unit" or not unit.enabled:
        raise OpsInvalid("出動できる無線機ではありません。", "Not an enabled radio unit.", unit_id=unit_id)
    try:
        with conn.begin_nested():  # the savepoint keeps the transaction usable to name the holder
            assignment_id = conn.execute(
                text(
                    """INSERT INTO ops.assignment (incident_id, unit_id, dispatched_by)
                       VALUES (:i, :u, :a) RETURNING id"""
                ),
                {"i": incident_id, "u": unit_id, "a": actor},
            ).scalar_one()
    except IntegrityError as e:
        if ACTIVE_CONSTRAINT not in str(e.orig):
            raise
        holder = conn.execute(
            text(
                """SELECT a.id, a.incident_id, i.title FROM ops.assignment a JOIN ops.incident i ON i.id = a.incident_id
                    WHERE a.unit_id = :u AND a.state <> 'cleared'"""
            ),
            {"u": unit_id},
        ).one_or_none()
        held_by = holder.incident_id if holder else None
        raise OpsConflict(
            f"{unit_id} は事案 {held_by} に出動中です。",
            f"{unit_id} is already assigned to incident {held_by}.",
            unit_id=unit_id,
            incident_id=held_by,
            assignment_id=holder.id if holder else None,
        ) from e
    incidents.bump_status_on_dispatch(conn, incident, actor)
    incidents.record_event(
        conn,
        incidents.get_incident(conn, incident_id),
        actor,
        "dispatch",
        note,
        unit_id=unit_id,
        assignment_id=assignment_id,
    )
    audit.record(
        conn, actor, "incident.dispatch", str(incident_id), unit_id=unit_id, assignment_id=assignment_id
    )
    return get_assignment(conn, assignment_id)


def set_state(conn: Connection, assignment_id: int, state: str, actor: str, note: str = "") -> dict:
    """dispatched → on_scene → cleared (or dispatched → cleared)."""
    current = get_assignment(conn, assignment_id, for_update=True)
    if state not in ASSIGNMENT_STATES:
        raise OpsInvalid("不明な出動状態です。", f"Unknown state (one of {', '.join(ASSIGNMENT_STATES)}).")
    if state not in NEXT_STATES[current["state"]]:
        raise OpsInvalid(
            f"{ASSIGNMENT_STATES[current['state']][0]}から{ASSIGNMENT_STATES[state][0]}には変更できません。",
            f"Cannot go from {current['state']} to {state}.",
            allowed=sorted(NEXT_STATES[current["state"]]),
        )
    conn.execute(
        text(
            """UPDATE ops.assignment SET state = :s,
                      on_scene_at = CASE WHEN :s = 'on_scene' THEN now() ELSE on_scene_at END,
                      cleared_at = CASE WHEN :s = 'cleared' THEN now() ELSE cleared_at END
                WHERE id = :id"""
        ),
        {"s": state, "id": assignment_id},
    )
    incident = incidents.get_incident(conn, current["incident_id"])
    incidents.record_event(
        conn,
        incident,
        actor,
        "assignment",
        note,
        assignment_id=assignment_id,
        unit_id=current["unit_id"],
        state=state,
    )
    audit.record(conn, actor, "assignment.state", str(assignment_id), state=state)
    return get_assignment(conn, assignment_id)


_GET_SQL = """SELECT a.id, a.incident_id, a.unit_id, d.name AS unit_name, a.state, a.dispatched_at, a.dispatched_by,
                  a.on_scene_at, a.cleared_at
             FROM ops.assignment a JOIN sensor.device d ON d.id = a.unit_id WHERE a.id = :id"""
_GET = text(_GET_SQL)
_GET_FOR_UPDATE = text(_GET_SQL + " FOR UPDATE OF a")


def get_assignment(conn: Connection, assignment_id: int, *, for_update: bool = False) -> dict:
    row = conn.execute(_GET_FOR_UPDATE if for_update else _GET, {"id": assignment_id}).one_or_none()
    if row is None:
        raise OpsNotFound("出動記録が見つかりません。", "No such assignment.", assignment_id=assignment_id)
    out = dict(row._mapping)
    out["state_ja"], out["state_en"] = ASSIGNMENT_STATES[out["state"]]
    return out


def busy_units(conn: Connection) -> set[str]:
    return set(conn.execute(text("SELECT unit_id FROM ops.assignment WHERE state <> 'cleared'")).scalars())


def assignments_of_disaster(conn: Connection, disaster_id: int) -> list[dict]:
    rows = conn.execute(
        text(
            """SELECT a.id, a.incident_id, a.unit_id, d.name AS unit_name, a.state, a.dispatched_at, a.dispatched_by,
                      a.on_scene_at, a.cleared_at
                 FROM ops.assignment a JOIN ops.incident i ON i.id = a.incident_id
                 JOIN sensor.device d ON d.id = a.unit_id
                WHERE i.disaster_id = :d ORDER BY a.id"""
        ),
        {"d": disaster_id},
    )
    return [dict(r._mapping) for r in rows]
