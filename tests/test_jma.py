"""JMA 防災情報XML in: the parser on JMA's own sample telegrams (../shared/data/jma_xml), the store's
rules (idempotent, Serial / 取消 / 訂正, full-state 気象警報, our areas only), hostile XML, and
`gisapp jma import`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree
from sqlalchemy import text

from gisapp.ops import jma
from ingest import jmaxml
from ingest import jmaxml_build as build
from tests.support import listen_events, shared_data

JST = timezone(timedelta(hours=9))
T0 = datetime(2026, 7, 1, 9, 0, tzinfo=JST)
OURS = ["1421400"]  # 伊勢原市

VXWW40 = "70_17_01_130906_VXWW40-modified.xml"
VPWW53 = "70_15_08_130412_02VPWW53.xml"
VXKO = "70_16_01_100806_kasenkozui1.xml"


def sample(name: str) -> bytes:
    return shared_data("jma_xml", name).read_bytes()


@pytest.fixture
def clean(owner_engine):
    """Each test starts with no telegrams, conditions, feeds or JMA log entries."""

    def wipe() -> None:
        with owner_engine.begin() as conn:
            conn.execute(text("DELETE FROM ops.jma_condition"))
            conn.execute(text("DELETE FROM ops.jma_telegram"))
            conn.execute(text("DELETE FROM ops.jma_feed"))
            conn.execute(text("DELETE FROM ops.hq_log WHERE kind = 'jma'"))

    wipe()
    yield
    wipe()


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.execute(text("SELECT count(*) FROM ops.jma_telegram")).scalar_one(),
            conn.execute(text("SELECT count(*) FROM ops.jma_condition")).scalar_one(),
        )


def in_force(engine) -> list[jma.Condition]:
    with engine.connect() as conn:
        return jma.in_force(conn)


def store(engine, data: bytes, areas=OURS) -> jma.Stored:
    return jma.store(engine, data, source="test", area_codes=areas)


# ------------------------------------------------------------------------------------ real telegrams
def test_landslide_vxww40_sample_counted_by_hand():
    """Read by hand: 60 municipalities in the Body — 警戒 発表 2 (北九州市, 福岡市), 警戒 継続 24,
    解除 25, なし 9 — so 26 in force. (SOURCES.md says 28 警戒 and 26 解除: it is wrong.) The Headline
    lists the 51 that are not なし (111 <Area> in all); the Head's Title, not the Control's, is kept."""
    t = jmaxml.parse(sample(VXWW40))
    h = t.header
    assert (h.info_kind, h.event_id, h.serial, h.info_type) == (
        "土砂災害警戒情報",
        "福岡県土砂災害警戒情報",
        5,
        "発表",
    )
    assert (h.title, h.office) == ("福岡県土砂災害警戒情報", "福岡管区気象台")
    assert h.report_at == datetime(2013, 8, 31, 11, 5, tzinfo=JST)
    assert len(t.items) == len(t.area_codes) == 60
    assert all(len(c) == 7 and c.startswith("40") for c in t.area_codes)  # 7-digit JMA codes
    assert Counter(i.status for i in t.items) == {"発表": 2, "継続": 24, "解除": 25, "なし": 9}
    assert Counter(i.kind_code for i in t.items) == {"3": 26, "1": 25, "0": 9}
    assert {i.area_name for i in t.items if i.status == "発表"} == {"北九州市", "福岡市"}
    assert len(t.in_force) == 26 and {i.kind_name for i in t.items} == {"土砂災害警戒情報"}


def test_warnings_vpww53_sample_takes_the_municipal_level():
    """Read by hand: the 市町村等 Warning has 40 areas (五條市 split in 北部 2920701 and 南部 2920702)
    with 160 Kinds: 大雨特別警報 40 (13 発表, 27 継続; Condition 土砂災害 19, 土砂災害、浸水害 21),
    洪水警報 25 (7 発表, 18 継続), 洪水注意報 15, 雷注意報 40, 強風注意報 40 (all 継続). The 府県予報区
    (290000), 一次細分 (290010/290020) and まとめた地域 (29001x/29002x) levels are not items."""
    t = jmaxml.parse(sample(VPWW53))
    h = t.header
    assert (h.info_kind, h.event_id, h.serial, h.info_type) == (
        "気象警報・注意報",
        "20110904100000_435",
        None,
        "発表",
    )
    assert h.office == "奈良地方気象台" and h.report_at == datetime(2011, 9, 4, 0, 10, tzinfo=JST)
    assert len(t.area_codes) == 40 and len(t.items) == 160
    assert all(len(c) == 7 for c in t.area_codes) and "290000" not in t.area_codes
    assert {"2920701", "2920702"} <= set(t.area_codes)
    assert Counter(i.status for i in t.items) == {"継続": 140, "発表": 20}
    assert Counter(i.kind_name for i in t.items) == {
        "大雨特別警報": 40, "洪水警報": 25, "洪水注意報": 15, "雷注意報": 40, "強風注意報": 40,
    }  # fmt: skip
    special = [i for i in t.items if i.kind_name == "大雨特別警報"]
    assert Counter(i.status for i in special) == {"発表": 13, "継続": 27}
    assert Counter(i.condition for i in special) == {"土砂災害": 19, "土砂災害、浸水害": 21}
    assert Counter(i.status for i in t.items if i.kind_name == "洪水警報") == {"発表": 7, "継続": 18}
    nara = {(i.kind_name, i.condition, i.status) for i in t.items if i.area_code == "2920100"}
    assert nara == {
        ("大雨特別警報", "土砂災害", "継続"), ("雷注意報", "", "継続"), ("強風注意報", "", "継続"),
        ("洪水注意報", "", "継続"),
    }  # fmt: skip
    assert len(t.in_force) == 160


def test_river_flood_sample():
    """揖斐川中流はん濫注意情報 (6 plain <Area>: Headline 予報区域 1, 河川 2, 府県予報区 1; Body 河川 1,
    雨量 1): EventID = the 予報区域 code, one item per river of the Headline's 河川 list, with the
    Body's spelling 揖斐川 over the Headline's 損斐川 (a typo in JMA's sample), はん濫 read as 氾濫."""
    t = jmaxml.parse(sample(VXKO))
    h = t.header
    assert (h.info_kind, h.event_id, h.serial, h.info_type) == ("指定河川洪水予報", "850509000203", 1, "発表")
    assert h.title == "揖斐川中流はん濫注意情報" and h.office == "岐阜地方気象台"
    assert [(i.area_code, i.river, i.kind_name, i.status) for i in t.items] == [
        ("8505090002", "揖斐川", "氾濫注意情報", "発表"),
        ("8505090035", "根尾川", "氾濫注意情報", "発表"),
    ]
    assert t.items[0].condition == "洪水注意報（発表）"
    # Configured by river: only that river; by the 予報区域: all its rivers; otherwise none.
    assert [i.river for i in jmaxml.parse(sample(VXKO), ["8505090035"]).items] == ["根尾川"]
    assert len(jmaxml.parse(sample(VXKO), ["850509000203"]).items) == 2
    assert jmaxml.parse(sample(VXKO), OURS).items == ()


def test_river_flood_without_a_river_list_is_read_by_its_forecast_area():
    """Recent VXKO telegrams may list only the 予報区域 and 府県予報区 in the Headline; the 浸水想定地区
    city code is then the 5-digit 全国地方公共団体コード (14214 for a configured 1421400)."""
    root = etree.fromstring(build.river_flood("氾濫危険情報", report_at=T0))
    for info in list(root.iter(f"{{{jmaxml.NS_HEAD}}}Information")):
        if info.get("type") == "指定河川洪水予報（河川）":
            info.getparent().remove(info)
    t = jmaxml.parse(etree.tostring(root), OURS)
    assert [(i.area_code, i.river, i.kind_name, i.status) for i in t.items] == [
        ("999000000001", "鈴川（架空）", "氾濫危険情報", "発表")
    ]
    assert b"<CityCode>14214</CityCode>" in build.river_flood(report_at=T0)


def test_real_telegram_configured_to_one_area_stores_only_that_area(app_engine, clean):
    stored = store(app_engine, sample(VXWW40), ["4013000"])  # 福岡市
    assert stored.outcome == jma.APPLIED and stored.areas == ("4013000",) and stored.level == 4
    rows = in_force(app_engine)
    assert [(c.area_code, c.area_name, c.kind_name, c.status, c.hazard, c.alert_level) for c in rows] == [
        ("4013000", "福岡市", "土砂災害警戒情報", "発表", "landslide", 4)
    ]
    with app_engine.connect() as conn:
        areas = conn.execute(text("SELECT area_codes FROM ops.jma_telegram")).scalar_one()
    assert areas == ["4013000"]


def test_real_warnings_give_one_row_per_condition(app_engine, clean):
    """大雨特別警報 with 土砂災害、浸水害 in 大和高田市 (2920200): two rows, 5 for each hazard."""
    store(app_engine, sample(VPWW53), ["2920200"])
    rows = {(c.kind_name, c.condition): (c.hazard, c.alert_level) for c in in_force(app_engine)}
    assert rows[("大雨特別警報", "土砂災害")] == ("landslide", 5)
    assert rows[("大雨特別警報", "浸水害")] == ("inland_flood", 5)
    assert rows[("雷注意報", "")] == (None, None)


def test_a_telegram_for_other_areas_changes_nothing(app_engine, clean):
    store(app_engine, build.landslide(report_at=T0))
    before = in_force(app_engine)
    for data in (sample(VXWW40), sample(VPWW53), sample(VXKO)):
        assert store(app_engine, data).outcome == jma.NOT_OURS
    # 伊勢原市's telegram (秦野市 and 厚木市 in it too), to an instance configured for 横浜市
    assert store(app_engine, build.landslide(report_at=T0, serial=2), ["1410000"]).outcome == jma.NOT_OURS
    assert in_force(app_engine) == before and counts(app_engine) == (1, 1)


# ------------------------------------------------------------------------------------ store rules
def test_landslide_alert_for_the_city_is_stored_logged_and_announced(settings, app_engine, clean):
    with listen_events(settings) as events:
        stored = store(app_engine, build.landslide(report_at=T0))
        event = events.wait_for(lambda e: e.get("type") == "jma_telegram")
        log_event = events.wait_for(lambda e: e.get("type") == "hq_log" and e.get("kind") == "jma")
    assert stored.outcome == jma.APPLIED and stored.in_force == 1 and stored.level == 4
    assert event["id"] == stored.telegram_id and event["level"] == 4 and event["info_type"] == "発表"
    (c,) = in_force(app_engine)
    assert (c.area_code, c.area_name, c.kind_name, c.hazard, c.alert_level, c.since) == (
        "1421400", "伊勢原市", "土砂災害警戒情報", "landslide", 4, T0,
    )  # fmt: skip
    with app_engine.connect() as conn:
        entry = conn.execute(
            text("SELECT level, summary_ja, summary_en, ref FROM ops.hq_log WHERE kind = 'jma'")
        ).one()
        audited = conn.execute(
            text("SELECT count(*) FROM audit.log WHERE action = 'jma.telegram' AND target = :t"),
            {"t": f"telegram:{stored.telegram_id}"},
        ).scalar_one()
    assert entry.level == 4 and entry.ref["telegram_id"] == stored.telegram_id
    assert "伊勢原市" in entry.summary_ja and "警戒レベル4相当" in entry.summary_ja
    assert "landslide alert" in entry.summary_en and "alert level 4" in entry.summary_en
    assert log_event["level"] == 4 and audited == 1


def test_the_same_bytes_twice_are_stored_once(app_engine, clean):
    data = build.landslide(report_at=T0)
    assert store(app_engine, data).outcome == jma.APPLIED
    again = store(app_engine, data)
    assert again.outcome == jma.DUPLICATE and counts(app_engine) == (1, 1)


def test_issue_then_cancel_leaves_nothing_in_force(app_engine, clean):
    store(app_engine, build.landslide(report_at=T0))
    cancel = store(
        app_engine, build.landslide(info_type="取消", serial=2, report_at=T0 + timedelta(minutes=5))
    )
    assert cancel.outcome == jma.APPLIED and in_force(app_engine) == []
    with app_engine.connect() as conn:
        logged = (
            conn.execute(text("SELECT summary_ja FROM ops.hq_log WHERE kind = 'jma' ORDER BY id"))
            .scalars()
            .all()
        )
    assert len(logged) == 2 and "取消" in logged[1]


def test_a_cancel_of_an_event_we_never_had_is_not_ours(app_engine, clean):
    stored = store(app_engine, build.landslide(info_type="取消", serial=2, event_id="他県土砂災害警戒情報"))
    assert stored.outcome == jma.NOT_OURS and counts(app_engine) == (0, 0)


def test_a_lower_serial_arriving_late_changes_nothing(app_engine, clean):
    store(app_engine, build.landslide(report_at=T0))
    store(app_engine, build.landslide(status="解除", serial=3, report_at=T0 + timedelta(hours=2)))
    assert in_force(app_engine) == []
    late = store(app_engine, build.landslide(status="継続", serial=2, report_at=T0 + timedelta(hours=1)))
    assert late.outcome == jma.STALE and in_force(app_engine) == []
    with app_engine.connect() as conn:
        applied = conn.execute(
            text("SELECT applied FROM ops.jma_telegram WHERE id = :i"), {"i": late.telegram_id}
        )
        assert applied.scalar_one() is False
        assert conn.execute(text("SELECT count(*) FROM ops.hq_log WHERE kind = 'jma'")).scalar_one() == 2


def test_a_late_telegram_of_an_earlier_event_does_not_undo_a_later_one(app_engine, clean):
    """土砂災害警戒情報 replaces by area: serial 5 of an earlier event, arriving after serial 1 of a
    later event for the same city, is newer within its own event but older for the area."""
    store(app_engine, build.landslide(event_id="E-old", serial=4, report_at=T0))
    store(app_engine, build.landslide(event_id="E-new", serial=1, report_at=T0 + timedelta(hours=2)))
    late = store(
        app_engine,
        build.landslide(status="解除", event_id="E-old", serial=5, report_at=T0 + timedelta(hours=1)),
    )
    assert late.outcome == jma.STALE
    assert [(c.event_id, c.status) for c in in_force(app_engine)] == [("E-new", "発表")]


def test_a_cancelled_warning_telegram_removes_its_conditions(app_engine, clean):
    store(app_engine, build.warnings(build.HEAVY_RAIN_WARNING, report_at=T0, event_id="E1"))
    cancel = store(app_engine, build.warnings(info_type="取消", report_at=T0, event_id="E1"))
    assert cancel.outcome == jma.APPLIED and in_force(app_engine) == []


def test_a_correction_replaces_like_a_newer_telegram(app_engine, clean):
    store(app_engine, build.warnings(build.HEAVY_RAIN_WARNING, report_at=T0, event_id="E1"))
    fixed = build.warnings(
        (("大雨警報", "土砂災害、浸水害", "発表"),), info_type="訂正", report_at=T0, event_id="E1"
    )
    assert store(app_engine, fixed).outcome == jma.APPLIED
    assert {(c.kind_name, c.condition) for c in in_force(app_engine)} == {
        ("大雨警報", "土砂災害"),
        ("大雨警報", "浸水害"),
    }


def test_warnings_are_full_state_per_area_and_an_older_one_changes_nothing(app_engine, clean):
    """Each 気象警報・注意報 telegram has its own EventID: a newer one replaces the kind's conditions
    of the areas it lists; one older than the last applied is kept unapplied."""
    store(app_engine, build.warnings(build.HEAVY_RAIN_WARNING, report_at=T0))
    got = {(c.kind_name, c.condition): (c.hazard, c.alert_level) for c in in_force(app_engine)}
    assert got == {("大雨警報", "土砂災害"): ("landslide", 3), ("洪水警報", ""): ("flood", 3)}

    store(app_engine, build.warnings(build.EMERGENCY_WARNING, report_at=T0 + timedelta(hours=1)))
    got = {(c.kind_name, c.condition): (c.hazard, c.alert_level) for c in in_force(app_engine)}
    assert got == {
        ("大雨特別警報", "土砂災害"): ("landslide", 5), ("大雨特別警報", "浸水害"): ("inland_flood", 5),
        ("洪水警報", ""): ("flood", 3),
    }  # fmt: skip
    flood = next(c for c in in_force(app_engine) if c.kind_name == "洪水警報")
    assert flood.since == T0  # 継続: in force since the first telegram

    late = store(app_engine, build.warnings(build.HEAVY_RAIN_WARNING, report_at=T0 + timedelta(minutes=30)))
    assert late.outcome == jma.STALE and len(in_force(app_engine)) == 3

    clear = store(app_engine, build.warnings(build.ALL_CLEAR, report_at=T0 + timedelta(hours=3)))
    assert clear.outcome == jma.APPLIED and clear.in_force == 0 and in_force(app_engine) == []


def test_river_flood_danger_for_the_demo_river(app_engine, clean):
    stored = store(app_engine, build.river_flood("氾濫危険情報", report_at=T0))
    (c,) = in_force(app_engine)
    assert stored.level == 4 and (c.river, c.kind_name, c.hazard, c.alert_level) == (
        "鈴川（架空）",
        "氾濫危険情報",
        "flood",
        4,
    )
    store(app_engine, build.river_flood("氾濫注意情報解除", serial=2, report_at=T0 + timedelta(hours=3)))
    assert in_force(app_engine) == []


def test_training_telegrams_store_nothing(app_engine, clean):
    data = build.landslide(report_at=T0).replace(
        "<Status>通常</Status>".encode(), "<Status>訓練</Status>".encode()
    )
    assert store(app_engine, data).outcome == jma.SKIPPED and counts(app_engine) == (0, 0)


# ------------------------------------------------------------------------------------ hostile input
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<Report xmlns="http://xml.kishou.go.jp/jmaxml1/">&lol9;</Report>"""


def xxe(path: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE Report [<!ENTITY secret SYSTEM "file://{path}">]>\n'
        '<Report xmlns="http://xml.kishou.go.jp/jmaxml1/"><Control><Title>&secret;</Title></Control></Report>'
    ).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"<Report><Control>",  # malformed
        b"",
        BOMB,
        # UTF-16 hides the declaration from the byte check: the parser does not expand it, and it is
        # refused after parsing
        BOMB.replace(b'"1.0"?>', b'"1.0" encoding="UTF-16"?>', 1).decode().encode("utf-16"),
        b"<not-jma/>",
        build.landslide(report_at=T0).replace(b"<InfoType>", b"<InfoType>x"),
        build.landslide(report_at=T0).replace(b"<ReportDateTime>", b"<ReportDateTime>yesterday"),
    ],
    ids=["malformed", "empty", "entity-bomb", "utf16-entity-bomb", "not-jma", "bad-info-type", "bad-time"],
)
def test_bad_xml_is_a_clear_error_and_stores_nothing(app_engine, clean, data):
    with pytest.raises(jmaxml.TelegramError) as e:
        store(app_engine, data)
    assert e.value.ja and e.value.en and e.value.status == 422
    assert counts(app_engine) == (0, 0)


def test_an_external_entity_is_refused_and_never_read(app_engine, clean, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    with pytest.raises(jmaxml.TelegramError) as e:
        store(app_engine, xxe(str(secret)))
    assert "DOCTYPE" in e.value.en and "TOP-SECRET" not in str(e.value)
    assert counts(app_engine) == (0, 0)
    # Defence in depth: the parser's own options do not resolve it either (past the byte check).
    parser = etree.XMLParser(**jmaxml._PARSER_OPTIONS)
    root = etree.fromstring(xxe(str(secret)), parser)
    assert b"TOP-SECRET" not in etree.tostring(root)


def test_an_unknown_info_kind_is_refused(app_engine, clean):
    quake = build.landslide(report_at=T0).replace(
        "<InfoKind>土砂災害警戒情報".encode(), "<InfoKind>震度速報".encode()
    )
    with pytest.raises(jmaxml.UnknownInfoKind) as e:
        store(app_engine, quake)
    assert "震度速報" in e.value.ja and e.value.details["info_kind"] == "震度速報"
    assert counts(app_engine) == (0, 0)


# ------------------------------------------------------------------------------------ CLI
def gisapp(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOG_FORMAT": "text", "GISAPP_JMA_AREA_CODES": "1421400"}
    return subprocess.run(
        [sys.executable, "-m", "gisapp.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_import_reports_each_file_and_fails_on_a_bad_one(settings, app_engine, clean, tmp_path):
    good = tmp_path / "landslide.xml"
    good.write_bytes(build.landslide(report_at=T0))
    other = tmp_path / "fukuoka.xml"
    other.write_bytes(sample(VXWW40))
    bad = tmp_path / "bomb.xml"
    bad.write_bytes(BOMB)
    r = gisapp("jma", "import", str(good), str(bad), str(other), str(good))
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(f"{good}: 適用") and "applied" in lines[0]
    assert lines[1].startswith(f"{other}: 対象地域なし") and lines[2].startswith(f"{good}: 取込済み")
    assert f"{bad}: " in r.stderr and "DOCTYPE" in r.stderr
    assert counts(app_engine) == (1, 1)

    ok = gisapp("jma", "import", str(good))
    assert ok.returncode == 0 and "already stored" in ok.stdout

    status = gisapp("jma", "status")
    assert status.returncode == 0, status.stderr
    assert "伊勢原市 土砂災害警戒情報 発表 [警戒レベル4相当]" in status.stdout and "no feed" in status.stdout


# ------------------------------------------------------------------------------------ the lead's hook
def test_the_suggestion_hook_runs_after_an_applied_telegram_and_cannot_lose_it(
    app_engine, clean, monkeypatch
):
    """gisapp.ops.evac_info.refresh_suggestions(conn) is called in the telegram's transaction when it
    exists; if it fails, the telegram is still stored (its savepoint is rolled back, the error logged)."""
    import types

    calls = []
    fake = types.ModuleType("gisapp.ops.evac_info")
    fake.refresh_suggestions = lambda conn: calls.append(
        conn.execute(text("SELECT count(*) FROM ops.jma_condition")).scalar_one()
    )
    monkeypatch.setitem(sys.modules, "gisapp.ops.evac_info", fake)
    store(app_engine, build.landslide(report_at=T0))
    assert calls == [1]  # it sees the new conditions

    def broken(conn):
        conn.execute(text("SELECT 1/0"))

    fake.refresh_suggestions = broken
    stored = store(app_engine, build.landslide(status="解除", serial=2, report_at=T0 + timedelta(hours=1)))
    assert stored.outcome == jma.APPLIED and counts(app_engine) == (2, 0)
