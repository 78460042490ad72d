"""The HQ map's 避難情報 panel in headless Chromium against real servers: a suggestion arrives over the
event stream and is announced; an HQ operator issues 避難指示 from it for two areas with the keyboard
only, sees the areas shaded with the level in words, changes the level (a stale version gets the
conflict notice with the fresh state), cancels with a confirm step and a required reason, and sees
each step in the HQ log; a staff member of another department sees the same panel read-only."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gisapp.ops import evac_info
from tests import evac_support as evac
from tests.support import wait_until
from tests.test_hq_incidents_browser import api, open_hq, servers  # noqa: F401 - fixtures
from tests.test_pages_browser import browser, demo_users, low_contrast, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

AREAS = ["AREA-05", "AREA-06", "AREA-07"]  # the suggestion's; the operator drops AREA-07
CRITERION = "本部UI試験：土砂災害警戒情報 → 避難指示"
JMA_AREA = "1421400-HQUI"  # a JMA area code of the test's own
PANEL = "#gisapp-evacinfo"


@pytest.fixture(scope="module")
def evac_areas(app_engine, demo_users) -> list[str]:  # noqa: F811 - after the demo data
    """The demo's community areas as the areas orders target (ops.evac_area)."""
    with app_engine.begin() as conn:
        conn.execute(text("SELECT set_config('gisapp.roles', 'admin', true)"))
        evac_info.sync_areas_from_layer(conn)
        return list(conn.execute(text("SELECT code FROM ops.evac_area ORDER BY code")).scalars())


@pytest.fixture(scope="module", autouse=True)
def leave_nothing_in_force(owner_engine, demo_users) -> Iterator[None]:  # noqa: F811 - after the demo data
    """Before: other modules' orders are cancelled and their criteria switched off for this module's
    run (in the shared database, the demo's criteria hold on any JMA condition of the city and their
    open suggestions or orders would hold this module's back). After the demo data is loaded: its
    criteria are switched off too (else, with a 土砂災害警戒情報 for the city left in force by an earlier
    module — test_evac_public_e2e's — the demo's level-4 suggestion covers AREA-11 and the level-3 one
    this module waits for is never made). Afterwards: the test's JMA condition
    ends and its criteria are switched off, so no suggestion of this module stays open for the modules
    that run after it; the others' criteria are switched on again."""
    evac.clear(owner_engine)
    with owner_engine.begin() as conn:
        others = list(
            conn.execute(
                text("UPDATE ops.issuance_criterion SET enabled = false WHERE enabled RETURNING id")
            ).scalars()
        )
    yield
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE ops.issuance_criterion SET enabled = true WHERE id = ANY(:ids)"), {"ids": others}
        )
        conn.execute(text("DELETE FROM ops.jma_condition WHERE area_code = :j"), {"j": JMA_AREA})
        conn.execute(
            text("UPDATE ops.issuance_criterion SET enabled = false WHERE name LIKE :n"),
            {"n": CRITERION + "%"},
        )


def suggest(owner_engine) -> None:
    """A 土砂災害警戒情報 in force for a test JMA area (what the importer leaves, see test_evac_info), and a
    criterion suggesting 避難指示 for three listed areas: the database itself opens the suggestion."""
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.issuance_criterion (name, hazard, source, min_level, suggest_level, target,"
                " area_codes, jma_area_codes) VALUES (:n, 'landslide', 'jma', 4, 4, 'listed_areas', :a, ARRAY[:j])"
            ),
            {"n": CRITERION, "a": AREAS, "j": JMA_AREA},
        )
        telegram = conn.execute(
            text(
                "INSERT INTO ops.jma_telegram (info_kind, event_id, serial, info_type, title, report_at, source,"
                " sha256, applied) VALUES ('土砂災害警戒情報', 'hqui-1', 1, '発表', '本部UI試験', now(),"
                " 'file:test', :h, true) RETURNING id"
            ),
            {"h": secrets.token_hex(16)},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO ops.jma_condition (info_kind, event_id, area_code, area_name, kind_name, status,"
                " hazard, alert_level, telegram_id, since) VALUES ('土砂災害警戒情報', 'hqui-1', :j, '伊勢原市',"
                " '土砂災害警戒情報', '発表', 'landslide', 4, :t, now())"
            ),
            {"j": JMA_AREA, "t": telegram},
        )


