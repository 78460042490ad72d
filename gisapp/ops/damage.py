"""被害報 (damage reports) per incident: versioned figures, per-area tallies and totals as of a time.

The figures are the rows of the 消防庁「火災・災害等即報要領」第4号様式その2 (被害状況即報) that an incident
can carry (``FIELDS``, in the form's order). Every save is a new version in ``ops.incident_damage``
(append-only, migration 0029) naming the version it was based on, like an incident's status: a stale
one is refused with the current figures (409), and a retry of a save that was already stored (same
figures, same reason, same person, on top of the same version) gets that version back, not a second
one. Each version writes a クロノロジー entry (``ops.hq_log`` kind 'damage') in the same transaction.

Totals are summed over incidents, never over areas, so the city total is exactly the sum of the
incidents' figures: an incident counts in one 町丁目 (``ops.evac_area``; the first by code where areas
overlap) or under 地区不明. An incident that is 取消 (cancelled: a duplicate or a mistaken report) at the
time asked for does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import bindparam

from common import audit
from gisapp.ops.errors import OpsConflict, OpsInvalid, OpsNotFound
from gisapp.ops.incidents import get_incident

MAX_FIGURE = 1_000_000  # more than any city's buildings or people: a typo, not a figure
MAX_REASON = 1000
UNKNOWN_AREA = ("", "地区不明", "Area unknown")


@dataclass(frozen=True)
class Field:
    name: str  # column of ops.incident_damage
    group: str  # key of GROUPS
    row_ja: str  # the form's row
    row_en: str
    unit_ja: str  # 人, 棟, 世帯, 箇所 …
    unit_en: str


# The groups of the form's left half, in order: (日本語, English).
GROUPS: dict[str, tuple[str, str]] = {
    "human": ("人的被害", "Casualties"),
    "housing": ("住家被害", "Houses"),
    "non_residential": ("非住家", "Non-residential buildings"),
    "other": ("その他", "Other damage"),
    "fire": ("火災発生", "Fires"),
}
_HOUSING_ROWS = (
    ("destroyed", "全壊", "Destroyed"),
    ("half", "半壊", "Half destroyed"),
    ("partial", "一部破損", "Partly damaged"),
    ("flooded_above", "床上浸水", "Flooded above floor"),
    ("flooded_below", "床下浸水", "Flooded below floor"),
)
_HOUSING_UNITS = (
    ("buildings", "棟", "buildings"),
    ("households", "世帯", "households"),
    ("people", "人", "people"),
)
_OTHER_ROWS = (
    ("schools", "文教施設", "Schools", "箇所", "places"),
    ("hospitals", "病院", "Hospitals", "箇所", "places"),
    ("roads", "道路", "Roads", "箇所", "places"),
    ("bridges", "橋りょう", "Bridges", "箇所", "places"),
    ("rivers", "河川", "Rivers", "箇所", "places"),
    ("ports", "港湾", "Ports", "箇所", "places"),
    ("erosion_control", "砂防", "Erosion control works", "箇所", "places"),
    ("sanitation", "清掃施設", "Sanitation facilities", "箇所", "places"),
    ("cliff_failures", "崖くずれ", "Slope failures", "箇所", "places"),
    ("railway_outages", "鉄道不通", "Railway lines cut", "箇所", "places"),
    ("vessels", "被害船舶", "Vessels damaged", "隻", "vessels"),
    ("water_outages", "水道", "Water supply cut", "戸", "dwellings"),
    ("phone_outages", "電話", "Telephone lines cut", "回線", "lines"),
    ("power_outages", "電気", "Electricity cut", "戸", "dwellings"),
    ("gas_outages", "ガス", "Gas cut", "戸", "dwellings"),
    ("block_walls", "ブロック塀等", "Block walls etc.", "箇所", "places"),
)
FIELDS: tuple[Field, ...] = (
    Field("dead", "human", "死者", "Dead", "人", "people"),
    Field("missing", "human", "行方不明者", "Missing", "人", "people"),
    Field("injured_serious", "human", "重傷", "Seriously injured", "人", "people"),
    Field("injured_minor", "human", "軽傷", "Slightly injured", "人", "people"),
    *(
        Field(f"{row}_{unit}", "housing", row_ja, row_en, unit_ja, unit_en)
        for row, row_ja, row_en in _HOUSING_ROWS
        for unit, unit_ja, unit_en in _HOUSING_UNITS
    ),
    Field("public_buildings", "non_residential", "公共建物", "Public buildings", "棟", "buildings"),
    Field("other_buildings", "non_residential", "その他", "Other buildings", "棟", "buildings"),
    *(Field(name, "other", ja, en, uja, uen) for name, ja, en, uja, uen in _OTHER_ROWS),
    Field("fire_buildings", "fire", "建物", "Buildings", "件", "fires"),
    Field("fire_hazmat", "fire", "危険物", "Hazardous materials", "件", "fires"),
    Field("fire_other", "fire", "その他", "Other", "件", "fires"),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
BY_NAME = {f.name: f for f in FIELDS}
_COLUMNS = ", ".join(NAMES)  # constants of this module, never a caller's text

# Column names in these statements are this module's constants (NAMES); every value is bound.
_VERSION_SQL = f"SELECT incident_id, version, {_COLUMNS}, reason, actor, at FROM ops.incident_damage"  # noqa: S608
_CURRENT = text(_VERSION_SQL + "_current WHERE incident_id = :i")
_VERSIONS = text(_VERSION_SQL + " WHERE incident_id = :i ORDER BY version")
_INSERT = text(
    f"INSERT INTO ops.incident_damage (incident_id, version, {_COLUMNS}, reason, actor) "  # noqa: S608
    f"VALUES (:incident_id, :version, {', '.join(':' + n for n in NAMES)}, :reason, :actor)"
)
# Each incident's latest version at or before :t, with the 町丁目 its point lies in and its status then.
_AS_OF = text(
    f"""SELECT l.incident_id, {", ".join("l." + n for n in NAMES)},
               coalesce(a.code, '') AS area_code, a.name AS area_name
          FROM (SELECT DISTINCT ON (d.incident_id) d.*
                  FROM ops.incident_damage d JOIN ops.incident i ON i.id = d.incident_id
                 WHERE i.disaster_id = :d AND d.at <= :t
                 ORDER BY d.incident_id, d.version DESC) l
          JOIN ops.incident i ON i.id = l.incident_id
          LEFT JOIN LATERAL (SELECT e.to_status FROM ops.incident_event e
                              WHERE e.incident_id = i.id AND e.to_status IS NOT NULL AND e.at <= :t
                              ORDER BY e.id DESC LIMIT 1) s ON true
          LEFT JOIN LATERAL (SELECT code, name FROM ops.evac_area
                              WHERE ST_Covers(geom, i.geom) ORDER BY code LIMIT 1) a ON true
         WHERE s.to_status IS DISTINCT FROM 'cancelled'
         ORDER BY l.incident_id"""  # noqa: S608
)
_LOG = text(
    """INSERT INTO ops.hq_log (kind, summary_ja, summary_en, ref, actor, disaster_id, incident_id)
       VALUES ('damage', :ja, :en, :ref, :actor, :disaster, :incident)"""
).bindparams(bindparam("ref", type_=JSONB))

# り災世帯数 / り災者数 (災害報告取扱要領): the households and people of houses 全壊, 半壊 or 床上浸水.
AFFECTED_ROWS = ("destroyed", "half", "flooded_above")


def zero() -> dict[str, int]:
    return dict.fromkeys(NAMES, 0)


def derived(figures: dict[str, int]) -> dict[str, int]:
    """The form's computed rows: り災世帯数, り災者数, 負傷者計 and 死傷者計 (その1)."""
    return {
        "affected_households": sum(figures[f"{r}_households"] for r in AFFECTED_ROWS),
        "affected_people": sum(figures[f"{r}_people"] for r in AFFECTED_ROWS),
        "injured": figures["injured_serious"] + figures["injured_minor"],
    }


