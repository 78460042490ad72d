"""The HQ map's gauge alert log and gauge charts in headless Chromium: alerts arrive live over the event
stream, are acknowledged by keyboard (who, when), each gauge opens a 24-hour chart in an accessible
dialog (title, a text summary beside the canvas, Escape closes, focus returns), values read 209.8 mm,
never 209.79999999999998."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ingest.gauges import record_observations
from ingest.payloads import GaugeObservation
from sensors import registry
from sensors.registry import DeviceKind, DeviceSpec
from tests.test_hq_incidents_browser import open_hq, servers  # noqa: F401 - fixtures
from tests.test_pages_browser import browser, demo_users, visit  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

WATER = {"水防団待機水位": 1.0, "氾濫注意水位": 1.6, "避難判断水位": 2.0, "氾濫危険水位": 2.4}
RAIN = {"10min_mm": {"注意": 10}, "continuous_mm": {"注意": 100, "警戒": 150}}


@pytest.fixture(scope="module")
def gauges(app_engine):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with app_engine.begin() as conn:
        registry.ensure_device(
            conn, DeviceSpec("HQG-W", DeviceKind.water_gauge, "試験川水位計", 139.296, 35.392, None, WATER)
        )
        registry.ensure_device(
            conn, DeviceSpec("HQG-R", DeviceKind.rain_gauge, "試験山雨量計", 139.292, 35.388, None, RAIN)
        )
    levels = [1.2, 1.5, 1.7, 1.9, 2.1]
    with app_engine.begin() as conn:
        for k, m in enumerate(levels):
            ts = now - timedelta(minutes=10 * (len(levels) + 2 - k))
            record_observations(conn, [GaugeObservation("HQG-W", "level", ts, m)])
        # 0.1 + 0.1 + 0.2 + … in floating point: 連続雨量 209.79999999999998
        rain = [0.1, 0.1, 0.2, 21.7, 33.3, 44.4, 55.5, 30.1, 24.4]
        for k, mm in enumerate(rain):
            ts = now - timedelta(minutes=10 * (len(rain) + 2 - k))
            record_observations(conn, [GaugeObservation("HQG-R", "rain_10min", ts, mm)])
    return now


def _alert_ids(app_engine, device: str) -> list[int]:
    with app_engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT id FROM sensor.alert WHERE device_id = :d ORDER BY id"), {"d": device}
            ).scalars()
        )


def test_alert_log_live_and_acknowledged_by_keyboard(visit, servers, demo_users, app_engine, gauges):  # noqa: F811
    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.wait_for_selector("#gisapp-gauge-alerts[data-state='ready']", timeout=20_000)
    newest = _alert_ids(app_engine, "HQG-W")[-1]
    item = page.locator(f".gisapp-gauge-alert[data-alert-id='{newest}']")
    item.wait_for(timeout=10_000)
    assert item.get_attribute("data-acknowledged") == "false"
    assert "警戒レベル3相当" in item.inner_text() and "試験川水位計" in item.inner_text()

    # A new alert arrives over the event stream, no reload.
    with app_engine.begin() as conn:
        record_observations(conn, [GaugeObservation("HQG-W", "level", gauges - timedelta(minutes=10), 2.5)])
    newer = _alert_ids(app_engine, "HQG-W")[-1]
    page.wait_for_selector(
        f".gisapp-gauge-alert[data-alert-id='{newer}'][data-alert-level='4']", timeout=15_000
    )
    page.wait_for_selector("#gisapp-gauge-announce:has-text('試験川水位計')")

    # Acknowledge by keyboard: focus the button, Enter; who and when are shown.
    button = page.locator(f".gisapp-gauge-alert[data-alert-id='{newer}'] .gisapp-gauge-ack")
    button.focus()
    page.keyboard.press("Enter")
    done = page.locator(f".gisapp-gauge-alert[data-alert-id='{newer}'][data-acknowledged='true']")
    done.wait_for(timeout=10_000)
    assert "確認済：hq" in done.inner_text()
    # The focus stays on the same alert (its chart button), not lost to the page.
    assert page.evaluate("document.activeElement.getAttribute('data-key')") == f"chart-{newer}"
    with app_engine.connect() as conn:
        who = conn.execute(
            text("SELECT acknowledged_by FROM sensor.alert WHERE id = :i"), {"i": newer}
        ).scalar()
    assert who == "hq"

    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path="/tmp/hq_gauges_desktop.png")


def test_chart_dialog_is_accessible_and_values_are_rounded(visit, servers, demo_users, app_engine, gauges):  # noqa: F811
    v = open_hq(visit, servers, demo_users)
    page = v.page
    page.wait_for_selector(".gisapp-gauge[data-device-id='HQG-R']", timeout=20_000)
    # The chart library must live with the page's CSP (no inline style or script of its own).
    page.evaluate(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI))"
    )

    # The tooltip reads 209.8 mm, not 209.79999999999998 mm: the sum is exact where it is taken (numeric
    # in ingest/gauges.py), and the page rounds for display as well.
    with app_engine.connect() as conn:
        raw = conn.execute(
            text("SELECT continuous FROM sensor.gauge_state WHERE device_id = 'HQG-R'")
        ).scalar()
    assert raw == 209.8
    # The map's first view fits whatever the other modules left; centre on the gauge, clear of the legend.
    page.evaluate("window.gisapp.map.setView([35.388, 139.292], 15, {animate: false})")
    page.hover(".gisapp-gauge[data-device-id='HQG-R']")
    tip = page.locator(".gisapp-gauge-tooltip").filter(has_text="試験山雨量計")
    tip.wait_for(timeout=5_000)
    assert "連続 209.8 mm" in tip.inner_text()

    # The marker itself is a keyboard control: focus, Enter opens the chart.
    page.focus(".gisapp-gauge[data-device-id='HQG-R']")
    page.keyboard.press("Enter")
    dialog = page.locator("#gisapp-gauge-chart[data-state='ready'][data-device-id='HQG-R']")
    dialog.wait_for(timeout=10_000)
    assert dialog.get_attribute("data-points") == "9"
    assert page.locator("#gisapp-gauge-chart-title").inner_text() == "試験山雨量計 過去24時間"
    summary = page.locator("#gisapp-gauge-chart-summary").inner_text()
    assert "連続雨量 209.8 mm" in summary and "60分雨量 209.4 mm" in summary
    assert page.locator("#gisapp-gauge-chart canvas").get_attribute("role") == "img"
    page.keyboard.press("Escape")
    page.wait_for_selector("#gisapp-gauge-chart[data-state='closed']", state="attached")
    assert page.evaluate("document.activeElement.getAttribute('data-device-id')") == "HQG-R"

    # Water: its own thresholds, labelled, in the text and in the chart's legend.
    page.locator("#gisapp-gauge-alerts .gisapp-gauge-charts summary").click()
    page.locator("#gisapp-gauge-chart-list button[data-device-id='HQG-W']").click()
    page.wait_for_selector("#gisapp-gauge-chart[data-state='ready'][data-device-id='HQG-W']", timeout=10_000)
    thresholds = page.locator(".gisapp-gauge-thresholds li").all_inner_texts()
    assert thresholds == [f"水位 {name} {value:.2f} m" for name, value in WATER.items()]
    legend = page.evaluate(
        "Chart.getChart(document.querySelector('#gisapp-gauge-chart canvas')).data.datasets.map(d => d.label)"
    )
    assert legend == ["水位 (m)"] + [f"{name} {value:.2f} m" for name, value in WATER.items()]
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path="/tmp/hq_gauges_chart_desktop.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/hq_gauges_chart_phone.png")
    assert page.evaluate("window.__csp") == []
    page.locator(".gisapp-gauge-close").click()
    page.wait_for_selector("#gisapp-gauge-chart[data-state='closed']", state="attached")


def test_english(visit, servers, demo_users, gauges):  # noqa: F811
    v = open_hq(visit, servers, demo_users, lang="?lang=en")
    page = v.page
    page.wait_for_selector("#gisapp-gauge-alerts[data-state='ready']", timeout=20_000)
    assert page.locator("#gisapp-gauge-alerts-summary").inner_text().startswith("Gauge alerts (")
    page.locator("#gisapp-gauge-alerts .gisapp-gauge-charts summary").click()
    page.locator("#gisapp-gauge-chart-list button[data-device-id='HQG-W']").click()
    page.wait_for_selector("#gisapp-gauge-chart[data-state='ready']", timeout=10_000)
    assert page.locator("#gisapp-gauge-chart-title").inner_text() == "試験川水位計: last 24 hours"
    page.set_viewport_size({"width": 390, "height": 844})
    page.keyboard.press("Escape")
    page.screenshot(path="/tmp/hq_gauges_phone_en.png")
