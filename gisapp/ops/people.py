"""People who need evacuation help (避難行動要支援者): registry, CSV import, priority, individual plans
(個別避難計画), the roster of one community area and the time-limited disaster mode (災害モード).

Who sees whom is decided by row-level security in the database (migration 0016), never here: every
function runs in the caller's transaction, whose ``gisapp.roles`` are the acting user's. Every public
function that reads, exports or writes people takes the actor and audits itself in that transaction
(who, what, how many rows, which area or person), so no caller (API, page, CLI, export) can forget it;
the keeper reads that record through ``gisapp.ops.people_access``. Nothing here logs personal data,
and no error message repeats a value from a row. The disaster mode is ``gisapp.ops.disaster_mode``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import bindparam

from common import audit, csvsafe, geo
from common.geo import location_problem
from gisapp.ops import disaster_mode as mode
from gisapp.ops import evac_levels
from gisapp.ops.errors import OpsInvalid, OpsNotFound
from layers.importers.csv_read import decode, rows_of
from layers.importers.errors import ImportRejected

PEOPLE_LAYER = "people-needing-help"  # the demo's registry layer, the import's default target
# A gauge is "in alert" at a level whose 警戒レベル相当 (ops.alert_level_rule, data) is at least this; the
# rule's hazard says whom it concerns (rain gauges' 警戒/危険 → landslide, river levels → flood).
ALERT_MIN_LEVEL = 3
NEAR_GAUGE_M = 2000.0  # a gauge this close to a residence raises the person's priority
MAX_DISASTER_MINUTES = mode.MAX_MINUTES

PLAN_STATUS = {  # id -> (ja, en)
    "not_started": ("未作成", "not started"),
    "drafting": ("作成中", "being drafted"),
    "done": ("作成済", "done"),
    "needs_update": ("要更新", "needs update"),
}
HAZARD_CLASS = {  # restricted.hazard_rank -> (ja, en); 6 = outside every hazard area
    1: ("土砂災害特別警戒区域", "landslide special warning area"),
    2: ("土砂災害警戒区域", "landslide warning area"),
    3: ("浸水想定 3m以上", "flooding 3 m or deeper"),
    4: ("浸水想定 0.5〜3m", "flooding 0.5-3 m"),
    5: ("浸水想定 0.5m未満ほか", "other hazard area"),
    6: ("区域外", "outside hazard areas"),
}


# ------------------------------------------------------------------------------------ reading
_COLUMNS = """p.id, p.external_id, p.name, p.name_kana, p.birth_year, p.phone, p.address, p.community_area,
  p.care_categories, p.care_severity, p.consent, p.support_persons, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
  coalesce(ep.status, 'not_started') AS plan_status"""

# The worst hazard area per person (class and area id packed in one bigint) and the kinds of hazard
# area the residence lies in (a bit mask: 1 landslide, 2 flood, 4 inland_flood) are stored in
# restricted.person_hazard when a residence or a hazard layer changes (migrations 0018, 0024): under
# row-level security PostGIS's operators cannot use the index of the residences, so overlaying on
# every request would cost seconds. What is live is computed here, against the few rows it concerns:
# - the gauges in alert, each with the hazards of its levels' rules, boxed once, checked against each
#   residence of a matching kind (box first, then the geodesic distance): a river gauge never raises
#   a resident of a landslide area;
# - the active evacuation orders (避難情報) of a matching hazard whose area contains the residence.
# Both are skipped at once (one bit test) for a person whose kinds of area no gauge in alert and no
# order concerns: on a quiet day the live part costs nothing per person.
# Personal columns are read only for the rows returned. Order: the highest issued level covering the
# person, then in a hazard area with a matching gauge in alert nearby, then the hazard class, the
# care category's severity, the oldest first.
_PACK = 1_000_000_000_000
_HAZARD_BIT = "CASE {} WHEN 'landslide' THEN 1 WHEN 'flood' THEN 2 WHEN 'inland_flood' THEN 4 ELSE 0 END"
_PRIORITY = f"""
WITH rule AS MATERIALIZED (
  SELECT match, {_HAZARD_BIT.format("hazard")} AS bit FROM ops.alert_level_rule
  WHERE source = 'gauge' AND level >= :alert_min
), alert AS MATERIALIZED (
  SELECT a.* FROM (
    SELECT d.id, d.location::geography AS place,
      ST_Expand(d.location, :radius / (111320.0 * cos(radians(ST_Y(d.location)))), :radius / 110574.0) AS box,
      (SELECT bit_or(r.bit) FROM jsonb_each_text(s.levels) l
       JOIN rule r ON r.match IN (l.key || ':' || l.value, l.value)) AS kinds
    FROM sensor.gauge_state s JOIN sensor.device d ON d.id = s.device_id
    WHERE d.enabled AND d.location IS NOT NULL) a
  WHERE a.kinds <> 0
), issued AS MATERIALIZED (
  SELECT o.level, o.geom, {_HAZARD_BIT.format("o.hazard")} AS kinds FROM ops.evac_order o
  WHERE o.status = 'active'
), ranked AS MATERIALIZED (
  SELECT p.id, coalesce(h.worst / {_PACK}, 6)::int AS hazard_rank, h.worst % {_PACK} AS hazard_id,
    CASE WHEN (h.kinds & (SELECT bit_or(kinds) FROM alert)) <> 0 THEN (SELECT min(a.id) FROM alert a
      WHERE (a.kinds & h.kinds) <> 0 AND a.box && p.geom AND ST_DWithin(a.place, p.geom::geography, :radius))
    END AS alert_gauge,
    CASE WHEN (h.kinds & (SELECT bit_or(kinds) FROM issued)) <> 0 THEN (SELECT max(i.level) FROM issued i
      WHERE (i.kinds & h.kinds) <> 0 AND i.geom && p.geom AND ST_Intersects(i.geom, p.geom))
    END AS evac_level,
    p.care_severity, p.birth_year
  FROM restricted.person_needing_help p LEFT JOIN restricted.person_hazard h ON h.person_id = p.id
  WHERE CAST(:areas AS text[]) IS NULL OR p.community_area = ANY(CAST(:areas AS text[]))
), ordered AS MATERIALIZED (
  SELECT r.*, row_number() OVER (ORDER BY r.evac_level DESC NULLS LAST, (r.alert_gauge IS NOT NULL) DESC,
    r.hazard_rank, r.care_severity, r.birth_year NULLS LAST, r.id) AS priority
  FROM ranked r ORDER BY priority LIMIT :limit
)
SELECT {_COLUMNS}, o.priority, o.hazard_rank, o.alert_gauge, o.evac_level, hz.hazard_type, hz.depth_rank
FROM ordered o JOIN restricted.person_needing_help p ON p.id = o.id
LEFT JOIN gis.hazard_area hz ON hz.id = o.hazard_id
LEFT JOIN restricted.evacuation_plan ep ON ep.person_id = p.id
"""  # noqa: S608 -- composed of this module's own constants only
_PRIORITY_ORDERED = _PRIORITY + " ORDER BY o.priority"


_KANJI_DIGITS = str.maketrans("〇一二三四五六七八九", "0123456789")
_CHOME = re.compile(r"([〇一二三四五六七八九十]+)丁目?$|([0-9]+)(?:丁目?|-?chome)$", re.IGNORECASE)
_SPACES = re.compile(r"[\s\u3000]+")


def _kanji_number(kanji: str) -> int:
    """一 … 九十九 (the numbers of 丁目)."""
    if "十" not in kanji:
        return int(kanji.translate(_KANJI_DIGITS))
    tens, _, ones = kanji.partition("十")
    return int(tens.translate(_KANJI_DIGITS) or 1) * 10 + int(ones.translate(_KANJI_DIGITS) or 0)


def area_key(area: str) -> str:
    """A community area name as it is compared: NFKC (full-width ４ → 4, half-width kana → full), no
    spaces, and the 丁目 in one form (四丁目 / ４丁目 / 4丁 / 4-chome → 4丁目). The same key is made of
    the query and of every stored name, so 「デモ田園町４丁目」 finds the people of 「デモ田園町4丁目」."""
    key = _SPACES.sub("", unicodedata.normalize("NFKC", area or ""))
    found = _CHOME.search(key)
    if found:
        number = _kanji_number(found[1]) if found[1] else int(found[2])
        key = f"{key[: found.start()]}{number}丁目"
    return key


def _areas(conn: Connection, area: str | None) -> list[str] | None:
    """The stored community_area values (as the caller may see them: RLS applies) whose key is the
    key of ``area``; None for "every area"."""
    if area is None:
        return None
    wanted = area_key(area)
    stored = conn.execute(
        text("SELECT DISTINCT community_area FROM restricted.person_needing_help")
    ).scalars()
    return [name for name in stored if area_key(name) == wanted]


def _row(r: Any) -> dict[str, Any]:
    d = dict(r._mapping)
    if "hazard_rank" in d:
        d["hazard_ja"], d["hazard_en"] = HAZARD_CLASS[d["hazard_rank"]]
    d["plan_status_ja"] = PLAN_STATUS[d["plan_status"]][0]
    return d


def tune(conn: Connection) -> None:
    """The ranking's sort stays in memory (this transaction only)."""
    conn.execute(text("SET LOCAL work_mem = '64MB'"))


