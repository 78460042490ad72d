"""Dispatch (出動): radio units and teams assigned to incidents, dispatched → on scene → cleared.

No unit and no team is ever dispatched twice: the database holds at most one assignment per unit and
per team that is not cleared (unique partial indexes), so two operators pressing "dispatch" at once
cannot both win, whatever the application does. A team's assignment also names the radio it carries.
The loser learns which incident holds the unit or team.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from common import audit
from gisapp.ops import incidents, unit_duty
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound

ASSIGNMENT_STATES = {  # state: (日本語, English)
    "dispatched": ("出動中", "Dispatched"),
    "on_scene": ("現着", "On scene"),
    "cleared": ("解除", "Cleared"),
}
# An incident in one of these statuses takes no dispatch (the HQ page offers none either: pages_hq).
NO_DISPATCH_STATUSES = ("done", "cancelled")
NEXT_STATES = {
    "dispatched": frozenset({"on_scene", "cleared"}),
    "on_scene": frozenset({"cleared"}),
    "cleared": frozenset(),
}
ACTIVE_CONSTRAINTS = {
    "assignment_one_active_per_unit": "unit_id",
    "assignment_one_active_per_team": "team_id",
}


def dispatch(
    conn: Connection,
    incident_id: int,
    actor: str,
    *,
    unit_id: str | None = None,
    team_id: str | None = None,
    note: str = "",
    confirm_offline: bool = False,
) -> dict:
    """Assign a radio unit, or a team (with the radio it carries), to the incident. OpsConflict,
    naming the holding incident, when the unit or team is already on an assignment not cleared; when
    the unit or team is off duty (休止); and when its radio is out of contact (通信途絶) unless
    ``confirm_offline``: the HQ may reach it another way (phone, runner), but must say so."""
    if (unit_id is None) == (team_id is None):
        raise OpsInvalid(
            "無線機か班のどちらか一方を指定してください。", "Name either a radio unit or a team."
        )
    incident = incidents.get_incident(conn, incident_id, for_update=True)
    if incident["status"] in NO_DISPATCH_STATUSES:
        raise OpsInvalid(
            "対応済・取消の事案には出動できません。",
            "Cannot dispatch to an incident that is done or cancelled.",
            status=incident["status"],
        )
    if team_id is not None:
        team = conn.execute(
            text(
                """SELECT t.id, d.id AS radio FROM ops.team t
                     LEFT JOIN sensor.device d ON d.id = t.radio_unit_id AND d.enabled
                    WHERE t.id = :t AND t.active"""
            ),
            {"t": team_id},
        ).one_or_none()
        if team is None:
            raise OpsInvalid("出動できる班ではありません。", "Not an active team.", team_id=team_id)
        unit_id = team.radio  # the team's radio goes with it (None: a team without one)
        _check_duty(conn, "team_id", team_id)
    else:
        unit = conn.execute(
            text("SELECT kind, enabled FROM sensor.device WHERE id = :u"), {"u": unit_id}
        ).one_or_none()
        if unit is None or unit.kind != "radio_unit" or not unit.enabled:
            raise OpsInvalid(
                "出動できる無線機ではありません。", "Not an enabled radio unit.", unit_id=unit_id
            )
    if unit_id is not None:
        _check_duty(conn, "unit_id", unit_id)
        if not confirm_offline:
            _check_contact(conn, unit_id)
    try:
        with conn.begin_nested():  # the savepoint keeps the transaction usable to name the holder
            assignment_id = conn.execute(
                text(
                    """INSERT INTO ops.assignment (incident_id, unit_id, team_id, dispatched_by)
                       VALUES (:i, :u, :t, :a) RETURNING id"""
                ),
                {"i": incident_id, "u": unit_id, "t": team_id, "a": actor},
            ).scalar_one()
    except IntegrityError as e:
        column = next((c for name, c in ACTIVE_CONSTRAINTS.items() if name in str(e.orig)), None)
        if column is None:
            raise
        busy = unit_id if column == "unit_id" else team_id
        raise _busy(conn, column, busy) from e
    incidents.bump_status_on_dispatch(conn, incident, actor)
    unit_duty.follow_assignment(conn, get_assignment(conn, assignment_id), actor, note)
    incidents.record_event(
        conn,
        incidents.get_incident(conn, incident_id),
        actor,
        "dispatch",
        note,
        unit_id=unit_id,
        team_id=team_id,
        assignment_id=assignment_id,
    )
    audit.record(
        conn,
        actor,
        "incident.dispatch",
        str(incident_id),
        unit_id=unit_id,
        team_id=team_id,
        assignment_id=assignment_id,
    )
    return get_assignment(conn, assignment_id)


def _check_duty(conn: Connection, column: str, value: str) -> None:
    if unit_duty.current(conn, **{column: value}) == "off_duty":
        what_ja, what_en = ("無線機", "radio unit") if column == "unit_id" else ("班", "team")
        raise OpsConflict(
            f"{what_ja} {value} は休止中です。待機に戻してから出動指示してください。",
            f"The {what_en} {value} is off duty: set it to standby before dispatching it.",
            duty_state="off_duty",
            **{column: value},
        )


def _check_contact(conn: Connection, unit_id: str) -> None:
    """A radio out of contact (its last will came, or silent past its limit) is dispatched only when
    the HQ confirms it (``confirm_offline``): the order may never reach it."""
    row = conn.execute(
        text("SELECT d.name, h.state, h.last_seen FROM sensor.device_health h"
             " JOIN sensor.device d ON d.id = h.device_id WHERE h.device_id = :u"),
        {"u": unit_id},
    ).one_or_none()  # fmt: skip
    if row is None or row.state not in unit_duty.NOT_REPORTING:
        return
    ja, en = unit_duty.COMM_STATES[row.state]
    raise OpsConflict(
        f"無線機 {row.name}（{unit_id}）は{ja}です。指示が届かないおそれがあります。"
        "別の手段で連絡できる場合は、確認のうえ出動指示してください。",
        f"Radio unit {row.name} ({unit_id}) is {en.lower()}: the order may not reach it. If you can reach"
        " it another way, confirm the dispatch (confirm_offline).",
        unit_id=unit_id,
        comm_state=row.state,
        last_seen=row.last_seen.isoformat() if row.last_seen else None,
        needs_confirmation=True,
    )


_HOLDER = {
    column: text(
        f"""SELECT a.id, a.incident_id FROM ops.assignment a
             WHERE a.{column} = :v AND a.state <> 'cleared'"""  # noqa: S608 - column from the constant map
    )
    for column in ("unit_id", "team_id")
}


def _busy(conn: Connection, column: str, value: str | None) -> OpsConflict:
    holder = conn.execute(_HOLDER[column], {"v": value}).one_or_none()
    held_by = holder.incident_id if holder else None
    what_ja, what_en = ("無線機", "radio unit") if column == "unit_id" else ("班", "team")
    return OpsConflict(
        f"{what_ja} {value} は事案 {held_by} に出動中です。",
        f"The {what_en} {value} is already assigned to incident {held_by}.",
        **{column: value},
        incident_id=held_by,
        assignment_id=holder.id if holder else None,
    )


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
    unit_duty.follow_assignment(conn, {**current, "state": state}, actor, note)
    incident = incidents.get_incident(conn, current["incident_id"])
    incidents.record_event(
        conn,
        incident,
        actor,
        "assignment",
        note,
        assignment_id=assignment_id,
        unit_id=current["unit_id"],
        team_id=current["team_id"],
        state=state,
    )
    audit.record(conn, actor, "assignment.state", str(assignment_id), state=state)
    return get_assignment(conn, assignment_id)


_GET_SQL = incidents.ASSIGNMENTS_SQL + " WHERE a.id = :id"
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
    """Radio units on an assignment not cleared (their own, or their team's)."""
    rows = conn.execute(
        text("SELECT unit_id FROM ops.assignment WHERE state <> 'cleared' AND unit_id IS NOT NULL")
    )
    return set(rows.scalars())


_OF_DISASTER = text(
    incidents.ASSIGNMENTS_SQL  # noqa: S608 - constant SQL composed from this package's constants
    + " WHERE a.incident_id IN (SELECT id FROM ops.incident WHERE disaster_id = :d) ORDER BY a.id"
)


def assignments_of_disaster(conn: Connection, disaster_id: int) -> list[dict]:
    rows = conn.execute(_OF_DISASTER, {"d": disaster_id})
    return [dict(r._mapping) for r in rows]


# --------------------------------------------------------------------------------------- teams
def list_teams(conn: Connection) -> list[dict]:
    """Teams with the radio they carry and the incident they are on, if any."""
    rows = conn.execute(
        text(
            """SELECT t.id, t.name, t.department_id, t.radio_unit_id, d.name AS radio_name, t.active,
                      a.incident_id AS busy_with
                 FROM ops.team t
                 LEFT JOIN sensor.device d ON d.id = t.radio_unit_id
                 LEFT JOIN ops.assignment a ON a.team_id = t.id AND a.state <> 'cleared'
                ORDER BY t.id"""
        )
    )
    return [dict(r._mapping) for r in rows]


def save_team(
    conn: Connection, team_id: str, name: str, actor: str, *, radio_unit_id: str | None = None,
    department_id: int | None = None, active: bool = True,
) -> dict:  # fmt: skip
    """Create or update a team (班). Its radio must be a radio unit no other team carries."""
    if radio_unit_id is not None:
        kind = conn.execute(
            text("SELECT kind FROM sensor.device WHERE id = :u"), {"u": radio_unit_id}
        ).scalar()
        if kind != "radio_unit":
            raise OpsInvalid("無線機が見つかりません。", "No such radio unit.", radio_unit_id=radio_unit_id)
        other = conn.execute(
            text("SELECT id FROM ops.team WHERE radio_unit_id = :u AND id <> :t"),
            {"u": radio_unit_id, "t": team_id},
        ).scalar()
        if other:
            raise OpsConflict(
                f"この無線機は班 {other} が持っています。",
                f"Team {other} carries this radio unit.",
                team_id=other,
            )
    if (
        department_id is not None
        and not conn.execute(
            text("SELECT 1 FROM core.department WHERE id = :d"), {"d": department_id}
        ).scalar()
    ):
        raise OpsInvalid(
            "課が見つかりません。", "No such department.", field="department_id", department_id=department_id
        )
    conn.execute(
        text(
            """INSERT INTO ops.team (id, name, department_id, radio_unit_id, active)
               VALUES (:id, :name, :dept, :radio, :active)
               ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, department_id = EXCLUDED.department_id,
                 radio_unit_id = EXCLUDED.radio_unit_id, active = EXCLUDED.active"""
        ),
        {
            "id": team_id,
            "name": name.strip(),
            "dept": department_id,
            "radio": radio_unit_id,
            "active": active,
        },
    )
    audit.record(conn, actor, "team.save", team_id, radio_unit_id=radio_unit_id, active=active)
    return next(t for t in list_teams(conn) if t["id"] == team_id)
