"""避難情報: the criteria suggest (in the database, whoever changed an input), a person issues,
changes and cancels; every step is versioned, audited, logged and notified; bad input changes nothing."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from gisapp.ops import evac_info
from tests.fixtures_data import _layer, seed
from tests.support import count, listen_events

# A corner of Japan no other test uses (off 宮城県's coast line, on land enough for the checks).
X0, Y0 = 141.10, 38.30
JMA_AREA = "9900001"  # a test JMA area code: only this module's criteria look at it


@dataclass
class World:
    tag: str
    hq: dict
    staff: dict
    welfare: dict
    admin: dict
    areas: list[str]
    criterion: int
    lower_criterion: int
    shelters: dict[str, int]


def _box(x: float, y: float, w: float = 0.01, h: float = 0.01) -> str:
    return f"MULTIPOLYGON((({x} {y},{x + w} {y},{x + w} {y + h},{x} {y + h},{x} {y})))"


@pytest.fixture(scope="module")
def world(client, app_engine, owner_engine) -> Iterator[World]:
    tag = f"ei{secrets.token_hex(3)}"
    s = seed(app_engine, tag)
    codes = [f"{tag}-A", f"{tag}-B", f"{tag}-C"]
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        areas = _layer(conn, f"{tag}-areas", "internal", "generic", "MultiPolygon", s.dept_id)
        for i, code in enumerate(codes):
            conn.execute(
                text(
                    """INSERT INTO gis.feature (layer_id, source_key, properties, geom)
                       VALUES (:l, :c, jsonb_build_object('code', CAST(:c AS text), 'name', CAST(:n AS text)),
                               ST_GeomFromText(:w, 4326))"""
                ),
                {"l": areas, "c": code, "n": f"試験{'ABC'[i]}町", "w": _box(X0 + 0.01 * i, Y0)},
            )
        hazards = _layer(conn, f"{tag}-hazards", "public", "hazard_area", "MultiPolygon", s.dept_id)
        # One landslide warning area across A and B (not C); a flood area in C only.
        conn.execute(
            text(
                """INSERT INTO gis.hazard_area (layer_id, hazard_type, name, geom) VALUES
                     (:l, 'landslide_warning', :n1, ST_GeomFromText(:w1, 4326)),
                     (:l, 'flood', :n2, ST_GeomFromText(:w2, 4326))"""
            ),
            {"l": hazards, "n1": f"{tag}沢", "w1": _box(X0 + 0.005, Y0 + 0.002, 0.01, 0.004),
             "n2": f"{tag}川", "w2": _box(X0 + 0.022, Y0 + 0.002, 0.005, 0.004)},
        )  # fmt: skip
        shelters = {}
        for name, x, slide in (
            ("near", X0 + 0.015, True),
            ("unsuited", X0 + 0.012, False),
            ("far", X0 + 0.2, True),
        ):
            shelters[name] = conn.execute(
                text(
                    """INSERT INTO gis.shelter (layer_id, code, name, suits_landslide, geom)
                       VALUES (:l, :c, :n, :s, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"""
                ),
                {"l": _layer(conn, f"{tag}-shelters", "public", "shelter", "Point", s.dept_id), "c": f"{tag}-{name}",
                 "n": f"{tag} {name} 避難所", "s": slide, "x": x, "y": Y0 + 0.005},
            ).scalar_one()  # fmt: skip
        assert evac_info.sync_areas_from_layer(conn, f"{tag}-areas") == 3
    with owner_engine.begin() as conn:
        ids = []
        for name, level in ((f"{tag} 土砂災害警戒情報 → 避難指示", 4), (f"{tag} 大雨警報 → 高齢者等避難", 3)):
            ids.append(
                conn.execute(
                    text(
                        """INSERT INTO ops.issuance_criterion (name, hazard, source, min_level, suggest_level,
                                                              target, jma_area_codes)
                           VALUES (:n, 'landslide', 'jma', :lv, :lv, 'hazard_areas', ARRAY[:a]) RETURNING id"""
                    ),
                    {"n": name, "lv": level, "a": JMA_AREA},
                ).scalar_one()
            )
    world = World(
        tag, s.bearer(client, "hq"), s.bearer(client, "staff"), s.bearer(client, "welfare"),
        s.bearer(client, "admin"), codes, ids[0], ids[1], shelters,
    )  # fmt: skip
    # Other modules' criteria (the demo's hold for any JMA area) would suggest for these areas too and
    # hold this module's less severe criterion back: off while this module runs.
    with owner_engine.begin() as conn:
        others = list(
            conn.execute(
                text(
                    "UPDATE ops.issuance_criterion SET enabled = false WHERE enabled AND NOT (id = ANY(:ids)) RETURNING id"
                ),
                {"ids": ids},
            ).scalars()
        )
    yield world
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE ops.issuance_criterion SET enabled = true WHERE id = ANY(:ids)"), {"ids": others}
        )


def set_condition(owner_engine, kind: str | None, level: int = 4, event: str = "ev1") -> None:
    """What the JMA importer leaves in force for the test area (None: nothing)."""
    with owner_engine.begin() as conn:
        conn.execute(text("DELETE FROM ops.jma_condition WHERE area_code = :a"), {"a": JMA_AREA})
        if kind is None:
            return
        tid = conn.execute(
            text(
                """INSERT INTO ops.jma_telegram (info_kind, event_id, serial, info_type, title, report_at, source,
                                                 sha256, applied)
                   VALUES ('土砂災害警戒情報', :e, 1, '発表', 'テスト', now(), 'file:test', :h, true) RETURNING id"""
            ),
            {"e": event, "h": secrets.token_hex(16)},
        ).scalar_one()
        conn.execute(
            text(
                """INSERT INTO ops.jma_condition (info_kind, event_id, area_code, area_name, kind_name, status,
                                                  hazard, alert_level, telegram_id, since)
                   VALUES ('土砂災害警戒情報', :e, :a, '試験市', :k, '発表', 'landslide', :lv, :t, now())"""
            ),
            {"e": event, "a": JMA_AREA, "k": kind, "lv": level, "t": tid},
        )


def suggestions(client, world: World, state: str = "open") -> list[dict]:
    r = client.get(f"/api/evacuation-info/suggestions?state={state}", headers=world.staff)
    assert r.status_code == 200, r.text
    # This module's criteria, for this module's areas: in the shared test database other areas with
    # landslide zones (the demo's) may be suggested by the same criteria.
    return [
        {**s, "area_codes": [a for a in s["area_codes"] if a in world.areas]}
        for s in r.json()["suggestions"]
        if s["criterion_id"] in (world.criterion, world.lower_criterion)
        and set(s["area_codes"]) & set(world.areas)
    ]


def log_of(client, world: World, after: int, order_id: int) -> list[tuple[str, str]]:
    """(kind, summary) of this module's criteria's suggestions and of one order, oldest first."""
    r = client.get(f"/api/hq-log?after={after}", headers=world.staff)
    assert r.status_code == 200, r.text
    return [
        (e["kind"], e["summary_ja"])
        for e in reversed(r.json()["entries"])
        if e["ref"].get("criterion_id") in (world.criterion, world.lower_criterion)
        or e["ref"].get("order_id") == order_id
    ]


def last_log_id(owner_engine) -> int:
    with owner_engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(id), 0) FROM ops.hq_log")).scalar_one()


def test_a_warning_suggests_a_person_issues_changes_and_cancels(client, world, owner_engine, settings):
    start = last_log_id(owner_engine)
    with listen_events(settings) as events:
        set_condition(owner_engine, "土砂災害警戒情報", 4)
        seen = events.collect(timeout=2)
    open_ = suggestions(client, world)
    # The level-4 criterion holds; the level-3 one holds too but stays quiet for the same areas.
    assert [s["criterion_id"] for s in open_] == [world.criterion]
    sug = open_[0]
    assert sug["level"] == 4 and sug["name_ja"] == "避難指示" and sug["hazard"] == "landslide"
    # the areas containing the landslide area, not C (other modules' areas with landslide areas too,
    # e.g. the demo's, when loaded in this shared database)
    assert sug["area_codes"] == world.areas[:2]
    assert "土砂災害警戒情報" in sug["reason_ja"] and "警戒レベル4相当" in sug["reason_ja"]
    # Suitable shelters within 1 km, nearest first; not the unsuitable one, not the far one.
    mine = set(world.shelters.values())
    assert [sh["id"] for sh in sug["shelters"] if sh["id"] in mine] == [world.shelters["near"]]
    assert any(e["type"] == "evac_suggestion" and e["id"] == sug["id"] for e in seen)
    assert (
        count(owner_engine, "SELECT count(*) FROM ops.evac_order WHERE reason LIKE :t", t=f"%{world.tag}%")
        == 0
    )

    body = {"level": 4, "hazard": "landslide", "area_codes": world.areas[:2], "suggestion_id": sug["id"],
            "reason": f"{world.tag} 土砂災害警戒情報の発表を受けて"}  # fmt: skip
    with listen_events(settings) as events:
        r = client.post("/api/evacuation-info/orders", json=body, headers=world.hq)
        assert r.status_code == 201, r.text
        seen = events.collect(timeout=2)
    order = r.json()
    assert (order["version"], order["status"], order["level"], order["name_ja"]) == (
        1,
        "active",
        4,
        "避難指示",
    )
    assert order["area_names"] == ["試験A町", "試験B町"] and order["geometry"]["type"] == "MultiPolygon"
    assert order["issued_by"] == f"{world.tag}-hq" and [h["action"] for h in order["history"]] == ["issue"]
    assert any(e["type"] == "evacuation" and e["id"] == order["id"] and e["version"] == 1 for e in seen)
    assert suggestions(client, world) == []  # issued from the suggestion: no longer open
    done = next(s for s in suggestions(client, world, "all") if s["id"] == sug["id"])
    assert (done["state"], done["order_id"]) == ("issued", order["id"])

    # A change needs the version last read; a stale one is refused with the current version.
    r = client.patch(
        f"/api/evacuation-info/orders/{order['id']}",
        json={"expected_version": 7, "level": 5, "reason": "x"},
        headers=world.hq,
    )
    assert r.status_code == 409, r.text
    r = client.patch(
        f"/api/evacuation-info/orders/{order['id']}",
        json={"expected_version": 1, "level": 5, "reason": f"{world.tag} 土砂災害の発生"},
        headers=world.hq,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["level"], r.json()["name_ja"]) == (2, 5, "緊急安全確保")
    r = client.patch(
        f"/api/evacuation-info/orders/{order['id']}",
        json={"expected_version": 2, "area_codes": world.areas, "reason": f"{world.tag} 対象地域の拡大"},
        headers=world.hq,
    )
    assert r.status_code == 200, r.text
    assert r.json()["area_codes"] == world.areas and r.json()["version"] == 3
    r = client.post(
        f"/api/evacuation-info/orders/{order['id']}/cancel",
        json={"expected_version": 3, "reason": f"{world.tag} 土砂災害警戒情報の解除"},
        headers=world.hq,
    )
    assert r.status_code == 200, r.text
    final = r.json()
    assert final["status"] == "cancelled" and final["cancelled_at"] is not None
    assert [h["action"] for h in final["history"]] == ["issue", "change_level", "change_areas", "cancel"]
    assert all(h["actor"] == f"{world.tag}-hq" for h in final["history"])
    r = client.post(
        f"/api/evacuation-info/orders/{order['id']}/cancel",
        json={"expected_version": 4, "reason": "again"},
        headers=world.hq,
    )
    assert r.status_code == 409

    # Every step is in the HQ log (written by the database) and in the audit log.
    log = log_of(client, world, start, order["id"])
    # The suggestion first (in a shared database the same criteria may suggest again for other areas
    # meanwhile), then the four versions in order.
    assert log[0][0] == "suggestion"
    versions = [text for kind, text in log if kind == "evacuation"]
    assert len(versions) == 4
    assert "【警戒レベル4】避難指示 発令：試験A町、試験B町" in versions[0]
    assert "【警戒レベル5】緊急安全確保 レベル変更" in versions[1] and "対象地域変更" in versions[2]
    assert "解除" in versions[3]
    assert count(
        owner_engine, "SELECT count(*) FROM audit.log WHERE action LIKE 'evacuation.%' AND target = :t",
        t=str(order["id"]),
    ) == 4  # fmt: skip

    # Cancelled while the warning still holds: the criterion suggests again.
    again = suggestions(client, world)
    assert [s["criterion_id"] for s in again] == [world.criterion] and again[0]["id"] != sug["id"]
    # The warning ends: the open suggestion lapses.
    set_condition(owner_engine, None)
    assert suggestions(client, world) == []
    lapsed = next(s for s in suggestions(client, world, "all") if s["id"] == again[0]["id"])
    assert lapsed["state"] == "lapsed"


def test_dismissed_is_not_suggested_again_until_the_condition_ends(client, world, owner_engine):
    set_condition(owner_engine, "土砂災害警戒情報", 4, event="ev-dismiss")
    [sug] = suggestions(client, world)
    r = client.post(
        f"/api/evacuation-info/suggestions/{sug['id']}/dismiss",
        json={"reason": "現地確認の結果、見送り"},
        headers=world.hq,
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "dismissed"
    # The lower criterion may now speak for the same areas (高齢者等避難), never the dismissed one.
    assert [s["criterion_id"] for s in suggestions(client, world)] == [world.lower_criterion]
    with owner_engine.begin() as conn:
        evac_info.refresh_suggestions(conn)
    assert world.criterion not in [s["criterion_id"] for s in suggestions(client, world)]
    r = client.post(
        f"/api/evacuation-info/suggestions/{sug['id']}/dismiss", json={"reason": "again"}, headers=world.hq
    )
    assert r.status_code == 409
    set_condition(owner_engine, None)
    assert suggestions(client, world) == []
    set_condition(owner_engine, "土砂災害警戒情報", 4, event="ev-dismiss-2")
    assert [s["criterion_id"] for s in suggestions(client, world)] == [world.criterion]
    set_condition(owner_engine, None)


def test_only_hq_operators_and_admins_issue(client, world, owner_engine):
    body = {
        "level": 3,
        "hazard": "landslide",
        "area_codes": world.areas[:1],
        "reason": f"{world.tag} 権限の確認",
    }
    assert client.post("/api/evacuation-info/orders", json=body).status_code == 401
    for who in (world.staff, world.welfare):
        r = client.post("/api/evacuation-info/orders", json=body, headers=who)
        assert r.status_code == 403, r.text
        assert client.get("/api/evacuation-info/orders", headers=who).status_code == 200  # staff read
    assert client.get("/api/evacuation-info/orders").status_code == 401
    r = client.post("/api/evacuation-info/orders", json=body, headers=world.admin)
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    r = client.post(
        f"/api/evacuation-info/orders/{oid}/cancel", json={"expected_version": 1, "reason": "確認終了"},
        headers=world.staff,
    )  # fmt: skip
    assert r.status_code == 403
    r = client.post(
        f"/api/evacuation-info/orders/{oid}/cancel", json={"expected_version": 1, "reason": "確認終了"},
        headers=world.hq,
    )  # fmt: skip
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"level": 2}, "level"),
        ({"area_codes": ["no-such-area"]}, "unknown"),
        ({"area_codes": []}, None),
        ({"hazard": "meteor"}, "hazard"),
        ({"reason": "   "}, None),
        ({"geometry": {"type": "Polygon", "coordinates": [[[141.1, 38.3], [141.2, 38.4], [141.2, 38.3],
                                                           [141.1, 38.4], [141.1, 38.3]]]}, "area_codes": []},
         "reason"),
        ({"geometry": {"type": "Point", "coordinates": [141.1, 38.3]}, "area_codes": []}, None),
        ({"geometry": {"type": "Polygon", "coordinates": "x"}, "area_codes": []}, None),
        ({"geometry": {"type": "MultiPolygon", "coordinates": [[[[float("inf"), 0], [1, 1], [0, 1], [float("inf"), 0]]]]},
          "area_codes": []}, None),
        ({"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, "area_codes": []}, None),
    ],
)  # fmt: skip
def test_bad_input_is_refused_in_both_languages_and_stores_nothing(
    client, world, owner_engine, change, field
):
    before = count(owner_engine, "SELECT count(*) FROM ops.evac_order_version")
    body = {
        "level": 4,
        "hazard": "landslide",
        "area_codes": world.areas[:1],
        "reason": "入力の確認",
        **change,
    }
    raw = json.dumps(body, allow_nan=True).replace(
        "Infinity", "1e400"
    )  # JSON allows it, a float cannot hold it
    r = client.post(
        "/api/evacuation-info/orders", content=raw, headers={**world.hq, "Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    doc = r.json()["error"]
    assert doc["message_ja"] and doc["message_en"] and doc["message_ja"] != doc["message_en"]
    if field is not None:
        assert field in json.dumps(doc)
    assert count(owner_engine, "SELECT count(*) FROM ops.evac_order_version") == before


def test_a_drawn_area_can_be_issued_alone(client, world, owner_engine):
    ring = [[X0 + 0.1, Y0], [X0 + 0.11, Y0], [X0 + 0.11, Y0 + 0.01], [X0 + 0.1, Y0 + 0.01], [X0 + 0.1, Y0]]
    body = {"level": 3, "hazard": "flood", "geometry": {"type": "Polygon", "coordinates": [ring]},
            "reason": f"{world.tag} 描画区域"}  # fmt: skip
    r = client.post("/api/evacuation-info/orders", json=body, headers=world.hq)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["area_codes"] == [] and order["area_names"] == ["指定区域（地図上で描画）"]
    assert order["geometry"]["type"] == "MultiPolygon"
    r = client.post(
        f"/api/evacuation-info/orders/{order['id']}/cancel", json={"expected_version": 1, "reason": "試験終了"},
        headers=world.hq,
    )  # fmt: skip
    assert r.status_code == 200


def test_a_gauge_at_its_level_suggests_for_its_river(client, world, owner_engine):
    """A water gauge at 氾濫危険水位 (警戒レベル4相当 by the data) suggests 避難指示 for the areas of its
    river's flood polygons only."""
    device = f"{world.tag}-WL"
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO sensor.device (id, kind, name, mqtt_password_hash, location)
                   VALUES (:d, 'water_gauge', :n, 'x', ST_SetSRID(ST_MakePoint(:x, :y), 4326))"""
            ),
            {"d": device, "n": f"{world.tag}川 水位局", "x": X0 + 0.025, "y": Y0 + 0.004},
        )
        conn.execute(
            text("INSERT INTO sensor.gauge_state (device_id, levels) VALUES (:d, '{}')"), {"d": device}
        )
        crit = conn.execute(
            text(
                """INSERT INTO ops.issuance_criterion (name, hazard, source, min_level, suggest_level, target,
                                                      river, device_id)
                   VALUES (:n, 'flood', 'gauge', 4, 4, 'hazard_areas', :r, :d) RETURNING id"""
            ),
            {"n": f"{world.tag} 氾濫危険水位 → 避難指示", "r": f"{world.tag}川", "d": device},
        ).scalar_one()

    def set_level(name: str | None) -> None:
        with owner_engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE sensor.gauge_state SET levels = jsonb_build_object('level_m', CAST(:l AS text)) WHERE device_id = :d"
                ),
                {"l": name, "d": device},
            )

    def open_for_criterion() -> list[dict]:
        r = client.get("/api/evacuation-info/suggestions", headers=world.staff)
        return [s for s in r.json()["suggestions"] if s["criterion_id"] == crit]

    set_level("避難判断水位")  # 3相当: below the criterion
    assert open_for_criterion() == []
    set_level("氾濫危険水位")
    [sug] = open_for_criterion()
    assert (
        [a for a in sug["area_codes"] if a.startswith(world.tag)] == [world.areas[2]]
        and sug["level"] == 4
        and "氾濫危険水位" in sug["reason_ja"]
    )
    set_level(None)
    assert open_for_criterion() == []


def test_criteria_load_from_a_file_all_or_nothing(world, owner_engine, settings, tmp_path):
    """`gisapp evac criteria load`: a city's 発令基準 as data; a bad entry refuses the whole file."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)  # the session's stack (the settings fixture set it)
    good = [
        {"name": f"{world.tag} 洪水警報 → 高齢者等避難", "hazard": "flood", "source": "jma", "min_level": 3,
         "suggest_level": 3, "target": "listed_areas", "area_codes": [world.areas[2]], "jma_area_codes": ["9900002"]},
        {"name": f"{world.tag} 全域", "hazard": "landslide", "source": "jma", "min_level": 5, "suggest_level": 5,
         "target": "all_areas", "jma_area_codes": ["9900002"]},
    ]  # fmt: skip
    bad = [*good, {**good[0], "name": f"{world.tag} 誤り", "suggest_level": 2}]

    def run(doc) -> subprocess.CompletedProcess:
        path = tmp_path / "criteria.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        return subprocess.run(
            [sys.executable, "-m", "gisapp.cli", "evac", "criteria", "load", str(path)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    names = f"{world.tag} %"
    r = run(bad)
    assert (
        r.returncode == 1
        and "3 件目" in r.stderr
        and "suggest_level" in r.stderr
        and "criterion 3" in r.stderr
    )
    assert count(owner_engine, "SELECT count(*) FROM ops.issuance_criterion WHERE name LIKE :n AND source = 'jma'"
                 " AND jma_area_codes = '{9900002}'", n=names) == 0  # fmt: skip
    r = run(good)
    assert r.returncode == 0, r.stderr
    assert "loaded 2" in r.stdout
    assert (
        count(owner_engine, "SELECT count(*) FROM ops.issuance_criterion WHERE jma_area_codes = '{9900002}'")
        == 2
    )