def _ranked(conn: Connection, area: str | None, limit: int | None, radius_m: float) -> list[dict[str, Any]]:
    params = {"areas": _areas(conn, area), "limit": limit, "radius": radius_m, "alert_min": ALERT_MIN_LEVEL}
    tune(conn)
    return [_row(r) for r in conn.execute(text(_PRIORITY_ORDERED), params)]


def priority(
    conn: Connection,
    actor: str,
    area: str | None = None,
    limit: int | None = None,
    radius_m: float = NEAR_GAUGE_M,
) -> list[dict[str, Any]]:
    """The people the caller may see, most urgent first (``priority`` 1, 2, …), with the reason."""
    rows = _ranked(conn, area, limit, radius_m)
    _audit_read(conn, actor, "people.priority", len(rows), area=area)
    return rows


def list_people(
    conn: Connection, actor: str, area: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            f"""SELECT {_COLUMNS} FROM restricted.person_needing_help p
                LEFT JOIN restricted.evacuation_plan ep ON ep.person_id = p.id
                WHERE CAST(:areas AS text[]) IS NULL OR p.community_area = ANY(CAST(:areas AS text[]))
                ORDER BY p.community_area, p.external_id, p.id LIMIT :limit OFFSET :offset"""  # noqa: S608 -- own constant
        ),
        {"areas": _areas(conn, area), "limit": limit, "offset": offset},
    )
    found = [_row(r) for r in rows]
    _audit_read(conn, actor, "people.list", len(found), area=area)
    return found


