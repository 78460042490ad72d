"""指示 (instructions): the HQ instructs a department (core.department) to do something, optionally
by a time and about an incident, and tracks it to 完了.

open → done (by whom, when, the result) or withdrawn (by whom, when, why). A closed instruction never
changes again (the database refuses it too); a second 完了 or a 完了 after a withdrawal is a
conflict (409) naming the state it is in. Every step is an entry of the chronology, written by the
database (migration 0028). Open instructions past their due time are ``overdue``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops import incidents
from gisapp.ops.chronology import check_text
from gisapp.ops.disasters import current_disaster_id
from gisapp.ops.errors import OpsConflict, OpsForbidden, OpsInvalid, OpsNotFound

STATES: dict[str, tuple[str, str]] = {  # state: (日本語, English)
    "open": ("未完了", "Open"),
    "done": ("完了", "Done"),
    "withdrawn": ("取消", "Withdrawn"),
}

_SELECT = """SELECT n.id, n.disaster_id, n.department_id, d.name_ja AS department_ja, d.name_en AS department_en,
       n.incident_id, n.body, n.due_at, n.state, n.instructed_at, n.instructed_by,
       coalesce(ub.display_name, n.instructed_by) AS instructed_by_name, n.closed_at, n.closed_by,
       coalesce(uc.display_name, n.closed_by) AS closed_by_name, n.result,
       (n.state = 'open' AND n.due_at IS NOT NULL AND n.due_at < now()) AS overdue
  FROM ops.instruction n
  JOIN core.department d ON d.id = n.department_id
  LEFT JOIN core.app_user ub ON ub.username = n.instructed_by
  LEFT JOIN core.app_user uc ON uc.username = n.closed_by"""


def _labelled(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    out["state_ja"], out["state_en"] = STATES[out["state"]]
    return out


def departments(conn: Connection) -> list[dict[str, Any]]:
    """Whom an instruction can go to."""
    rows = conn.execute(text("SELECT id, code, name_ja, name_en FROM core.department ORDER BY code"))
    return [dict(r._mapping) for r in rows]


def get_instruction(conn: Connection, instruction_id: int, *, for_update: bool = False) -> dict[str, Any]:
    row = conn.execute(
        text(_SELECT + " WHERE n.id = :id" + (" FOR UPDATE OF n" if for_update else "")),
        {"id": instruction_id},
    ).one_or_none()
    if row is None:
        raise OpsNotFound("指示が見つかりません。", "No such instruction.", instruction_id=instruction_id)
    return _labelled(row)


def list_instructions(
    conn: Connection,
    *,
    open_only: bool = True,
    disaster_id: int | None = None,
    department_id: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Open ones by due time (overdue first, those without a due time last), else newest first."""
    order = "n.due_at NULLS LAST, n.id" if open_only else "n.id DESC"
    rows = conn.execute(
        text(
            _SELECT
            + """ WHERE (NOT :open_only OR n.state = 'open')
                   AND (CAST(:d AS int) IS NULL OR n.disaster_id = :d)
                   AND (CAST(:dept AS int) IS NULL OR n.department_id = :dept)
                 ORDER BY """
            + order
            + " LIMIT :limit"
        ),
        {"open_only": open_only, "d": disaster_id, "dept": department_id, "limit": limit},
    )
    return [_labelled(r) for r in rows]


def instruct(
    conn: Connection,
    department_id: int,
    body: str,
    actor: str,
    *,
    due_at: datetime | None = None,
    incident_id: int | None = None,
) -> dict[str, Any]:
    body = check_text(body, "指示内容", "An instruction")
    if not conn.execute(text("SELECT 1 FROM core.department WHERE id = :id"), {"id": department_id}).first():
        raise OpsInvalid("指示先の部署がありません。", "No such department.", field="department_id")
    disaster_id = current_disaster_id(conn)
    if incident_id is not None:
        disaster_id = incidents.get_incident(conn, incident_id)["disaster_id"]
    new_id = conn.execute(
        text(
            """INSERT INTO ops.instruction (disaster_id, department_id, incident_id, body, due_at, instructed_by)
               VALUES (:d, :dept, :i, :b, :due, :a) RETURNING id"""
        ),
        {"d": disaster_id, "dept": department_id, "i": incident_id, "b": body, "due": due_at, "a": actor},
    ).scalar_one()
    audit.record(
        conn, actor, "instruction.create", str(new_id), department_id=department_id, incident_id=incident_id
    )
    return get_instruction(conn, new_id)


def _close(
    conn: Connection, instruction_id: int, state: str, note: str, actor: str, may_close: bool
) -> dict[str, Any]:
    current = get_instruction(conn, instruction_id, for_update=True)  # a second 完了 waits, then sees done
    if not may_close:
        raise OpsForbidden(
            "この指示を完了にできるのは本部か指示先の部署です。",
            "Only the HQ or the instructed department may mark this instruction done.",
        )
    if current["state"] != "open":
        ja, en = STATES[current["state"]]
        raise OpsConflict(
            f"この指示はすでに{ja}です（{current['closed_by_name']}）。",
            f"This instruction is already {en.lower()} (by {current['closed_by_name']}).",
            current={k: current[k] for k in ("id", "state", "closed_by", "result")}
            | {"closed_at": current["closed_at"].isoformat()},
        )
    conn.execute(
        text(
            "UPDATE ops.instruction SET state = :s, closed_at = now(), closed_by = :a, result = :r WHERE id = :id"
        ),
        {"s": state, "a": actor, "r": note, "id": instruction_id},
    )
    audit.record(conn, actor, f"instruction.{state}", str(instruction_id), result=note)
    return get_instruction(conn, instruction_id)


def complete(
    conn: Connection,
    instruction_id: int,
    result: str,
    actor: str,
    *,
    is_hq: bool,
    department_id: int | None,
) -> dict[str, Any]:
    """完了, by the HQ or by a member of the instructed department, with what was done."""
    result = result.strip()
    if len(result) > 2000:
        raise OpsInvalid("結果は2000文字までです。", "The result: 2000 characters at most.", field="result")
    row = conn.execute(
        text("SELECT department_id FROM ops.instruction WHERE id = :id"), {"id": instruction_id}
    ).one_or_none()
    may = is_hq or (row is not None and department_id is not None and row.department_id == department_id)
    return _close(conn, instruction_id, "done", result, actor, may)


def withdraw(conn: Connection, instruction_id: int, reason: str, actor: str) -> dict[str, Any]:
    """取消 by the HQ, with the reason."""
    reason = check_text(reason, "取消の理由", "A reason")
    return _close(conn, instruction_id, "withdrawn", reason, actor, True)