def _label(field: Field) -> tuple[str, str]:
    if field.group == "housing":
        return f"{field.row_ja}（{field.unit_ja}）", f"{field.row_en} ({field.unit_en})"
    return field.row_ja, field.row_en


def check_figures(figures: Any) -> dict[str, int]:
    """The figures a caller sent, or OpsInvalid naming the first that is not a known figure or not a
    whole number from 0 to MAX_FIGURE (true/false, 1.5, "3" and -1 are all refused)."""
    if not isinstance(figures, dict):
        raise OpsInvalid(
            "被害の数値をまとめて送ってください。", "Send the figures as an object.", field="figures"
        )
    unknown = sorted(set(figures) - set(NAMES))
    if unknown:
        raise OpsInvalid(
            f"不明な項目です: {', '.join(unknown)[:200]}",
            f"Unknown figures: {', '.join(unknown)[:200]}",
            field="figures",
            unknown=unknown[:20],
        )
    for name, value in figures.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FIGURE:
            ja, en = _label(BY_NAME[name])
            raise OpsInvalid(
                f"{ja}は0以上{MAX_FIGURE:,}以下の整数で入力してください。",
                f"{en} must be a whole number from 0 to {MAX_FIGURE:,}.",
                field=f"figures.{name}",
            )
    return dict(figures)