def get_person(conn: Connection, actor: str, person_id: int) -> dict[str, Any]:
    """One person; one that does not exist and one the caller may not see answer the same 404."""
    person = _person(conn, person_id)
    _audit_read(conn, actor, "people.read", 1, person_id=person_id)
    return person


def _person(conn: Connection, person_id: int) -> dict[str, Any]:
    row = conn.execute(
        text(
            f"""SELECT {_COLUMNS}, ep.summary AS plan_summary, ep.updated_by AS plan_updated_by,
                  ep.updated_at AS plan_updated_at
                FROM restricted.person_needing_help p
                LEFT JOIN restricted.evacuation_plan ep ON ep.person_id = p.id WHERE p.id = :id"""  # noqa: S608 -- own constant
        ),
        {"id": person_id},
    ).first()
    if row is None:
        raise OpsNotFound("該当する要支援者が見つかりません。", "Person not found.")
    return _row(row)


READ_TARGET = "restricted.person_needing_help"


def _audit_read(conn: Connection, actor: str, action: str, rows: int, **details: Any) -> None:
    """Who read or exported how many people, in the reading transaction."""
    audit.record(conn, actor, action, READ_TARGET, rows=rows, **details)


# -------------------------------------------------------------------- 個別避難計画 (plans)
def get_plan(conn: Connection, actor: str, person_id: int) -> dict[str, Any]:
    plan = _plan(conn, person_id)
    _audit_read(conn, actor, "people.plan_read", 1, person_id=person_id)
    return plan


