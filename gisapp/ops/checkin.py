"""Check-in at a shelter (避難所受付): a scanned household QR or walk-ins, entry (入所) or exit (退所).

Exactness under concurrent kiosks: every check-in locks its shelter's opening row (SELECT … FOR
UPDATE) before it reads the count, the presence or a replay, so the events of one shelter are applied
one after the other and ``occupancy`` is always entries − exits. A household entering at two shelters
at the same moment: the presence row's primary key lets one through; the other is refused and its
transaction rolled back. Some members of a household may enter or leave (部分入所・退所, ``persons`` with a
token): the presence row keeps how many are inside, never more than registered. Idempotence:
``client_event_id`` (a UUID from the kiosk) is
UNIQUE; a replay answers the stored outcome and changes nothing. A scan that changes nothing
(already inside) is answered 200 with a notice and not stored.

Check-ins are not written to the audit log: the hash-chained log serialises all appenders, and the
event table itself records who (staff, kiosk) did what when. The kiosk never receives personal data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, text

from gisapp.ops import households
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound
from gisapp.ops.shelters import LEVEL_LABELS

Kind = Literal["entry", "exit"]


@dataclass(frozen=True)
class Scan:
    client_event_id: uuid.UUID
    kind: Kind
    kiosk_id: str
    token: str | None = None  # what the scanner read; None for walk-ins
    persons: int | None = None  # walk-ins only
    device_time: datetime | None = None


MESSAGES = {
    "entered": ("入所を記録しました", "Entry recorded"),
    "exited": ("退所を記録しました", "Exit recorded"),
    "already_inside": ("すでに入所済みです（二重には数えません）", "Already inside (not counted twice)"),
}


def _closed() -> OpsConflict:
    return OpsConflict(
        "この避難所は開設されていません。受付できません。",
        "This shelter is not open: check-in refused.",
        reason="shelter_closed",
    )


def _inside_other() -> OpsConflict:
    return OpsConflict(
        "この世帯は別の避難所に入所中です。先に退所を記録してください。",
        "This household is inside another shelter: record its exit there first.",
        reason="inside_other_shelter",
    )


def _replayed(conn: Connection, previous: dict, shelter_id: int, disaster_id: int) -> dict:
    """The kiosk sent this event before (offline replay, retry): the same answer, nothing new."""
    if (previous["shelter_id"], previous["disaster_id"]) != (shelter_id, disaster_id):
        raise OpsConflict(
            "この受付IDは別の避難所で使われています。",
            "This client event id was used at another shelter.",
            reason="client_event_reused",
        )
    result = "entered" if previous["kind"] == "entry" else "exited"
    return _answer(
        conn,
        shelter_id,
        disaster_id,
        result,
        previous["persons"],
        None,
        replayed=True,
        walk_in=previous["household_id"] is None,
    )


def _validate(scan: Scan) -> None:
    if scan.token is None:
        if scan.persons is None or not 1 <= scan.persons <= 500:
            raise OpsInvalid(
                "人数は1〜500で指定してください。", "Persons must be 1 to 500.", reason="invalid_persons"
            )
    elif scan.persons is not None and not 1 <= scan.persons <= households.MAX_MEMBERS:
        raise OpsInvalid(
            f"世帯のうち何名かを1〜{households.MAX_MEMBERS}で指定してください（空欄なら全員）。",
            f"Members of the household: 1 to {households.MAX_MEMBERS} (or none for all of them).",
            reason="invalid_persons",
        )


def _too_many(ja: str, en: str) -> OpsConflict:
    return OpsConflict(ja, en, reason="too_many_persons")


def _replay(conn: Connection, client_event_id: uuid.UUID) -> dict | None:
    row = conn.execute(
        text(
            """SELECT e.kind, e.persons, e.household_id, e.shelter_id, e.disaster_id, e.occupancy_after
                 FROM ops.checkin_event e WHERE e.client_event_id = :c"""
        ),
        {"c": client_event_id},
    ).one_or_none()
    return dict(row._mapping) if row else None


def check_in(conn: Connection, disaster_id: int, shelter_id: int, scan: Scan, staff: str) -> dict:
    """Record one scan; answers the outcome with counts only (no name, no household id)."""
    _validate(scan)
    token = households.parse_scanned(scan.token) if scan.token is not None else None
    # Before the shelter's lock: the lookup needs no lock, and the lock is held for as little as possible.
    household = households.summary_for_kiosk(conn, token) if token else None
    opening = conn.execute(
        text(
            """SELECT o.id, o.occupancy, o.walk_ins, coalesce(o.closed_at, d.closed_at) AS closed_at, s.capacity
                 FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id
                 JOIN ops.disaster d ON d.id = o.disaster_id
                WHERE o.disaster_id = :d AND o.shelter_id = :s FOR UPDATE OF o"""
        ),
        {"d": disaster_id, "s": shelter_id},
    ).one_or_none()
    previous = _replay(conn, scan.client_event_id)
    if previous is not None:
        return _replayed(conn, previous, shelter_id, disaster_id)
    if opening is None or opening.closed_at is not None:
        if conn.execute(text("SELECT 1 FROM gis.shelter WHERE id = :s"), {"s": shelter_id}).first() is None:
            raise OpsNotFound("避難所が見つかりません。", "No such shelter.", shelter_id=shelter_id)
        raise _closed()

    persons = scan.persons
    inside = None
    if household:
        inside = conn.execute(
            text(
                "SELECT opening_id, persons FROM ops.checkin_presence WHERE disaster_id = :d AND household_id = :h"
                " FOR UPDATE"
            ),
            {"d": disaster_id, "h": household["id"]},
        ).one_or_none()
        if inside is not None and inside.opening_id != opening.id:
            if scan.kind == "entry":
                raise _inside_other()
            inside = None
        here = inside.persons if inside else 0
        if scan.kind == "entry":
            # Some members may come first and the others later (部分入所): never more than registered.
            remaining = household["persons"] - here
            if remaining <= 0:
                return _answer(conn, shelter_id, disaster_id, "already_inside", here, household, inside=here)
            persons = remaining if scan.persons is None else scan.persons
            if persons > remaining:
                raise _too_many(
                    f"この世帯で入所できるのはあと{remaining}名です（登録 {household['persons']}名・入所中 {here}名）。",
                    f"Only {remaining} more members of this household can enter"
                    f" ({household['persons']} registered, {here} inside).",
                )
        else:
            if inside is None:
                raise OpsConflict(
                    "この世帯はこの避難所に入所していません。",
                    "This household is not inside this shelter.",
                    reason="not_inside",
                )
            # All who are inside by default (even if the registration changed since), or some of them.
            persons = here if scan.persons is None else scan.persons
            if persons > here:
                raise _too_many(
                    f"この世帯の入所中は{here}名です。それより多くは退所できません。",
                    f"Only {here} members of this household are inside.",
                )
    elif scan.kind == "exit" and persons > opening.walk_ins:
        raise OpsConflict(
            f"登録なしの入所者は{opening.walk_ins}名です。それより多くは退所できません。",
            f"Only {opening.walk_ins} unregistered persons are inside.",
            reason="not_inside",
        )

    sign = 1 if scan.kind == "entry" else -1
    occupancy = opening.occupancy + sign * persons
    walk_ins = opening.walk_ins + (0 if household else sign * persons)
    # The event and the new count in one statement: the UPDATE runs only when the event was inserted.
    written = conn.execute(
        text(
            """WITH ev AS (
                 INSERT INTO ops.checkin_event (client_event_id, opening_id, shelter_id, disaster_id, household_id,
                                                kind, persons, kiosk_id, device_ts, staff, occupancy_after)
                 VALUES (:c, :o, :s, :d, :h, :k, :p, :kiosk, :dt, :staff, :occ)
                 ON CONFLICT (client_event_id) DO NOTHING RETURNING id),
               op AS (
                 UPDATE ops.shelter_opening SET occupancy = :occ, walk_ins = :w, last_event_at = now()
                  WHERE id = :o AND EXISTS (SELECT 1 FROM ev)
                 RETURNING occupancy, ops.congestion_level(occupancy, CAST(:cap AS int)) AS level)
               SELECT op.occupancy, op.level FROM ev, op"""
        ),
        {
            "c": scan.client_event_id,
            "o": opening.id,
            "s": shelter_id,
            "d": disaster_id,
            "h": household["id"] if household else None,
            "k": scan.kind,
            "p": persons,
            "kiosk": scan.kiosk_id,
            "dt": scan.device_time,
            "staff": staff,
            "occ": occupancy,
            "w": walk_ins,
            "cap": opening.capacity,
        },
    ).one_or_none()
    if written is None:
        # The same id committed meanwhile (a resend racing its original): nothing was written here.
        previous = _replay(conn, scan.client_event_id)
        if previous is None:
            raise OpsConflict("もう一度お試しください。", "Please try again.", reason="retry")
        return _replayed(conn, previous, shelter_id, disaster_id)
    now_inside = None
    if household and scan.kind == "entry":
        # Into this shelter only: a presence at another one (entered there meanwhile) is not touched.
        now_inside = conn.execute(
            text(
                """INSERT INTO ops.checkin_presence AS p (disaster_id, household_id, opening_id, persons)
                   VALUES (:d, :h, :o, :p)
                   ON CONFLICT (disaster_id, household_id) DO UPDATE SET persons = p.persons + EXCLUDED.persons
                     WHERE p.opening_id = EXCLUDED.opening_id
                   RETURNING p.persons"""
            ),
            {"d": disaster_id, "h": household["id"], "o": opening.id, "p": persons},
        ).scalar()
        if now_inside is None:
            # Entered at another shelter at the same moment: raising rolls this transaction back.
            raise _inside_other()
    elif household:
        now_inside = inside.persons - persons
        if now_inside == 0:
            conn.execute(
                text("DELETE FROM ops.checkin_presence WHERE disaster_id = :d AND household_id = :h"),
                {"d": disaster_id, "h": household["id"]},
            )
        else:
            conn.execute(
                text(
                    "UPDATE ops.checkin_presence SET persons = :n WHERE disaster_id = :d AND household_id = :h"
                ),
                {"n": now_inside, "d": disaster_id, "h": household["id"]},
            )
    result = "entered" if scan.kind == "entry" else "exited"
    state = (written.occupancy, opening.capacity, written.level)
    return _answer(conn, shelter_id, disaster_id, result, persons, household, state=state, inside=now_inside)


def _answer(
    conn: Connection,
    shelter_id: int,
    disaster_id: int,
    result: str,
    persons: int,
    household: dict | None,
    *,
    replayed: bool = False,
    walk_in: bool | None = None,
    state: tuple[int, int | None, str] | None = None,
    inside: int | None = None,
) -> dict:
    if state is None:
        state = _state(conn, shelter_id, disaster_id)
    occupancy, capacity, level = state
    ja, en = MESSAGES[result]
    return {
        "result": result,
        "notice": result if result == "already_inside" else ("replayed" if replayed else None),
        "message_ja": ja,
        "message_en": en,
        "walk_in": household is None if walk_in is None else walk_in,
        "persons": persons,
        # Counts only: the kiosk shows 世帯 4名（要配慮 1・ペット 1）, never a name.
        "needs_care": household["needs_care"] if household else None,
        "pets": household["pets"] if household else None,
        # A household's members: registered, and inside this shelter after this scan (partial check-in).
        "registered": household["persons"] if household else None,
        "inside": inside,
        "occupancy": occupancy,
        "capacity": capacity,
        "level": level,
        "level_ja": LEVEL_LABELS[level][0],
        "level_en": LEVEL_LABELS[level][1],
    }


def _state(conn: Connection, shelter_id: int, disaster_id: int) -> tuple[int, int | None, str]:
    row = conn.execute(
        text(
            """SELECT o.occupancy, s.capacity, ops.congestion_level(o.occupancy, s.capacity) AS level
                 FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id
                WHERE o.disaster_id = :d AND o.shelter_id = :s"""
        ),
        {"d": disaster_id, "s": shelter_id},
    ).one()
    return row.occupancy, row.capacity, row.level
