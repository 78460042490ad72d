"""Gauge alerts fit for decisions (issue 12): hysteresis (a value oscillating around a threshold gives
one alert, a real fall comes after the hold, a rise at once), 警戒レベル相当 from ops.alert_level_rule,
the HQ log, the alert log API with acknowledgement, and a gauge's chart series (the same sums as the
ingest's state)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from ingest.gauges import record_observations
from ingest.payloads import GaugeObservation
from sensors import registry
from sensors.registry import DeviceKind, DeviceSpec
from sensors.thresholds import ThresholdError, validate
from tests.fixtures_data import seed

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
RAIN_10 = {"10min_mm": {"注意": 10, "警戒": 15, "危険": 20}}  # default hysteresis: a 30-minute hold
WATER = {"水防団待機水位": 1.0, "氾濫注意水位": 1.6, "避難判断水位": 2.0, "氾濫危険水位": 2.4}


def at(k: int) -> datetime:
    return T0 + timedelta(minutes=10 * k)


def device(engine, device_id: str, kind: DeviceKind, thresholds: dict, name: str = "試験計") -> None:
    with engine.begin() as conn:
        registry.ensure_device(conn, DeviceSpec(device_id, kind, name, 139.31, 35.40, None, thresholds))


def feed(engine, device_id: str, values: list[float], start: int = 1, kind: str = "rain_10min") -> None:
    """One observation per transaction, in order, as the worker stores them."""
    for k, v in enumerate(values, start=start):
        with engine.begin() as conn:
            record_observations(conn, [GaugeObservation(device_id, kind, at(k), float(v))])


def alerts(engine, device_id: str) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT level_from, level_to, value, at, alert_level FROM sensor.alert WHERE device_id = :d ORDER BY id"
            ),
            {"d": device_id},
        ).all()
    return [tuple(r) for r in rows]


def levels(engine, device_id: str) -> dict:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT levels FROM sensor.gauge_state WHERE device_id = :d"), {"d": device_id}
        ).scalar_one()


# 10-minute rain oscillating around 警戒 (15 mm): up and down every 10 minutes.
OSCILLATING = [16, 14, 16, 13, 15, 14, 16, 12, 15.5, 14]


def test_oscillation_around_a_threshold_gives_one_alert(app_engine):
    device(app_engine, "HY-OSC", DeviceKind.rain_gauge, RAIN_10)
    feed(app_engine, "HY-OSC", OSCILLATING)
    assert [a[:4] for a in alerts(app_engine, "HY-OSC")] == [(None, "警戒", 16, at(1))]
    # Without the hold (the behaviour before issue 12) the same series flaps at every value.
    device(app_engine, "HY-FLAP", DeviceKind.rain_gauge, RAIN_10 | {"hysteresis": {"hold_minutes": 0}})
    feed(app_engine, "HY-FLAP", OSCILLATING)
    assert len(alerts(app_engine, "HY-FLAP")) == len(OSCILLATING)


def test_a_real_fall_comes_after_the_hold_and_a_rise_at_once(app_engine):
    device(app_engine, "HY-FALL", DeviceKind.rain_gauge, RAIN_10)
    feed(app_engine, "HY-FALL", [16, 14, 16, 12, 12])
    assert [a[1] for a in alerts(app_engine, "HY-FALL")] == ["警戒"]  # two values below: still held
    feed(app_engine, "HY-FALL", [12], start=6)  # the third value below 15 mm: 30 minutes below
    assert alerts(app_engine, "HY-FALL")[-1][:4] == ("警戒", "注意", 12, at(6))
    feed(app_engine, "HY-FALL", [3, 2], start=7)
    assert levels(app_engine, "HY-FALL") == {"10min_mm": "注意"}
    feed(app_engine, "HY-FALL", [22], start=9)  # a rise is immediate, past 警戒 straight to 危険
    assert alerts(app_engine, "HY-FALL")[-1][:4] == ("注意", "危険", 22, at(9))
    feed(app_engine, "HY-FALL", [0, 0, 0], start=10)  # 30 minutes dry: straight down to no level
    assert [a[:2] for a in alerts(app_engine, "HY-FALL")] == [
        (None, "警戒"), ("警戒", "注意"), ("注意", "危険"), ("危険", None),
    ]  # fmt: skip
    assert alerts(app_engine, "HY-FALL")[-1][3] == at(12)


def test_a_margin_keeps_the_level_until_the_value_is_clearly_below(app_engine):
    thresholds = WATER | {"hysteresis": {"hold_minutes": 0, "margin": {"level_m": 0.1}}}
    device(app_engine, "HY-MARGIN", DeviceKind.water_gauge, thresholds)
    feed(app_engine, "HY-MARGIN", [2.05, 1.95, 2.02, 1.91, 2.0, 1.89], kind="level")
    assert [a[:4] for a in alerts(app_engine, "HY-MARGIN")] == [
        (None, "避難判断水位", 2.05, at(1)),
        ("避難判断水位", "氾濫注意水位", 1.89, at(6)),  # below 2.0 - 0.1 m
    ]


def test_redelivered_and_late_values_end_in_the_same_state(app_engine):
    values = [16, 14, 16, 12, 12, 12, 3, 22, 0, 0]
    device(app_engine, "HY-ORDER", DeviceKind.rain_gauge, RAIN_10)
    feed(app_engine, "HY-ORDER", values)
    device(app_engine, "HY-SHUFFLE", DeviceKind.rain_gauge, RAIN_10)
    obs = [GaugeObservation("HY-SHUFFLE", "rain_10min", at(k), float(v)) for k, v in enumerate(values, 1)]
    random.Random(12).shuffle(obs)
    for o in obs + obs[:4]:  # and a few redelivered
        with app_engine.begin() as conn:
            record_observations(conn, [o])
    assert levels(app_engine, "HY-SHUFFLE") == levels(app_engine, "HY-ORDER") == {"10min_mm": "危険"}
    before = alerts(app_engine, "HY-ORDER")
    feed(app_engine, "HY-ORDER", values)  # the whole stream again: nothing new
    assert alerts(app_engine, "HY-ORDER") == before


def test_alert_level_comes_from_the_rules_and_reaches_the_hq_log(app_engine):
    device(app_engine, "HY-RIVER", DeviceKind.water_gauge, WATER, name="試験川水位計")
    feed(app_engine, "HY-RIVER", [1.1, 2.1, 2.5], kind="level")
    assert [(a[1], a[4]) for a in alerts(app_engine, "HY-RIVER")] == [
        ("水防団待機水位", None), ("避難判断水位", 3), ("氾濫危険水位", 4),
    ]  # fmt: skip
    device(app_engine, "HY-HILL", DeviceKind.rain_gauge, RAIN_10, name="試験山雨量計")
    feed(app_engine, "HY-HILL", [21])
    assert [(a[1], a[4]) for a in alerts(app_engine, "HY-HILL")] == [("危険", 4)]
    with app_engine.connect() as conn:
        log = conn.execute(
            text(
                """SELECT level, summary_ja, summary_en FROM ops.hq_log
                    WHERE kind = 'gauge_alert' AND ref->>'device_id' = 'HY-RIVER' ORDER BY id"""
            )
        ).all()
    assert [r.level for r in log] == [3, 4]
    assert "試験川水位計" in log[-1].summary_ja and "氾濫危険水位" in log[-1].summary_ja
    assert "警戒レベル4相当" in log[-1].summary_ja and "HY-RIVER" in log[-1].summary_en


def test_hysteresis_settings_are_validated():
    ok = validate("rain_gauge", RAIN_10 | {"hysteresis": {"hold_minutes": 30, "margin": {"10min_mm": 2}}})
    assert ok["hysteresis"]["margin"] == {"10min_mm": 2}
    assert validate("water_gauge", WATER | {"hysteresis": {"margin": {"level_m": 0.05}}})
    bad = [
        ("rain_gauge", {"hysteresis": 30}),
        ("rain_gauge", {"hysteresis": {"hold_minutes": -1}}),
        ("rain_gauge", {"hysteresis": {"hold_minutes": 10_000}}),
        ("rain_gauge", {"hysteresis": {"hold": 30}}),
        ("rain_gauge", {"hysteresis": {"margin": {"level_m": 1}}}),
        ("water_gauge", {"hysteresis": {"margin": {"level_m": -0.1}}}),
        ("water_gauge", {"hysteresis": {"margin": 0.1}}),
    ]
    for kind, doc in bad:
        with pytest.raises(ThresholdError, match="hysteresis"):
            validate(kind, doc)


# ------------------------------------------------------------------------------------ API
@pytest.fixture(scope="module")
def people(app_engine):
    return seed(app_engine, "gal")


def test_alert_log_and_acknowledgement(client, app_engine, people):
    device(app_engine, "HY-API", DeviceKind.water_gauge, WATER, name="試験確認水位計")
    feed(app_engine, "HY-API", [2.1, 2.5], start=200, kind="level")
    staff, hq, admin = (people.bearer(client, w) for w in ("staff", "hq", "admin"))
    r = client.get("/api/gauges/alerts", params={"unacknowledged": "true", "limit": 500}, headers=staff)
    assert r.status_code == 200
    before = r.json()["unacknowledged"]
    mine = [a for a in r.json()["alerts"] if a["device_id"] == "HY-API"]
    assert [(a["level_to"], a["alert_level"], a["device_name"]) for a in mine] == [
        ("氾濫危険水位", 4, "試験確認水位計"),
        ("避難判断水位", 3, "試験確認水位計"),
    ]  # newest first
    newest = mine[0]["id"]
    assert client.post(f"/api/gauges/alerts/{newest}/acknowledge", headers=staff).status_code == 403
    r = client.post(f"/api/gauges/alerts/{newest}/acknowledge", headers=hq)
    assert r.status_code == 200
    assert r.json()["acknowledged_by"] == "gal-hq" and r.json()["acknowledged_at"]
    again = client.post(f"/api/gauges/alerts/{newest}/acknowledge", headers=admin)
    assert again.status_code == 409
    assert again.json()["error"]["acknowledged_by"] == "gal-hq" and again.json()["error"]["message_ja"]
    assert client.post("/api/gauges/alerts/999999999/acknowledge", headers=admin).status_code == 404
    r = client.get("/api/gauges/alerts", params={"unacknowledged": "true", "limit": 500}, headers=staff)
    assert newest not in [a["id"] for a in r.json()["alerts"]]
    assert r.json()["unacknowledged"] == before - 1
    with app_engine.connect() as conn:
        audited = (
            conn.execute(
                text("SELECT actor FROM audit.log WHERE action = 'gauge_alert.acknowledge' AND target = :t"),
                {"t": str(newest)},
            )
            .scalars()
            .all()
        )
    assert audited == ["gal-hq"]
    assert client.get("/api/gauges/alerts").status_code == 401


def test_rain_series_matches_the_ingested_state(client, app_engine, people):
    thresholds = {"60min_mm": {"注意": 20}, "continuous_mm": {"注意": 50}, "reset_hours": 1}
    device(app_engine, "HY-SERIES", DeviceKind.rain_gauge, thresholds)
    rain = [0.1, 0.2, 5, 7.3, 0, 0, 0, 0, 0, 0, 0, 1.1, 0, 2.2, 0.3]
    states = []
    for k, mm in enumerate(rain, 1):
        feed(app_engine, "HY-SERIES", [mm], start=k)
        with app_engine.connect() as conn:
            states.append(
                tuple(conn.execute(
                    text("SELECT as_of, rain_10min, rain_60min, continuous FROM sensor.gauge_state WHERE device_id = 'HY-SERIES'")
                ).one())
            )  # fmt: skip
    r = client.get(
        "/api/gauges/HY-SERIES/series", params={"hours": 24}, headers=people.bearer(client, "staff")
    )
    assert r.status_code == 200
    doc = r.json()
    assert doc["kind"] == "rain_gauge" and doc["reset_hours"] == 1
    got = [
        (datetime.fromisoformat(p["at"]), p["rain_10min"], p["rain_60min"], p["continuous"])
        for p in doc["points"]
    ]
    assert [g[0] for g in got] == [s[0] for s in states]
    for g, s in zip(got, states, strict=True):
        assert g[1:] == pytest.approx(s[1:])
    assert doc["thresholds"] == {
        "60min_mm": [{"name": "注意", "value": 20}],
        "continuous_mm": [{"name": "注意", "value": 50}],
    }


def test_water_series_has_its_thresholds_in_order(client, app_engine, people):
    device(app_engine, "HY-WSERIES", DeviceKind.water_gauge, WATER)
    feed(app_engine, "HY-WSERIES", [1.2, 1.4], kind="level")
    staff = people.bearer(client, "staff")
    doc = client.get("/api/gauges/HY-WSERIES/series", headers=staff).json()
    assert [p["level"] for p in doc["points"]] == [1.2, 1.4]
    assert [t["name"] for t in doc["thresholds"]["level_m"]] == list(WATER)
    assert client.get("/api/gauges/NO-SUCH/series", headers=staff).status_code == 404
    assert client.get("/api/gauges/bad id!/series", headers=staff).status_code == 422
    assert client.get("/api/gauges/HY-WSERIES/series", params={"hours": 0}, headers=staff).status_code == 422
