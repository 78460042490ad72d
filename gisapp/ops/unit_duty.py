"""Duty states (勤務状態) of radio units and teams, kept as append-only events (ops.duty_event).

- 出動中 dispatched / 現着 on scene follow the assignment: gisapp/ops/dispatch.py calls
  ``follow_assignment`` in the dispatch's own transaction; a cleared assignment puts the unit and the
  team in 帰署 (returning) — on its way back, not yet ready; the HQ sets 待機 when it is.
- 待機 standby / 帰署 returning / 休止 off duty are set by the HQ (``set_duty``), never while an
  assignment holds the unit or team.
- Every event writes its chronology entry and pushes ``unit_duty`` (trigger, migration 0030).

The communication state (online / silent / offline / never: sensor.device_health) is apart: a unit on
standby can be out of contact, and an off-duty unit can be online.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound

DUTY_STATES = {  # state: (日本語, English)
    "standby": ("待機", "Standby"),
    "dispatched": ("出動中", "Dispatched"),
    "on_scene": ("現着", "On scene"),
    "returning": ("帰署", "Returning"),
    "off_duty": ("休止", "Off duty"),
}
SET_BY_HQ = ("standby", "returning", "off_duty")
BUSY = ("dispatched", "on_scene")
# What an assignment state means for the duty of its unit and team.
FROM_ASSIGNMENT = {"dispatched": "dispatched", "on_scene": "on_scene", "cleared": "returning"}

COMM_STATES = {  # sensor.device_health: (日本語, English)
    "online": ("通信中", "Online"),
    "silent": ("通信途絶（無応答）", "Out of contact (silent)"),
    "offline": ("通信途絶（オフライン）", "Out of contact (offline)"),
    "never": ("未受信", "Never heard"),
}
NOT_REPORTING = ("offline", "silent")  # 通信途絶: not recommended; a dispatch asks for confirmation

_LATEST = {
    "unit_id": text("SELECT state FROM ops.duty_event WHERE unit_id = :v ORDER BY id DESC LIMIT 1"),
    "team_id": text("SELECT state FROM ops.duty_event WHERE team_id = :v ORDER BY id DESC LIMIT 1"),
}
_INSERT = text(
    """INSERT INTO ops.duty_event (unit_id, team_id, state, from_state, actor, note, assignment_id, incident_id)
       VALUES (:unit_id, :team_id, :state, :from_state, :actor, :note, :assignment_id, :incident_id)
       RETURNING id, at"""
)


def _lock(conn: Connection, column: str, value: str) -> None:
    """One duty change at a time per unit or team (the event's from_state must be the current one).
    An advisory lock, not a row lock: radio positions keep arriving for a locked unit."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 30))"), {"k": f"{column}:{value}"})


def current(conn: Connection, *, unit_id: str | None = None, team_id: str | None = None) -> str:
    """The duty state of a unit or a team (standby when nothing was ever recorded)."""
    column, value = ("unit_id", unit_id) if unit_id is not None else ("team_id", team_id)
    return conn.execute(_LATEST[column], {"v": value}).scalar() or "standby"


def record(
    conn: Connection, actor: str, state: str, *, unit_id: str | None = None, team_id: str | None = None,
    note: str = "", assignment_id: int | None = None, incident_id: int | None = None,
) -> dict | None:  # fmt: skip
    """Append a duty event if the state changes; None when it already is ``state``."""
    column, value = ("unit_id", unit_id) if unit_id is not None else ("team_id", team_id)
    _lock(conn, column, value)
    before = current(conn, **{column: value})
    if before == state:
        return None
    row = conn.execute(
        _INSERT,
        {
            "unit_id": unit_id,
            "team_id": team_id,
            "state": state,
            "from_state": before,
            "actor": actor,
            "note": note,
            "assignment_id": assignment_id,
            "incident_id": incident_id,
        },
    ).one()
    return {"id": row.id, "at": row.at, "state": state, "from_state": before}


def follow_assignment(conn: Connection, assignment: dict, actor: str, note: str = "") -> None:
    """The unit and the team of an assignment take the duty its state means."""
    state = FROM_ASSIGNMENT[assignment["state"]]
    # The assignment's note (up to 2000 characters) stays whole in the incident's own event; the duty
    # history keeps its first 500, as a note the HQ writes on a duty.
    common = {"assignment_id": assignment["id"], "incident_id": assignment["incident_id"], "note": note[:500]}
    if assignment.get("unit_id"):
        record(conn, actor, state, unit_id=assignment["unit_id"], **common)
    if assignment.get("team_id"):
        record(conn, actor, state, team_id=assignment["team_id"], **common)


