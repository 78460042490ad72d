"""`make demo` opens on a disaster in progress: the story loader (gisapp/demo_story.py) against the real
stack, loaded twice (nothing doubles), the quiet day (no disaster), the storm built from the real
observation files, and the CLI's demo load printing for a person (no JSON log lines)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gisapp import demo, demo_story
from gisapp.ops import evac_info
from sensors import demo_storm
from tests.support import count, shared_data, wait_until

NO_SHARED = Path("/nonexistent/shared/data")  # the built-in storm: the same story on every machine

TABLES = {
    "incidents": "SELECT count(*) FROM ops.incident",
    "events": "SELECT count(*) FROM ops.incident_event",
    "assignments": "SELECT count(*) FROM ops.assignment",
    "reports": "SELECT count(*) FROM ops.citizen_report",
    "checkins": "SELECT count(*) FROM ops.checkin_event",
    "openings": "SELECT count(*) FROM ops.shelter_opening",
    "observations": "SELECT count(*) FROM sensor.observation",
    "alerts": "SELECT count(*) FROM sensor.alert",
    "disasters": "SELECT count(*) FROM ops.disaster",
}


def table_counts(engine: Engine) -> dict[str, int]:
    return {name: count(engine, sql) for name, sql in TABLES.items()}


@pytest.fixture(scope="module")
def story(app_engine: Engine, settings) -> demo_story.StoryResult:
    demo.load(app_engine, settings.data_dir)
    return demo_story.load_story(app_engine, settings.data_dir, shared=NO_SHARED)


def test_the_story_is_a_disaster_in_progress(story, app_engine: Engine) -> None:
    assert story.created and story.disaster_name.startswith("【デモ】")
    # No shared data: one notice naming where it looked, and the built-in storm.
    assert [n for n in story.notices if "built-in storm" in n and str(NO_SHARED) in n]
    c = story.counts
    assert all(c["incidents"][s] >= 2 for s in ("unhandled", "in_progress", "done")), c["incidents"]
    assert c["shelters_open"] == len(demo_story.SHELTER_FILL) and c["checkins"] > 50
    assert c["units_out"] >= 4 and c["reports_pending"] == 1
    # A suggested and issued 避難指示 (landslide, by the demo HQ operator, with a reason), and a
    # suggestion left open (the river at 避難判断水位: 高齢者等避難).
    assert c["orders_active"] == 1 and c["suggestions_open"] >= 1
    # JMA-form telegrams: 大雨警報・洪水警報, 土砂災害警戒情報 (警戒レベル4相当, in force), 氾濫警戒情報.
    assert c["telegrams"] == 3
    assert count(
        app_engine,
        "SELECT count(*) FROM ops.jma_condition WHERE kind_name = '土砂災害警戒情報' AND alert_level = 4",
    )
    with app_engine.connect() as conn:
        (order,) = [o for o in evac_info.list_orders(conn) if o["disaster_id"] == story.disaster_id]
        suggestions = evac_info.list_suggestions(conn)
        decided = [
            s for s in evac_info.list_suggestions(conn, open_only=False) if s["order_id"] == order["id"]
        ]
    # The shelters named by the suggestion the HQ issued from are among those opened.
    assert any(
        s["shelters"] and all(sh["open"] for sh in s["shelters"][: len(demo_story.SHELTER_FILL)])
        for s in decided
    ), decided
    assert (order["level"], order["hazard"], order["issued_by"]) == (4, "landslide", "hq")
    assert "デモ" in order["reason"] and order["area_codes"]
    assert any(s["hazard"] == "flood" and s["level"] == 3 for s in suggestions), suggestions
    # Incidents from radios, citizens (accepted through moderation) and the phone.
    sources = count(
        app_engine,
        "SELECT count(DISTINCT source) FROM ops.incident WHERE disaster_id = :d",
        d=story.disaster_id,
    )
    assert sources == 3
    # One shelter nearly full.
    fullest = count(
        app_engine,
        """SELECT max(o.occupancy * 100 / s.capacity) FROM ops.shelter_opening o JOIN gis.shelter s
            ON s.id = o.shelter_id WHERE o.disaster_id = :d AND o.closed_at IS NULL""",
        d=story.disaster_id,
    )
    assert 90 <= fullest < 100
    # Gauges at alert levels: rain 警戒 or 危険 somewhere, the first river past 避難判断水位.
    assert count(
        app_engine, "SELECT count(*) FROM sensor.gauge_state WHERE levels->>'60min_mm' IN ('警戒', '危険')"
    )
    assert count(
        app_engine,
        "SELECT count(*) FROM sensor.gauge_state WHERE device_id = 'WL01' AND levels->>'level_m' = '避難判断水位'",
    )


def test_the_rest_of_the_storm_is_published_live(story) -> None:
    doc = json.loads(story.story_file.read_text())
    now = datetime.fromisoformat(doc["now"])
    items = doc["items"]
    assert all(datetime.fromisoformat(i["at"]) > now for i in items)
    leaves = {i["leaf"] for i in items}
    assert leaves == {"rain", "level", "incident", "checkin"}
    # The first river reaches 氾濫危険水位 live, within the hour.
    wl01 = [i for i in items if i["device"] == "WL01"]
    assert wl01[0]["payload"]["level_m"] < max(i["payload"]["level_m"] for i in wl01)
    soon = [
        i["payload"]["level_m"] for i in wl01 if datetime.fromisoformat(i["at"]) <= now + timedelta(hours=1)
    ]
    assert max(soon) > wl01[0]["payload"]["level_m"]


def test_loading_twice_adds_nothing(story, app_engine: Engine, settings) -> None:
    before = table_counts(app_engine)
    # At the same moment (what falls due later is the live processes' part, tested below).
    again = demo_story.load_story(app_engine, settings.data_dir, shared=NO_SHARED, until=story.until)
    assert not again.created and again.disaster_id == story.disaster_id
    assert table_counts(app_engine) == before
    assert again.counts == story.counts


def test_the_cli_demo_load_prints_for_a_person(story, app_engine: Engine, stack_environ) -> None:
    """`gisapp migrate` and `gisapp demo load` (what `make demo` runs) print lines for a person, no
    structured log lines, even with LOG_FORMAT=json; and the load finds the story already there (and
    adds only what has fallen due since: see test_loading_twice_adds_nothing)."""
    env = {**stack_environ, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "GISAPP_SHARED_DATA": str(NO_SHARED)}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")])
    )
    disasters = count(app_engine, "SELECT count(*) FROM ops.disaster")
    for argv in (["migrate"], ["demo", "load"]):
        out = subprocess.run(
            [sys.executable, "-m", "gisapp.cli", *argv], env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
        assert lines, argv
        assert not [line for line in lines if line.lstrip().startswith("{")], lines
    assert "デモの災害 / demo disaster:" in out.stdout and "対応済" in out.stdout
    assert count(app_engine, "SELECT count(*) FROM ops.disaster") == disasters


def test_the_kiosks_go_on_checking_in(story, app_engine: Engine, tmp_path) -> None:
    """`gisapp demo live`: the story's next check-ins, once due, are recorded once (a second pass over
    the same file replays nothing)."""
    import threading

    doc = json.loads(story.story_file.read_text())
    items = [i for i in doc["items"] if i["leaf"] == "checkin"][:3]
    due = datetime.now(UTC) - timedelta(seconds=5)
    for item in items:
        item["at"] = due.isoformat()
    path = tmp_path / "story.json"
    path.write_text(json.dumps({"items": items}))
    before = count(app_engine, "SELECT count(*) FROM ops.checkin_event")
    for _ in range(2):
        stop = threading.Event()
        stop.set()  # one pass
        demo_story.run_live(app_engine, path, stop)
    assert count(app_engine, "SELECT count(*) FROM ops.checkin_event") == before + 3


def test_the_simulator_publishes_the_story_when_its_time_comes(story, settings, app_engine, worker) -> None:
    """The live part over the real broker and worker: a radio report and a river reading falling due
    are published by their own devices (the demo's credentials) and arrive once."""
    import threading

    from gisapp.localstack import LocalStack
    from sensors import simulate
    from sensors.broker import reload_broker
    from sensors.registry import broker_accounts

    with app_engine.connect() as conn:
        stack = LocalStack(settings)
        stack.write_broker_accounts(broker_accounts(conn))
    assert reload_broker(stack.mqtt_pidfile)
    doc = json.loads(story.story_file.read_text())
    incident = next(i for i in doc["items"] if i["leaf"] == "incident")
    level = next(i for i in doc["items"] if i["leaf"] == "level")
    due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    for item in (incident, level):  # brought forward: due now
        item["at"] = item["payload"]["ts"] = due.isoformat()
    path = story.story_file.with_name("story-due.json")
    path.write_text(json.dumps({**doc, "items": [incident, level]}, ensure_ascii=False))
    creds = settings.data_dir / "devices.json"
    units = [u for u in simulate.load_units(creds, None, 1) if u.device_id == incident["device"]]
    gauges = [g for g in simulate.load_gauges(creds, 1) if g.device_id == level["device"]]
    ref = incident["payload"]["id"]
    stop = threading.Event()
    runner = threading.Thread(
        target=simulate.run,
        args=(units, "127.0.0.1", settings.mqtt_port, 0.2, stop, 1),
        kwargs={"story": simulate.StoryFeed(path), "story_gauges": gauges},
    )
    runner.start()
    try:
        wait_until(
            lambda: (
                count(app_engine, "SELECT count(*) FROM ops.incident WHERE source_ref LIKE :r", r=f"%{ref}")
                and count(
                    app_engine,
                    "SELECT count(*) FROM sensor.observation WHERE device_id = :d AND device_ts = :t",
                    d=level["device"],
                    t=due,
                )
            ),
            20,
        )
    finally:
        stop.set()
        runner.join(10)
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM ops.incident WHERE source = 'radio' AND source_ref LIKE :r AND disaster_id = :d",
            r=f"%{ref}",
            d=story.disaster_id,
        )
        == 1
    )


