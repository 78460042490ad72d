"""The OwnTracks protocol over the real broker and worker (issue 14, Wrong 8): every fixture of the
OwnTracks JSON Schema's own test set ends stored, ignored-with-counter or dead-lettered as the schema
(the oracle: jsonschema_rs on message.schema.json) says, with the reason naming what is wrong; the
app's subtopics are taken; device alerts reach the HQ log once per device, reason and window."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import jsonschema_rs
import pytest
from sqlalchemy import text

from sensors.registry import DeviceKind, DeviceSpec
from sensors.topics import TOPIC_ROOT
from tests.fixtures_data import seed
from tests.support import listen_events, register_devices, shared_data, wait_until
from tests.test_ingest import device_client, publish

FOLDER = ("location_payloads", "owntracks")
# Where the app publishes each _type (booklet, "Topics"), with three base-topic layouts between them:
# …/{id} (the base), …/{id}/{sub} and …/{id}/position/{sub}.
SUBTOPIC = {"transition": "position/event", "status": "status", "steps": "step", "waypoint": "waypoint"}
IN_JAPAN = (139.3158, 35.4027)


def fixtures() -> dict[str, object]:
    folder = shared_data(*FOLDER)
    return {
        p.stem: json.loads(p.read_bytes())
        for p in sorted(folder.glob("*.json"))
        if p.stem != "message.schema"
    }


def oracle():
    return jsonschema_rs.Draft202012Validator(
        json.loads((shared_data(*FOLDER) / "message.schema.json").read_text())
    )


def topic_for(device: str, doc: object) -> str:
    first = doc[0] if isinstance(doc, list) and doc else doc
    sub = SUBTOPIC.get(first.get("_type")) if isinstance(first, dict) else None
    return f"{TOPIC_ROOT}/radio/{device}" + (f"/{sub}" if sub else "")


def moved(doc: object) -> object:
    """The same message(s) placed in Japan (every other member unchanged)."""
    if isinstance(doc, list):
        return [moved(d) for d in doc]
    if (
        isinstance(doc, dict)
        and isinstance(doc.get("lat"), int | float)
        and isinstance(doc.get("lon"), int | float)
    ):
        return {**doc, "lon": IN_JAPAN[0], "lat": IN_JAPAN[1]}
    return doc


@pytest.fixture(scope="module")
def hq(client, app_engine) -> dict[str, str]:
    return seed(app_engine, "owntracks").bearer(client, "hq")


def q(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def letters(engine, device: str) -> list:
    return q(
        engine,
        "SELECT reason_code, reason FROM ingest.dead_letter WHERE split_part(topic, '/', 4) = :d ORDER BY id",
        d=device,
    )


def ignored(engine, device: str) -> dict[str, int]:
    return dict(
        q(engine, "SELECT msg_type, count FROM ingest.ignored_message WHERE device_id = :d", d=device)
    )


def why(error) -> tuple[str, str]:
    """The member the oracle names and what it wants: ('lat', 'required') or ('lat', 'number')."""
    if m := re.match(r'"(\w+)" is a required property', error.message):
        return m.group(1), "required"
    m = re.search(r'is not of type "(\w+)"', error.message)
    return str(list(error.instance_path)[-1]), m.group(1) if m else "?"


def test_wrong8_every_owntracks_fixture_ends_as_the_schema_says(settings, app_engine, worker):
    docs, schema = fixtures(), oracle()
    assert len(docs) == 11
    as_is = {name: f"OT-{name}"[:64] for name in docs}
    in_japan = {name: f"OJ-{name}"[:64] for name in docs}
    creds = register_devices(
        settings,
        app_engine,
        [DeviceSpec(d, DeviceKind.radio_unit, d) for d in [*as_is.values(), *in_japan.values()]],
    )
    expected: dict[str, list] = {}
    for name, doc in docs.items():
        messages = doc if isinstance(doc, list) else [doc]
        expected[name] = [(m, list(schema.iter_errors(m))) for m in messages]
        for device, body in ((as_is[name], doc), (in_japan[name], moved(doc))):
            c, state = device_client(settings, device, creds[device])
            assert not state["connack"].is_failure
            info = publish(c, topic_for(device, doc), json.dumps(body))
            assert info.is_published()
            c.disconnect()
            c.loop_stop()

    def outcome_seen(name: str) -> bool:
        for device in (as_is[name], in_japan[name]):
            done = q(app_engine, "SELECT 1 FROM sensor.device_status WHERE device_id = :d", d=device)
            if not done and not letters(app_engine, device):
                return False
        return True

    wait_until(lambda: all(outcome_seen(n) for n in docs), 20)

    for name, messages in expected.items():
        for device in (as_is[name], in_japan[name]):
            codes = [r.reason_code for r in letters(app_engine, device)]
            invalid = [(m, errors) for m, errors in messages if errors]
            valid = [m for m, errors in messages if not errors]
            # The invalid: one dead letter each, whose reason names the member and what is wrong.
            for _m, errors in invalid:
                member, wanted = why(errors[0])
                reasons = [
                    r.reason for r in letters(app_engine, device) if r.reason_code == "invalid_payload"
                ]
                assert any(
                    r.startswith(f"{member}: ")
                    and (wanted in r or (wanted == "required" and "required" in r))
                    for r in reasons
                ), (name, reasons)
            # The valid: never a dead letter for their form; outside Japan only our own place rule.
            placed = [m for m in valid if m.get("_type") in ("location", "transition")]
            allowed_codes = {"invalid_payload"} if invalid else set()
            if device == as_is[name] and placed:
                allowed_codes.add("implausible_location")
            assert set(codes) <= allowed_codes, (name, device, codes)
            assert len(codes) == len(invalid) + (len(placed) if device == as_is[name] else 0), (name, codes)
            if device == as_is[name]:
                continue
            for m in valid:  # in Japan: what each valid type becomes
                kind = m["_type"]
                if kind == "location":
                    got = q(
                        app_engine,
                        "SELECT accuracy_m FROM sensor.radio_position WHERE device_id = :d AND device_ts = :t",
                        d=device,
                        t=datetime.fromtimestamp(m["tst"], UTC),
                    )
                    assert len(got) == 1, name
                    assert got[0].accuracy_m == m.get("acc"), name
                elif kind == "lwt":
                    (row,) = q(
                        app_engine,
                        "SELECT last_will_at FROM sensor.device_status WHERE device_id = :d",
                        d=device,
                    )
                    assert row.last_will_at is not None, name
                elif kind == "transition":
                    got = q(
                        app_engine,
                        "SELECT event, region_kind, region_id, region_name, source FROM sensor.geofence_event"
                        " WHERE device_id = :d",
                        d=device,
                    )
                    assert [tuple(g) for g in got] == [
                        (m["event"], "owntracks", m["rid"], m["desc"], "transition")
                    ]
                    wait_until(
                        lambda d=device: q(
                            app_engine,
                            "SELECT 1 FROM ops.hq_log WHERE kind = 'geofence' AND unit_id = :d",
                            d=d,
                        ),
                        5,
                    )
                elif kind == "status":
                    (row,) = q(
                        app_engine, "SELECT info FROM sensor.device_status WHERE device_id = :d", d=device
                    )
                    assert row.info["iOS"]["deviceModel"] == m["iOS"]["deviceModel"], name
                else:  # valid, nothing to store: counted
                    assert ignored(app_engine, device) == {kind: 1}, name


def test_wrong8_acc_minus_one_subtopics_cards_and_ignored_types(settings, app_engine, client, hq, worker):
    """acc -1 (a tracker's "unknown") keeps the position; the app's subtopics are taken under both
    base-topic layouts; a card names the unit; every other valid type is counted, not dead-lettered;
    an empty array is valid (messages.json) and counted; an unknown _type and a bad card are refused
    with the reason; an encrypted payload is counted and the HQ is told (we hold no key)."""
    dev = "OT-MIX"
    creds = register_devices(settings, app_engine, [DeviceSpec(dev, DeviceKind.radio_unit, "試験 OT-MIX")])
    c, _ = device_client(settings, dev, creds[dev])
    base = f"{TOPIC_ROOT}/radio/{dev}"
    tst = int(datetime.now(UTC).timestamp()) - 60
    sent = [
        (f"{base}/position", {"_type": "location", "lat": 35.41, "lon": 139.32, "tst": tst, "acc": -1, "batt": 80}),
        (base, {"_type": "location", "lat": 35.42, "lon": 139.33, "tst": tst + 1, "acc": 12}),
        (f"{base}/info", {"_type": "card", "name": "消防1号車", "face": "iVBORw0KGgo="}),
        (f"{base}/cmd", {"_type": "cmd", "action": "reportLocation"}),
        (f"{base}/waypoints", {"_type": "waypoints", "waypoints": []}),
        (f"{base}/position/waypoint", {"_type": "waypoint", "desc": "本部", "lat": 35.4, "lon": 139.3, "tst": tst, "rad": 50}),
        (f"{base}/request", {"_type": "request", "request": "tour"}),
        (f"{base}/dump", {"_type": "configuration", "mode": 0}),
        (f"{base}/position", {"_type": "encrypted", "data": "c2VjcmV0"}),
        (f"{base}/position", []),
        (f"{base}/position", {"_type": "meteor"}),
        (f"{base}/info", {"_type": "card", "name": "x", "face": "not base64!"}),
        (f"{base}/cmd", {"_type": "cmd"}),
    ]  # fmt: skip
    with listen_events(settings) as events:
        for topic, doc in sent:
            publish(c, topic, json.dumps(doc, ensure_ascii=False))
        events.wait_for(lambda e: e["type"] == "device_alert" and e["device_id"] == dev, timeout=10)
    c.disconnect()
    c.loop_stop()
    wait_until(lambda: len(letters(app_engine, dev)) == 3 and sum(ignored(app_engine, dev).values()) == 7, 10)

    rows = q(
        app_engine,
        "SELECT device_ts, accuracy_m, battery_pct FROM sensor.radio_position WHERE device_id = :d ORDER BY device_ts",
        d=dev,
    )
    assert [(r.accuracy_m, r.battery_pct) for r in rows] == [(None, 80), (12.0, None)]  # -1: unknown, kept
    assert ignored(app_engine, dev) == {
        "cmd": 1, "waypoints": 1, "waypoint": 1, "request": 1, "configuration": 1, "encrypted": 1, "empty": 1,
    }  # fmt: skip
    reasons = {r.reason_code: r.reason for r in letters(app_engine, dev)}
    assert set(reasons) == {"unsupported_type", "invalid_payload"}
    assert "'meteor' is not an OwnTracks message type" in reasons["unsupported_type"]
    bad = [r.reason for r in letters(app_engine, dev) if r.reason_code == "invalid_payload"]
    assert sorted(bad) == [
        "action: is required for _type cmd / cmd には action が必須です",
        "face: must be base64 (a PNG) / base64 でなければなりません",
    ]
    status = {d["device_id"]: d for d in client.get("/api/devices/status", headers=hq).json()}
    assert status[dev]["card_name"] == "消防1号車" and status[dev]["state"] == "online"
    (log,) = q(
        app_engine, "SELECT summary_ja, summary_en FROM ops.hq_log WHERE kind = 'device' AND unit_id = :d"
        " AND ref->>'reason_code' = 'encrypted'", d=dev,
    )  # fmt: skip
    assert "暗号化" in log.summary_ja and "encrypted" in log.summary_en


def test_device_alerts_a_flood_makes_one_hq_log_entry(settings, app_engine, client, hq, worker):
    """Misconfigured devices reach the HQ: 40 bad messages of one reason make one HQ log entry (kind
    'device', unit_id) and one device_alert event, and the count; another reason is another entry; the
    dead-letter summary shows them with the ignored counts."""
    dev = "OT-FLOOD"
    creds = register_devices(settings, app_engine, [DeviceSpec(dev, DeviceKind.radio_unit, "試験 OT-FLOOD")])
    c, _ = device_client(settings, dev, creds[dev])
    future = int((datetime.now(UTC) + timedelta(days=2)).timestamp())
    with listen_events(settings) as events:
        for i in range(40):
            publish(c, f"{TOPIC_ROOT}/radio/{dev}/position", b"not json %d" % i)
        publish(
            c,
            f"{TOPIC_ROOT}/radio/{dev}/position",
            json.dumps({"_type": "location", "lat": 35.4, "lon": 139.3, "tst": future}),
        )
        publish(c, f"{TOPIC_ROOT}/radio/{dev}/nonsense", b"{}")
        wait_until(lambda: len(letters(app_engine, dev)) == 42, 15)
        events.collect(timeout=1)
        alerts = [e for e in events.seen if e["type"] == "device_alert" and e["device_id"] == dev]
    c.disconnect()
    c.loop_stop()
    assert sorted(e["reason_code"] for e in alerts) == ["invalid_json", "invalid_timestamp", "unknown_topic"]
    logs = q(
        app_engine,
        "SELECT ref->>'reason_code' AS code, summary_ja FROM ops.hq_log WHERE kind = 'device' AND unit_id = :d",
        d=dev,
    )
    assert sorted(r.code for r in logs) == ["invalid_json", "invalid_timestamp", "unknown_topic"]
    counts = dict(
        q(
            app_engine,
            "SELECT reason_code, sum(count) FROM ingest.device_alert WHERE device_id = :d GROUP BY 1",
            d=dev,
        )
    )
    assert counts == {"invalid_json": 40, "invalid_timestamp": 1, "unknown_topic": 1}
    summary = client.get("/api/dead-letters/summary", headers=hq).json()
    mine = {a["reason_code"]: a["count"] for a in summary["device_alerts"] if a["device_id"] == dev}
    assert mine == counts
    assert isinstance(summary["ignored"], list)
