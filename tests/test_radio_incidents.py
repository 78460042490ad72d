"""A disaster location reported from the field over MQTT becomes an HQ incident at once, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import radio_incident_topic
from tests.support import listen_events, register_devices, wait_until
from tests.test_ingest import device_client, publish


@pytest.fixture(scope="module")
def radios(settings, app_engine):
    return register_devices(
        settings, app_engine, [DeviceSpec(d, DeviceKind.radio_unit, d) for d in ("RI-A", "RI-B")]
    )


def incidents_from(app_engine, ref_prefix: str) -> list:
    with app_engine.connect() as conn:
        return conn.execute(
            text(
                """SELECT i.id, i.disaster_id, i.category, i.title, i.status, i.reported_at, i.priority,
                          ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, d.name AS disaster, d.opened_by
                     FROM ops.incident i JOIN ops.disaster d ON d.id = i.disaster_id
                    WHERE i.source = 'radio' AND i.source_ref LIKE :p ORDER BY i.id"""
            ),
            {"p": ref_prefix + "%"},
        ).all()


def dead_letters(app_engine, topic: str) -> list[str]:
    with app_engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT reason_code FROM ingest.dead_letter WHERE topic = :t ORDER BY id"), {"t": topic}
            ).scalars()
        )


def test_a_field_report_reaches_the_hq_stream_once(settings, app_engine, radios, worker):
    with app_engine.begin() as conn:  # no disaster open yet: the report must not be lost for that
        conn.execute(
            text("UPDATE ops.disaster SET closed_at = now(), closed_by = 'test' WHERE closed_at IS NULL")
        )
    c, _ = device_client(settings, "RI-A", radios["RI-A"])
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    body = {"ts": ts.isoformat(), "lat": 35.3971, "lon": 139.3140, "category": "landslide",
            "description": "斜面崩壊、市道を閉塞", "priority": 1, "id": "rep-0001"}  # fmt: skip
    with listen_events(settings) as events:
        publish(c, radio_incident_topic("RI-A"), json.dumps(body, ensure_ascii=False))
        event = events.wait_for(lambda e: e["type"] == "incident" and e["source"] == "radio", timeout=10)
    assert (event["category"], event["status"], event["priority"]) == ("landslide", "unhandled", 1)

    publish(c, radio_incident_topic("RI-A"), json.dumps(body, ensure_ascii=False))  # delivered again
    publish(c, radio_incident_topic("RI-A"), json.dumps({**body, "id": "rep-0002", "category": "flooding"}))
    wait_until(lambda: len(incidents_from(app_engine, "RI-A/")) == 2, 10)
    first, second = incidents_from(app_engine, "RI-A/")
    assert first.id == event["id"]
    assert (first.reported_at, first.lon, first.lat, first.status) == (ts, 139.3140, 35.3971, "unhandled")
    assert first.title == "土砂崩れ（RI-A 無線報告）"  # no title given: category and unit
    assert first.opened_by == "system:ingest" and "自動開設" in first.disaster
    assert second.disaster_id == first.disaster_id  # the disaster opened for the first is used after
    with app_engine.connect() as conn:
        kinds = conn.execute(
            text("SELECT kind, actor FROM ops.incident_event WHERE incident_id = :i"), {"i": first.id}
        ).all()
    assert [tuple(k) for k in kinds] == [("created", "radio:RI-A")]
    c.disconnect()
    c.loop_stop()


def test_bad_field_reports_are_dead_lettered(settings, app_engine, radios, worker):
    c, _ = device_client(settings, "RI-B", radios["RI-B"])
    ts = datetime.now(UTC).isoformat()
    bad = [
        {"lat": 35.4, "lon": 139.3, "category": "fire"},  # no timestamp
        {"ts": ts, "lat": 139.3, "lon": 35.4, "category": "fire"},  # lat/lon swapped: out of range
        {"ts": ts, "lat": 35.4, "lon": 139.3, "category": "fire", "priority": 9},
        [{"ts": ts, "lat": 35.4, "lon": 139.3, "category": "fire"}],  # an array
    ]
    for doc in bad:
        publish(c, radio_incident_topic("RI-B"), json.dumps(doc))
    publish(c, radio_incident_topic("RI-B"), b"not json")
    topic = radio_incident_topic("RI-B")
    wait_until(lambda: len(dead_letters(app_engine, topic)) == 5, 10)
    assert sorted(dead_letters(app_engine, topic)) == sorted(
        [
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_payload",
            "invalid_json",
        ]
    )
    assert incidents_from(app_engine, "RI-B/") == []
    c.disconnect()
    c.loop_stop()


def test_wrong4_unknown_category_is_filed_as_other_and_flagged(settings, app_engine, radios, worker):
    """Issue 14, Wrong 4: a field report with a category HQ does not have is never dead-lettered: it
    becomes an その他 incident that says 「不明な種別: meteor」, keeps the category sent, and the HQ log gets a
    'device' entry naming the unit and the incident (once, even when the report is delivered again)."""
    c, _ = device_client(settings, "RI-B", radios["RI-B"])
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=3)
    body = {"ts": ts.isoformat(), "lat": 35.4, "lon": 139.3, "category": "meteor", "description": "隕石落下",
            "id": "rep-meteor"}  # fmt: skip
    topic = radio_incident_topic("RI-B")
    with listen_events(settings) as events:
        publish(c, topic, json.dumps(body, ensure_ascii=False))
        event = events.wait_for(lambda e: e["type"] == "incident" and e["source"] == "radio", timeout=10)
        alert = events.wait_for(
            lambda e: e["type"] == "device_alert" and e["device_id"] == "RI-B", timeout=10
        )
    publish(c, topic, json.dumps(body, ensure_ascii=False))  # delivered again
    c.disconnect()
    c.loop_stop()
    (incident,) = wait_until(lambda: incidents_from(app_engine, "RI-B/rep-meteor"), 10)
    assert incident.id == event["id"] and incident.category == "other"
    assert incident.title == "不明な種別: meteor（RI-B 無線報告）"
    assert "unknown_category" not in dead_letters(app_engine, topic)
    assert (alert["reason_code"], alert["incident_id"]) == ("unknown_category", incident.id)
    with app_engine.connect() as conn:
        description, data = conn.execute(
            text(
                """SELECT i.description, e.data FROM ops.incident i JOIN ops.incident_event e
                     ON e.incident_id = i.id AND e.kind = 'created' WHERE i.id = :i"""
            ),
            {"i": incident.id},
        ).one()
        logs = conn.execute(
            text("SELECT summary_ja, unit_id FROM ops.hq_log WHERE kind = 'device' AND incident_id = :i"),
            {"i": incident.id},
        ).all()
    assert description == "【不明な種別: meteor】\n隕石落下"
    assert data["reported_category"] == "meteor"
    assert len(logs) == 1 and logs[0].unit_id == "RI-B" and "不明な種別: meteor" in logs[0].summary_ja
