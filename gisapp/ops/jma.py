"""JMA 防災情報XML telegrams stored, the conditions in force, and the state of the polled feeds.

``store`` takes a telegram's bytes (from the feed poller or ``gisapp jma import``) and, in one
transaction, keeps what concerns this municipality:

- the same bytes twice are stored once (``sha256``);
- for one (info_kind, event_id), a telegram replaces the event's conditions only when it is newer:
  a higher Serial, else (no Serial, or the same) a later ReportDateTime, else at the same time a
  訂正 over a 発表 and a 取消 over both. An older one arriving late is kept with ``applied = false``
  and changes nothing;
- 気象警報・注意報 telegrams are the full state of their 府県予報区 (new EventID each time, no Serial):
  a newer one replaces every 気象警報・注意報 condition of the areas it lists; 土砂災害警戒情報 lists
  every municipality of its prefecture, so it too replaces by area (and its own event);
- 取消 removes the event's conditions; 訂正 replaces like a newer telegram;
- 訓練・試験 telegrams (Control/Status) and telegrams that speak of none of our areas store nothing.

Each condition gets its 警戒レベル相当 and hazard from ``ops.alert_level_rule`` (``kind_name`` or
``kind_name(condition)``; one row per Condition part, so 大雨特別警報 with 土砂災害、浸水害 is two).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, text

from common import audit
from gisapp.db import transaction
from ingest import jmaxml
from ingest.jmaxml import Header, Item, Telegram

log = logging.getLogger("gisapp.jma")

APPLIED, STALE, DUPLICATE, NOT_OURS, SKIPPED = "applied", "stale", "duplicate", "not_ours", "skipped"
_RANK = {"発表": 0, "訂正": 1, "取消": 2}

KIND_EN = {
    "大雨特別警報": "heavy rain emergency warning",
    "大雨警報": "heavy rain warning",
    "洪水警報": "flood warning",
    "大雨注意報": "heavy rain advisory",
    "洪水注意報": "flood advisory",
    "雷注意報": "thunderstorm advisory",
    "強風注意報": "gale advisory",
    "暴風警報": "storm warning",
    "土砂災害警戒情報": "landslide alert",
    "氾濫注意情報": "river flood advisory",
    "氾濫警戒情報": "river flood warning",
    "氾濫危険情報": "river flood danger information",
    "氾濫発生情報": "river flooding information",
}
CONDITION_EN = {"土砂災害": "landslide", "浸水害": "inundation"}
INFO_TYPE_EN = {"発表": "issued", "訂正": "corrected", "取消": "cancelled"}


@dataclass(frozen=True)
class Stored:
    """What ``store`` did with one telegram."""

    outcome: str  # applied / stale / duplicate / not_ours / skipped
    telegram_id: int | None
    header: Header
    areas: tuple[str, ...]  # our areas it speaks of
    in_force: int  # conditions of ours it left in force (applied only)
    level: int | None  # the highest 警戒レベル相当 among them

    def describe(self) -> tuple[str, str]:
        h = self.header
        what = f"{h.title}（{h.info_type}、{h.event_id}、Serial {h.serial if h.serial is not None else '-'}）"
        return {
            APPLIED: (f"適用：{what} 発表中 {self.in_force} 件", f"applied: {what}, {self.in_force} in force"),
            STALE: (f"保存（古い電文のため適用せず）：{what}", f"stored, not applied (older than one applied): {what}"),
            DUPLICATE: (f"取込済み：{what}", f"already stored: {what}"),
            NOT_OURS: (f"対象地域なし（保存せず）：{what}", f"none of our areas (not stored): {what}"),
            SKIPPED: (f"{h.control_status}報のため取り込まず：{what}", f"{h.control_status} telegram, not stored: {what}"),
        }[self.outcome]  # fmt: skip


@dataclass(frozen=True)
class Condition:
    """A JMA condition in force in one of our areas."""

    info_kind: str
    event_id: str
    area_code: str
    area_name: str
    kind_name: str
    kind_code: str
    condition: str
    status: str
    river: str
    hazard: str | None  # landslide / flood / inland_flood (ops.alert_level_rule), None: no rule
    alert_level: int | None  # 警戒レベル相当
    telegram_id: int
    since: datetime
    title: str
    report_at: datetime

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["since"], d["report_at"] = self.since.isoformat(), self.report_at.isoformat()
        return d


# ------------------------------------------------------------------------------------ storing
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext('gisapp.jma.store'))")


def store(
    engine: Engine, data: bytes, *, source: str, area_codes: Sequence[str], actor: str = "system"
) -> Stored:
    """Parse ``data`` and store it (one transaction). Raises ``jmaxml.TelegramError`` (and its
    ``UnknownInfoKind``) before anything is written."""
    telegram = jmaxml.parse(data, area_codes)
    h = telegram.header
    if h.control_status != "通常":
        log.info(
            "JMA telegram skipped (%s)", h.control_status, extra={"event_id": h.event_id, "source": source}
        )
        return Stored(SKIPPED, None, h, (), 0, None)
    sha = hashlib.sha256(data).hexdigest()
    with transaction(engine) as conn:
        conn.execute(_LOCK)  # the poller and an import never interleave on one event
        found = conn.execute(text("SELECT id FROM ops.jma_telegram WHERE sha256 = :s"), {"s": sha}).scalar()
        if found is not None:
            return Stored(DUPLICATE, found, h, telegram.area_codes, 0, None)
        if not telegram.items and not (h.info_type == "取消" and _known_event(conn, h)):
            return Stored(NOT_OURS, None, h, (), 0, None)
        newer = _is_newer(conn, telegram)
        telegram_id = conn.execute(
            text(
                """INSERT INTO ops.jma_telegram (info_kind, event_id, serial, info_type, title, headline, office,
                                                 report_at, source, sha256, applied, area_codes)
                   VALUES (:k, :e, :serial, :t, :title, :headline, :office, :at, :source, :sha, :applied, :areas)
                   RETURNING id"""
            ),
            {"k": h.info_kind, "e": h.event_id, "serial": h.serial, "t": h.info_type, "title": h.title,
             "headline": h.headline, "office": h.office, "at": h.report_at, "source": source[:500], "sha": sha,
             "applied": newer, "areas": list(telegram.area_codes)},
        ).scalar_one()  # fmt: skip
        outcome, count, level = STALE, 0, None
        if newer:
            outcome = APPLIED
            count, level, changed = _apply(conn, telegram, telegram_id)
            if changed or h.info_type != "発表":
                _log_hq(conn, telegram, telegram_id, level)
            conn.execute(
                text("SELECT pg_notify('gisapp_events', :p)"),
                {"p": json.dumps({"type": "jma_telegram", "id": telegram_id, "info_kind": h.info_kind,
                                  "event_id": h.event_id, "info_type": h.info_type, "level": level,
                                  "changed": changed}, ensure_ascii=False)},
            )  # fmt: skip
        audit.record(
            conn, actor, "jma.telegram", f"telegram:{telegram_id}", info_kind=h.info_kind, event_id=h.event_id,
            serial=h.serial, info_type=h.info_type, applied=newer, source=source[:500], areas=list(telegram.area_codes),
        )  # fmt: skip
        if newer:
            _refresh_suggestions(conn)
        return Stored(outcome, telegram_id, h, telegram.area_codes, count, level)


def _known_event(conn: Connection, h: Header) -> bool:
    return (
        conn.execute(
            text("SELECT 1 FROM ops.jma_telegram WHERE info_kind = :k AND event_id = :e LIMIT 1"),
            {"k": h.info_kind, "e": h.event_id},
        ).first()
        is not None
    )


_LATEST_OF_EVENT = text(
    """SELECT max(serial) OVER () AS top, report_at,
              CASE info_type WHEN '取消' THEN 2 WHEN '訂正' THEN 1 ELSE 0 END AS rank
         FROM ops.jma_telegram
         WHERE applied AND info_kind = :k AND event_id = :e
         ORDER BY report_at DESC, rank DESC LIMIT 1"""
)
_LATEST_OF_AREAS = text(
    """SELECT report_at, CASE info_type WHEN '取消' THEN 2 WHEN '訂正' THEN 1 ELSE 0 END AS rank
         FROM ops.jma_telegram
         WHERE applied AND info_kind = :k AND event_id <> :e AND area_codes && CAST(:areas AS text[])
         ORDER BY report_at DESC, rank DESC LIMIT 1"""
)


def _is_newer(conn: Connection, telegram: Telegram) -> bool:
    """Newer than every applied telegram of the same event: a higher Serial, else a later time (at the
    same time 訂正 over 発表, 取消 over both). 気象警報・注意報 and 土砂災害警戒情報, which replace by area,
    must also be later than the applied telegrams of other events that covered the same areas."""
    h = telegram.header
    key = (h.report_at, _RANK[h.info_type])
    params = {"k": h.info_kind, "e": h.event_id, "areas": list(telegram.area_codes)}
    same = conn.execute(_LATEST_OF_EVENT, params).first()
    if same is not None:
        if h.serial is not None and same.top is not None and h.serial != same.top:
            if h.serial < same.top:
                return False
        elif key <= (same.report_at, same.rank):
            return False
    if h.info_kind in (jmaxml.WARNINGS, jmaxml.LANDSLIDE) and telegram.area_codes:
        other = conn.execute(_LATEST_OF_AREAS, params).first()
        if other is not None and key <= (other.report_at, other.rank):
            return False
    return True


def _rules(conn: Connection) -> dict[str, tuple[str, int]]:
    """match -> (hazard, level), the highest level where one match has several hazards."""
    rules: dict[str, tuple[str, int]] = {}
    rows = conn.execute(
        text(
            "SELECT match, hazard, level FROM ops.alert_level_rule WHERE source = 'jma' ORDER BY level, hazard"
        )
    )
    for r in rows:
        rules[r.match] = (r.hazard, r.level)
    return rules


def _parts(item: Item, info_kind: str) -> list[str]:
    if info_kind == jmaxml.WARNINGS and item.condition:
        return [p.strip() for p in re.split(r"[、,，]", item.condition) if p.strip()]
    return [item.condition]


def rule_for(rules: dict[str, tuple[str, int]], kind_name: str, condition: str) -> tuple[str, int] | None:
    """``kind_name(condition)`` if there is such a rule, else ``kind_name``."""
    return (condition and rules.get(f"{kind_name}({condition})")) or rules.get(kind_name)


# The conditions a telegram speaks for: its event's, and (by_area) those of the areas it lists.
_IN_SCOPE = text(
    """SELECT area_code, kind_name, condition, river, since FROM ops.jma_condition
        WHERE info_kind = :k AND (event_id = :e OR (:by_area AND area_code = ANY(CAST(:areas AS text[]))))"""
)
_DELETE_SCOPE = text(
    """DELETE FROM ops.jma_condition
        WHERE info_kind = :k AND (event_id = :e OR (:by_area AND area_code = ANY(CAST(:areas AS text[]))))"""
)


def _apply(conn: Connection, telegram: Telegram, telegram_id: int) -> tuple[int, int | None, bool]:
    """Replace the conditions the telegram speaks for; (in force, highest level, anything changed)."""
    h = telegram.header
    by_area = h.info_kind in (jmaxml.WARNINGS, jmaxml.LANDSLIDE) and h.info_type != "取消"
    scope = {"k": h.info_kind, "e": h.event_id, "by_area": by_area, "areas": list(telegram.area_codes)}
    before = {
        (r.area_code, r.kind_name, r.condition, r.river): r.since for r in conn.execute(_IN_SCOPE, scope)
    }
    conn.execute(_DELETE_SCOPE, scope)
    rules = _rules(conn)
    rows = []
    for item in telegram.in_force if h.info_type != "取消" else ():
        for part in _parts(item, h.info_kind):
            hazard, level = rule_for(rules, item.kind_name, part) or (None, None)
            key = (item.area_code, item.kind_name, part, item.river)
            rows.append(
                {"k": h.info_kind, "e": h.event_id, "code": item.area_code, "name": item.area_name,
                 "kind": item.kind_name, "kcode": item.kind_code, "cond": part, "status": item.status,
                 "river": item.river, "hazard": hazard, "level": level, "tid": telegram_id,
                 "since": before.get(key, h.report_at)}
            )  # fmt: skip
    unique = list({(r["code"], r["kind"], r["cond"]): r for r in rows}.values())
    if unique:
        conn.execute(
            text(
                """INSERT INTO ops.jma_condition (info_kind, event_id, area_code, area_name, kind_name, kind_code,
                                                  condition, status, river, hazard, alert_level, telegram_id, since)
                   VALUES (:k, :e, :code, :name, :kind, :kcode, :cond, :status, :river, :hazard, :level, :tid, :since)"""
            ),
            unique,
        )
    after = {(r["code"], r["kind"], r["cond"], r["river"]) for r in unique}
    levels = [r["level"] for r in unique if r["level"] is not None]
    return len(unique), max(levels, default=None), after != set(before)


def _refresh_suggestions(conn: Connection) -> None:
    """The lead's suggestion engine (gisapp.ops.evac_info.refresh_suggestions), if it exists: written
    in parallel, so looked up at run time; imported here, not at the top, as evac_info may import
    this module. A failure there must not lose the telegram: it runs in a savepoint and is logged.
    (Migration 0024 also re-evaluates by a trigger on ops.jma_condition.)"""
    try:
        module = importlib.import_module("gisapp.ops.evac_info")
    except ModuleNotFoundError:
        return
    refresh = getattr(module, "refresh_suggestions", None)
    if refresh is None:
        return
    try:
        with conn.begin_nested():
            refresh(conn)
    except Exception:
        log.exception("refresh_suggestions failed after a JMA telegram")


# ------------------------------------------------------------------------------------ HQ log
def _level_ja(level: int | None) -> str:
    return f"［警戒レベル{level}相当］" if level else ""


def _log_hq(conn: Connection, telegram: Telegram, telegram_id: int, level: int | None) -> None:
    h = telegram.header
    rows = conn.execute(
        text(
            """SELECT area_name, area_code, kind_name, condition, alert_level FROM ops.jma_condition
                WHERE telegram_id = :t ORDER BY area_code, alert_level DESC NULLS LAST, kind_name"""
        ),
        {"t": telegram_id},
    ).all()
    names = {i.area_code: i.area_name for i in telegram.items}
    ja_parts, en_parts = [], []
    for code in telegram.area_codes or ():
        mine = [r for r in rows if r.area_code == code]
        kinds_ja = "、".join(
            f"{r.kind_name}{f'({r.condition})' if r.condition and h.info_kind == jmaxml.WARNINGS else ''}"
            f"{_level_ja(r.alert_level)}"
            for r in mine
        )
        kinds_en = ", ".join(
            KIND_EN.get(r.kind_name, r.kind_name)
            + (f" ({CONDITION_EN.get(r.condition, r.condition)})" if r.condition and h.info_kind == jmaxml.WARNINGS else "")
            + (f" [alert level {r.alert_level} equivalent]" if r.alert_level else "")
            for r in mine
        )  # fmt: skip
        ja_parts.append(f"{names.get(code, code)} {kinds_ja or '発表中の情報なし（解除）'}")
        en_parts.append(f"{code} {names.get(code, code)}: {kinds_en or 'nothing in force (cleared)'}")
    if h.info_type == "取消":
        ja_parts, en_parts = ["先の電文を取り消し"], ["the earlier telegram was cancelled"]
    conn.execute(
        text(
            """INSERT INTO ops.hq_log (kind, level, summary_ja, summary_en, ref, disaster_id)
               VALUES ('jma', :level, :ja, :en, CAST(:ref AS jsonb),
                       (SELECT id FROM ops.disaster WHERE closed_at IS NULL ORDER BY opened_at DESC LIMIT 1))"""
        ),
        {"level": level,
         "ja": f"【気象庁】{h.title}（{h.info_type}）：{'／'.join(ja_parts)}",
         "en": f"[JMA] {h.title} {INFO_TYPE_EN[h.info_type]}: {'; '.join(en_parts)}",
         "ref": json.dumps({"telegram_id": telegram_id, "info_kind": h.info_kind, "event_id": h.event_id},
                           ensure_ascii=False)},
    )  # fmt: skip


# ------------------------------------------------------------------------------------ reading
_IN_FORCE = text(
    """SELECT c.info_kind, c.event_id, c.area_code, c.area_name, c.kind_name, c.kind_code, c.condition, c.status,
              c.river, c.hazard, c.alert_level, c.telegram_id, c.since, t.title, t.report_at
         FROM ops.jma_condition c JOIN ops.jma_telegram t ON t.id = c.telegram_id
        ORDER BY c.alert_level DESC NULLS LAST, c.area_code, c.kind_name, c.condition"""
)


def in_force(conn: Connection) -> list[Condition]:
    """The JMA conditions in force in our areas, the highest 警戒レベル相当 first."""
    return [Condition(**r._mapping) for r in conn.execute(_IN_FORCE)]


def recent_telegrams(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            """SELECT id, info_kind, event_id, serial, info_type, title, office, report_at, source, applied,
                      area_codes, received_at
                 FROM ops.jma_telegram ORDER BY received_at DESC, id DESC LIMIT :n"""
        ),
        {"n": limit},
    )
    return [
        {**r._mapping, "report_at": r.report_at.isoformat(), "received_at": r.received_at.isoformat()}
        for r in rows
    ]
