"""`gisapp devices add|list|rotate|disable` against the real registry and the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import paho.mqtt.client as mqtt

from tests.support import wait_until


def gisapp(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOG_FORMAT": "text"}
    return subprocess.run(
        [sys.executable, "-m", "gisapp.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


def connack(settings, device_id: str, password: str):
    state: dict = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
    c.username_pw_set(device_id, password)
    c.on_connect = lambda client, userdata, flags, rc, props: state.setdefault("rc", rc)
    c.connect("127.0.0.1", settings.mqtt_port)
    c.loop_start()
    wait_until(lambda: "rc" in state, 5)
    c.disconnect()
    c.loop_stop()
    return state["rc"]


def password_from(out: str, device_id: str) -> str:
    line = next(ln for ln in out.splitlines() if ln.startswith(f"{device_id}: "))
    return line.split(": ", 1)[1]


def test_add_rotate_disable_reach_the_broker(settings):
    added = gisapp("devices", "add", "CLI-R1", "--kind", "radio_unit", "--name", "試験無線 CLI")
    assert added.returncode == 0, added.stderr
    first = password_from(added.stdout, "CLI-R1")
    time.sleep(0.3)  # the broker reloads on SIGHUP
    assert not connack(settings, "CLI-R1", first).is_failure

    again = gisapp("devices", "add", "CLI-R1", "--kind", "radio_unit", "--name", "x")
    assert again.returncode == 1 and "rotate" in again.stderr

    rotated = gisapp("devices", "rotate", "CLI-R1")
    assert rotated.returncode == 0, rotated.stderr
    second = password_from(rotated.stdout, "CLI-R1")
    time.sleep(0.3)
    assert connack(settings, "CLI-R1", first).is_failure
    assert not connack(settings, "CLI-R1", second).is_failure

    listed = gisapp("devices", "list")
    assert any(ln.startswith("CLI-R1") and " on " in ln for ln in listed.stdout.splitlines())

    assert gisapp("devices", "disable", "CLI-R1").returncode == 0
    time.sleep(0.3)
    assert connack(settings, "CLI-R1", second).is_failure
    assert any(
        ln.startswith("CLI-R1") and " off " in ln for ln in gisapp("devices", "list").stdout.splitlines()
    )


def test_bad_device_definitions_are_refused(settings):
    gauge = gisapp("devices", "add", "CLI-G1", "--kind", "rain_gauge", "--name", "雨量計")
    assert gauge.returncode == 1 and "--lon" in gauge.stderr and "雨量計" in gauge.stderr
    bad_id = gisapp("devices", "add", "bad/id+#", "--kind", "radio_unit", "--name", "x")
    assert bad_id.returncode == 1 and "invalid device id" in bad_id.stderr
    assert gisapp("devices", "rotate", "NOPE").returncode == 1
    assert gisapp("devices", "disable", "NOPE").returncode == 1
    assert "CLI-G1" not in gisapp("devices", "list").stdout


def test_gauge_thresholds_are_checked_and_stored(settings, app_engine, tmp_path):
    from sqlalchemy import text

    def stored(device: str):
        with app_engine.connect() as conn:
            return conn.execute(
                text("SELECT thresholds FROM sensor.device WHERE id = :d"), {"d": device}
            ).scalar()

    where = ("--lon", "139.3", "--lat", "35.4")
    levels = '{"水防団待機水位": 1.2, "氾濫注意水位": 1.8, "避難判断水位": 2.2, "氾濫危険水位": 2.6}'
    ok = gisapp(
        "devices",
        "add",
        "CLI-W1",
        "--kind",
        "water_gauge",
        "--name",
        "水位計",
        *where,
        "--thresholds",
        levels,
    )
    assert ok.returncode == 0, ok.stderr
    assert stored("CLI-W1")["氾濫危険水位"] == 2.6

    refused = {
        "unknown level": ("water_gauge", '{"氾濫危険水位": 2.6, "危ない": 3}'),
        "out of order": ("water_gauge", '{"氾濫注意水位": 2.0, "避難判断水位": 1.5}'),
        "not a number": ("water_gauge", '{"氾濫危険水位": "2.6"}'),
        "rain out of order": ("rain_gauge", '{"60min_mm": {"注意": 30, "警戒": 20}}'),
        "bad rule": (
            "rain_gauge",
            '{"combinations": [{"all": [{"measure": "daily", "gte": 1}], "level": "警戒"}]}',
        ),
        "bad reset": ("rain_gauge", '{"reset_hours": 0}'),
        "not JSON": ("rain_gauge", "{60min_mm: 20}"),
        "radio": ("radio_unit", '{"注意": 1}'),
    }
    for i, (case, (kind, doc)) in enumerate(refused.items()):
        device = f"CLI-T{i}"
        out = gisapp("devices", "add", device, "--kind", kind, "--name", "x", *where, "--thresholds", doc)
        assert out.returncode == 1, case
        assert " / " in out.stderr and "Traceback" not in out.stderr, (case, out.stderr)  # 日本語 / English
        assert stored(device) is None, case  # nothing stored

    rain = tmp_path / "rain.json"
    rain.write_text(
        '{"60min_mm": {"注意": 20, "警戒": 30, "危険": 50}, "reset_hours": 24,'
        ' "combinations": [{"all": [{"measure": "continuous_mm", "gte": 150}, {"measure": "60min_mm", "gte": 20}],'
        ' "level": "警戒"}]}',
        encoding="utf-8",
    )
    assert (
        gisapp("devices", "add", "CLI-RG", "--kind", "rain_gauge", "--name", "雨量計", *where).returncode == 0
    )
    assert gisapp("devices", "thresholds", "CLI-RG", f"@{rain}").returncode == 0
    assert stored("CLI-RG")["reset_hours"] == 24
    bad = gisapp("devices", "thresholds", "CLI-RG", '{"10min_mm": {"注意": -1}}')
    assert bad.returncode == 1 and "negative" in bad.stderr
    assert stored("CLI-RG")["reset_hours"] == 24  # unchanged
    assert gisapp("devices", "thresholds", "NOPE", "{}").returncode == 1


def test_users_add_with_a_department(settings, app_engine):
    from tests.fixtures_data import seed

    seed(app_engine, "cliuser")  # creates the department test_cliuser
    missing = gisapp(
        "users", "add", "cli-someone", "--name", "誰か", "--role", "staff", "--department", "nope"
    )
    assert missing.returncode == 1 and "no such department" in missing.stderr
    ok = gisapp(
        "users", "add", "cli-someone", "--name", "誰か", "--role", "staff", "--department", "test_cliuser"
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("cli-someone: ")
