"""被害報 against the real PostGIS: versioned damage figures per incident, the totals of the 消防庁
第4号様式 per 町丁目 and for the city as of a time — equal to a fixture computed by hand —, the xlsx for
the prefecture read back with openpyxl, the printable page, bad input refused in both languages with
nothing stored, the クロノロジー entries, and damage kept from the citizen-facing role."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from gisapp.ops import damage
from tests.fixtures_data import seed

# Two 町丁目 of this module, away from every other module's areas (codes sort first: an incident is
# counted in the first area by code that covers it), and a spot in no area at all (地区不明).
AREA_A = ("0DMG-A", "被害テスト東町", 139.600, 35.600)
AREA_B = ("0DMG-B", "被害テスト西町", 139.620, 35.600)
NOWHERE = (140.600, 36.600)


def _square(lon: float, lat: float, size: float = 0.01) -> str:
    x2, y2 = lon + size, lat + size
    return f"MULTIPOLYGON((({lon} {lat}, {x2} {lat}, {x2} {y2}, {lon} {y2}, {lon} {lat})))"


def inside(area) -> tuple[float, float]:
    return area[2] + 0.005, area[3] + 0.005


@pytest.fixture(scope="module")
def people(client, app_engine, owner_engine):
    with owner_engine.begin() as conn:
        for code, name, lon, lat in (AREA_A, AREA_B):
            conn.execute(
                text(
                    "INSERT INTO ops.evac_area (code, name, geom) VALUES (:c, :n, ST_GeomFromText(:w, 4326))"
                    " ON CONFLICT (code) DO NOTHING"
                ),
                {"c": code, "n": name, "w": _square(lon, lat)},
            )
    s = seed(app_engine, "damage")
    return {"hq": s.bearer(client, "hq"), "staff": s.bearer(client, "staff")}


def new_disaster(client, people, name: str) -> int:
    r = client.post("/api/disasters", json={"name": name}, headers=people["hq"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def new_incident(client, people, disaster: int, where: tuple[float, float], title: str) -> dict:
    body = {"category": "building_damage", "title": title, "lon": where[0], "lat": where[1]}
    r = client.post(f"/api/disasters/{disaster}/incidents", json=body, headers=people["hq"])
    assert r.status_code == 201, r.text
    return r.json()


def save(client, people, incident: dict, version: int, figures: dict, reason: str = "", method: str = "PUT"):
    headers = {**people["hq"], "If-Match": f'"{version}"'}
    return client.request(
        method,
        f"/api/incidents/{incident['id']}/damage",
        json={"figures": figures, "reason": reason},
        headers=headers,
    )


def saved(client, people, incident, version, figures, reason="", method="PUT") -> dict:
    r = save(client, people, incident, version, figures, reason, method)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == f'"{version + 1}"'
    return r.json()


def db_now(app_engine):
    with app_engine.connect() as conn:
        return conn.execute(text("SELECT clock_timestamp()")).scalar_one()


def cancel(client, people, incident: dict) -> None:
    current = client.get(f"/api/incidents/{incident['id']}", headers=people["hq"]).json()
    r = client.patch(
        f"/api/incidents/{incident['id']}",
        json={"status": "cancelled"},
        headers={**people["hq"], "If-Match": f'"{current["version"]}"'},
    )
    assert r.status_code == 200, r.text


def only_nonzero(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if v}


# ---------------------------------------------------------------------------------- the fixture
# By hand: at T (between the two rounds of reports) and now.
AT_T = {
    "0DMG-A": {  # I1 (v2), I2 (v1), I7 (not yet cancelled at T)
        "incidents": 3,
        "figures": {"dead": 3, "injured_serious": 2, "injured_minor": 4, "destroyed_buildings": 1,
                    "destroyed_households": 1, "destroyed_people": 3, "flooded_above_buildings": 5,
                    "flooded_above_households": 5, "flooded_above_people": 12, "flooded_below_buildings": 7,
                    "roads": 1},
    },
    "0DMG-B": {  # I3; I5 cancelled before T
        "incidents": 1,
        "figures": {"missing": 1, "half_buildings": 2, "half_households": 2, "half_people": 6,
                    "partial_buildings": 3, "bridges": 1, "cliff_failures": 2, "power_outages": 150},
    },
    "": {  # I4, in no area: 地区不明
        "incidents": 1,
        "figures": {"public_buildings": 1, "other_buildings": 2, "water_outages": 30, "fire_buildings": 1},
    },
}  # fmt: skip
CITY_AT_T = {
    "dead": 3, "missing": 1, "injured_serious": 2, "injured_minor": 4,
    "destroyed_buildings": 1, "destroyed_households": 1, "destroyed_people": 3,
    "half_buildings": 2, "half_households": 2, "half_people": 6, "partial_buildings": 3,
    "flooded_above_buildings": 5, "flooded_above_households": 5, "flooded_above_people": 12,
    "flooded_below_buildings": 7, "public_buildings": 1, "other_buildings": 2, "roads": 1, "bridges": 1,
    "cliff_failures": 2, "water_outages": 30, "power_outages": 150, "fire_buildings": 1,
}  # fmt: skip
# り災世帯数 = 全壊 1 + 半壊 2 + 床上浸水 5 世帯; り災者数 = 3 + 6 + 12 人
DERIVED_AT_T = {"affected_households": 8, "affected_people": 21, "injured": 6}
NOW = {  # after T: I1 v3 (死者 3), I2 v2 (床下浸水 9 棟), I6 new in B (死者 10), I7 cancelled
    "0DMG-A": {"incidents": 2, "figures": {**AT_T["0DMG-A"]["figures"], "dead": 3, "flooded_below_buildings": 9}},
    "0DMG-B": {"incidents": 2, "figures": {**AT_T["0DMG-B"]["figures"], "dead": 10}},
    "": AT_T[""],
}  # fmt: skip
CITY_NOW = {**CITY_AT_T, "dead": 13, "flooded_below_buildings": 9}


@pytest.fixture(scope="module")
def story(client, people, app_engine):
    """The fixture's incidents and reports, through the API; T between the two rounds."""
    d = new_disaster(client, people, "令和8年台風第11号（被害報試験）")
    i1 = new_incident(client, people, d, inside(AREA_A), "家屋倒壊")
    i2 = new_incident(client, people, d, (AREA_A[2] + 0.002, AREA_A[3] + 0.008), "床上浸水")
    i3 = new_incident(client, people, d, inside(AREA_B), "がけ崩れ")
    i4 = new_incident(client, people, d, NOWHERE, "公民館の屋根")
    i5 = new_incident(client, people, d, inside(AREA_B), "重複した通報")
    i7 = new_incident(client, people, d, inside(AREA_A), "後で取消になる通報")
    saved(client, people, i1, 0, {"dead": 1, "injured_serious": 2, "destroyed_buildings": 1,
                                  "destroyed_households": 1, "destroyed_people": 3, "roads": 1})  # fmt: skip
    saved(client, people, i1, 1, {"dead": 2}, "病院からの連絡で1名追加", method="PATCH")
    saved(client, people, i2, 0, {"injured_minor": 4, "flooded_above_buildings": 5, "flooded_above_households": 5,
                                  "flooded_above_people": 12, "flooded_below_buildings": 7})  # fmt: skip
    saved(client, people, i3, 0, {"missing": 1, "half_buildings": 2, "half_households": 2, "half_people": 6,
                                  "partial_buildings": 3, "bridges": 1, "cliff_failures": 2, "power_outages": 150})  # fmt: skip
    saved(client, people, i4, 0, {"public_buildings": 1, "other_buildings": 2, "water_outages": 30,
                                  "fire_buildings": 1})  # fmt: skip
    saved(client, people, i5, 0, {"dead": 5})
    cancel(client, people, i5)
    saved(client, people, i7, 0, {"dead": 1})
    t = db_now(app_engine)
    saved(client, people, i1, 2, {"dead": 3, "injured_serious": 2, "destroyed_buildings": 1,
                                  "destroyed_households": 1, "destroyed_people": 3, "roads": 1},
          "消防本部の確認で訂正")  # fmt: skip
    saved(client, people, i2, 1, {"flooded_below_buildings": 9}, "追加調査", method="PATCH")
    i6 = new_incident(client, people, d, inside(AREA_B), "土砂に巻き込まれた車")
    saved(client, people, i6, 0, {"dead": 10})
    cancel(client, people, i7)
    return {"disaster": d, "t": t, "i1": i1, "i2": i2, "i3": i3, "i4": i4, "i5": i5, "i6": i6, "i7": i7}