def open_suggestion(client) -> dict:
    r = client.get("/api/evacuation-info/suggestions?state=open")
    assert r.status_code == 200, r.text
    found = [s for s in r.json()["suggestions"] if s["criterion_name"] == CRITERION]
    assert len(found) == 1, found
    return found[0]


def shots(tmp_path: Path) -> Path:
    """Screenshots go to $GISAPP_SCREENSHOTS when set (to look at them), else to the test's tmp dir."""
    folder = Path(os.environ.get("GISAPP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_js(page, expression: str, timeout: float = 15) -> None:
    """Poll an expression in the page (wait_for_function evaluates strings in-page, which the CSP forbids)."""
    try:
        wait_until(lambda: page.evaluate(expression), timeout)
    except AssertionError:
        raise AssertionError(f"not true within {timeout}s: {expression}") from None


def log_kinds_texts(page) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        "#gisapp-hqlog-list li[data-log-id]", "els => els.map(e => [e.dataset.kind, e.textContent])"
    )


def test_issue_change_cancel_from_a_suggestion_with_the_keyboard(
    visit,  # noqa: F811
    servers,  # noqa: F811
    demo_users,  # noqa: F811
    api,  # noqa: F811
    evac_areas,
    owner_engine,
    tmp_path,
):
    assert set(AREAS) <= set(evac_areas)
    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.wait_for_selector(f"{PANEL}[data-state='ready'][data-can-issue='true']", timeout=20_000)
    page.wait_for_selector("#gisapp-hqlog[data-state='ready']")

    # Tab order: after the header the incident panel (its list comes early: issue 13), then this panel,
    # then the map.
    page.evaluate(
        """() => [...document.querySelectorAll('#gisapp-incidents :is(a, button, select, input, summary)')]
          .filter((e) => e.getClientRects().length && !e.disabled).pop().focus()"""
    )
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "gisapp-evacinfo-toggle"
    # The issue form opens from the keyboard and Escape closes it, focus back on the button.
    page.focus("#gisapp-ei-new")
    page.keyboard.press("Enter")
    page.wait_for_selector("#gisapp-ei-form[data-mode='issue']")
    assert page.locator("#gisapp-ei-area-list input[type='checkbox']").count() == len(evac_areas)
    page.keyboard.press("Escape")
    page.wait_for_selector("#gisapp-ei-form", state="hidden")
    assert page.evaluate("document.activeElement.id") == "gisapp-ei-new"

    # A suggestion arrives over the stream: listed with its reason and shelters, announced, areas outlined.
    suggest(owner_engine)
    s = open_suggestion(api)
    sid = s["id"]
    assert s["area_codes"] == AREAS
    item = page.locator(f".gisapp-ei-suggestion[data-suggestion-id='{sid}']")
    item.wait_for(timeout=15_000)
    assert s["reason_ja"] in item.inner_text()  # 気象庁「土砂災害警戒情報」（伊勢原市）発表中：…
    assert "警戒レベル4 避難指示" in item.inner_text()
    assert item.locator("li[data-shelter-id]").count() == len(s["shelters"])
    assert f"{len(s['shelters'])} か所" in item.locator(".gisapp-ei-shelters summary").inner_text()
    announced = page.locator("#gisapp-ei-announce")
    assert announced.get_attribute("aria-live") == "polite"
    assert "新しい発令の提案" in announced.inner_text()
    assert page.locator(f"path.gisapp-ei-suggested[data-suggestion-id='{sid}']").count() == 3

    # この提案で発令…: the form comes pre-filled; the operator keeps 避難指示, drops one area, confirms.
    item.locator(".gisapp-ei-issue-from").focus()
    page.keyboard.press("Enter")
    form = page.locator("#gisapp-ei-form[role='dialog']")
    form.wait_for()
    assert page.evaluate("document.activeElement.id") == "gisapp-ei-form-title"
    assert page.is_checked("#gisapp-ei-level-4")
    assert page.input_value("#gisapp-ei-hazard") == "landslide"
    assert page.get_attribute("#gisapp-ei-chosen", "data-n") == "3"
    page.focus("#gisapp-ei-area-AREA-07")
    page.keyboard.press("Space")
    assert page.get_attribute("#gisapp-ei-chosen", "data-n") == "2"
    assert page.get_attribute("path.gisapp-ei-pick[data-area-code='AREA-07']", "data-chosen") == "false"
    page.focus("#gisapp-ei-reason")
    page.keyboard.press("End")
    page.keyboard.type("。本部長決裁")
    page.screenshot(path=str(shots(tmp_path) / "evacinfo-issue-form-desktop.png"))
    page.focus("#gisapp-ei-submit")
    page.keyboard.press("Enter")

    order = page.locator(".gisapp-ei-order[data-level='4']")
    order.wait_for(timeout=15_000)
    oid = int(order.get_attribute("data-order-id"))
    assert order.get_attribute("data-version") == "1"
    assert "伊勢原デモ5丁目（架空）" in order.inner_text() and "本部長決裁" in order.inner_text()
    wait_js(page, f"document.activeElement && document.activeElement.id === 'gisapp-ei-order-{oid}'")
    assert page.locator(f".gisapp-ei-suggestion[data-suggestion-id='{sid}']").count() == 0  # issued
    # The criterion still holds for the area left out: the database suggests it alone, and says so.
    rest = open_suggestion(api)
    assert rest["area_codes"] == ["AREA-07"]
    page.locator(f".gisapp-ei-suggestion[data-suggestion-id='{rest['id']}']").wait_for(timeout=15_000)
    assert page.locator(f"path.gisapp-ei-shade[data-order-id='{oid}'][data-level='4']").count() >= 1
    # 地図で表示 zooms to the order: each area wide enough for a label of its own, with the level in words.
    page.focus(f"#gisapp-ei-order-{oid}-map")
    page.keyboard.press("Enter")
    labels = page.locator(".gisapp-ei-label[data-level='4'][data-area-code]")
    wait_js(
        page, "document.querySelectorAll(\".gisapp-ei-label[data-level='4'][data-area-code]\").length === 2"
    )
    assert sorted(labels.evaluate_all("els => els.map(e => e.dataset.areaCode)")) == ["AREA-05", "AREA-06"]
    assert "警戒レベル4" in labels.first.inner_text()
    legend = page.locator("#gisapp-ei-legend li[data-level='4']")
    assert "警戒レベル4" in legend.inner_text()
    wait_js(
        page,
        "[...document.querySelectorAll('#gisapp-hqlog-list li')].some(li => li.dataset.kind === 'evacuation'"
        " && li.textContent.includes('発令'))",
    )
    page.screenshot(path=str(shots(tmp_path) / "evacinfo-issued-desktop.png"))
    assert (
        low_contrast(page, f"{PANEL} h2, {PANEL} h3, {PANEL} h4 span, {PANEL} dd, {PANEL} dt, {PANEL} li")
        == []
    )
    assert low_contrast(page, ".gisapp-ei-label-text, #gisapp-ei-legend span") == []

    # レベル変更 to 5; meanwhile another operator changes the areas: the stale version gets the conflict
    # notice with the fresh state, and the second try (naming the fresh version) goes through.
    order.locator(".gisapp-ei-level").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#gisapp-ei-form[data-mode='level']")
    assert "警戒レベル5 緊急安全確保" in page.inner_text(
        "#gisapp-ei-form .gisapp-ei-levels"
    )  # words of every level
    page.focus("#gisapp-ei-level-5")
    page.keyboard.press("Space")
    page.fill("#gisapp-ei-reason", "大雨特別警報（土砂災害）の発表")
    r = api.patch(
        f"/api/evacuation-info/orders/{oid}",
        json={"expected_version": 1, "area_codes": ["AREA-05", "AREA-06", "AREA-07"], "reason": "別の操作者"},
    )
    assert r.status_code == 200, r.text
    # The open form hears of it over the stream but keeps the version shown: the person decided on that.
    page.wait_for_selector(".gisapp-ei-meanwhile", state="visible", timeout=10_000)
    assert page.get_attribute(".gisapp-ei-current", "data-version") == "1"
    page.focus("#gisapp-ei-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector("#gisapp-ei-form-notice[data-kind='conflict']", timeout=10_000)
    page.wait_for_selector(".gisapp-ei-current[data-version='2']", timeout=10_000)
    assert "伊勢原デモ7丁目（架空）" in page.inner_text(".gisapp-ei-current")
    page.focus("#gisapp-ei-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector(
        f".gisapp-ei-order[data-order-id='{oid}'][data-level='5'][data-version='3']", timeout=15_000
    )
    page.wait_for_selector(f"path.gisapp-ei-shade[data-order-id='{oid}'][data-level='5']")
    assert "警戒レベル5" in page.locator(".gisapp-ei-label[data-level='5']").first.inner_text()
    wait_js(
        page,
        "[...document.querySelectorAll('#gisapp-hqlog-list li')].some(li => li.textContent.includes('レベル変更'))",
    )

    # 履歴: every version, opened from the keyboard.
    page.focus(f"#gisapp-ei-order-{oid}-history-summary")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#gisapp-ei-order-{oid}-history[data-loaded='3']")
    history = page.eval_on_selector_all(
        f"#gisapp-ei-order-{oid}-history li", "els => els.map(e => [e.dataset.version, e.dataset.action])"
    )
    assert history == [["1", "issue"], ["2", "change_areas"], ["3", "change_level"]]
    assert "別の操作者" in page.inner_text(f"#gisapp-ei-order-{oid}-history")

    # 解除: a modal dialog; Escape closes it and focus returns; the reason is required.
    cancel = page.locator(f".gisapp-ei-order[data-order-id='{oid}'] .gisapp-ei-cancel")
    cancel.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#gisapp-ei-dialog[open]")
    dialog.wait_for()
    assert dialog.get_attribute("aria-labelledby") == "gisapp-ei-dialog-title"
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    assert page.evaluate("document.activeElement.classList.contains('gisapp-ei-cancel')")
    page.keyboard.press("Enter")
    dialog.wait_for()
    page.focus("#gisapp-ei-dialog-submit")
    page.keyboard.press("Enter")
    assert "理由" in dialog.locator("[role='alert']").inner_text()  # nothing sent without a reason
    page.focus("#gisapp-ei-dialog-reason")
    page.keyboard.type("土砂災害警戒情報の解除")
    page.focus("#gisapp-ei-dialog-submit")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{PANEL}[data-orders='0']", timeout=15_000)
    assert page.locator("path.gisapp-ei-shade").count() == 0
    wait_js(page, "document.activeElement && document.activeElement.id === 'gisapp-ei-orders-title'")
    wait_js(
        page,
        "[...document.querySelectorAll('#gisapp-hqlog-list li')].some(li => li.textContent.includes('解除'))",
    )

    # The criterion still holds, so it suggests again; 見送り (dismiss) asks for a reason too.
    again = open_suggestion(api)
    page.focus(f"#gisapp-ei-suggestion-{again['id']}-dismiss")
    page.keyboard.press("Enter")
    dialog.wait_for()
    page.keyboard.type("河川巡視の結果、当面の危険なし")
    page.focus("#gisapp-ei-dialog-submit")
    page.keyboard.press("Enter")
    page.locator(f".gisapp-ei-suggestion[data-suggestion-id='{again['id']}']").wait_for(state="detached")
    wait_js(page, "document.activeElement && document.activeElement.id === 'gisapp-ei-suggestions-title'")
    wait_js(
        page,
        "[...document.querySelectorAll('#gisapp-hqlog-list li')].some(li => li.dataset.kind === 'suggestion'"
        " && li.textContent.includes('河川巡視の結果'))",
    )

    # A note in the HQ log; the log reads newest first.
    page.fill("#gisapp-hqlog-text", "消防団に巡回を依頼")
    page.focus("#gisapp-hqlog-add")
    page.keyboard.press("Enter")
    wait_js(
        page,
        "(() => { const li = document.querySelector('#gisapp-hqlog-list li');"
        " return li && li.dataset.kind === 'note' && li.textContent.includes('消防団に巡回を依頼'); })()",
    )
    ids = page.eval_on_selector_all(
        "#gisapp-hqlog-list li[data-log-id]", "els => els.map(e => +e.dataset.logId)"
    )
    assert ids == sorted(ids, reverse=True)
    kinds = [k for k, _ in log_kinds_texts(page)]
    assert kinds.count("evacuation") >= 4  # issue, another operator's change, level change, cancel

    # 390 px: the panel folds to one line and opens on demand.
    page.set_viewport_size({"width": 390, "height": 780})
    page.reload()
    page.wait_for_selector(f"{PANEL}[data-state='ready']", timeout=20_000)
    page.wait_for_selector("#gisapp-status[data-state='live']", timeout=20_000)
    assert page.get_attribute("#gisapp-evacinfo-toggle", "aria-expanded") == "false"
    # Folded, a new suggestion is still announced (and shown above the fold).
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops.issuance_criterion (name, hazard, source, min_level, suggest_level, target,"
                " area_codes, jma_area_codes) VALUES (:n, 'landslide', 'jma', 4, 3, 'listed_areas', ARRAY['AREA-11'],"
                " ARRAY[:j])"
            ),
            {"n": CRITERION + "（2）", "j": JMA_AREA},
        )
    page.wait_for_selector("#gisapp-ei-announce:has-text('伊勢原デモ11丁目')", timeout=15_000)
    assert page.is_visible("#gisapp-ei-announce")
    page.screenshot(path=str(shots(tmp_path) / "evacinfo-phone-folded.png"))
    page.focus("#gisapp-evacinfo-toggle")
    page.keyboard.press("Enter")
    assert page.get_attribute("#gisapp-evacinfo-toggle", "aria-expanded") == "true"
    # The JMA line (read on load and on the JMA module's events; this test wrote its condition by SQL, so
    # after the reload): what is in force here; nothing where the server has no JMA module.
    jma = page.evaluate("fetch('/api/jma/status').then(r => r.status)")
    if jma == 404:
        assert page.locator("#gisapp-jma-status").is_hidden()
    else:
        assert jma == 200
        page.wait_for_selector("#gisapp-jma-status[data-conditions]", state="visible")
        assert "土砂災害警戒情報" in page.inner_text("#gisapp-jma-status")
    page.screenshot(path=str(shots(tmp_path) / "evacinfo-phone-open.png"))


def test_staff_of_another_department_sees_the_panel_read_only(
    visit,  # noqa: F811
    servers,  # noqa: F811
    demo_users,  # noqa: F811
    api,  # noqa: F811
    evac_areas,
    tmp_path,
):
    r = api.post(
        "/api/evacuation-info/orders",
        json={"level": 3, "hazard": "flood", "area_codes": ["AREA-01"], "reason": "鈴川 避難判断水位"},
    )
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    v = visit(viewport={"width": 1366, "height": 900})
    v.login(servers["internal"].url, "/hq?lang=en", "road", demo_users["road"])
    page = v.page
    page.wait_for_selector(f"{PANEL}[data-state='ready'][data-can-issue='false']", timeout=20_000)
    order = page.locator(f".gisapp-ei-order[data-order-id='{oid}']")
    order.wait_for()
    assert "Alert level 3" in order.inner_text()
    assert (
        page.locator(f"{PANEL} .gisapp-ei-cancel, {PANEL} .gisapp-ei-level, #gisapp-ei-new").evaluate_all(
            "els => els.filter(e => e.getClientRects().length).length"
        )
        == 0
    )
    assert page.is_visible(".gisapp-ei-readonly")
    assert not page.is_visible("#gisapp-hqlog-text")  # notes are the HQ's (POST /api/hq-log refuses staff)
    assert page.inner_text("#gisapp-evacinfo-title") == "Evacuation information (1 in force)"
    page.wait_for_selector(f"path.gisapp-ei-shade[data-order-id='{oid}'][data-level='3']")
    page.screenshot(path=str(shots(tmp_path) / "evacinfo-staff-en-desktop.png"))
    r = api.post(
        f"/api/evacuation-info/orders/{oid}/cancel", json={"expected_version": 1, "reason": "試験終了"}
    )
    assert r.status_code == 200, r.text
    page.wait_for_selector(f"{PANEL}[data-orders='0']", timeout=15_000)