def test_the_quiet_day_has_no_disaster(story, app_engine: Engine, settings) -> None:
    open_demo = "SELECT count(*) FROM ops.disaster WHERE closed_at IS NULL AND name LIKE '【デモ】%'"
    rain = "SELECT rain_60min * 10 + continuous FROM sensor.gauge_state WHERE device_id = 'RG01'"
    rain_before = count(app_engine, rain)
    assert demo_story.quiet_day(app_engine, settings.data_dir) == 1
    assert count(app_engine, open_demo) == 0
    # No demo shelter is shown open to citizens (other modules' disasters may be open in the shared database).
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM pub.shelter_status s JOIN gis.shelter sh ON sh.id = s.shelter_id"
            " JOIN gis.layer l ON l.id = sh.layer_id WHERE l.slug = 'shelters'",
        )
        == 0
    )
    assert not story.story_file.exists()
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM ops.assignment a JOIN ops.incident i ON i.id = a.incident_id"
            " JOIN ops.disaster d ON d.id = i.disaster_id WHERE a.state <> 'cleared' AND d.name LIKE '【デモ】%'",
        )
        == 0
    )
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM ops.evac_order o JOIN ops.disaster d ON d.id = o.disaster_id"
            " WHERE o.status = 'active' AND d.name LIKE '【デモ】%'",
        )
        == 0
    )
    # The weather cleared: JMA lifted it all.
    # (the story's telegrams: other modules' may be in force in the shared test database)
    assert (
        count(
            app_engine,
            "SELECT count(*) FROM ops.jma_condition c JOIN ops.jma_telegram t ON t.id = c.telegram_id"
            " WHERE c.alert_level >= 3 AND t.source LIKE 'file:demo-%'",
        )
        == 0
    )
    # The quiet day's simulator reports its own storm meanwhile (off the story's minute).
    with app_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sensor.observation (device_id, kind, device_ts, value) VALUES"
                " ('RG01', 'rain_10min', date_trunc('minute', now()) - interval '25 min 30 s', 30)"
            )
        )
    # The story again after a quiet day: a new disaster (its units free again), then quiet again.
    again = demo_story.load_story(app_engine, settings.data_dir, shared=NO_SHARED)
    assert again.created and again.disaster_id != story.disaster_id and again.counts["units_out"] >= 4
    # The new story's storm replaced the earlier one's readings: the gauge is where a fresh one would be.
    assert count(app_engine, rain) == rain_before
    stray = "SELECT count(*) FROM sensor.observation WHERE device_id = 'RG01' AND extract(second FROM device_ts) = 30"
    assert count(app_engine, stray) == 0
    assert demo_story.quiet_day(app_engine, settings.data_dir) == 1
    assert count(app_engine, open_demo) == 0