def _row(r: Any) -> dict[str, Any]:
    m = r._mapping
    figures = {n: m[n] for n in NAMES}
    return {
        "incident_id": m["incident_id"],
        "version": m["version"],
        "figures": figures,
        "derived": derived(figures),
        "reason": m["reason"],
        "actor": m["actor"],
        "at": m["at"],
    }


def get_damage(conn: Connection, incident_id: int) -> dict[str, Any]:
    """The incident's current figures; version 0 (all zero) before its first report."""
    get_incident(conn, incident_id)
    row = conn.execute(
        _CURRENT,
        {"i": incident_id},
    ).one_or_none()
    if row is None:
        figures = zero()
        return {
            "incident_id": incident_id, "version": 0, "figures": figures, "derived": derived(figures),
            "reason": "", "actor": None, "at": None,
        }  # fmt: skip
    return _row(row)


def history(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """Every version, oldest first, each with what it changed from the one before."""
    get_incident(conn, incident_id)
    rows = conn.execute(
        _VERSIONS,
        {"i": incident_id},
    )
    out, before = [], zero()
    for r in rows:
        item = _row(r)
        item["changed"] = {
            n: {"from": before[n], "to": v} for n, v in item["figures"].items() if v != before[n]
        }
        before = item["figures"]
        out.append(item)
    return out


def summary(incident_id: int, changed: set[str], figures: dict[str, int], reason: str) -> tuple[str, str]:
    """The クロノロジー line: 「事案#12 被害報更新：死者1 重傷2（理由）」, the new values of what changed; a
    housing row with all its units (全壊2棟3世帯5人) when any of them changed."""
    parts_ja: list[str] = []
    parts_en: list[str] = []
    done: set[str] = set()
    for f in FIELDS:
        if f.name not in changed or f.name in done:
            continue
        if f.group == "housing":
            row = f.name.rsplit("_", 1)[0]
            units = [BY_NAME[f"{row}_{u}"] for u, _, _ in _HOUSING_UNITS]
            done.update(u.name for u in units)
            parts_ja.append(f.row_ja + "".join(f"{figures[u.name]}{u.unit_ja}" for u in units))
            parts_en.append(f"{f.row_en} " + "/".join(f"{figures[u.name]} {u.unit_en}" for u in units))
        else:
            group = GROUPS[f.group][0] if f.group == "fire" else ""
            parts_ja.append(f"{group}{f.row_ja}{figures[f.name]}")
            parts_en.append(f"{f.row_en} {figures[f.name]}")
    why_ja = f"（{reason}）" if reason else ""
    why_en = f" ({reason})" if reason else ""
    return (
        f"事案#{incident_id} 被害報更新：{' '.join(parts_ja)}{why_ja}",
        f"Incident #{incident_id} damage report: {', '.join(parts_en)}{why_en}",
    )


def save_damage(
    conn: Connection,
    incident_id: int,
    expected_version: int,
    figures: Any,
    reason: str,
    actor: str,
    *,
    replace: bool,
) -> dict[str, Any]:
    """Store a new version on top of ``expected_version`` (0: the first report). ``replace`` (PUT): the
    figures not given are 0; otherwise (PATCH) they keep their current value. A version after the first
    needs a reason. Returns the current figures; OpsConflict (409, with the current figures) when
    someone else saved first."""
    given = check_figures(figures)
    reason = str(reason or "").strip()
    if len(reason) > MAX_REASON:
        raise OpsInvalid(
            f"理由は{MAX_REASON}文字までです。",
            f"The reason is {MAX_REASON} characters at most.",
            field="reason",
        )
    incident = get_incident(conn, incident_id, for_update=True)  # concurrent saves queue here
    current = get_damage(conn, incident_id)
    new = {**(zero() if replace else current["figures"]), **given}
    if current["version"] != expected_version:
        # The same save again (a retry after a lost answer): it is stored already, answer it again.
        if (
            current["version"] == expected_version + 1
            and current["figures"] == new
            and current["reason"] == reason
            and current["actor"] == actor
        ):
            return current
        raise OpsConflict(
            "他の担当者が先に被害報を更新しました。最新の内容を確認してください。",
            "Someone else updated the damage figures first; check the current figures.",
            current={**current, "at": current["at"].isoformat() if current["at"] else None},
        )
    if current["version"] >= 1 and not reason:
        raise OpsInvalid("訂正には理由を入力してください。", "A correction needs a reason.", field="reason")
    changed = {n: v for n, v in new.items() if v != current["figures"][n]}
    if not changed:
        raise OpsInvalid("変更内容がありません。", "Nothing to change.")
    version = expected_version + 1
    conn.execute(
        _INSERT,
        {"incident_id": incident_id, "version": version, **new, "reason": reason, "actor": actor},
    )
    ja, en = summary(incident_id, set(changed), new, reason)
    conn.execute(
        _LOG,
        {
            "ja": ja,
            "en": en,
            "ref": {"incident_id": incident_id, "damage_version": version},
            "actor": actor,
            "disaster": incident["disaster_id"],
            "incident": incident_id,
        },
    )
    audit.record(conn, actor, "incident.damage", str(incident_id), version=version, changed=sorted(changed))
    return get_damage(conn, incident_id)


# ------------------------------------------------------------------------------------ tallies
def _sum(rows: list[dict[str, int]]) -> dict[str, int]:
    total = zero()
    for r in rows:
        for n in NAMES:
            total[n] += r[n]
    return total


def totals(conn: Connection, disaster_id: int, at: datetime | None = None) -> dict[str, Any]:
    """The disaster's figures as of ``at`` (None: now): each incident's latest version at or before
    it, incidents 取消 at that time left out; per 町丁目 (and 地区不明) and for the city."""
    disaster = conn.execute(
        text("SELECT id, name, opened_at, closed_at FROM ops.disaster WHERE id = :d"), {"d": disaster_id}
    ).one_or_none()
    if disaster is None:
        raise OpsNotFound("災害が見つかりません。", "No such disaster.", disaster_id=disaster_id)
    t = at or conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    rows = conn.execute(
        _AS_OF,
        {"d": disaster_id, "t": t},
    ).all()
    by_area: dict[str, dict[str, Any]] = {}
    for r in rows:
        m = r._mapping
        code = m["area_code"]
        area = by_area.setdefault(
            code,
            {
                "area_code": code,
                "area_name": m["area_name"] or UNKNOWN_AREA[1],
                "area_name_en": m["area_name"] or UNKNOWN_AREA[2],
                "incident_ids": [],
                "rows": [],
            },
        )
        area["incident_ids"].append(m["incident_id"])
        area["rows"].append({n: m[n] for n in NAMES})
    areas = []
    for code in sorted(by_area, key=lambda c: (c == "", c)):  # 地区不明 last
        area = by_area[code]
        figures = _sum(area.pop("rows"))
        areas.append({**area, "figures": figures, "derived": derived(figures)})
    total = _sum([a["figures"] for a in areas])
    return {
        "disaster": dict(disaster._mapping),
        "at": t,
        "incidents": len(rows),
        "total": total,
        "derived": derived(total),
        "areas": areas,
    }


def fields_json(lang: str = "ja") -> list[dict[str, str]]:
    """The figures in the form's order with their labels (for the HQ page and the API)."""
    return [
        {
            "name": f.name,
            "group": f.group,
            "group_label": GROUPS[f.group][0 if lang != "en" else 1],
            "row": f.row_ja if lang != "en" else f.row_en,
            "unit": f.unit_ja if lang != "en" else f.unit_en,
        }
        for f in FIELDS
    ]
