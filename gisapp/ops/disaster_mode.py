"""災害モード (disaster mode): for its roles, every person of the registry, consent or not.

Two people decide it (migration 0021): one account of the HQ (hq_operator) or an admin switches it on
alone for at most ``SOLO_MINUTES``; a second, different account of the complementary side confirms it,
which extends it to the length asked for (at most ``MAX_MINUTES`` from its start). Sides: the HQ
(``hq_operator``) and the registry (``welfare``, ``admin``); the confirmer brings a side the activator
lacks. The database enforces the same (checks, a trigger, the row-level policies of 0016/0021); the
functions here say it first, in both languages, and audit every switch in the same transaction.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any, Protocol

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops.errors import OpsConflict, OpsForbidden, OpsInvalid, OpsNotFound

DISASTER_ROLES = ("welfare", "hq_operator")  # who a disaster mode may widen access for
SOLO_MINUTES = 3 * 60  # one person alone; the database's disaster_mode_solo_cap says the same
MAX_MINUTES = 72 * 60  # with a second person's confirmation; disaster_mode_cap
HQ_SIDE = frozenset({"hq_operator"})
REGISTRY_SIDE = frozenset({"welfare", "admin"})
TARGET = "restricted.disaster_mode"


class Actor(Protocol):
    """Who acts (gisapp.auth.User fits)."""

    username: str
    roles: Set[str]


_COLUMNS = """id, activated_at, expires_at, activated_by, roles, reason, requested_minutes, confirmed_by,
  confirmed_at, activated_at + make_interval(mins => requested_minutes) AS requested_until"""
_ACTIVE = f"""SELECT {_COLUMNS} FROM restricted.disaster_mode
             WHERE ended_at IS NULL AND activated_at <= now() AND now() < expires_at"""  # noqa: S608 - constants


def _shape(row: Any) -> dict[str, Any]:
    mode = dict(row._mapping)
    mode["needs_confirmation"] = mode["confirmed_by"] is None and mode["requested_minutes"] > SOLO_MINUTES
    return mode


def active(conn: Connection) -> dict[str, Any] | None:
    """The active disaster mode, or None (read access: the routes decide who asks)."""
    row = conn.execute(text(_ACTIVE + " ORDER BY expires_at DESC LIMIT 1")).first()
    return _shape(row) if row else None


def activate(
    conn: Connection, actor: Actor, minutes: int, reason: str, roles: list[str] | None = None
) -> dict[str, Any]:
    """Switch on: effective at once for min(minutes, SOLO_MINUTES); longer only once confirmed."""
    if not actor.roles & {"hq_operator", "admin"}:
        raise OpsForbidden(
            "災害モードを開始できるのは災害対策本部の職員と管理者だけです。",
            "Only HQ operators and administrators may switch disaster mode on.",
        )
    roles = sorted(set(roles or DISASTER_ROLES))
    if not set(roles) <= set(DISASTER_ROLES) or not 1 <= minutes <= MAX_MINUTES or not reason.strip():
        raise OpsInvalid(
            f"災害モードには理由、1〜{MAX_MINUTES}分の期限、対象ロール（welfare / hq_operator）が必要です。",
            f"A disaster mode needs a reason, 1-{MAX_MINUTES} minutes and roles among welfare / hq_operator.",
        )
    if active(conn) is not None:
        raise OpsConflict("災害モードはすでに有効です。", "A disaster mode is already active.")
    row = conn.execute(
        text(
            f"""INSERT INTO restricted.disaster_mode (expires_at, activated_by, activated_roles, roles, reason,
                  requested_minutes)
                VALUES (now() + make_interval(mins => :solo), :by, :actor_roles, :roles, :reason, :m)
                RETURNING {_COLUMNS}"""  # noqa: S608 - constants
        ),
        {"m": minutes, "solo": min(minutes, SOLO_MINUTES), "by": actor.username,
         "actor_roles": sorted(actor.roles), "roles": roles, "reason": reason.strip()},
    ).one()  # fmt: skip
    mode = _shape(row)
    audit.record(
        conn, actor.username, "people.disaster_mode_on", TARGET, mode_id=mode["id"], roles=roles,
        minutes=minutes, effective_minutes=min(minutes, SOLO_MINUTES), reason=mode["reason"],
        needs_confirmation=mode["needs_confirmation"],
    )  # fmt: skip
    return mode


def complementary(activator_roles: Set[str], confirmer_roles: Set[str]) -> bool:
    """The confirmer brings a side (HQ / registry) the activator lacks; an activator holding both
    sides may be confirmed by anyone of either."""
    needed = set()
    if not activator_roles & HQ_SIDE:
        needed |= HQ_SIDE
    if not activator_roles & REGISTRY_SIDE:
        needed |= REGISTRY_SIDE
    return bool(confirmer_roles & (needed or HQ_SIDE | REGISTRY_SIDE))


def confirm(conn: Connection, actor: Actor, mode_id: int) -> dict[str, Any]:
    """A second person confirms: the mode runs to the length asked for at activation."""
    row = conn.execute(
        text(
            """SELECT id, activated_by, activated_roles, confirmed_by, requested_minutes,
                      ended_at IS NULL AND activated_at <= now() AND now() < expires_at AS running
                 FROM restricted.disaster_mode WHERE id = :id FOR UPDATE"""
        ),
        {"id": mode_id},
    ).first()
    if row is None:
        raise OpsNotFound("災害モードが見つかりません。", "Disaster mode not found.")
    if not row.running:
        raise OpsConflict(
            "この災害モードは終了しています。新たに開始してください。",
            "This disaster mode has ended; switch it on again.",
        )
    if row.confirmed_by is not None:
        raise OpsConflict("この災害モードは確認済みです。", "This disaster mode is already confirmed.")
    if row.activated_by == actor.username:
        raise OpsForbidden(
            "開始した本人は確認できません。別の職員が確認してください。",
            "The person who switched it on cannot confirm it: a second person must.",
        )
    if not complementary(set(row.activated_roles), set(actor.roles)):
        raise OpsForbidden(
            "確認できるのは開始者と異なる立場（災害対策本部 / 福祉・管理者）の職員です。",
            "The confirmation must come from the other side: HQ (hq_operator) for a registry-side "
            "activation, welfare or admin for an HQ activation.",
        )
    updated = conn.execute(
        text(
            f"""UPDATE restricted.disaster_mode SET confirmed_by = :by WHERE id = :id
                RETURNING {_COLUMNS}"""  # noqa: S608 - constants; the trigger sets the length and the time
        ),
        {"by": actor.username, "id": mode_id},
    ).one()
    mode = _shape(updated)
    audit.record(
        conn, actor.username, "people.disaster_mode_confirm", TARGET, mode_id=mode_id,
        activated_by=row.activated_by, minutes=row.requested_minutes, expires_at=mode["expires_at"].isoformat(),
    )  # fmt: skip
    return mode


def end(conn: Connection, actor: Actor) -> int:
    """End every active disaster mode now; how many were ended."""
    ended = conn.execute(
        text(
            "UPDATE restricted.disaster_mode SET ended_at = now(), ended_by = :by"
            " WHERE ended_at IS NULL AND now() < expires_at"
        ),
        {"by": actor.username},
    ).rowcount
    audit.record(conn, actor.username, "people.disaster_mode_off", TARGET, ended=ended)
    return ended