def check_totals(doc: dict, areas: dict, city: dict) -> None:
    got = {a["area_code"]: a for a in doc["areas"]}
    assert set(got) == set(areas)
    for code, want in areas.items():
        assert len(got[code]["incident_ids"]) == want["incidents"], code
        assert only_nonzero(got[code]["figures"]) == want["figures"], code
    assert got[""]["area_name"] == "地区不明"
    assert only_nonzero(doc["total"]) == city
    assert doc["incidents"] == sum(a["incidents"] for a in areas.values())


def test_form4_totals_equal_the_hand_computed_fixture_as_of_t_and_now(client, people, story):
    url = f"/api/disasters/{story['disaster']}/damage"
    at_t = client.get(url, params={"at": story["t"].isoformat()}, headers=people["staff"])
    assert at_t.status_code == 200, at_t.text
    check_totals(at_t.json(), AT_T, CITY_AT_T)
    assert at_t.json()["derived"] == DERIVED_AT_T
    now = client.get(url, headers=people["staff"])
    check_totals(now.json(), NOW, CITY_NOW)
    assert now.json()["derived"] == DERIVED_AT_T  # no housing or injury changed after T


def xlsx_cells(body: bytes) -> tuple[dict, dict]:
    wb = openpyxl.load_workbook(io.BytesIO(body))
    ws = wb["第4号様式その2"]
    header, rows = {}, {}
    for a, b, c, d, _e, f, g, h, i in ws.iter_rows(min_row=1, max_col=9, values_only=True):
        if a and b is not None and c is None and d is None:
            header[a] = b
        if b and c is not None:
            rows[(a, b, c)] = d
        if g:
            rows[(f, g, h)] = i
    return header, rows


