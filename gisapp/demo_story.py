"""The demo's disaster in progress (`make demo`, `gisapp demo load`): a fictitious storm, told through the
platform's own domain functions, so the HQ map opens on what it is for.

What is loaded (see docs/evacuation-info.md, "The demo story"):

- an open disaster named as a demo (``DEMO_NAME``), opened by the demo HQ operator;
- the storm of sensors/demo_storm.py: readings up to "now" stored through the ingest's own gauge code
  (levels and alerts as if they had arrived over MQTT), the rest written to ``demo-story.json`` in the
  data directory, which the simulator (``python -m sensors.simulate --story``) publishes over MQTT when
  each reading's time comes, with radio incident reports among them;
- JMA-form telegrams for the demo city (ingest/jmaxml_build.py) through the JMA store, and the 発令基準's
  suggestions, from which the demo HQ operator issues a 避難指示 and leaves another open;
- suitable shelters opened and filled by kiosk check-ins over the past hour, one of them nearly full;
- incidents from radios, citizens (through moderation) and the phone, in all three statuses, with units
  dispatched; one citizen report left waiting in the moderation queue.

"Now" for the story is the disaster's opening time (to the minute), so a second load finds the same
disaster and the same keys everywhere (observation times, incident source refs, check-in event ids)
and adds nothing, except what has fallen due since (stored as the ingest would have stored it, so that
nothing the simulator sent before the ingest worker first subscribed is missing). The disaster is
opened in one transaction, the telegrams are stored each in its own (as the importer does), the rest
in one more. ``quiet_day`` closes the demo disaster: the state of a day without one.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from gisapp.db import transaction
from gisapp.ops import (
    checkin,
    damage,
    dispatch,
    evac_info,
    incidents,
    instructions,
    jma,
    radio_reports,
    reports,
    shelter_needs,
    shelters,
    unit_duty,
)
from gisapp.ops.disaster_close import close_disaster, open_incidents
from gisapp.ops.disasters import open_disaster
from ingest import jmaxml_build
from ingest.gauges import record_observations
from ingest.payloads import GaugeObservation, RadioIncident
from ingest.store import touch_devices
from sensors import demo_storm

DEMO_PREFIX = "【デモ】"
DEMO_NAME = f"{DEMO_PREFIX}令和8年 台風第21号（架空） / DEMO: Typhoon No. 21 (fictitious)"
HQ_ACTOR = "hq"  # the demo HQ operator (gisapp/demo.py DEMO_USERS): the story's decisions are theirs
STORY_FILE = "demo-story.json"
END_NOTE = "デモ終了 / end of the demo"
ROLES = ("admin",)
_CHECKIN_NS = uuid.UUID("5f1c2b8e-7a43-4c55-9d0e-2f6a1c9b7e10")
# How full each opened shelter is at the story's "now" (the first nearly full) and an hour later;
# how many shelters open.
SHELTER_FILL = ((0.93, 0.99), (0.6, 0.78), (0.4, 0.52), (0.2, 0.3), (0.08, 0.14))
GROUP_SIZES = (2, 3, 1, 4, 2, 5, 1, 3, 2, 1)


def shared_data_dir() -> Path:
    """Where the real observation files are: GISAPP_SHARED_DATA, else ../shared/data beside the repo."""
    configured = os.environ.get("GISAPP_SHARED_DATA")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@dataclass
class StoryResult:
    disaster_id: int | None
    disaster_name: str | None
    created: bool
    counts: dict[str, object]
    notices: list[str] = field(default_factory=list)
    story_file: Path | None = None
    source_ja: str = ""
    source_en: str = ""
    until: datetime | None = None


@dataclass
class _Ctx:
    conn: Connection
    disaster_id: int
    now: datetime  # the story's "now": the disaster's opening, to the minute
    until: datetime  # what is due by now (wall clock) is stored; what comes after is published live
    fresh: bool  # the disaster was opened by this load
    notices: list[str]
    live: list[dict]  # what the simulator publishes later: {"at", "device", "leaf", "payload"}


# ------------------------------------------------------------------------------------ entry points
def load_story(
    engine: Engine, data_dir: Path, *, shared: Path | None = None, until: datetime | None = None
) -> StoryResult:
    """Load (or find, unchanged) the demo disaster in progress; writes ``data_dir/demo-story.json``.
    What has fallen due by ``until`` (default: now) is stored, what comes later is left to the live
    processes."""
    shared = shared if shared is not None else shared_data_dir()
    with transaction(engine, ROLES) as conn:
        found = _open_demo_disaster(conn)
        created = found is None
        disaster = found or open_disaster(conn, DEMO_NAME, HQ_ACTOR)
    now = disaster["opened_at"].replace(second=0, microsecond=0)
    notices: list[str] = []
    # The JMA store writes each telegram in a transaction of its own (as the poller does); a second
    # load stores nothing (the same bytes), and a failed story below finds the disaster again.
    _jma(engine, disaster["id"], now)
    with transaction(engine, ROLES) as conn:
        until = max(now, until or conn.execute(text("SELECT now()")).scalar_one())
        ctx = _Ctx(conn, disaster["id"], now, until, created, notices, [])
        storm = _storm(ctx, shared)
        radio_ids = _incidents(ctx)
        _shelters(ctx, _evacuation(ctx))
        _hq_day(ctx, radio_ids)
        counts = story_counts(conn, ctx.disaster_id)
    story_file = data_dir / STORY_FILE
    _write_story_file(story_file, ctx, storm)
    return StoryResult(
        ctx.disaster_id, disaster["name"], created, counts, ctx.notices, story_file,
        storm.source_ja, storm.source_en, ctx.until,
    )  # fmt: skip


def quiet_day(engine: Engine, data_dir: Path) -> int:
    """The state of a day without a disaster: every open demo disaster closed (its shelters leave the
    citizen map with it) and no live story for the simulator. How many disasters were closed."""
    with transaction(engine, ROLES) as conn:
        ids = conn.execute(
            text("SELECT id FROM ops.disaster WHERE closed_at IS NULL AND starts_with(name, :p) ORDER BY id"),
            {"p": DEMO_PREFIX},
        ).scalars()
        closed = []
        for disaster_id in list(ids):
            for a in dispatch.assignments_of_disaster(conn, disaster_id):  # its units come home
                if a["state"] != "cleared":
                    dispatch.set_state(conn, a["id"], "cleared", HQ_ACTOR, note=END_NOTE)
            # A disaster closes with nothing left open: its incidents resolved, its evacuees checked out.
            for i in open_incidents(conn, disaster_id):
                incidents.update_incident(
                    conn, i["id"], i["version"], {"status": "done", "note": END_NOTE}, HQ_ACTOR
                )
            closed.append(
                close_disaster(conn, disaster_id, HQ_ACTOR, shelters="checkout", reason=END_NOTE)["id"]
            )
        for order in evac_info.list_orders(conn):  # 解除 of the demo's orders: the banner goes with them
            if order["disaster_id"] in closed:
                evac_info.cancel(conn, order["id"], order["version"], END_NOTE, HQ_ACTOR)
    if closed:  # the weather clears: JMA lifts what the story issued
        _jma(engine, closed[-1], datetime.now(UTC).replace(second=0, microsecond=0), lift=True)
    (data_dir / STORY_FILE).unlink(missing_ok=True)
    return len(closed)


def _open_demo_disaster(conn: Connection) -> dict | None:
    row = conn.execute(
        text(
            "SELECT id, name, opened_at FROM ops.disaster WHERE name = :n AND closed_at IS NULL"
            " ORDER BY opened_at DESC LIMIT 1"
        ),
        {"n": DEMO_NAME},
    ).one_or_none()
    return dict(row._mapping) if row else None


# ------------------------------------------------------------------------------------------ storm
_DEMO_GAUGES = text(
    "SELECT id, kind, thresholds FROM sensor.device WHERE enabled AND kind IN ('rain_gauge', 'water_gauge')"
    r" AND id ~ '^(RG|WL)[0-9]{2,}$' ORDER BY id"  # the demo's own (sensors/demo.py), no other gauge
)


def _storm(ctx: _Ctx, shared: Path) -> demo_storm.Storm:
    gauges = [demo_storm.Gauge(r.id, r.kind, r.thresholds or {}) for r in ctx.conn.execute(_DEMO_GAUGES)]
    storm = demo_storm.build(ctx.now, gauges, shared)
    if storm.notice:
        ctx.notices.append(storm.notice)
    if ctx.fresh:
        _clear_window(ctx.conn, storm)
    kinds = {g.device_id: g.kind for g in gauges}
    past = []
    for device_id, readings in storm.readings.items():
        rain = kinds[device_id] == "rain_gauge"
        for r in readings:
            if r.ts <= ctx.until:
                past.append(GaugeObservation(device_id, "rain_10min" if rain else "level", r.ts, r.value))
            else:
                field_name = "rain_10min_mm" if rain else "level_m"
                ctx.live.append({
                    "at": r.ts.isoformat(), "device": device_id, "leaf": "rain" if rain else "level",
                    "payload": {"ts": r.ts.isoformat(), field_name: r.value},
                })  # fmt: skip
    record_observations(ctx.conn, past)  # the ingest's own code: levels and alerts as if over MQTT
    touch_devices(ctx.conn, set(storm.readings), set())
    return storm


def _clear_window(conn: Connection, storm: demo_storm.Storm) -> None:
    """A new story over the demo gauges' earlier readings (an earlier story, or the quiet day's
    simulated storm) would interleave two storms: their readings in its time span go, and the gauges'
    levels are evaluated afresh from the new ones (the alert history stays)."""
    for device_id, readings in storm.readings.items():
        conn.execute(
            text("DELETE FROM sensor.observation WHERE device_id = :d AND device_ts BETWEEN :a AND :b"),
            {"d": device_id, "a": readings[0].ts, "b": readings[-1].ts},
        )
    conn.execute(
        text("DELETE FROM sensor.gauge_state WHERE device_id = ANY(:ids)"), {"ids": list(storm.readings)}
    )


# ---------------------------------------------------------------------------------------- shelters
def _shelters(ctx: _Ctx, suggested: list[int]) -> None:
    """Open shelters suited to landslides, with a capacity: those the issued order's suggestion names
    first, then designated ones also suited to floods; fill them through kiosk check-ins spread over
    the past hour, the first nearly full. The next hour's check-ins go to the story file for `gisapp
    demo live` (those already due are recorded here)."""
    status = shelters.disaster_status(ctx.conn, ctx.disaster_id)
    opened = sorted((s for s in status["shelters"] if s["closed_at"] is None), key=lambda s: s["opening_id"])
    open_now = {s["id"] for s in opened}
    if opened:  # a second load: the story's shelters, in the order they were opened
        candidates = opened[: len(SHELTER_FILL)]
    else:
        suitable = [
            s
            for s in shelters.suitable_shelters(ctx.conn, "landslide", ("public", "internal", "restricted"))
            if (s["capacity"] or 0) >= 20
        ]
        rank = {shelter_id: k for k, shelter_id in enumerate(suggested)}
        candidates = sorted(
            (s for s in suitable if s["id"] in rank or (s["suits_flood"] and s["is_designated_shelter"])),
            key=lambda s: (rank.get(s["id"], len(rank)), s["code"] or "", s["id"]),
        )[: len(SHELTER_FILL)]
    for k, (shelter, fill) in enumerate(zip(candidates, SHELTER_FILL, strict=False)):
        if shelter["id"] not in open_now:
            shelters.open_shelter(
                ctx.conn, ctx.disaster_id, shelter["id"], f"避難所班 デモ{k + 1}（架空）", HQ_ACTOR
            )
        for hour, (first, last) in enumerate(((0, fill[0]), (fill[0], fill[1]))):
            groups = _groups(round(shelter["capacity"] * first), round(shelter["capacity"] * last))
            for i, persons in groups:
                at = ctx.now + timedelta(minutes=60) * (hour - 1 + (i + 1 - groups[0][0]) / len(groups))
                item = {
                    "disaster_id": ctx.disaster_id, "shelter_id": shelter["id"], "persons": persons,
                    "kiosk_id": f"demo-kiosk-{k + 1}", "client_event_id": str(_checkin_id(ctx, shelter, i)),
                }  # fmt: skip
                if at <= ctx.until:
                    record_checkin(ctx.conn, item, at)
                else:
                    ctx.live.append({"at": at.isoformat(), "device": item["kiosk_id"], "leaf": "checkin",
                                     "payload": item})  # fmt: skip


def _groups(start: int, end: int) -> list[tuple[int, int]]:
    """(number, persons) of the groups that bring a shelter from ``start`` to ``end`` persons; the
    numbering continues from the groups before ``start``, so each group keeps its number."""
    out, total, i = [], 0, 0
    while total < end:
        size = min(GROUP_SIZES[i % len(GROUP_SIZES)], end - total)
        if total >= start:
            out.append((i, size))
        total, i = total + size, i + 1
    return out


def _checkin_id(ctx: _Ctx, shelter: dict, i: int) -> uuid.UUID:
    return uuid.uuid5(_CHECKIN_NS, f"{ctx.disaster_id}:{shelter['id']}:{i}")


def record_checkin(conn: Connection, item: dict, at: datetime) -> dict:
    """One walk-in group's entry at a demo kiosk (a replay of the same event changes nothing)."""
    scan = checkin.Scan(
        client_event_id=uuid.UUID(item["client_event_id"]),
        kind="entry",
        kiosk_id=item["kiosk_id"],
        persons=item["persons"],
        device_time=at,
    )
    return checkin.check_in(conn, item["disaster_id"], item["shelter_id"], scan, HQ_ACTOR)


def run_live(engine: Engine, path: Path, stop, interval: float = 5.0) -> int:
    """`gisapp demo live`: the story's kiosk check-ins as they fall due (the simulator sends the rest,
    over MQTT). Follows the file as the simulator does: a rewrite sends nothing twice, a deletion (a
    quiet day) stops it. How many check-ins it recorded."""
    from gisapp.ops.errors import OpsError

    sent_until: datetime | None = None
    stamp, items, done = None, [], 0
    while True:
        now = datetime.now(UTC)
        try:
            st = path.stat()
        except FileNotFoundError:
            stamp, items = None, []
        else:
            if (st.st_mtime_ns, st.st_size) != stamp:
                try:
                    doc = json.loads(path.read_text())
                    stamp = (st.st_mtime_ns, st.st_size)
                except (OSError, ValueError):
                    doc = {"items": []}  # caught mid-write: read again next time
                items = sorted(
                    (
                        (datetime.fromisoformat(i["at"]), i["payload"])
                        for i in doc["items"]
                        if i["leaf"] == "checkin"
                        and (sent_until is None or datetime.fromisoformat(i["at"]) > sent_until)
                    ),
                    key=lambda pair: pair[0],
                )
        while items and items[0][0] <= now:
            at, item = items.pop(0)
            try:
                with transaction(engine, ROLES) as conn:
                    record_checkin(conn, item, at)
                done += 1
            except OpsError:
                pass  # the shelter or the disaster was closed meanwhile: the kiosk is refused, as a real one
        sent_until = now
        if stop.wait(interval):
            return done


# --------------------------------------------------------------------------------------- incidents
# (category, title, priority, minutes before now, where, final status, units dispatched)
# where: "slope:N" a 土砂災害警戒区域, "flood:N" a 浸水想定区域 band, "road:RNNN" beside a radio unit.
_RADIO = (
    ("landslide", "土砂崩れ 市道をふさぐ（デモ）", 1, 50, "slope:0", "in_progress", ("R010", "R011")),
    ("fallen_tree", "倒木 片側通行（デモ）", 3, 45, "road:R003", "done", ("R012",)),
    ("flooding", "道路冠水 深さ20cm（デモ）", 2, 35, "flood:0", "in_progress", ("R013",)),
    ("road_closure", "通行止め 橋梁の点検待ち（デモ）", 2, 20, "road:R020", "unhandled", ()),
    ("rescue", "孤立世帯 要救助 2名（デモ）", 1, 15, "slope:3", "in_progress", ("R014", "R015")),
)
_CITIZEN = (  # accepted through moderation, except the last (waits for the newcomer)
    ("flooding", "家の前の道路が川のようになっています（デモ）", "flood:3", "unhandled"),
    ("fallen_tree", "公園の木が倒れて歩道をふさいでいます（デモ）", "road:R030", "done"),
    ("road_damage", "道路に大きな穴があいています（デモ）", "road:R025", None),
)
_PHONE = (("building_damage", "空き家の屋根が飛散（電話通報・デモ）", 3, "road:R007", "unhandled"),)
# Reported live by radio after the story's "now": (minutes after, unit, category, title, where)
_LIVE_RADIO = (
    (4, "R016", "landslide", "小規模な崖崩れ（デモ）", "slope:6"),
    (11, "R017", "flooding", "アンダーパス冠水（デモ）", "flood:1"),
    (19, "R018", "fallen_tree", "倒木 電線に接触（デモ）", "road:R018"),
    (27, "R019", "power_outage", "停電 信号機消灯（デモ）", "road:R019"),
)


def _places(conn: Connection) -> dict[str, tuple[float, float]]:
    """Named points of the demo: slope:N and flood:N inside hazard areas, road:RNNN at radio units."""
    places: dict[str, tuple[float, float]] = {}
    for prefix, hazard in (("slope", "landslide_warning"), ("flood", "flood")):
        rows = conn.execute(
            text(
                """SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (
                     SELECT ST_PointOnSurface(h.geom) AS p, h.id FROM gis.hazard_area h
                       JOIN gis.layer l ON l.id = h.layer_id AND l.deleted_at IS NULL
                      WHERE h.hazard_type = :t AND NOT ST_IsEmpty(h.geom)) q ORDER BY id"""
            ),
            {"t": hazard},
        ).all()
        for i, r in enumerate(rows):
            places[f"{prefix}:{i}"] = (round(r.lon, 6), round(r.lat, 6))
    for r in conn.execute(
        text(
            "SELECT id, ST_X(location) AS lon, ST_Y(location) AS lat FROM sensor.device"
            " WHERE kind = 'radio_unit' AND location IS NOT NULL"
        )
    ):
        places[f"road:{r.id}"] = (round(r.lon + 0.0004, 6), round(r.lat + 0.0003, 6))
    return places


def _ref(ctx: _Ctx, key: str) -> str:
    return f"demo-{ctx.disaster_id}-{key}"


def _incidents(ctx: _Ctx) -> list[int]:
    """The story's incidents; returns the ids of the radio-reported ones, in _RADIO's order."""
    conn, places = ctx.conn, _places(ctx.conn)
    radio = []
    for k, (category, title, priority, before, where, _, _) in enumerate(_RADIO):
        lon, lat = places[where]
        unit = f"R{k + 1:03d}"
        radio.append(RadioIncident(unit, ctx.now - timedelta(minutes=before), lon, lat, category, title,
                                   "無線による現場報告（デモ）", priority, _ref(ctx, f"radio{k}")))  # fmt: skip
    ids = radio_reports.record_radio_incidents(conn, radio)  # the ingest's path for radio reports
    for incident_id, (*_, status, units) in zip(ids, _RADIO, strict=True):
        _respond(conn, incident_id, status, units)

    for k, (category, description, where, status) in enumerate(_CITIZEN):
        report_id = _citizen_report(ctx, k, category, description, places[where])
        report = reports.get_report(conn, report_id)
        if status is None or report["state"] != "pending":
            if report["incident_id"] is not None:
                _respond(conn, report["incident_id"], status or "unhandled", ())
            continue
        accepted = reports.accept(conn, report_id, HQ_ACTOR, disaster_id=ctx.disaster_id, priority=2)
        _respond(conn, accepted["incident"]["id"], status, ())

    for k, (category, title, priority, where, status) in enumerate(_PHONE):
        lon, lat = places[where]
        new = incidents.NewIncident(category, title, lon, lat, priority=priority, source="phone",
                                    source_ref=_ref(ctx, f"phone{k}"), description="市民からの電話（デモ）")  # fmt: skip
        _respond(conn, incidents.create_incident(conn, ctx.disaster_id, new, HQ_ACTOR)["id"], status, ())

    due = []
    for minutes, unit, category, title, where in _LIVE_RADIO:
        lon, lat = places[where]
        at = ctx.now + timedelta(minutes=minutes)
        if at <= ctx.until:  # fell due since the story began: stored as the ingest would have
            due.append(RadioIncident(unit, at, lon, lat, category, title, "無線による現場報告（デモ）", 2,
                                     _ref(ctx, f"live-{unit}")))  # fmt: skip
            continue
        ctx.live.append({
            "at": at.isoformat(), "device": unit, "leaf": "incident",
            "payload": {"ts": at.isoformat(), "lat": lat, "lon": lon, "category": category, "title": title,
                        "description": "無線による現場報告（デモ）", "priority": 2,
                        "id": _ref(ctx, f"live-{unit}")},
        })  # fmt: skip
    radio_reports.record_radio_incidents(conn, due)
    return ids


# The HQ's day beside the incidents: 被害報 on three of the radio incidents (index in _RADIO: figures),
# an instruction to the road division about the closed bridge, a unit resting, a shelter's needs.
_DAMAGE = {
    0: {"partial_buildings": 1, "partial_households": 1, "partial_people": 3, "injured_minor": 1, "roads": 1,
        "cliff_failures": 1},
    2: {"flooded_below_buildings": 3, "flooded_below_households": 3, "flooded_below_people": 8, "roads": 1},
    4: {"injured_serious": 1, "half_buildings": 1, "half_households": 1, "half_people": 2},
}  # fmt: skip
_INSTRUCTION = ("road", "橋梁の通行止め箇所に迂回路の案内看板を設置し、設置後に報告してください（デモ）", 3)
_RESTING_UNIT = "R009"
_NEEDS = (("毛布", 80, "枚", 1, "夜間の冷え込みに備えて（デモ）"), ("飲料水 500ml", 240, "本", 2, ""))


def _hq_day(ctx: _Ctx, radio_ids: list[int]) -> None:
    """Stored once: a second load finds each part and leaves it as it is."""
    conn = ctx.conn
    for index, figures in _DAMAGE.items():
        incident_id = radio_ids[index]
        if damage.get_damage(conn, incident_id)["version"] == 0:
            damage.save_damage(
                conn, incident_id, 0, figures, "現地からの無線報告（デモ）", HQ_ACTOR, replace=True
            )
    dept, body, incident_index = _INSTRUCTION
    if not conn.execute(text("SELECT 1 FROM ops.instruction WHERE body = :b"), {"b": body}).first():
        dept_id = conn.execute(
            text("SELECT id FROM core.department WHERE code = :c"), {"c": dept}
        ).scalar_one()
        instructions.instruct(conn, dept_id, body, HQ_ACTOR, due_at=ctx.now + timedelta(minutes=90),
                              incident_id=radio_ids[incident_index])  # fmt: skip
    if unit_duty.current(conn, unit_id=_RESTING_UNIT) == "standby":
        unit_duty.set_duty(conn, HQ_ACTOR, "off_duty", unit_id=_RESTING_UNIT, note="燃料補給（デモ）")
    first = conn.execute(
        text(
            """SELECT o.shelter_id FROM ops.shelter_opening o JOIN gis.shelter s ON s.id = o.shelter_id
                WHERE o.disaster_id = :d AND o.closed_at IS NULL ORDER BY s.code LIMIT 1"""
        ),
        {"d": ctx.disaster_id},
    ).scalar()
    if first is not None and not shelter_needs.list_needs(conn, ctx.disaster_id, first):
        for item, quantity, unit, priority, note in _NEEDS:
            shelter_needs.add_need(
                conn, ctx.disaster_id, first, item, quantity, unit, priority, note, HQ_ACTOR
            )


def _citizen_report(ctx: _Ctx, k: int, category: str, description: str, where: tuple[float, float]) -> int:
    """The citizen's report, submitted once per disaster (found again by its words and its time)."""
    found = ctx.conn.execute(
        text(
            """SELECT r.id FROM ops.citizen_report r JOIN ops.disaster d ON d.id = :d
                WHERE r.description = :t AND r.created_at >= d.opened_at ORDER BY r.id LIMIT 1"""
        ),
        {"d": ctx.disaster_id, "t": description},
    ).scalar()
    if found is not None:
        return found
    lon, lat = where
    sender = hashlib.sha256(_ref(ctx, f"citizen{k}").encode()).digest()
    reports.submit_report(ctx.conn, reports.NewReport(category, lon, lat, description), sender, public=False)
    return ctx.conn.execute(
        text("SELECT max(id) FROM ops.citizen_report WHERE description = :t"), {"t": description}
    ).scalar_one()


def _respond(conn: Connection, incident_id: int, status: str, units: tuple[str, ...]) -> None:
    """Bring the incident to ``status``: dispatch ``units`` (未対応 → 対応中), and for 対応済 clear them
    and close it. An incident already there is left alone."""
    incident = incidents.get_incident(conn, incident_id)
    if incident["status"] == status or incident["status"] == "done":
        return
    for unit in units:
        if unit not in {a["unit_id"] for a in incident["assignments"]}:
            dispatch.dispatch(conn, incident_id, HQ_ACTOR, unit_id=unit, note="デモ: 本部より出動指示")
    if status == "done":
        for a in incidents.get_incident(conn, incident_id)["assignments"]:
            if a["state"] != "cleared":
                dispatch.set_state(conn, a["id"], "on_scene", HQ_ACTOR)
                dispatch.set_state(conn, a["id"], "cleared", HQ_ACTOR, note="処理完了（デモ）")
    current = incidents.get_incident(conn, incident_id)
    if current["status"] != status:
        incidents.update_incident(conn, incident_id, current["version"], {"status": status, "note": "デモ"},
                                  HQ_ACTOR)  # fmt: skip


# ------------------------------------------------------------------------ JMA and evacuation orders
# The demo city's telegrams, in JMA's forms (ingest/jmaxml_build.py), minutes before the story's "now":
# 大雨警報（土砂災害）・洪水警報, then 土砂災害警戒情報, then the river's 氾濫警戒情報.
TELEGRAM_MINUTES = {"warnings": 180, "landslide": 60, "river": 30}


def _telegrams(disaster_id: int, now: datetime, *, lift: bool = False) -> list[tuple[str, bytes]]:
    """The story's telegrams (or, to ``lift`` them, their 解除). The same story gives the same bytes.
    Serials grow with the disaster, so a later story's telegrams are newer than an earlier one's."""
    serial = 2 * disaster_id - (0 if lift else 1)
    if lift:
        return [
            ("warnings", jmaxml_build.warnings(jmaxml_build.ALL_CLEAR, report_at=now)),
            ("landslide", jmaxml_build.landslide(status="解除", serial=serial, report_at=now)),
            ("river", jmaxml_build.river_flood("氾濫注意情報解除", serial=serial, report_at=now)),
        ]
    at = {k: now - timedelta(minutes=m) for k, m in TELEGRAM_MINUTES.items()}
    return [
        ("warnings", jmaxml_build.warnings(jmaxml_build.HEAVY_RAIN_WARNING, report_at=at["warnings"])),
        ("landslide", jmaxml_build.landslide(serial=serial, report_at=at["landslide"])),
        ("river", jmaxml_build.river_flood("氾濫警戒情報", serial=serial, report_at=at["river"])),
    ]


def _jma(engine: Engine, disaster_id: int, now: datetime, *, lift: bool = False) -> None:
    """JMA-form telegrams for the demo city, stored by the JMA store (as `gisapp jma import` does)."""
    for name, data in _telegrams(disaster_id, now, lift=lift):
        jma.store(
            engine, data, source=f"file:demo-{name}.xml", area_codes=[jmaxml_build.CITY[1]], actor=HQ_ACTOR
        )


def _evacuation(ctx: _Ctx) -> list[int]:
    """The criteria's suggestions (evaluated now, as the database would at commit); the demo HQ operator
    issues the most severe landslide one, with a reason, and leaves the others open for the newcomer.
    The shelters that suggestion names (to open first)."""
    evac_info.refresh_suggestions(ctx.conn)
    if any(o["disaster_id"] == ctx.disaster_id for o in evac_info.list_orders(ctx.conn, active_only=False)):
        return []  # the story's order stands (or the newcomer has issued since): nothing to add
    landslide = [
        s for s in evac_info.list_suggestions(ctx.conn) if s["hazard"] == "landslide" and s["area_codes"]
    ]
    if not landslide:
        ctx.notices.append(
            "土砂災害の提案がないため避難指示の発令は省略 / no landslide suggestion: no order issued"
        )
        return []
    # The most severe; between equals, JMA's 土砂災害警戒情報 (the guideline's trigger) before a rain gauge.
    chosen = max(landslide, key=lambda s: (s["level"], s["trigger"].get("source") == "jma", -s["id"]))
    reason = f"{chosen['reason_ja']}。土砂災害警戒区域を含む地区に{chosen['name_ja']}を発令（デモ：本部オペレーターの判断）"
    evac_info.issue(
        ctx.conn,
        evac_info.OrderIn(
            level=chosen["level"], hazard="landslide", reason=reason, area_codes=tuple(chosen["area_codes"]),
            suggestion_id=chosen["id"], disaster_id=ctx.disaster_id,
        ),
        HQ_ACTOR,
    )  # fmt: skip
    evac_info.refresh_suggestions(ctx.conn)
    return [sh["id"] for sh in chosen["shelters"]]


# ------------------------------------------------------------------------------------------ counts
def story_counts(conn: Connection, disaster_id: int) -> dict[str, object]:
    """What the HQ map shows of the story, counted (tests and the CLI's summary)."""
    by_status = incidents.counts(conn, disaster_id)["total"]
    status = shelters.disaster_status(conn, disaster_id)["totals"]
    row = conn.execute(
        text(
            """SELECT
                 (SELECT count(*) FROM ops.assignment a JOIN ops.incident i ON i.id = a.incident_id
                   WHERE i.disaster_id = :d AND a.state <> 'cleared') AS units_out,
                 (SELECT count(*) FROM ops.checkin_event WHERE disaster_id = :d) AS checkins,
                 (SELECT count(*) FROM ops.citizen_report r JOIN ops.disaster d ON d.id = :d
                   WHERE r.state = 'pending' AND r.created_at >= d.opened_at) AS reports_pending,
                 (SELECT count(*) FROM sensor.observation) AS observations,
                 (SELECT count(*) FROM sensor.gauge_state g, jsonb_each_text(g.levels) l
                   WHERE l.value IS NOT NULL) AS gauge_levels,
                 (SELECT count(*) FROM ops.jma_telegram WHERE source LIKE 'file:demo-%') AS telegrams,
                 (SELECT count(*) FROM ops.evac_suggestion WHERE state = 'open') AS suggestions_open,
                 (SELECT count(*) FROM ops.evac_order WHERE status = 'active' AND disaster_id = :d)
                   AS orders_active"""
        ),
        {"d": disaster_id},
    ).one()
    return {
        "incidents": {k: by_status[k] for k in ("unhandled", "in_progress", "done")},
        "shelters_open": status["open_shelters"],
        "occupancy": status["occupancy"],
        **row._asdict(),
    }


def _write_story_file(path: Path, ctx: _Ctx, storm: demo_storm.Storm) -> None:
    doc = {
        "disaster_id": ctx.disaster_id,
        "now": ctx.now.isoformat(),
        "source_en": storm.source_en,
        "items": sorted(ctx.live, key=lambda item: (item["at"], item["device"])),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    tmp.replace(path)