_HOLDING = {
    "unit_id": text("SELECT incident_id FROM ops.assignment WHERE unit_id = :v AND state <> 'cleared'"),
    "team_id": text("SELECT incident_id FROM ops.assignment WHERE team_id = :v AND state <> 'cleared'"),
}


def set_duty(
    conn: Connection, actor: str, state: str, *, unit_id: str | None = None, team_id: str | None = None,
    note: str = "",
) -> dict:  # fmt: skip
    """The HQ sets 待機 / 帰署 / 休止 for a unit or a team (a team's radio goes with it). Refused while an
    assignment holds it: 出動中 and 現着 follow the assignment."""
    if state not in SET_BY_HQ:
        raise OpsInvalid(
            "本部が設定できるのは待機・帰署・休止です（出動中・現着は出動指示に従います）。",
            "The HQ sets standby, returning or off duty (dispatched and on scene follow the assignment).",
            field="state",
            allowed=list(SET_BY_HQ),
        )
    column, value = ("unit_id", unit_id) if unit_id is not None else ("team_id", team_id)
    radio = _target(conn, column, value)
    _lock(conn, column, value)
    holding = conn.execute(_HOLDING[column], {"v": value}).scalar()
    if holding is not None:
        what_ja, what_en = ("無線機", "radio unit") if column == "unit_id" else ("班", "team")
        raise OpsConflict(
            f"{what_ja} {value} は事案 {holding} に出動中です。出動を解除してから変更してください。",
            f"The {what_en} {value} is assigned to incident {holding}: clear the assignment first.",
            incident_id=holding,
            **{column: value},
        )
    changed = record(conn, actor, state, note=note, **{column: value})
    if (
        column == "team_id"
        and radio is not None
        and conn.execute(_HOLDING["unit_id"], {"v": radio}).scalar() is None
    ):
        record(conn, actor, state, unit_id=radio, note=note)  # the radio the team carries goes with it
    if changed:
        audit.record(conn, actor, "duty.set", value, kind=column, state=state)
    return duty_of(conn, **{column: value})


def _target(conn: Connection, column: str, value: str) -> str | None:
    """Check the unit or team exists; a team's radio (or None)."""
    if column == "unit_id":
        found = conn.execute(
            text("SELECT 1 FROM sensor.device WHERE id = :v AND kind = 'radio_unit' AND enabled"),
            {"v": value},
        ).scalar()
        if not found:
            raise OpsNotFound("無線機が見つかりません。", "Radio unit not found.", unit_id=value)
        return value
    team = conn.execute(
        text("SELECT radio_unit_id FROM ops.team WHERE id = :v AND active"), {"v": value}
    ).one_or_none()
    if team is None:
        raise OpsNotFound("班が見つかりません。", "Team not found.", team_id=value)
    return team.radio_unit_id


def duty_of(conn: Connection, *, unit_id: str | None = None, team_id: str | None = None) -> dict:
    state = current(conn, unit_id=unit_id, team_id=team_id)
    ja, en = DUTY_STATES[state]
    key = {"unit_id": unit_id} if unit_id is not None else {"team_id": team_id}
    return {**key, "duty_state": state, "duty_ja": ja, "duty_en": en}


_HISTORY = {
    column: text(
        f"""SELECT id, unit_id, team_id, state, from_state, at, actor, note, assignment_id, incident_id
              FROM ops.duty_event WHERE {column} = :v ORDER BY id DESC LIMIT :limit"""  # noqa: S608 - constant
    )
    for column in ("unit_id", "team_id")
}


def history(
    conn: Connection, *, unit_id: str | None = None, team_id: str | None = None, limit: int = 200
) -> list[dict]:
    """A unit's or team's duty events, newest first."""
    column, value = ("unit_id", unit_id) if unit_id is not None else ("team_id", team_id)
    _target(conn, column, value)
    return [dict(r._mapping) for r in conn.execute(_HISTORY[column], {"v": value, "limit": limit})]