def test_the_xlsx_for_the_prefecture_holds_the_totals_in_the_forms_rows(client, people, story, settings):
    r = client.get(
        f"/api/disasters/{story['disaster']}/damage/form4.xlsx",
        params={"at": story["t"].isoformat(), "no": 3},
        headers=people["staff"],
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in r.headers["content-disposition"]
    header, rows = xlsx_cells(r.content)
    assert header["都道府県"] == settings.prefecture_name and header["市町村"] == settings.municipality_name
    assert header["災害名"] == "令和8年台風第11号（被害報試験）" and header["報告番号"] == "第3報"
    want = {
        ("人的被害", "死者", "人"): 3,
        ("人的被害", "行方不明者", "人"): 1,
        ("人的被害", "負傷者 重傷", "人"): 2,
        ("人的被害", "負傷者 軽傷", "人"): 4,
        ("住家被害", "全壊", "棟"): 1,
        ("住家被害", "全壊", "世帯"): 1,
        ("住家被害", "全壊", "人"): 3,
        ("住家被害", "半壊", "棟"): 2,
        ("住家被害", "半壊", "人"): 6,
        ("住家被害", "一部破損", "棟"): 3,
        ("住家被害", "床上浸水", "世帯"): 5,
        ("住家被害", "床上浸水", "人"): 12,
        ("住家被害", "床下浸水", "棟"): 7,
        ("非住家", "公共建物", "棟"): 1,
        ("非住家", "その他", "棟"): 2,
        ("その他", "道路", "箇所"): 1,
        ("その他", "橋りょう", "箇所"): 1,
        ("その他", "崖くずれ", "箇所"): 2,
        ("その他", "水道", "戸"): 30,
        ("その他", "電気", "戸"): 150,
        ("その他", "河川", "箇所"): 0,
        ("その他", "田 流失・埋没", "ha"): None,  # on the form, filled by hand
        (None, "り災世帯数", "世帯"): 8,
        (None, "り災者数", "人"): 21,
        ("火災発生", "建物", "件"): 1,
        ("火災発生", "その他", "件"): 0,
    }
    assert {k: rows.get(k, "absent") for k in want} == want
    assert rows[("災害対策本部等の設置状況", "市町村", None)].startswith(
        f"{settings.municipality_name}災害対策本部 設置"
    )
    # the second sheet: per 町丁目
    areas = openpyxl.load_workbook(io.BytesIO(r.content))["地区別"]
    by_code = {row[0]: row for row in areas.iter_rows(min_row=2, values_only=True)}
    heads = [c.value for c in areas[1]]
    assert by_code["0DMG-A"][heads.index("人的被害 死者（人）")] == 3
    assert by_code["0DMG-A"][heads.index("事案数")] == 3
    assert by_code[None][1] == "地区不明"  # no code: an empty cell


def test_the_printable_form_shows_the_totals_and_a4_print_rules(client, people, story):
    r = client.get(
        "/hq/damage/form4",
        params={"disaster": story["disaster"], "at": story["t"].isoformat(), "final": "true"},
        headers=people["staff"],
    )
    assert r.status_code == 200, r.text
    html = r.text
    assert "第4号様式（その2）被害状況確定報告" in html
    assert '<tr data-figure="dead">' in html
    row = html.split('<tr data-figure="dead">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="dmg-num">3</td>' in row
    affected = html.split('<tr data-figure="affected_people">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="dmg-num">21</td>' in affected
    assert "form4.xlsx?at=" in html and "被害テスト東町" in html and "地区不明" in html
    en = client.get(
        "/hq/damage/form4", params={"disaster": story["disaster"], "lang": "en"}, headers=people["staff"]
    )
    assert en.status_code == 200 and "Area unknown" in en.text and "Dead" in en.text
    bad = client.get(
        "/hq/damage/form4", params={"disaster": story["disaster"], "at": "昨日"}, headers=people["staff"]
    )
    assert bad.status_code == 422 and "時点が読めません" in bad.text
    link = re.search(r'href="([^"]*damage_form4\.css[^"]*)"', html).group(1).replace("&amp;", "&")
    css = client.get(link)
    assert css.status_code == 200 and "size: A4" in css.text and "@media print" in css.text
    anon = client.get("/hq/damage/form4", follow_redirects=False)
    assert anon.status_code == 303 and anon.headers["location"].startswith("/login")


def test_history_keeps_every_version_with_who_when_and_why(client, people, story):
    hist = client.get(f"/api/incidents/{story['i1']['id']}/damage/history", headers=people["staff"])
    assert hist.status_code == 200
    versions = hist.json()
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert [v["figures"]["dead"] for v in versions] == [1, 2, 3]
    assert [v["reason"] for v in versions] == ["", "病院からの連絡で1名追加", "消防本部の確認で訂正"]
    assert versions[1]["changed"] == {"dead": {"from": 1, "to": 2}}
    assert all(v["actor"] == "damage-hq" and v["at"] for v in versions)
    current = client.get(f"/api/incidents/{story['i1']['id']}/damage", headers=people["staff"])
    assert current.headers["etag"] == '"3"' and current.json()["figures"]["dead"] == 3


def test_each_version_writes_a_chronology_entry(app_engine, story):
    with app_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT summary_ja, summary_en, disaster_id, ref FROM ops.hq_log"
                " WHERE kind = 'damage' AND incident_id = :i ORDER BY id"
            ),
            {"i": story["i1"]["id"]},
        ).all()
    i = story["i1"]["id"]
    assert [r.summary_ja for r in rows] == [
        f"事案#{i} 被害報更新：死者1 重傷2 全壊1棟1世帯3人 道路1",
        f"事案#{i} 被害報更新：死者2（病院からの連絡で1名追加）",
        f"事案#{i} 被害報更新：死者3（消防本部の確認で訂正）",
    ]
    assert rows[1].summary_en == f"Incident #{i} damage report: Dead 2 (病院からの連絡で1名追加)"
    assert {r.disaster_id for r in rows} == {story["disaster"]}
    assert rows[2].ref == {"incident_id": i, "damage_version": 3}


def counts(app_engine, incident_id: int) -> tuple[int, int]:
    with app_engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT count(*) FROM ops.incident_damage WHERE incident_id = :i"), {"i": incident_id}
            ).scalar_one(),
            conn.execute(
                text("SELECT count(*) FROM ops.hq_log WHERE incident_id = :i AND kind = 'damage'"),
                {"i": incident_id},
            ).scalar_one(),
        )