def test_the_storm_from_the_real_files() -> None:
    """The heaviest day of the JMA file (東京 2023-06-02: 168.5 mm, 20.5 mm in 10 minutes) and the
    Fukui river station mapped onto a demo gauge's levels."""
    path = shared_data("observations", "jma", "data20221020-20231019.csv")
    shared = path.parents[2]
    assert demo_storm.heaviest_day(path).isoformat() == "2023-06-02"
    levels = {"水防団待機水位": 1.3, "氾濫注意水位": 1.9, "避難判断水位": 2.3, "氾濫危険水位": 2.7}
    gauges = [
        demo_storm.Gauge("RG02", "rain_gauge", {}),  # factor 1.0: the record as it fell
        demo_storm.Gauge("WL01", "water_gauge", levels),
    ]
    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)
    storm = demo_storm.build(now, gauges, shared)
    assert storm.notice is None and "2023-06-02" in storm.source_en
    rain = storm.readings["RG02"]
    assert round(sum(r.value for r in rain), 1) == 168.5 and max(r.value for r in rain) == 20.5
    peak = max(rain, key=lambda r: r.value)
    assert peak.ts - now == timedelta(minutes=20)  # "now" is 20 minutes before the heaviest 10 minutes
    river = storm.readings["WL01"]
    at_now = next(r.value for r in river if r.ts == now)
    assert levels["避難判断水位"] <= at_now < levels["氾濫危険水位"]
    first_danger = next(r.ts for r in river if r.value >= levels["氾濫危険水位"])
    assert first_danger - now == timedelta(minutes=40)
    # The station's own levels land on the demo gauge's: 1.8 m (its 避難判断水位) -> 2.3 m.
    station = {"水防団待機水位": 1.2, "氾濫注意水位": 1.5, "避難判断水位": 1.8, "氾濫危険水位": 2.0}
    assert demo_storm.map_levels(1.8, station, levels) == pytest.approx(2.3)
    assert demo_storm.map_levels(1.65, station, levels) == pytest.approx(2.1)


def test_the_simulator_follows_the_story_file(tmp_path) -> None:
    """At start the items past due go at once; a rewritten file (the same story loaded again) sends
    nothing twice; a deleted one (a quiet day) sends nothing more."""
    from sensors import simulate

    now = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)

    def write(*minutes: int) -> None:
        items = [
            {"at": (now + timedelta(minutes=m)).isoformat(), "device": "RG01", "leaf": "rain",
             "payload": {"ts": (now + timedelta(minutes=m)).isoformat(), "rain_10min_mm": 1.0}}
            for m in minutes
        ]  # fmt: skip
        path.write_text(json.dumps({"items": items}))
        os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a rewrite within the same tick

    path = tmp_path / "demo-story.json"
    write(-20, -10, 10, 20)
    feed = simulate.StoryFeed(path)
    assert [i.at - now for i in feed.due(now)] == [timedelta(minutes=-20), timedelta(minutes=-10)]
    assert feed.due(now) == []
    write(-20, -10, 10, 20)
    assert [i.at - now for i in feed.due(now + timedelta(minutes=10))] == [timedelta(minutes=10)]
    path.unlink()
    assert feed.due(now + timedelta(hours=1)) == []
