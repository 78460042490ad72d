"""Device alerts reach the HQ page (issue 14, "Alerts from devices seen"), in headless Chromium against
real servers: the header links to the dead-letter screen with the count of the last 24 hours, and a
device_alert event (the database trigger of a new alert window) adds one and names the device."""

# ruff: noqa: F811 - the fixtures imported below are the tests' arguments
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.test_hq_incidents_browser import open_hq, servers  # noqa: F401 - fixtures
from tests.test_pages_browser import browser, demo_users, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_a_device_alert_shows_on_the_hq_page(visit, servers, demo_users, app_engine):
    v = open_hq(visit, servers, demo_users)
    page = v.page
    link = page.locator("#gisapp-device-alerts")
    link.wait_for(state="visible", timeout=20_000)
    before = int(link.get_attribute("data-count"))
    assert link.get_attribute("href").startswith("/hq/dead-letters")
    with app_engine.begin() as conn:  # what ingest.device_alerts.record_device_alerts writes
        conn.execute(
            text(
                """INSERT INTO ingest.device_alert (device_id, reason_code, window_start, count, detail)
                   VALUES ('BR-ALERT', 'invalid_json', now(), 3, 'Expecting value')"""
            )
        )
    page.wait_for_selector(f"#gisapp-device-alerts[data-count='{before + 1}']", timeout=10_000)
    assert "BR-ALERT invalid_json" in link.inner_text()
    assert page.locator("#gisapp-device-alerts[data-state='alert']").count() == 1
    link.click()
    page.wait_for_selector("#dl-device-alerts", timeout=10_000)
    assert "BR-ALERT" in page.locator("#dl-device-alerts").inner_text()