@pytest.mark.parametrize(
    ("figures", "reason", "where"),
    [
        ({"dead": -1}, "", "figures.dead"),
        ({"injured_minor": 1.5}, "", "figures.injured_minor"),
        ({"destroyed_buildings": "2"}, "", "figures.destroyed_buildings"),
        ({"missing": True}, "", "figures.missing"),
        ({"dead": 10_000_000}, "", "figures.dead"),
        ({"deaths": 1}, "", "figures"),
    ],
    ids=["negative", "fraction", "string", "boolean", "huge", "unknown"],
)
def test_bad_figures_are_refused_in_both_languages_and_nothing_is_stored(
    client, people, app_engine, figures, reason, where
):
    d = new_disaster(client, people, "被害報 入力誤り試験")
    inc = new_incident(client, people, d, inside(AREA_A), "入力誤り")
    saved(client, people, inc, 0, {"dead": 1})
    before = counts(app_engine, inc["id"])
    r = save(client, people, inc, 1, figures, "訂正")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["message_ja"] and error["message_en"] and error["field"] == where
    assert counts(app_engine, inc["id"]) == before
    assert (
        client.get(f"/api/incidents/{inc['id']}/damage", headers=people["hq"]).json()["figures"]["dead"] == 1
    )


def test_stale_version_missing_version_missing_reason_and_no_change_are_refused(client, people, app_engine):
    d = new_disaster(client, people, "被害報 版の試験")
    inc = new_incident(client, people, d, inside(AREA_B), "版の試験")
    saved(client, people, inc, 0, {"dead": 1, "roads": 2})
    saved(client, people, inc, 1, {"dead": 2}, "訂正1", method="PATCH")
    before = counts(app_engine, inc["id"])

    stale = save(client, people, inc, 1, {"dead": 5}, "古い版から")
    assert stale.status_code == 409
    body = stale.json()["error"]
    assert body["message_ja"] and body["message_en"]
    assert body["current"]["version"] == 2 and body["current"]["figures"]["dead"] == 2

    none = client.put(
        f"/api/incidents/{inc['id']}/damage", json={"figures": {"dead": 3}}, headers=people["hq"]
    )
    assert none.status_code == 428 and none.json()["error"]["message_ja"]

    no_reason = save(client, people, inc, 2, {"dead": 3}, "  ")
    assert no_reason.status_code == 422 and no_reason.json()["error"]["field"] == "reason"

    same = save(client, people, inc, 2, {"dead": 2}, "同じ値", method="PATCH")
    assert same.status_code == 422 and same.json()["error"]["message_en"] == "Nothing to change."

    gone = save(client, people, {"id": 9_000_000_000}, 0, {"dead": 1})
    assert gone.status_code == 404 and gone.json()["error"]["message_ja"]
    assert counts(app_engine, inc["id"]) == before

    # PUT replaces: 道路 not given is 0 again; PATCH kept it.
    put = saved(client, people, inc, 2, {"dead": 2}, "全項目の再報告")
    assert only_nonzero(put["figures"]) == {"dead": 2}