def _plan(conn: Connection, person_id: int) -> dict[str, Any]:
    person = _person(conn, person_id)  # 404 unless the caller may see the person
    return {
        "person_id": person_id,
        "status": person["plan_status"],
        "status_ja": person["plan_status_ja"],
        "summary": person["plan_summary"] or "",
        "updated_by": person["plan_updated_by"],
        "updated_at": person["plan_updated_at"],
    }


def save_plan(conn: Connection, actor: str, person_id: int, status: str, summary: str) -> dict[str, Any]:
    if status not in PLAN_STATUS:
        raise OpsInvalid("計画の状態が不正です。", "Unknown plan status.", allowed=list(PLAN_STATUS))
    _person(conn, person_id)
    conn.execute(
        text(
            """INSERT INTO restricted.evacuation_plan (person_id, status, summary, updated_by)
               VALUES (:p, :s, :summary, :by)
               ON CONFLICT (person_id) DO UPDATE SET status = EXCLUDED.status, summary = EXCLUDED.summary,
                 updated_by = EXCLUDED.updated_by, updated_at = now()"""
        ),
        {"p": person_id, "s": status, "summary": summary, "by": actor},
    )
    audit.record(
        conn, actor, "people.plan_write", "restricted.evacuation_plan", person_id=person_id, status=status
    )
    return _plan(conn, person_id)


# ----------------------------------------------------------------------------- CSV import
_HEADERS = {  # canonical -> accepted headers (Japanese first)
    "external_id": ("管理番号", "external_id"),
    "name": ("氏名", "name"),
    "name_kana": ("ふりがな", "フリガナ", "name_kana"),
    "birth_year": ("生年", "birth_year"),
    "phone": ("電話番号", "phone"),
    "address": ("住所", "address"),
    "community_area": ("自治会", "町丁目", "community_area"),
    "care_categories": ("要配慮区分", "care_categories"),
    "consent": ("同意", "consent"),
    "lat": ("緯度", "lat"),
    "lon": ("経度", "lon"),
    "support_persons": ("避難支援者", "support_persons"),
}
_CODED = {"external_id", "birth_year", "phone", "care_categories", "consent", "lat", "lon"}
REQUIRED = ("external_id", "name", "birth_year", "care_categories", "consent", "lat", "lon")
_YES = {"有", "あり", "はい", "同意", "1", "true", "yes", "y"}
_NO = {"無", "なし", "いいえ", "不同意", "0", "false", "no", "n"}
_SPLIT = re.compile(r"[;；、|]")
MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ImportResult:
    rows: int
    inserted: int
    updated: int
    encoding: str


def _problem(line: int, column: str, ja: str, en: str) -> dict[str, Any]:
    # The row and column only: the value itself may be personal data.
    return {"row": line, "column": column, "problem_ja": ja, "problem_en": en}


def _header_map(header: list[str]) -> tuple[dict[str, int], list[dict[str, Any]]]:
    index = {}
    for key, names in _HEADERS.items():
        for i, h in enumerate(header):
            if unicodedata.normalize("NFKC", h).strip() in names:
                index[key] = i
    missing = [k for k in REQUIRED if k not in index]
    problems = [
        _problem(1, _HEADERS[k][0], "必須の列がありません。", f"Required column '{k}' is missing.")
        for k in missing
    ]
    return index, problems


def _support_persons(cell: str) -> list[dict[str, str]]:
    """'氏名/続柄/電話' entries separated by '|' (or ;)."""
    out = []
    for entry in filter(None, (e.strip() for e in re.split(r"[|;；]", cell))):
        parts = [p.strip() for p in entry.split("/")] + ["", ""]
        out.append({"name": parts[0], "relation": parts[1], "phone": parts[2]})
    return out


