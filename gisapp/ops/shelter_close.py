"""Closing a shelter (避難所の閉鎖) with everyone inside accounted for (issue 14, Wrong 2).

A shelter with people inside is not closed until the request says what happens to them: ``move`` to
another open shelter of the same disaster (each household's presence moves; an exit here and an entry
there are recorded, so the HQ totals stay the same), or ``checkout`` with a reason (their exits are
recorded). Nobody leaves the totals without an event. Open incidents near the shelter are reported
with the answer (and by ``close_check``, which the screen asks before its confirmation dialog).

The same transfer serves a disaster merge (``gisapp.ops.disaster_merge``): the merged disaster's people
in a shelter the surviving disaster also opened move into that opening.
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import Connection, Row, text

from common import audit
from gisapp.ops import hq_entry
from gisapp.ops.disasters import get_disaster
from gisapp.ops.errors import OpsConflict, OpsInvalid
from gisapp.ops.incidents import STATUSES
from gisapp.ops.shelters import _shelter, opening

People = Literal["move", "checkout"]
NEAR_M = 500  # an open incident this close to a shelter is worth a warning when it closes
MAX_EVENT_PERSONS = 500  # ops.checkin_event.persons CHECK: larger walk-in groups are split
KIOSK_ID = "hq"  # the kiosk_id of events written by the HQ or the shelter screen, not a kiosk

_LOCK = text(
    """SELECT o.id, o.disaster_id, o.shelter_id, o.occupancy, o.walk_ins, o.closed_at, s.name, s.capacity
         FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id
        WHERE o.id = ANY(:ids) ORDER BY o.id FOR UPDATE OF o"""
)


def lock_openings(conn: Connection, *opening_ids: int) -> dict[int, Row]:
    """The openings locked in id order (as a kiosk locks one): two transfers never deadlock."""
    return {r.id: r for r in conn.execute(_LOCK, {"ids": list(opening_ids)})}


def _opening_id(conn: Connection, disaster_id: int, shelter_id: int) -> int | None:
    return conn.execute(
        text("SELECT id FROM ops.shelter_opening WHERE disaster_id = :d AND shelter_id = :s"),
        {"d": disaster_id, "s": shelter_id},
    ).scalar()


def _event(
    conn: Connection, o: Row, household_id: int | None, kind: str, persons: int, after: int, actor: str,
    cause: str, note: str,
) -> None:  # fmt: skip
    conn.execute(
        text(
            """INSERT INTO ops.checkin_event (client_event_id, opening_id, shelter_id, disaster_id, household_id,
                                              kind, persons, kiosk_id, staff, occupancy_after, cause, note)
               VALUES (:c, :o, :s, :d, :h, :k, :p, :kiosk, :staff, :after, :cause, :note)"""
        ),
        {
            "c": uuid.uuid4(), "o": o.id, "s": o.shelter_id, "d": o.disaster_id, "h": household_id,
            "k": kind, "p": persons, "kiosk": KIOSK_ID, "staff": actor, "after": after, "cause": cause,
            "note": note,
        },
    )  # fmt: skip


def _groups(conn: Connection, o: Row) -> list[tuple[int | None, int]]:
    """Who is inside: (household, persons) per registered household, then the unregistered in groups
    of at most 500 (``None``). The unregistered are what the count holds beyond the households."""
    rows = conn.execute(
        text(
            "SELECT household_id, persons FROM ops.checkin_presence WHERE opening_id = :o"
            " ORDER BY household_id FOR UPDATE"
        ),
        {"o": o.id},
    ).all()
    groups: list[tuple[int | None, int]] = [(r.household_id, r.persons) for r in rows]
    rest = o.occupancy - sum(p for _, p in groups)
    while rest > 0:
        groups.append((None, min(rest, MAX_EVENT_PERSONS)))
        rest -= MAX_EVENT_PERSONS
    return groups


def transfer(conn: Connection, src: Row, dst: Row, actor: str, cause: str, note: str = "") -> dict:
    """Everyone in ``src`` into ``dst`` (both locked): an exit there and an entry here per household and
    per group of the unregistered; presences follow (into dst's disaster). Returns {persons, households}."""
    groups = _groups(conn, src)
    left, came = src.occupancy, dst.occupancy
    for household, persons in groups:
        left -= persons
        came += persons
        _event(conn, src, household, "exit", persons, left, actor, cause, note)
        _event(conn, dst, household, "entry", persons, came, actor, cause, note)
    conn.execute(
        text(
            "UPDATE ops.checkin_presence SET opening_id = :dst, disaster_id = :d, since = now() WHERE opening_id = :src"
        ),
        {"dst": dst.id, "d": dst.disaster_id, "src": src.id},
    )
    walk_ins = sum(p for h, p in groups if h is None)
    moved = came - dst.occupancy
    _set_counts(conn, src.id, 0, 0)
    _set_counts(conn, dst.id, came, dst.walk_ins + walk_ins)
    return {"persons": moved, "households": sum(1 for h, _ in groups if h is not None)}


def check_out_all(conn: Connection, o: Row, actor: str, cause: str, note: str) -> dict:
    """Everyone in ``o`` (locked) leaves: an exit event each, presences removed."""
    groups = _groups(conn, o)
    left = o.occupancy
    for household, persons in groups:
        left -= persons
        _event(conn, o, household, "exit", persons, left, actor, cause, note)
    conn.execute(text("DELETE FROM ops.checkin_presence WHERE opening_id = :o"), {"o": o.id})
    _set_counts(conn, o.id, 0, 0)
    return {"persons": o.occupancy, "households": sum(1 for h, _ in groups if h is not None)}


def _set_counts(conn: Connection, opening_id: int, occupancy: int, walk_ins: int) -> None:
    conn.execute(
        text(
            "UPDATE ops.shelter_opening SET occupancy = :n, walk_ins = :w, last_event_at = now() WHERE id = :o"
        ),
        {"n": occupancy, "w": walk_ins, "o": opening_id},
    )


# ------------------------------------------------------------------------------ what a closing meets
def incidents_near(conn: Connection, disaster_id: int, shelter_id: int) -> list[dict]:
    rows = conn.execute(
        text(
            """SELECT i.id, i.title, i.status, i.category,
                      round(ST_Distance(i.geom::geography, s.geom::geography))::int AS distance_m
                 FROM ops.incident i JOIN gis.shelter s ON s.id = :s
                WHERE i.disaster_id = :d AND i.status IN ('unhandled', 'in_progress')
                  AND ST_DWithin(i.geom::geography, s.geom::geography, :m)
                ORDER BY distance_m, i.id LIMIT 50"""
        ),
        {"d": disaster_id, "s": shelter_id, "m": NEAR_M},
    )
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["status_ja"], item["status_en"] = STATUSES[item["status"]]
        out.append(item)
    return out


def close_check(conn: Connection, disaster_id: int, shelter_id: int) -> dict:
    """What closing this shelter now would meet: the people inside (counts), open incidents near it and
    the other open shelters of the disaster people could move to (with room left)."""
    current = opening(conn, disaster_id, shelter_id)
    households = conn.execute(
        text("SELECT count(*) FROM ops.checkin_presence WHERE opening_id = :o"), {"o": current["opening_id"]}
    ).scalar_one()
    targets = conn.execute(
        text(
            """SELECT s.id AS shelter_id, s.name, o.occupancy, s.capacity,
                      CASE WHEN s.capacity IS NULL THEN NULL ELSE greatest(s.capacity - o.occupancy, 0) END AS room
                 FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id
                WHERE o.disaster_id = :d AND o.closed_at IS NULL AND o.shelter_id <> :s
                ORDER BY s.code, s.id"""
        ),
        {"d": disaster_id, "s": shelter_id},
    )
    return {
        "disaster_id": disaster_id,
        "shelter_id": shelter_id,
        "name": current["name"],
        "open": current["closed_at"] is None,
        "occupancy": current["occupancy"],
        "households": households,
        "walk_ins": current["walk_ins"],
        "incidents_near": incidents_near(conn, disaster_id, shelter_id),
        "near_m": NEAR_M,
        "move_targets": [dict(r._mapping) for r in targets],
    }


def _occupied(o: Row, households: int) -> OpsConflict:
    return OpsConflict(
        f"この避難所には{o.occupancy}名（登録世帯 {households}）が入所中です。閉鎖する前に、入所者を別の"
        "開設中の避難所へ移すか、理由をつけて退所にするかを選んでください。",
        f"{o.occupancy} people ({households} registered households) are inside this shelter. Before closing"
        " it, choose to move them to another open shelter or to check them out with a reason.",
        reason="occupied",
        occupancy=o.occupancy,
        households=households,
        walk_ins=o.walk_ins,
    )


def close_shelter(
    conn: Connection,
    disaster_id: int,
    shelter_id: int,
    actor: str,
    *,
    people: People | None = None,
    move_to: int | None = None,
    reason: str = "",
) -> dict:
    """Close the shelter; an occupied one only with ``people`` = ``move`` (to the open shelter
    ``move_to``) or ``checkout`` (with ``reason``). The answer: the closed opening, what happened to the
    people (``people``) and ``warnings`` (open incidents near)."""
    opening_id = _opening_id(conn, disaster_id, shelter_id)
    target_id = None
    if people == "move" and move_to is not None:
        if move_to == shelter_id:
            raise OpsInvalid(
                "移動先には別の避難所を選んでください。", "Choose another shelter to move people to.",
                field="move_to",
            )  # fmt: skip
        target_id = _opening_id(conn, disaster_id, move_to)
    locked = lock_openings(conn, *(i for i in (opening_id, target_id) if i is not None))
    src = locked.get(opening_id) if opening_id is not None else None
    if src is None or src.closed_at is not None:
        get_disaster(conn, disaster_id)
        _shelter(conn, shelter_id)
        raise OpsConflict("この避難所は開設されていません。", "This shelter is not open.", reason="not_open")
    reason = reason.strip()
    outcome: dict = {"choice": None, "persons": 0, "households": 0}
    if src.occupancy > 0:
        households = conn.execute(
            text("SELECT count(*) FROM ops.checkin_presence WHERE opening_id = :o"), {"o": src.id}
        ).scalar_one()
        if people is None:
            raise _occupied(src, households)
        if people == "move":
            dst = locked.get(target_id) if target_id is not None else None
            if dst is None or dst.closed_at is not None:
                raise OpsInvalid(
                    "移動先には、この災害で開設中の別の避難所を選んでください。",
                    "Move people to another shelter open for this disaster.",
                    field="move_to",
                    reason="move_target_not_open",
                )
            moved = transfer(conn, src, dst, actor, "moved", reason[:200])
            outcome = {"choice": "move", "to_shelter_id": dst.shelter_id, "to_name": dst.name, **moved}
            hq_entry.write(
                conn, "checkin",
                f"避難所「{src.name}」閉鎖：{moved['persons']}名（登録世帯 {moved['households']}）を「{dst.name}」へ移動",
                f"Shelter {src.name} closed: {moved['persons']} people ({moved['households']} households) moved to"
                f" {dst.name}",
                actor=actor, disaster_id=disaster_id, shelter_id=shelter_id,
                ref={"to_shelter_id": dst.shelter_id, **moved},
            )  # fmt: skip
        elif people == "checkout":
            if not 1 <= len(reason) <= 200:
                raise OpsInvalid(
                    "退所の理由を1〜200文字で入力してください（例：帰宅、親族宅へ）。",
                    "Give the reason for the check-out (1 to 200 characters, e.g. went home).",
                    field="reason",
                )
            left = check_out_all(conn, src, actor, "closed", reason)
            outcome = {"choice": "checkout", "reason": reason, **left}
            hq_entry.write(
                conn, "checkin",
                f"避難所「{src.name}」閉鎖：{left['persons']}名（登録世帯 {left['households']}）退所（{reason}）",
                f"Shelter {src.name} closed: {left['persons']} people ({left['households']} households) checked"
                f" out ({reason})",
                actor=actor, disaster_id=disaster_id, shelter_id=shelter_id, ref=left,
            )  # fmt: skip
        else:
            raise OpsInvalid("入所者の扱いは move か checkout です。", "people must be move or checkout.")
    conn.execute(
        text("UPDATE ops.shelter_opening SET closed_at = now(), closed_by = :a WHERE id = :o"),
        {"a": actor, "o": src.id},
    )
    audit.record(conn, actor, "shelter.close", str(shelter_id), disaster_id=disaster_id, people=outcome)
    return {
        **opening(conn, disaster_id, shelter_id),
        "people": outcome,
        "warnings": {"incidents_near": incidents_near(conn, disaster_id, shelter_id), "near_m": NEAR_M},
    }
