"""Geofence events from positions over the real broker and worker (issue 14, Deliver 3): a unit
entering and leaving a 土砂災害警戒区域 and a shelter's radius; each event in the HQ log and on the
stream; GET /api/geofence-events for the HQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_position_topic
from tests.fixtures_data import seed
from tests.support import listen_events, register_devices, wait_until
from tests.test_ingest import device_client, publish

# Far from every other test's places (根室): nothing else is here.
X0, Y0 = 145.50, 43.30


def _world(owner_engine, dept_id: int) -> tuple[int, int]:
    """A landslide area (a square 0.002° wide east of X0) and a shelter 0.01° further east."""
    with owner_engine.begin() as conn:
        layers = {}
        for kind, geometry in (("hazard_area", "MultiPolygon"), ("shelter", "Point")):
            layers[kind] = conn.execute(
                text(
                    """INSERT INTO gis.layer (slug, title_ja, title_en, owner_department_id, visibility, kind,
                                              geometry_type)
                       VALUES (:s, :s, :s, :d, 'internal', :k, :g)
                       ON CONFLICT (slug) DO UPDATE SET title_en = EXCLUDED.title_en RETURNING id"""
                ),
                {"s": f"geofence-test-{kind.replace('_', '-')}", "d": dept_id, "k": kind, "g": geometry},
            ).scalar_one()
        area = conn.execute(
            text(
                """INSERT INTO gis.hazard_area (layer_id, hazard_type, name, geom)
                   VALUES (:l, 'landslide_warning', '根室試験沢',
                           ST_Multi(ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326))) RETURNING id"""
            ),
            {
                "l": layers["hazard_area"],
                "x1": X0 + 0.001,
                "y1": Y0 - 0.001,
                "x2": X0 + 0.003,
                "y2": Y0 + 0.001,
            },
        ).scalar_one()
        shelter = conn.execute(
            text(
                """INSERT INTO gis.shelter (layer_id, code, name, capacity, geom)
                   VALUES (:l, 'geofence-test', '根室試験避難所', 10, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
                   ON CONFLICT (layer_id, code) DO UPDATE SET name = EXCLUDED.name RETURNING id"""
            ),
            {"l": layers["shelter"], "x": X0 + 0.012, "y": Y0},
        ).scalar_one()
    return area, shelter


def stored(engine, unit: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM sensor.radio_position WHERE device_id = :u"), {"u": unit}
        ).scalar_one()


def test_positions_entering_and_leaving_a_hazard_area_and_a_shelter(
    settings, app_engine, owner_engine, client, worker
):
    s = seed(app_engine, "geofence")
    hq = s.bearer(client, "hq")
    area, shelter = _world(owner_engine, s.dept_id)
    unit = "GF-1"
    creds = register_devices(settings, app_engine, [DeviceSpec(unit, DeviceKind.radio_unit, "根室1号車")])
    c, _ = device_client(settings, unit, creds[unit])
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    # outside → in the area → out (60 m from the shelter: inside its 100 m) → far away; then a late,
    # older fix inside the area, which must not move the unit back in.
    path = [(X0, Y0), (X0 + 0.002, Y0), (X0 + 0.0113, Y0), (X0 + 0.03, Y0)]
    with listen_events(settings) as events:
        # One at a time, as a unit reports every few seconds: a batch looks at each unit's latest fix.
        for i, (x, y) in enumerate(path):
            fix = {"lat": y, "lon": x, "ts": (t0 + timedelta(minutes=i)).isoformat(), "acc": 5}
            publish(c, radio_position_topic(unit), json.dumps(fix))
            wait_until(lambda n=i + 1: stored(app_engine, unit) == n, 10)
        late = {"lat": Y0, "lon": X0 + 0.002, "ts": (t0 + timedelta(seconds=30)).isoformat()}
        publish(c, radio_position_topic(unit), json.dumps(late))
        wait_until(lambda: stored(app_engine, unit) == len(path) + 1, 10)
        events.wait_for(
            lambda e: e["type"] == "geofence" and e["event"] == "leave" and e["region_kind"] == "shelter", 10
        )
    c.disconnect()
    c.loop_stop()

    r = client.get("/api/geofence-events", params={"unit": unit}, headers=hq)
    assert r.status_code == 200, r.text
    got = [(e["event"], e["region_kind"], e["region_id"], e["at"]) for e in reversed(r.json()["items"])]
    at = [(t0 + timedelta(minutes=i)).isoformat() for i in range(4)]
    assert got == [
        ("enter", "hazard_area", str(area), at[1]),
        ("leave", "hazard_area", str(area), at[2]),
        ("enter", "shelter", str(shelter), at[2]),
        ("leave", "shelter", str(shelter), at[3]),
    ]
    first = r.json()["items"][-1]
    assert first["region_name"] == "土砂災害警戒区域 根室試験沢" and first["unit_name"] == "根室1号車"
    assert first["source"] == "position"
    since = client.get("/api/geofence-events", params={"unit": unit, "since": at[3]}, headers=hq).json()
    assert [e["event"] for e in since["items"]] == ["leave"]
    with app_engine.connect() as conn:
        logs = (
            conn.execute(
                text(
                    "SELECT summary_ja FROM ops.hq_log WHERE kind = 'geofence' AND unit_id = :u ORDER BY id"
                ),
                {"u": unit},
            )
            .scalars()
            .all()
        )
    # The chronology reads the enterings only (leaving is on the board and in the events above).
    assert logs == [
        "根室1号車（GF-1）が「土砂災害警戒区域 根室試験沢」に入りました",
        "根室1号車（GF-1）が避難所「根室試験避難所」に入りました",
    ]
    # Entering the same zone again within 30 minutes (a unit along its edge) is stored, not logged again.
    with app_engine.begin() as conn:
        conn.execute(
            text(
                """INSERT INTO sensor.geofence_event (device_id, event, region_kind, region_id, region_name, at, source)
                   VALUES (:u, 'enter', 'hazard_area', :r, '土砂災害警戒区域 根室試験沢', :at, 'position')"""
            ),
            {"u": unit, "r": str(area), "at": at[3]},
        )
        again = conn.execute(
            text("SELECT count(*) FROM ops.hq_log WHERE kind = 'geofence' AND unit_id = :u"), {"u": unit}
        ).scalar_one()
    assert again == 2
    assert client.get("/api/geofence-events").status_code == 401
    assert client.get("/api/geofence-events", params={"since": "yesterday"}, headers=hq).status_code == 422
