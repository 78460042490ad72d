"""クロノロジー over the real API and PostGIS: the database writes entries for incidents, status,
dispatch, shelters and disasters; notes (also about an incident, also by a note-only PATCH);
instructions with 完了 and their conflicts; filters, search, keyset pages and the CSV; the handover
"since T"; the page without script."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from sensors.registry import DeviceKind, DeviceSpec
from tests.fixtures_data import _layer, seed
from tests.support import register_devices

SPOT = (139.2890, 35.3990)  # in the demo area, apart from the other modules' spots


@pytest.fixture(scope="module")
def world(client, app_engine, settings):
    tag = f"ch{secrets.token_hex(3)}"
    s = seed(app_engine, tag)
    other = seed(app_engine, f"{tag}x")  # a second department and its staff
    unit = f"CH-{tag.upper()}"
    register_devices(settings, app_engine, [DeviceSpec(unit, DeviceKind.radio_unit, f"クロノ隊{tag}")])
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        layer = _layer(conn, f"{tag}-shelters", "public", "shelter", "Point", s.dept_id)
        shelter = conn.execute(
            text(
                """INSERT INTO gis.shelter (layer_id, code, name, capacity, geom)
                   VALUES (:l, :c, :n, 100, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"""
            ),
            {"l": layer, "c": f"{tag}-1", "n": f"{tag}小学校", "x": SPOT[0], "y": SPOT[1]},
        ).scalar_one()
    w = {
        "tag": tag,
        "dept": s.dept_id,
        "other_dept": other.dept_id,
        "hq": s.bearer(client, "hq"),
        "staff": s.bearer(client, "staff"),
        "other_staff": other.bearer(client, "staff"),
        "unit": unit,
        "shelter": shelter,
    }
    r = client.post("/api/disasters", json={"name": f"クロノロジー試験 {tag}"}, headers=w["hq"])
    assert r.status_code == 201, r.text
    w["disaster"] = r.json()["id"]
    return w


def entries(client, headers, **params) -> list[dict]:
    r = client.get("/api/chronology", params={"limit": 500, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def new_incident(client, w, title: str, **over) -> dict:
    body = {
        "category": "landslide",
        "title": title,
        "lon": SPOT[0],
        "lat": SPOT[1],
        "address": "大山町",
        **over,
    }
    r = client.post(f"/api/disasters/{w['disaster']}/incidents", json=body, headers=w["hq"])
    assert r.status_code == 201, r.text
    return r.json()


def test_a_note_only_patch_records_a_chronology_note(client, world):
    """Finding: PATCH /api/incidents/4 {"note": …} answered 422 "変更内容がありません"."""
    inc = new_incident(client, world, "斜面から小石が落ちている")
    note = f"住民から再度通報あり {world['tag']}"
    r = client.patch(
        f"/api/incidents/{inc['id']}", json={"note": note}, headers={**world["hq"], "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and r.headers["etag"] == '"1"'  # a note changes nothing else
    history = client.get(f"/api/incidents/{inc['id']}/events", headers=world["hq"]).json()
    assert [(e["kind"], e["note"]) for e in history][-1] == ("note", note)
    found = entries(client, world["hq"], incident=inc["id"], kind="note")
    assert len(found) == 1
    assert found[0]["summary_ja"].startswith(f"事案#{inc['id']} 土砂崩れ（大山町）：{note}")
    assert found[0]["disaster_id"] == world["disaster"]
    # A note with the status it already has is a note too; an empty PATCH is still refused.
    same = client.patch(
        f"/api/incidents/{inc['id']}",
        json={"status": "unhandled", "note": "状況変わらず"},
        headers={**world["hq"], "If-Match": '"1"'},
    )
    assert same.status_code == 200 and same.json()["version"] == 1
    empty = client.patch(f"/api/incidents/{inc['id']}", json={}, headers={**world["hq"], "If-Match": '"1"'})
    assert empty.status_code == 422 and empty.json()["error"]["message_ja"] == "変更内容がありません。"
    assert len(entries(client, world["hq"], incident=inc["id"], kind="note")) == 2


def test_incidents_dispatch_shelters_and_disasters_write_their_own_entries(client, world):
    w = world
    hq_name = f"hq ({w['tag']})"
    inc = new_incident(client, w, "土砂が市道をふさぐ")
    url = f"/api/incidents/{inc['id']}"
    r = client.patch(
        url, json={"status": "in_progress", "note": "現地確認へ"}, headers={**w["hq"], "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    r = client.post(f"{url}/assignments", json={"unit_id": w["unit"]}, headers=w["hq"])
    assert r.status_code == 201, r.text
    assignment = r.json()["id"]
    for state in ("on_scene", "cleared"):
        r = client.patch(f"/api/assignments/{assignment}", json={"state": state}, headers=w["hq"])
        assert r.status_code == 200, r.text
    r = client.patch(url, json={"priority": 1}, headers={**w["hq"], "If-Match": '"2"'})
    assert r.status_code == 200, r.text

    mine = entries(client, w["hq"], incident=inc["id"])[::-1]  # oldest first
    assert [e["kind"] for e in mine] == [
        "incident",
        "incident",
        "dispatch",
        "dispatch",
        "dispatch",
        "incident",
    ]
    head = f"事案#{inc['id']} 土砂崩れ（大山町）："
    assert mine[0]["summary_ja"] == f"{head}受付「土砂が市道をふさぐ」（職員・{hq_name}）"
    assert mine[1]["summary_ja"] == f"{head}未対応→対応中（{hq_name}）　メモ：現地確認へ"
    assert mine[1]["summary_en"].startswith(
        f"Incident #{inc['id']} Landslide (大山町): not handled → in progress"
    )
    assert mine[2]["summary_ja"] == f"{head}クロノ隊{w['tag']}（{w['unit']}） 出動（{hq_name}）"
    assert "現着" in mine[3]["summary_ja"] and "活動終了" in mine[4]["summary_ja"]
    assert {e["unit_id"] for e in mine[2:5]} == {w["unit"]}
    assert mine[5]["summary_ja"] == f"{head}優先度 3→1を変更（{hq_name}）"
    assert all(e["disaster_id"] == w["disaster"] and e["actor_name"] == hq_name for e in mine)

    base = f"/api/disasters/{w['disaster']}/shelters/{w['shelter']}"
    r = client.post(f"{base}/open", json={"responsible_staff": "避難所班 山田"}, headers=w["hq"])
    assert r.status_code == 200, r.text
    assert client.post(f"{base}/close", headers=w["hq"]).status_code == 200
    sh = entries(client, w["hq"], disaster=w["disaster"], kind="shelter")[::-1]
    assert [e["summary_ja"].split("：")[0] for e in sh] == ["避難所開設", "避難所閉鎖"]
    assert all(e["shelter_id"] == w["shelter"] and e["shelter_name"] == f"{w['tag']}小学校" for e in sh)
    assert "責任者 避難所班 山田" in sh[0]["summary_ja"] and "在所 0人" in sh[1]["summary_ja"]

    r = client.post("/api/disasters", json={"name": f"開閉試験 {w['tag']}"}, headers=w["hq"])
    short = r.json()["id"]
    assert client.post(f"/api/disasters/{short}/close", headers=w["hq"]).status_code == 200
    d = entries(client, w["hq"], disaster=short, kind="disaster")[::-1]
    assert [e["summary_ja"] for e in d] == [
        f"災害対応開始：開閉試験 {w['tag']}（{hq_name}）",
        f"災害対応終了：開閉試験 {w['tag']}（{hq_name}）",
    ]


def test_notes_by_the_hq_only_and_about_an_incident(client, world):
    w = world
    r = client.post("/api/chronology", json={"text": f"消防団が巡回開始 {w['tag']}"}, headers=w["hq"])
    assert r.status_code == 201, r.text
    assert (r.json()["kind"], r.json()["department_id"]) == ("note", w["dept"])
    refused = client.post("/api/chronology", json={"text": "職員のメモ"}, headers=w["staff"])
    assert refused.status_code == 403
    assert client.post("/api/chronology", json={"text": "   "}, headers=w["hq"]).status_code == 422
    missing = client.post("/api/chronology", json={"text": "x", "incident_id": 2**40}, headers=w["hq"])
    assert missing.status_code == 404
    no_disaster = client.post("/api/chronology", json={"text": "x", "disaster_id": 2**30}, headers=w["hq"])
    assert no_disaster.status_code == 404 and no_disaster.json()["error"]["message_ja"]
    inc = new_incident(client, w, "倒木")
    r = client.post(
        "/api/chronology", json={"text": "消防団が撤去中", "incident_id": inc["id"]}, headers=w["hq"]
    )
    assert r.status_code == 201 and r.json()["incident_id"] == inc["id"], r.text
    kinds = [e["kind"] for e in client.get(f"/api/incidents/{inc['id']}/events", headers=w["hq"]).json()]
    assert kinds == ["created", "note"]


def test_filters_search_paging_and_the_csv(client, world):
    w = world
    token = f"検索{secrets.token_hex(4)}"
    t0 = datetime.now(UTC)
    made = []
    for i in range(5):
        r = client.post("/api/chronology", json={"text": f"{token} 第{i}報 50%_達成"}, headers=w["hq"])
        made.append(r.json()["id"])
    both = entries(client, w["staff"], q=token)
    assert [e["id"] for e in both] == made[::-1]  # newest first, any staff may read
    # Keyset pages of two: 5 entries in three pages, none twice.
    seen, before = [], None
    while True:
        params = {"q": token, "limit": 2, **({"before": before} if before else {})}
        page = client.get("/api/chronology", params=params, headers=w["staff"]).json()
        seen += [e["id"] for e in page["entries"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == made[::-1]
    # LIKE's wildcards in the search text are literal: "%_" matches only text that has "%_".
    assert len(entries(client, w["staff"], q=f"{token} 第1報 50%_")) == 1
    assert entries(client, w["staff"], q=f"{token}%第") == []
    # Time, kind, department and disaster filters.
    assert entries(client, w["staff"], q=token, to=t0.isoformat()) == []
    assert len(entries(client, w["staff"], q=token, **{"from": t0.isoformat()})) == 5
    assert len(entries(client, w["staff"], q=token, kind=["note", "jma"])) == 5
    assert entries(client, w["staff"], q=token, kind="jma") == []
    assert len(entries(client, w["staff"], q=token, department=w["dept"])) == 5
    assert entries(client, w["staff"], q=token, department=w["other_dept"]) == []
    bad = client.get("/api/chronology", params={"kind": "nonsense"}, headers=w["staff"])
    assert bad.status_code == 422
    inverted = client.get(
        "/api/chronology",
        params={"from": t0.isoformat(), "to": (t0 - timedelta(1)).isoformat()},
        headers=w["staff"],
    )
    assert inverted.status_code == 422 and inverted.json()["error"]["message_ja"]

    for lang, first in (("ja", "日時"), ("en", "Time (JST)")):
        r = client.get("/api/chronology.csv", params={"q": token, "lang": lang}, headers=w["staff"])
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.content.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][0] == first and len(rows[0]) == 10
        assert len(rows) - 1 == len(both) == 5
        assert [int(x[-1]) for x in rows[1:]] == made  # oldest first, as a record
        assert rows[1][2].startswith(f"{token} 第0報") and rows[1][3] == f"hq ({w['tag']})"
    everything = entries(client, w["staff"], disaster=w["disaster"])
    r = client.get("/api/chronology.csv", params={"disaster": w["disaster"]}, headers=w["staff"])
    assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) - 1 == len(everything)
    assert client.get("/api/chronology.csv").status_code == 401


def test_a_formula_in_a_note_reaches_the_csv_as_text(client, world):
    token = f"式{secrets.token_hex(3)}"
    client.post("/api/chronology", json={"text": f'=HYPERLINK("http://x","{token}")'}, headers=world["hq"])
    r = client.get("/api/chronology.csv", params={"q": token}, headers=world["staff"])
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[1][2].startswith("'=HYPERLINK")


def test_instruction_lifecycle_with_conflicts(client, world, app_engine):
    w = world
    due = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {"department_id": w["dept"], "text": f"大山町の土のう配布 {w['tag']}", "due_at": due}
    assert client.post("/api/instructions", json=body, headers=w["staff"]).status_code == 403
    assert (
        client.post("/api/instructions", json={**body, "department_id": 2**30}, headers=w["hq"]).status_code
        == 422
    )
    r = client.post("/api/instructions", json=body, headers=w["hq"])
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["state"], first["overdue"], first["department_id"]) == ("open", True, w["dept"])
    listed = client.get("/api/instructions", headers=w["other_staff"]).json()["instructions"]
    assert first["id"] in [n["id"] for n in listed]  # open ones are everyone's to see

    url = f"/api/instructions/{first['id']}"
    other = client.post(f"{url}/complete", json={"result": "?"}, headers=w["other_staff"])
    assert other.status_code == 403 and other.json()["error"]["message_ja"]
    done = client.post(f"{url}/complete", json={"result": "120袋配布"}, headers=w["staff"])
    assert done.status_code == 200, done.text
    assert (done.json()["state"], done.json()["closed_by"], done.json()["overdue"]) == (
        "done",
        f"{w['tag']}-staff",
        False,
    )
    again = client.post(f"{url}/complete", json={"result": "もう一度"}, headers=w["hq"])
    assert again.status_code == 409
    assert again.json()["error"]["current"]["state"] == "done"
    assert client.post(f"{url}/withdraw", json={"reason": "不要"}, headers=w["hq"]).status_code == 409
    assert client.get(url, headers=w["hq"]).json()["result"] == "120袋配布"  # unchanged by the refusals

    r = client.post(
        "/api/instructions",
        json={"department_id": w["other_dept"], "text": f"給水車の手配 {w['tag']}"},
        headers=w["hq"],
    )
    second = r.json()
    assert (
        client.post(
            f"/api/instructions/{second['id']}/withdraw", json={"reason": "県が手配"}, headers=w["staff"]
        ).status_code
        == 403
    )
    r = client.post(
        f"/api/instructions/{second['id']}/withdraw", json={"reason": "県が手配"}, headers=w["hq"]
    )
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert (
        client.post(f"/api/instructions/{second['id']}/complete", json={}, headers=w["hq"]).status_code == 409
    )

    log = entries(client, w["hq"], kind="instruction", q=f"大山町の土のう配布 {w['tag']}")[::-1]
    assert [e["summary_ja"].split("】")[0] for e in log] == ["【指示", "【指示完了"]
    assert "結果：120袋配布" in log[1]["summary_ja"] and log[1]["department_id"] == w["dept"]
    withdrawn = entries(
        client, w["hq"], kind="instruction", department=w["other_dept"], q=f"給水車の手配 {w['tag']}"
    )
    assert (
        withdrawn[0]["summary_ja"].startswith("【指示取消】")
        and "理由：県が手配" in withdrawn[0]["summary_ja"]
    )
    # The database keeps a closed instruction closed whatever the code does.
    with pytest.raises(Exception, match="closed"), app_engine.begin() as conn:
        conn.execute(text("UPDATE ops.instruction SET state = 'open' WHERE id = :i"), {"i": first["id"]})


def test_handover_since_t(client, world):
    w = world
    before = new_incident(client, w, "前の勤務の事案")
    t = datetime.now(UTC)
    after = new_incident(client, w, "引継ぎ後の事案")
    r = client.patch(
        f"/api/incidents/{before['id']}", json={"status": "done"}, headers={**w["hq"], "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    base = f"/api/disasters/{w['disaster']}/shelters/{w['shelter']}"
    client.post(f"{base}/open", json={"responsible_staff": "避難所班 佐藤"}, headers=w["hq"])
    r = client.post(
        "/api/instructions", json={"department_id": w["dept"], "text": "引継ぎ試験の指示"}, headers=w["hq"]
    )
    instruction = r.json()["id"]
    note = f"夜間は大山町の土砂に注意 {w['tag']}"
    r = client.post("/api/chronology/handover", json={"text": note, "since": t.isoformat()}, headers=w["hq"])
    assert r.status_code == 201 and r.json()["kind"] == "handover", r.text
    assert client.post("/api/chronology/handover", json={"text": "x"}, headers=w["staff"]).status_code == 403

    h = client.get(
        "/api/chronology/handover",
        params={"since": t.isoformat(), "disaster": w["disaster"]},
        headers=w["staff"],
    )
    assert h.status_code == 200, h.text
    doc = h.json()
    assert doc["handover_notes"][0]["summary_ja"] == note
    assert instruction in [n["id"] for n in doc["open_instructions"]]
    changed = {i["id"]: (i["status_then"], i["status"]) for i in doc["incidents"]["changed"]}
    assert changed[before["id"]] == ("unhandled", "done") and changed[after["id"]] == (None, "unhandled")
    assert doc["incidents"]["new"] >= 1
    done = next(s for s in doc["incidents"]["by_status"] if s["status"] == "done")
    assert done["now"] - done["then"] == done["change"] >= 1
    assert [s["shelter_id"] for s in doc["shelters"]["opened"]] == [w["shelter"]]
    kinds = {k["kind"]: k["count"] for k in doc["by_kind"]}
    assert (
        kinds["handover"] == 1
        and kinds["instruction"] == 1
        and kinds["shelter"] == 1
        and kinds["incident"] == 2
    )
    assert all(datetime.fromisoformat(e["at"]) >= t for e in doc["entries"])
    assert client.get("/api/chronology/handover", headers=w["staff"]).status_code == 422  # since is required


def test_the_page_filters_without_script_and_shows_the_handover(client, world):
    w = world
    token = f"頁{secrets.token_hex(3)}"
    client.post("/api/chronology", json={"text": f"{token} 本部会議"}, headers=w["hq"])
    r = client.get("/hq/chronology", params={"q": token, "disaster": "all"}, headers=w["staff"])
    assert r.status_code == 200, r.text
    assert f"{token} 本部会議" in r.text and r.text.count('data-log-id="') == 1
    assert "<script" not in r.text.replace('<script type="application/json"', "")
    assert "/api/chronology.csv?" in r.text and 'name="kind"' in r.text
    en = client.get(
        "/hq/chronology", params={"q": token, "disaster": "all", "lang": "en"}, headers=w["staff"]
    )
    assert "Chronology" in en.text and 'lang="en"' in en.text
    bad = client.get("/hq/chronology", params={"from": "昨日"}, headers=w["staff"])
    assert bad.status_code == 422 and "日時が読めません" in bad.text and "Unreadable" in bad.text
    # Typed in the form without an offset: Japan time (UTC's "in five minutes" is nine hours ago in Japan).
    utc_soon = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    typed = {"q": token, "disaster": "all"}
    assert 'data-log-id="' in client.get("/hq/chronology", params=typed, headers=w["staff"]).text
    shown = client.get("/hq/chronology", params={**typed, "to": utc_soon}, headers=w["staff"]).text
    assert 'data-log-id="' not in shown and f'value="{utc_soon}"' in shown
    h = client.get(
        "/hq/chronology", params={"view": "handover", "disaster": w["disaster"]}, headers=w["staff"]
    )
    assert h.status_code == 200 and "前任者からの引継ぎ事項" in h.text and "未完了の指示" in h.text
    assert client.get("/hq/chronology", follow_redirects=False).status_code == 303


def test_the_handover_form_writes_the_note_the_next_operator_reads_first(client, world):
    w = world
    since = (
        (datetime.now(UTC) - timedelta(minutes=1))
        .astimezone(ZoneInfo("Asia/Tokyo"))
        .strftime("%Y-%m-%dT%H:%M")
    )
    note = f"大山町の避難所は夜間も開設継続 {w['tag']}"
    form = {"text": note, "since": since, "disaster": str(w["disaster"]), "lang": "ja"}
    r = client.post("/hq/chronology/handover", data=form, headers=w["hq"], follow_redirects=False)
    assert r.status_code == 303 and "written=" in r.headers["location"], r.text
    page = client.get(r.headers["location"], headers=w["hq"])
    assert "引継ぎ事項を記録しました" in page.text
    assert page.text.index(note) < page.text.index("事案の状況")  # read first
    assert entries(client, w["hq"], kind="handover", q=note)[0]["actor_name"] == f"hq ({w['tag']})"
    blank = client.post(
        "/hq/chronology/handover", data={**form, "text": " "}, headers=w["hq"], follow_redirects=False
    )
    assert "blank=1" in blank.headers["location"]
    assert "引継ぎ事項を入力してください" in client.get(blank.headers["location"], headers=w["hq"]).text
    refused = client.post("/hq/chronology/handover", data=form, headers=w["staff"], follow_redirects=False)
    assert refused.status_code == 403
    assert len(entries(client, w["hq"], kind="handover", q=note)) == 1  # the refusals stored nothing
    assert (
        'action="/hq/chronology/handover"'
        not in client.get("/hq/chronology?view=handover", headers=w["staff"]).text
    )
