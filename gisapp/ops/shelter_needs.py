"""A shelter's needs (避難所ニーズ): 物資 (item, quantity, unit, priority) from 要請中 to 手配済 to 配送済,
and 要配慮者数 by category. Numbers and items only: no person is named here.

A need carries a version: a change names the version it was based on and a stale one is refused
with the current state (409), as with incidents. Every change appends a ``shelter_need_event`` and a
chronology row (kind ``checkin``) in the same transaction. 要配慮者数 reports are append-only; the
latest per shelter is the count.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from common import audit
from gisapp.ops import hq_entry
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound
from gisapp.ops.shelters import opening

NEED_STATUSES: dict[str, tuple[str, str]] = {
    "requested": ("要請中", "Requested"),
    "arranged": ("手配済", "Arranged"),
    "delivered": ("配送済", "Delivered"),
    "cancelled": ("取消", "Cancelled"),
}
NEED_TRANSITIONS: dict[str, frozenset[str]] = {
    "requested": frozenset({"arranged", "delivered", "cancelled"}),
    "arranged": frozenset({"requested", "delivered", "cancelled"}),
    "delivered": frozenset(),
    "cancelled": frozenset({"requested"}),
}
PRIORITIES: dict[int, tuple[str, str]] = {1: ("高", "High"), 2: ("中", "Medium"), 3: ("低", "Low")}
# 要配慮者 (配慮を要する者) by category: counts only.
CARE_CATEGORIES: dict[str, tuple[str, str]] = {
    "elderly": ("高齢者", "Older people"),
    "disabled": ("障害者", "People with disabilities"),
    "infant": ("乳幼児", "Infants"),
    "pregnant": ("妊産婦", "Pregnant and nursing women"),
    "foreign": ("外国人", "Foreign residents"),
    "other": ("その他の要配慮者", "Others needing care"),
}
MAX_CARE = 10000

_NEED = """SELECT n.id, n.disaster_id, n.shelter_id, s.name AS shelter_name, n.item, n.quantity, n.unit,
                  n.priority, n.status, n.note, n.version, n.created_by, n.created_at, n.updated_by, n.updated_at
             FROM ops.shelter_need n JOIN gis.shelter s ON s.id = n.shelter_id"""


def _labelled(row: Any) -> dict:
    item = dict(row._mapping)
    item["status_ja"], item["status_en"] = NEED_STATUSES[item["status"]]
    item["priority_ja"], item["priority_en"] = PRIORITIES[item["priority"]]
    return item


def get_need(conn: Connection, need_id: int, *, for_update: bool = False) -> dict:
    row = conn.execute(
        text(_NEED + " WHERE n.id = :id" + (" FOR UPDATE OF n" if for_update else "")), {"id": need_id}
    ).one_or_none()
    if row is None:
        raise OpsNotFound("要請が見つかりません。", "No such need.", need_id=need_id)
    return _labelled(row)


def list_needs(conn: Connection, disaster_id: int, shelter_id: int | None = None) -> list[dict]:
    rows = conn.execute(
        text(
            _NEED + " WHERE n.disaster_id = :d AND (CAST(:s AS bigint) IS NULL OR n.shelter_id = :s)"
            " ORDER BY n.status IN ('delivered', 'cancelled'), n.priority, n.id"
        ),
        {"d": disaster_id, "s": shelter_id},
    )
    return [_labelled(r) for r in rows]


def _clean(item: str, unit: str, quantity: int, priority: int, note: str) -> tuple[str, str, str]:
    item, unit, note = item.strip(), unit.strip(), note.strip()
    problems = []
    if not 1 <= len(item) <= 100:
        problems.append(("item", "品目を1〜100文字で入力してください。", "Item: 1 to 100 characters."))
    if not 1 <= quantity <= 1_000_000:
        problems.append(("quantity", "数量は1〜1000000です。", "Quantity: 1 to 1000000."))
    if not 1 <= len(unit) <= 20:
        problems.append(
            ("unit", "単位を1〜20文字で入力してください（例：本、枚）。", "Unit: 1 to 20 characters.")
        )
    if priority not in PRIORITIES:
        problems.append(("priority", "優先度は1（高）〜3（低）です。", "Priority: 1 (high) to 3 (low)."))
    if len(note) > 500:
        problems.append(("note", "メモは500文字までです。", "Note: 500 characters max."))
    if problems:
        fields = [{"field": f, "message_ja": ja, "message_en": en} for f, ja, en in problems]
        raise OpsInvalid(
            "".join(p[1] for p in problems),
            " ".join(p[2] for p in problems),
            field=problems[0][0],
            fields=fields,
        )
    return item, unit, note


def _event(conn: Connection, need: dict, action: str, actor: str, from_status: str | None, note: str) -> None:
    conn.execute(
        text(
            """INSERT INTO ops.shelter_need_event (need_id, version, action, from_status, to_status, quantity, actor, note)
               VALUES (:n, :v, :a, :f, :t, :q, :actor, :note)"""
        ),
        {
            "n": need["id"], "v": need["version"], "a": action, "f": from_status, "t": need["status"],
            "q": need["quantity"], "actor": actor, "note": note,
        },
    )  # fmt: skip


def _log(conn: Connection, need: dict, actor: str, verb_ja: str, verb_en: str) -> None:
    hq_entry.write(
        conn, "checkin",
        f"避難所「{need['shelter_name']}」物資 {need['item']} {need['quantity']}{need['unit']}"
        f"（優先度{need['priority_ja']}）：{verb_ja}",
        f"Shelter {need['shelter_name']} supplies: {need['item']} {need['quantity']} {need['unit']}"
        f" (priority {need['priority_en'].lower()}): {verb_en}",
        actor=actor, disaster_id=need["disaster_id"], shelter_id=need["shelter_id"],
        ref={"need_id": need["id"], "version": need["version"], "status": need["status"]},
    )  # fmt: skip


def add_need(
    conn: Connection, disaster_id: int, shelter_id: int, item: str, quantity: int, unit: str, priority: int,
    note: str, actor: str,
) -> dict:  # fmt: skip
    item, unit, note = _clean(item, unit, quantity, priority, note)
    if opening(conn, disaster_id, shelter_id)["closed_at"] is not None:
        raise OpsConflict("この避難所は開設されていません。", "This shelter is not open.", reason="not_open")
    need_id = conn.execute(
        text(
            """INSERT INTO ops.shelter_need (disaster_id, shelter_id, item, quantity, unit, priority, note,
                                             created_by, updated_by)
               VALUES (:d, :s, :i, :q, :u, :p, :n, :a, :a) RETURNING id"""
        ),
        {
            "d": disaster_id,
            "s": shelter_id,
            "i": item,
            "q": quantity,
            "u": unit,
            "p": priority,
            "n": note,
            "a": actor,
        },
    ).scalar_one()
    need = get_need(conn, need_id)
    _event(conn, need, "requested", actor, None, note)
    _log(conn, need, actor, "要請", "requested")
    audit.record(
        conn, actor, "shelter_need.add", str(need_id), disaster_id=disaster_id, shelter_id=shelter_id
    )
    return need


def update_need(
    conn: Connection, need_id: int, expected_version: int, changes: dict[str, Any], actor: str
) -> dict:
    """``changes``: status and/or quantity, priority, note. A stale version → 409 with the current need."""
    current = get_need(conn, need_id, for_update=True)
    if current["version"] != expected_version:
        raise OpsConflict(
            "他の担当者が先に更新しました。最新の内容を確認してください。",
            "Someone else changed this need first; check the current state.",
            current={k: current[k] for k in ("id", "status", "quantity", "priority", "version")},
        )
    status = changes.get("status") or current["status"]
    if status not in NEED_STATUSES:
        raise OpsInvalid("不明な状態です。", "Unknown status.", field="status", allowed=list(NEED_STATUSES))
    if status != current["status"] and status not in NEED_TRANSITIONS[current["status"]]:
        raise OpsInvalid(
            f"{NEED_STATUSES[current['status']][0]}から{NEED_STATUSES[status][0]}には変更できません。",
            f"Cannot go from {current['status']} to {status}.",
            field="status",
            allowed=sorted(NEED_TRANSITIONS[current["status"]]),
        )
    quantity = changes.get("quantity") or current["quantity"]
    priority = changes.get("priority") or current["priority"]
    note = changes.get("note")
    _, _, note = _clean(current["item"], current["unit"], quantity, priority, note or "")
    if (status, quantity, priority) == (
        current["status"],
        current["quantity"],
        current["priority"],
    ) and not note:
        raise OpsInvalid("変更内容がありません。", "Nothing to change.")
    conn.execute(
        text(
            """UPDATE ops.shelter_need SET status = :st, quantity = :q, priority = :p,
                      note = CASE WHEN :n = '' THEN note ELSE :n END,
                      version = version + 1, updated_by = :a, updated_at = now() WHERE id = :id"""
        ),
        {"st": status, "q": quantity, "p": priority, "n": note, "a": actor, "id": need_id},
    )
    need = get_need(conn, need_id)
    changed_status = status != current["status"]
    _event(conn, need, "status" if changed_status else "changed", actor, current["status"], note)
    if changed_status:
        _log(conn, need, actor, NEED_STATUSES[status][0], NEED_STATUSES[status][1].lower())
    else:
        _log(conn, need, actor, "変更", "changed")
    audit.record(conn, actor, "shelter_need.update", str(need_id), status=status, quantity=quantity)
    return need


def need_events(conn: Connection, need_id: int) -> list[dict]:
    get_need(conn, need_id)
    rows = conn.execute(
        text(
            """SELECT version, action, from_status, to_status, quantity, actor, at, note
                 FROM ops.shelter_need_event WHERE need_id = :n ORDER BY version"""
        ),
        {"n": need_id},
    )
    return [dict(r._mapping) for r in rows]


# ------------------------------------------------------------------------------ 要配慮者数
def _care_rows(conn: Connection, disaster_id: int, shelter_id: int | None) -> list[dict]:
    rows = conn.execute(
        text(
            """SELECT DISTINCT ON (c.shelter_id) c.shelter_id, c.version, c.counts, c.reported_by, c.reported_at
                 FROM ops.shelter_care_count c
                WHERE c.disaster_id = :d AND (CAST(:s AS bigint) IS NULL OR c.shelter_id = :s)
                ORDER BY c.shelter_id, c.version DESC"""
        ),
        {"d": disaster_id, "s": shelter_id},
    )
    out = []
    for r in rows:
        item = dict(r._mapping)
        item["counts"] = {k: int(item["counts"].get(k, 0)) for k in CARE_CATEGORIES}
        item["total"] = sum(item["counts"].values())
        out.append(item)
    return out


def care_counts(conn: Connection, disaster_id: int, shelter_id: int | None = None) -> list[dict]:
    return _care_rows(conn, disaster_id, shelter_id)


def report_care(
    conn: Connection,
    disaster_id: int,
    shelter_id: int,
    counts: dict[str, int],
    expected_version: int,
    actor: str,
) -> dict:
    """A new 要配慮者数 report; ``expected_version`` is the version last read (0 before the first)."""
    unknown = sorted(set(counts) - set(CARE_CATEGORIES))
    if unknown:
        raise OpsInvalid(
            "不明な区分があります。",
            f"Unknown categories: {', '.join(unknown)}.",
            allowed=list(CARE_CATEGORIES),
        )
    bad = [
        k
        for k, v in counts.items()
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_CARE
    ]
    if bad:
        raise OpsInvalid(
            f"人数は0〜{MAX_CARE}で入力してください。",
            f"Counts must be 0 to {MAX_CARE}.",
            field=bad[0],
            fields=bad,
        )
    current = opening(conn, disaster_id, shelter_id)
    if current["closed_at"] is not None:
        raise OpsConflict("この避難所は開設されていません。", "This shelter is not open.", reason="not_open")
    # The opening's lock serialises reports of one shelter (and check-ins): versions never collide.
    conn.execute(
        text("SELECT 1 FROM ops.shelter_opening WHERE id = :o FOR UPDATE"), {"o": current["opening_id"]}
    )
    latest = _care_rows(conn, disaster_id, shelter_id)
    version = latest[0]["version"] if latest else 0
    if version != expected_version:
        raise OpsConflict(
            "他の担当者が先に更新しました。最新の人数を確認してください。",
            "Someone else reported first; check the current counts.",
            current=latest[0]["counts"] if latest else {},
            version=version,
        )
    full = {k: int(counts.get(k, 0)) for k in CARE_CATEGORIES}
    conn.execute(
        text(
            """INSERT INTO ops.shelter_care_count (disaster_id, shelter_id, version, counts, reported_by)
               VALUES (:d, :s, :v, CAST(:c AS jsonb), :a)"""
        ),
        {"d": disaster_id, "s": shelter_id, "v": version + 1, "c": json.dumps(full), "a": actor},
    )
    parts_ja = "・".join(f"{CARE_CATEGORIES[k][0]} {v}" for k, v in full.items() if v)
    parts_en = ", ".join(f"{CARE_CATEGORIES[k][1]} {v}" for k, v in full.items() if v)
    hq_entry.write(
        conn, "checkin",
        f"避難所「{current['name']}」要配慮者数：{parts_ja or 'なし'}（計 {sum(full.values())}名）",
        f"Shelter {current['name']} people needing care: {parts_en or 'none'} (total {sum(full.values())})",
        actor=actor, disaster_id=disaster_id, shelter_id=shelter_id, ref={"version": version + 1},
    )  # fmt: skip
    audit.record(
        conn, actor, "shelter_care.report", str(shelter_id), disaster_id=disaster_id, version=version + 1
    )
    return _care_rows(conn, disaster_id, shelter_id)[0]