def test_the_same_save_sent_again_is_answered_with_the_version_it_made(client, people, app_engine):
    d = new_disaster(client, people, "被害報 再送試験")
    inc = new_incident(client, people, d, inside(AREA_A), "再送")
    first = saved(client, people, inc, 0, {"injured_minor": 2})
    again = save(client, people, inc, 0, {"injured_minor": 2})
    assert again.status_code == 200 and again.json()["version"] == first["version"] == 1
    assert counts(app_engine, inc["id"]) == (1, 1)
    other = save(client, people, inc, 0, {"injured_minor": 3})  # not the same save: a real conflict
    assert other.status_code == 409


def test_damage_is_internal_the_public_role_has_no_grant(public_engine, public_client, owner_engine, story):
    with owner_engine.connect() as conn:
        for table in ("ops.incident_damage", "ops.incident_damage_current"):
            assert not conn.execute(
                text("SELECT has_table_privilege('gisapp_read_public', :t, 'SELECT')"), {"t": table}
            ).scalar_one()
        leaked = conn.execute(
            text(
                "SELECT table_schema || '.' || table_name FROM information_schema.columns"
                " WHERE table_schema = 'pub' AND column_name IN ('injured_serious', 'destroyed_buildings')"
            )
        ).all()
        assert leaked == []
    with public_engine.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
        conn.execute(text("SELECT count(*) FROM ops.incident_damage"))
    for url in (
        f"/api/incidents/{story['i1']['id']}/damage",
        f"/api/disasters/{story['disaster']}/damage",
        f"/api/disasters/{story['disaster']}/damage/form4.xlsx",
        f"/hq/damage/form4?disaster={story['disaster']}",
    ):
        assert public_client.get(url).status_code == 404, url


def test_versions_are_append_only(owner_engine, story):
    with owner_engine.begin() as conn, pytest.raises(Exception, match="append-only"):
        conn.execute(
            text("UPDATE ops.incident_damage SET dead = 0 WHERE incident_id = :i"), {"i": story["i1"]["id"]}
        )


def test_the_domain_figures_are_the_tables_columns(app_engine):
    with app_engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ops'"
                " AND table_name = 'incident_damage' ORDER BY ordinal_position"
            )
        ).scalars()
        figures = [c for c in columns if c not in ("incident_id", "version", "reason", "actor", "at")]
    assert tuple(figures) == damage.NAMES
