"""The HQ map's クロノロジー panel in headless Chromium against real servers: an HQ operator adds a note
about an incident with the keyboard, sees another operator's status change arrive over the event
stream, gives an instruction to 道路整備課; the road department's staff member sees it (overdue ones
flagged in words) and marks it 完了, and the operator's list follows live."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.test_hq_evacinfo_browser import shots, wait_js
from tests.test_hq_incidents_browser import api, open_hq, servers  # noqa: F401 - fixtures
from tests.test_pages_browser import browser, demo_users, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

SPOT = (139.3050, 35.3950)  # in the demo area


@pytest.fixture(scope="module")
def road_dept(app_engine, demo_users) -> int:  # noqa: F811 - after the demo data
    with app_engine.connect() as conn:
        return conn.execute(text("SELECT id FROM core.department WHERE code = 'road'")).scalar_one()


def current_disaster(api) -> int:  # noqa: F811
    found = [d for d in api.get("/api/disasters").json() if d["closed_at"] is None]
    if found:
        return found[0]["id"]
    r = api.post("/api/disasters", json={"name": "クロノロジー画面試験"})
    return r.json()["id"]


def test_notes_instructions_and_completion_in_the_panel(
    visit,  # noqa: F811
    servers,  # noqa: F811
    demo_users,  # noqa: F811
    api,  # noqa: F811
    road_dept,
    tmp_path,
):
    disaster = current_disaster(api)
    r = api.post(
        f"/api/disasters/{disaster}/incidents",
        json={
            "category": "fallen_tree",
            "title": "倒木（画面試験）",
            "lon": SPOT[0],
            "lat": SPOT[1],
            "address": "上粕屋",
        },
    )
    assert r.status_code == 201, r.text
    incident = r.json()["id"]

    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.wait_for_selector("#gisapp-hqlog[data-state='ready']", timeout=20_000)
    page.wait_for_selector("#gisapp-instr[data-state='ready']", timeout=20_000)

    # A note about the incident, with the keyboard only.
    page.focus("#gisapp-hqlog-text")
    page.keyboard.type("消防団が倒木を撤去中")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "gisapp-hqlog-incident"
    page.keyboard.type(f"#{incident}")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    wait_js(
        page,
        "(() => { const li = document.querySelector('#gisapp-hqlog-list li');"
        f" return li && li.dataset.kind === 'note' && li.dataset.incidentId === '{incident}'"
        " && li.textContent.includes('消防団が倒木を撤去中'); })()",
    )
    assert page.input_value("#gisapp-hqlog-text") == "" and page.input_value("#gisapp-hqlog-incident") == ""
    kinds = [e["kind"] for e in api.get(f"/api/incidents/{incident}/events").json()]
    assert kinds == ["created", "note"]  # the note is in the incident's own history too

    # Another operator's status change arrives over the stream.
    r = api.patch(f"/api/incidents/{incident}", json={"status": "in_progress"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    wait_js(
        page,
        f"[...document.querySelectorAll('#gisapp-hqlog-list li[data-incident-id=\"{incident}\"]')]"
        ".some(li => li.dataset.kind === 'incident' && li.textContent.includes('未対応→対応中'))",
    )

    # An instruction to 道路整備課 from the form.
    page.click(".gisapp-instr-new summary")
    page.select_option("#gisapp-instr-dept", str(road_dept))
    page.fill("#gisapp-instr-text", "上粕屋の市道を通行止めに")
    page.fill("#gisapp-instr-incident", str(incident))
    page.click("#gisapp-instr-add")
    item = page.locator("#gisapp-instr-list li", has_text="上粕屋の市道を通行止めに")
    item.wait_for(timeout=15_000)
    mine = int(item.get_attribute("data-instruction-id"))
    assert item.get_attribute("data-overdue") == "false"
    wait_js(
        page,
        "[...document.querySelectorAll('#gisapp-hqlog-list li')].some(li => li.dataset.kind === 'instruction')",
    )
    # One already past its due time (by another operator): flagged in words.
    due = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    r = api.post(
        "/api/instructions", json={"department_id": road_dept, "text": "土のう200袋を配布", "due_at": due}
    )
    late = r.json()["id"]
    overdue = page.locator(f"#gisapp-instr-list li[data-instruction-id='{late}']")
    overdue.wait_for(timeout=15_000)
    assert overdue.get_attribute("data-overdue") == "true"
    assert "期限超過" in overdue.inner_text()
    page.screenshot(path=str(shots(tmp_path) / "chronology-panel.png"))

    # The road department's staff member marks it done.
    road = visit(viewport={"width": 1366, "height": 900})
    road.login(servers["internal"].url, "/hq", "road", demo_users["road"])
    rp = road.page
    rp.wait_for_selector("#gisapp-instr[data-state='ready']", timeout=20_000)
    assert not rp.is_visible("#gisapp-hqlog-text") and not rp.is_visible(".gisapp-instr-new")  # the HQ's
    theirs = rp.locator(f"#gisapp-instr-list li[data-instruction-id='{mine}']")
    theirs.locator(".gisapp-instr-done").click()
    rp.fill(f"#gisapp-instr-result-{mine}", "14時に通行止め実施")
    rp.keyboard.press("Enter")
    theirs.wait_for(state="detached", timeout=15_000)
    assert api.get(f"/api/instructions/{mine}").json()["state"] == "done"

    # The operator's panel follows: gone from the open list, 完了 in the chronology.
    page.locator(f"#gisapp-instr-list li[data-instruction-id='{mine}']").wait_for(
        state="detached", timeout=15_000
    )
    wait_js(
        page,
        "[...document.querySelectorAll('#gisapp-hqlog-list li')]"
        ".some(li => li.dataset.kind === 'instruction' && li.textContent.includes('14時に通行止め実施'))",
    )
    # A second 完了 (the operator's stale list) is refused with who did it.
    r = api.post(f"/api/instructions/{mine}/complete", json={"result": "重複"})
    assert r.status_code == 409 and "道路整備課職員" in r.json()["error"]["message_ja"]
    # The operator withdraws the overdue one: a reason is required.
    overdue.locator(".gisapp-instr-withdraw").click()
    page.keyboard.press("Enter")  # the reason field has the focus, still empty
    page.wait_for_selector("#gisapp-instr .gisapp-notice[data-kind='error']:has-text('取消の理由')")
    assert api.get(f"/api/instructions/{late}").json()["state"] == "open"
    page.fill(f"#gisapp-instr-reason-{late}", "県の配布に切替")
    page.keyboard.press("Enter")
    overdue.wait_for(state="detached", timeout=15_000)
    assert api.get(f"/api/instructions/{late}").json()["result"] == "県の配布に切替"