def _parse_row(
    line: int, cells: list[str], index: dict[str, int], known: set[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    def get(key: str) -> str:
        i = index.get(key)
        value = cells[i].strip() if i is not None and i < len(cells) else ""
        # Codes and numbers are normalised (全角 digits); names and addresses stay as written.
        return unicodedata.normalize("NFKC", value) if key in _CODED else value

    problems: list[dict[str, Any]] = []
    out: dict[str, Any] = {k: get(k) for k in _HEADERS}
    for key in REQUIRED:
        if not out[key]:
            problems.append(_problem(line, _HEADERS[key][0], "値がありません。", f"'{key}' is empty."))
    consent = out["consent"].lower()
    if consent and consent not in _YES | _NO:
        problems.append(
            _problem(line, "同意", "同意は 有/無 で指定してください。", "consent must be yes/no (有/無).")
        )
    out["consent"] = consent in _YES
    year = out["birth_year"]
    if year and not (year.isdigit() and 1900 <= int(year) <= date.today().year):
        problems.append(
            _problem(
                line,
                "生年",
                "生年が不正です（1900年〜今年）。",
                "birth_year must be a year from 1900 to this year.",
            )
        )
    out["birth_year"] = int(year) if year.isdigit() else None
    numbers = {}
    for axis, column in (("lat", "緯度"), ("lon", "経度")):
        if not out[axis]:
            continue
        try:
            numbers[axis] = out[axis] = float(out[axis])
        except ValueError:
            out[axis] = float("nan")
            problems.append(_problem(line, column, "座標が数値ではありません。", f"{axis} is not a number."))
    if len(numbers) == 2 and (code := location_problem(numbers["lon"], numbers["lat"])):
        # Both columns named: a swap or a lost sign is about the pair (the reason says which).
        ja, en = geo.REASONS[code]
        problems += [_problem(line, column, ja, en) for column in ("緯度", "経度")]
    categories = [c.strip() for c in _SPLIT.split(out["care_categories"]) if c.strip()]
    if out["care_categories"] and (not categories or not set(categories) <= known):
        problems.append(
            _problem(line, "要配慮区分", "未登録の要配慮区分があります。", "Unknown care category.")
        )
    out["care_categories"] = categories
    out["support_persons"] = _support_persons(out["support_persons"])
    return out, problems


_UPSERT = text(
    """INSERT INTO restricted.person_needing_help AS t (layer_id, external_id, name, name_kana, birth_year,
         phone, address, community_area, care_category, care_categories, consent, support_persons, geom)
       VALUES (:layer_id, :external_id, :name, :name_kana, :birth_year, :phone, :address, :community_area,
         :care_category, :care_categories, :consent, :support_persons,
         ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
       ON CONFLICT (layer_id, external_id) DO UPDATE SET name = EXCLUDED.name, name_kana = EXCLUDED.name_kana,
         birth_year = EXCLUDED.birth_year, phone = EXCLUDED.phone, address = EXCLUDED.address,
         community_area = EXCLUDED.community_area, care_category = EXCLUDED.care_category,
         care_categories = EXCLUDED.care_categories, consent = EXCLUDED.consent,
         support_persons = EXCLUDED.support_persons, geom = EXCLUDED.geom, updated_at = now()
       RETURNING (xmax = 0) AS inserted"""
).bindparams(bindparam("support_persons", type_=JSONB))


def import_csv(conn: Connection, actor: str, raw: bytes, layer_slug: str = PEOPLE_LAYER) -> ImportResult:
    """Validate every row, then upsert all by 管理番号 — or store nothing and raise OpsInvalid with
    every problem (row, column, Japanese and English)."""
    if len(raw) > MAX_BYTES:
        raise OpsInvalid("ファイルが大きすぎます（10 MB まで）。", "File too large (10 MB at most).")
    layer_id = conn.execute(
        text("SELECT id FROM gis.layer WHERE slug = :s AND kind = 'person_needing_help'"), {"s": layer_slug}
    ).scalar()
    if layer_id is None:
        raise OpsNotFound("レイヤーが見つかりません。", "Layer not found.")
    try:
        body, encoding = decode(raw)
    except ImportRejected as e:
        raise OpsInvalid(e.ja, e.en, problems=[]) from None
    try:
        lines = rows_of(body)  # a bare CR is a line break; NUL or a broken quote: refused
    except ImportRejected as e:
        raise OpsInvalid(e.ja, e.en, problems=[]) from None
    if not lines or not any(lines[0]):
        raise OpsInvalid("CSV が空です。", "The CSV is empty.", problems=[])
    index, problems = _header_map(lines[0])
    known = set(conn.execute(text("SELECT code FROM restricted.care_category")).scalars())
    rows, seen = [], set()
    if not problems:
        for n, cells in enumerate(lines[1:], start=2):
            if not any(c.strip() for c in cells):
                continue
            row, found = _parse_row(n, cells, index, known)
            if row["external_id"] in seen:
                found.append(_problem(n, "管理番号", "管理番号が重複しています。", "Duplicate external_id."))
            seen.add(row["external_id"])
            problems += found
            rows.append(row)
    if problems or not rows:
        raise OpsInvalid(
            f"CSV に {len(problems)} 件の問題があります。何も保存していません。",
            f"The CSV has {len(problems)} problem(s); nothing was stored.",
            problems=problems[:200],
        )
    params = [{**r, "layer_id": layer_id, "care_category": r["care_categories"][0]} for r in rows]
    inserted = sum(1 for r in params if conn.execute(_UPSERT, r).scalar_one())
    result = ImportResult(len(rows), inserted, len(rows) - inserted, encoding)
    audit.record(conn, actor, "people.import", layer_slug, rows=result.rows, inserted=inserted,
                 updated=result.updated)  # fmt: skip
    return result


# ----------------------------------------------------------------------------------- roster
ROSTER_COLUMNS = (
    ("priority", "優先順位"),
    ("external_id", "管理番号"),
    ("name", "氏名"),
    ("name_kana", "ふりがな"),
    ("address", "住所"),
    ("phone", "電話番号"),
    ("care", "要配慮区分"),
    ("support", "避難支援者"),
    ("plan", "個別避難計画"),
    ("hazard", "危険区域"),
    ("consent", "同意"),
)


def roster(
    conn: Connection, actor: str, area: str, *, action: str = "people.roster_page"
) -> list[dict[str, Any]]:
    """The roster of one community area, as handed to its community leaders (避難支援等関係者): in
    normal mode only people who consented (同意), whoever asks — the registry keeper sees everyone, but
    a roster is what leaves the office; in an active disaster mode everyone the caller may see."""
    rows = _ranked(conn, area, None, NEAR_GAUGE_M)
    rows = rows if mode.active(conn) else [r for r in rows if r["consent"]]
    _audit_read(conn, actor, action, len(rows), area=area)
    return rows


def roster_export(conn: Connection, actor: str, area: str) -> str:
    """The roster as a CSV file's text (with a BOM, for Excel), audited as an export."""
    return "\ufeff" + roster_csv(roster(conn, actor, area, action="people.roster_csv"))


def roster_cells(row: dict[str, Any]) -> dict[str, str]:
    """One roster line as display text (Japanese)."""
    support = "、".join(
        "／".join(x for x in (s.get("name", ""), s.get("relation", ""), s.get("phone", "")) if x)
        for s in row["support_persons"] or []
    )
    hazard = row["hazard_ja"] + ("（付近の観測所が警戒中）" if row.get("alert_gauge") else "")
    if row.get("evac_level"):
        hazard += f"（{evac_levels.level(row['evac_level']).name_ja} 発令中）"
    return {
        "priority": str(row["priority"]),
        "external_id": row["external_id"],
        "name": row["name"],
        "name_kana": row["name_kana"],
        "address": row["address"],
        "phone": row["phone"],
        "care": "・".join(row["care_categories"]),
        "support": support,
        "plan": row["plan_status_ja"],
        "hazard": hazard,
        "consent": "有" if row["consent"] else "無",
    }


def roster_csv(rows: list[dict[str, Any]]) -> str:
    """The roster as CSV (UTF-8 with BOM when written out, for Excel), Japanese headers; formula-like
    cells neutralised (common.csvsafe)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([ja for _, ja in ROSTER_COLUMNS])
    for row in rows:
        cells = roster_cells(row)
        writer.writerow(csvsafe.row(cells[key] for key, _ in ROSTER_COLUMNS))
    return out.getvalue()
