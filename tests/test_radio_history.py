"""Radio units for after-action review: where every unit was at time T, and one unit's track."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from sensors import registry
from sensors.registry import DeviceKind, DeviceSpec
from tests.fixtures_data import seed

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def units(app_engine):
    """Two units, one position a minute for ten minutes (lon grows with time), inserted directly."""
    with app_engine.begin() as conn:
        for dev in ("HIST-A", "HIST-B"):
            registry.ensure_device(conn, DeviceSpec(dev, DeviceKind.radio_unit, f"履歴 {dev}"))
            conn.execute(text("DELETE FROM sensor.radio_position WHERE device_id = :d"), {"d": dev})
            conn.execute(
                text(
                    "INSERT INTO sensor.radio_position (device_id, device_ts, geom, speed_kmh)"
                    " VALUES (:d, :ts, ST_SetSRID(ST_MakePoint(:lon, 35.39), 4326), 20)"
                ),
                [
                    {
                        "d": dev,
                        "ts": T0 + timedelta(minutes=i),
                        "lon": 139.30 + i * 0.001 + (0.1 if dev == "HIST-B" else 0),
                    }
                    for i in range(10)
                    if not (dev == "HIST-B" and i > 4)  # B went silent after 09:04
                ],
            )
    return ("HIST-A", "HIST-B")


@pytest.fixture(scope="module")
def hq(client, app_engine):
    return seed(app_engine, "hist").bearer(client, "hq")


def by_id(fc: dict) -> dict:
    return {f["id"]: f for f in fc["features"]}


def test_where_every_unit_was_at_time_t(client, hq, units):
    at = by_id(
        client.get("/api/radio-units/at", params={"t": "2026-11-20T18:06:30+09:00"}, headers=hq).json()
    )
    assert at["HIST-A"]["geometry"]["coordinates"] == [pytest.approx(139.306), 35.39]
    assert at["HIST-A"]["properties"]["device_ts"].startswith("2026-11-20T09:06:00")
    # B's last report was 09:04: it is shown where it was then, with its age in device_ts.
    assert at["HIST-B"]["properties"]["device_ts"].startswith("2026-11-20T09:04:00")
    before = by_id(client.get("/api/radio-units/at", params={"t": "2026-11-20T08:59:00Z"}, headers=hq).json())
    assert "HIST-A" not in before and "HIST-B" not in before  # not yet on the air


def test_track_of_one_unit(client, hq, units):
    r = client.get(
        "/api/radio-units/HIST-A/track",
        params={"from": "2026-11-20T09:02:00Z", "to": "2026-11-20T09:05:00Z"},
        headers=hq,
    )
    assert r.status_code == 200
    fc = r.json()
    times = [f["properties"]["device_ts"][11:16] for f in fc["features"]]
    assert times == ["09:02", "09:03", "09:04", "09:05"]
    assert fc["device_id"] == "HIST-A" and fc["name"] == "履歴 HIST-A"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "2026-11-20T10:00:00Z", "to": "2026-11-20T09:00:00Z"}, 422),  # reversed
        ({"from": "2026-11-01T00:00:00Z", "to": "2026-11-20T00:00:00Z"}, 422),  # over 7 days
        ({"from": "2026-11-20T09:00:00", "to": "2026-11-20T10:00:00Z"}, 422),  # no offset
        ({"from": "yesterday"}, 422),
    ],
)
def test_bad_periods_are_refused(client, hq, units, params, status):
    r = client.get("/api/radio-units/HIST-A/track", params=params, headers=hq)
    assert r.status_code == status and r.json()["error"]["message_ja"]


def test_unknown_unit_and_anonymous(client, hq, units):
    assert client.get("/api/radio-units/NOPE/track", headers=hq).status_code == 404
    assert client.get("/api/radio-units/HIST-A/track").status_code == 401
    assert client.get("/api/radio-units/at", params={"t": "2026-11-20T09:00:00Z"}).status_code == 401
    assert client.get("/api/radio-units/at", params={"t": "not-a-time"}, headers=hq).status_code == 422
