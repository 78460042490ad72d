"""The shelter operations screen in headless Chromium against a real uvicorn server: the HQ sees the
disaster's shelters with their counts, closes an occupied one through the confirmation dialog (which
refuses to close it before a choice, then moves the people: the total stays), requests supplies and
moves a need along; the shelter's own screen reports 要配慮者数; the HQ map lists the open request; the
kiosk checks in some members of a household.
axe finds nothing critical or serious on the page or in the dialog, on a tablet viewport."""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from gisapp.app import create_app
from tests.a11y import axe_violations, describe
from tests.test_checkin import make_world, open_shelter, register, scan
from tests.test_checkin_browser import confirm_shelter
from tests.test_pages_browser import Server, browser, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser
TABLET = {"viewport": {"width": 820, "height": 1180}, "has_touch": True}


@pytest.fixture(scope="module")
def env(settings, app_engine):
    internal = create_app(settings)
    public = create_app(settings, public=True)
    with TestClient(internal) as c, TestClient(public) as p:
        tag = f"sob{secrets.token_hex(3)}"
        world = make_world(c, app_engine, tag, (139.2500, 35.4400))
        open_shelter(c, world, "flood")
        open_shelter(c, world, "spare")
        token = register(p, name="画面 世帯", members=3)
        assert scan(c, world, "flood", token=token).status_code == 200
        assert scan(c, world, "flood", persons=9).status_code == 200
        with Server(internal) as a:
            yield {"client": c, "public": p, "world": world, "internal": a, "tag": tag}


def serious(page, context=None) -> list[str]:
    found = axe_violations(page, context)
    return [describe(v) for v in found if v["impact"] in ("critical", "serious")]


def test_the_hq_closes_an_occupied_shelter_through_the_dialog(env, visit):  # noqa: F811
    world = env["world"]
    flood, spare = world.shelters["flood"], world.shelters["spare"]
    v = visit(**TABLET)
    v.login(
        env["internal"].url,
        f"/shelters/ops?disaster={world.disaster_id}",
        f"{env['tag']}-hq",
        world.seed.passwords["hq"],
    )
    page = v.page
    page.wait_for_selector(f'#ops-shelters tr[data-shelter-id="{flood}"][data-occupancy="12"]')
    assert page.get_attribute("#ops-totals", "data-people") == "12"
    assert serious(page) == []

    page.click(f'#ops-shelters tr[data-shelter-id="{flood}"] button')
    page.wait_for_selector("#ops-close-dialog[open]")
    assert "12" in page.text_content("#ops-close-people")
    assert serious(page, "#ops-close-dialog") == []
    page.click("#ops-close-confirm")  # no choice yet: the dialog says so and nothing is closed
    page.wait_for_selector("#ops-close-error:not([hidden])")
    assert page.get_attribute(f'#ops-shelters tr[data-shelter-id="{flood}"]', "data-state") == "open"

    page.check("#ops-close-move")
    page.select_option("#ops-close-target", str(spare))
    page.click("#ops-close-confirm")
    page.wait_for_selector(f'#ops-shelters tr[data-shelter-id="{flood}"][data-state="closed"]')
    page.wait_for_selector(f'#ops-shelters tr[data-shelter-id="{spare}"][data-occupancy="12"]')
    assert page.get_attribute("#ops-totals", "data-people") == "12"  # nobody vanished
    assert page.get_attribute("#ops-message", "data-kind") == "ok"

    # Supplies: requested, then arranged.
    page.select_option("#ops-need-shelter", str(spare))
    page.fill("#ops-need-item", "毛布")
    page.fill("#ops-need-quantity", "30")
    page.fill("#ops-need-unit", "枚")
    page.click("#ops-need-form button[type=submit]")
    row = page.wait_for_selector('#ops-needs tr[data-status="requested"]')
    need_id = row.get_attribute("data-need-id")
    page.click(f'#ops-needs tr[data-need-id="{need_id}"] button:has-text("手配済")')
    page.wait_for_selector(f'#ops-needs tr[data-need-id="{need_id}"][data-status="arranged"]')
    assert v.errors == []

    # The HQ map lists the open request.
    page.goto(env["internal"].url + "/hq")
    page.wait_for_selector(f'#gisapp-disaster option[value="{world.disaster_id}"]', state="attached")
    page.select_option("#gisapp-disaster", str(world.disaster_id))
    page.wait_for_selector(f'#gisapp-evac-needs li[data-need-id="{need_id}"][data-status="arranged"]')


def test_a_shelters_own_screen_reports_people_needing_care(env, visit):  # noqa: F811
    world = env["world"]
    spare = world.shelters["spare"]
    v = visit(**TABLET)
    v.login(
        env["internal"].url,
        f"/shelters/{spare}/ops?disaster={world.disaster_id}",
        f"{env['tag']}-staff",
        world.seed.passwords["staff"],
    )
    page = v.page
    page.wait_for_selector(f'#ops-shelters tr[data-shelter-id="{spare}"]')
    assert page.locator("#ops-shelters tbody tr").count() == 1  # its own shelter only
    assert page.is_hidden("#ops-open-form")
    page.fill("#ops-care-elderly", "7")
    page.fill("#ops-care-infant", "2")
    page.click("#ops-care-form button[type=submit]")
    page.wait_for_selector('#ops-message[data-kind="ok"]')
    assert "9" in page.text_content("#ops-message")
    page.wait_for_selector('#ops-care-fields[data-version="1"]')
    assert serious(page) == []
    assert v.errors == []


def test_the_kiosk_checks_in_some_members_of_a_household(env, visit):  # noqa: F811
    world = env["world"]
    spare = str(world.shelters["spare"])
    token = register(env["public"], name="キオスク 部分", members=3)
    v = visit(**TABLET)
    v.login(env["internal"].url, "/kiosk", f"{env['tag']}-staff", world.seed.passwords["staff"])
    page = v.page
    confirm_shelter(page, spare)
    page.fill("#evac-members", "2")
    page.fill("#evac-scan", token)
    page.press("#evac-scan", "Enter")
    page.wait_for_selector('#evac-feedback[data-result="entered"]')
    assert "2/3" in page.text_content("#evac-feedback")
    assert page.input_value("#evac-members") == ""  # for that scan only
    page.fill("#evac-members", "5")  # more than the household: refused, naming the field
    page.fill("#evac-scan", token)
    page.press("#evac-scan", "Enter")
    page.wait_for_selector("#evac-members[aria-invalid='true']")
    assert v.errors == []
