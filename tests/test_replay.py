"""Real observation files (../shared/data/observations) replayed through the gauge simulator, the
real broker and the worker: a 気象庁 daily file as a rain gauge, a 福井県 river station as a water gauge."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime

import pytest

from sensors import replay as files
from sensors.registry import DeviceKind, DeviceSpec
from sensors.simulate import replay
from tests.support import register_devices, shared_data, wait_until
from tests.test_gauges import alerts, rows, state

JMA_DAILY = ("observations", "jma", "data20221020-20231019.csv")
AMEDAS = ("observations", "jma", "jma-point-14163-20261004_21.json")
RIVER = ("observations", "fukui_waterlevel", "2023-07-13.csv")
STATIONS = ("observations", "fukui_waterlevel", "sensors.csv")


def test_a_day_is_rebuilt_with_its_total_and_its_largest_ten_minutes():
    v = files.day_profile(3.0, 1.0)
    assert len(v) == 144 and round(sum(v), 1) == 3.0
    assert v[72] == 1.0 and max(v) == 1.0  # the peak at 12:00 JST
    assert v[:70] == [0.0] * 70 and v[75:] == [0.0] * 69  # ±2 slots around it: 1/3, 2/3 of the rest each side
    assert files.day_profile(0.0, None) == [0.0] * 144


def test_jma_daily_file(tmp_path):
    path = shared_data(*JMA_DAILY)
    day = files.jma_daily_csv(path, date(2023, 6, 2), date(2023, 6, 2))  # 東京: 168.5 mm, 20.5 mm in 10 min
    assert len(day) == 144
    assert round(sum(r.value for r in day), 1) == 168.5
    assert max(r.value for r in day) == 20.5
    first, last = (r.ts.astimezone(files.JST) for r in (day[0], day[-1]))
    assert (first.hour, first.minute, last.day, last.hour) == (0, 10, 3, 0)  # 00:10 … 24:00 JST
    assert len(files.jma_daily_csv(path)) == 365 * 144  # every day of the file has a total
    with pytest.raises(files.ReplayError, match="not cp932"):
        files.jma_daily_csv(shared_data(*STATIONS))  # UTF-8 with a BOM
    other = tmp_path / "other.csv"
    other.write_bytes("年月日,平均気温(℃)\n2023/6/2,20.1\n".encode("cp932"))
    with pytest.raises(files.ReplayError, match="not a JMA daily file"):
        files.jma_daily_csv(other)


def test_amedas_point_json():
    (reading,) = files.amedas_point_json(shared_data(*AMEDAS))
    assert reading.ts == datetime.fromisoformat("2026-10-04T21:00:00+09:00") and reading.value == 0.0


def test_river_station_levels_and_thresholds():
    # Station 2 (荒川・河増): 避難判断水位 is "--- " in the file, so it has three levels.
    assert files.river_thresholds(shared_data(*STATIONS), "2") == {
        "水防団待機水位": 2.5,
        "氾濫注意水位": 2.7,
        "氾濫危険水位": 3.6,
    }
    readings = files.river_levels(shared_data(*RIVER), "9")
    assert [r.value for r in readings[:5]] == [2.02, 2.01, 1.99, 1.92, 1.31]
    with pytest.raises(files.ReplayError, match="no readings for station 999"):
        files.river_levels(shared_data(*RIVER), "999")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sensors.simulate",
            "--river-thresholds",
            str(shared_data(*STATIONS)),
            "--station",
            "9",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert '"氾濫危険水位": 2.0' in out.stdout


def test_replayed_files_reach_the_gauge_state_and_alerts(settings, app_engine, worker):
    station = files.river_thresholds(shared_data(*STATIONS), "9")  # 1.2 / 1.5 / 1.8 / 2.0 m
    # Every crossing as the file has it: no hold before a level falls (hysteresis is tested in
    # tests/test_gauge_alerts.py; here the replay's path through the worker is).
    no_hold = {"hysteresis": {"hold_minutes": 0}}
    specs = [
        DeviceSpec("RP-W9", DeviceKind.water_gauge, "足羽川 station 9", 136.2, 36.06, thresholds={**station, **no_hold}),
        DeviceSpec(
            "RP-TKY", DeviceKind.rain_gauge, "東京", 139.75, 35.69,
            thresholds={"continuous_mm": {"注意": 100, "警戒": 150}, **no_hold},
        ),
    ]  # fmt: skip
    creds = register_devices(settings, app_engine, specs)

    levels = files.river_levels(shared_data(*RIVER), "9")
    assert replay("RP-W9", creds["RP-W9"], "level", levels, "127.0.0.1", settings.mqtt_port, 500) == len(
        levels
    )
    rain = files.jma_daily_csv(shared_data(*JMA_DAILY), date(2023, 6, 2), date(2023, 6, 2))
    assert replay("RP-TKY", creds["RP-TKY"], "rain", rain, "127.0.0.1", settings.mqtt_port, 500) == 144

    def stored(device: str) -> int:
        return rows(
            app_engine, "SELECT count(*) AS n FROM sensor.observation WHERE device_id = :d", d=device
        )[0].n

    wait_until(lambda: stored("RP-W9") == len(levels) and stored("RP-TKY") == 144, 30)
    # By hand from the file: 2.02 ≥ 2.0 (危険), 1.99 ≥ 1.8 (避難判断), 1.31 ≥ 1.2 (待機), 1.13 < 1.2.
    assert [(a[1], a[2], a[3]) for a in alerts(app_engine, "RP-W9")] == [
        (None, "氾濫危険水位", 2.02),
        ("氾濫危険水位", "避難判断水位", 1.99),
        ("避難判断水位", "水防団待機水位", 1.31),
        ("水防団待機水位", None, 1.13),
    ]
    # 168.5 mm in one storm around noon: past 100 mm, past 150 mm, and reset 6 h after the last rain.
    assert [(a[0], a[1], a[2]) for a in alerts(app_engine, "RP-TKY")] == [
        ("continuous_mm", None, "注意"),
        ("continuous_mm", "注意", "警戒"),
        ("continuous_mm", "警戒", None),
    ]
    assert state(app_engine, "RP-TKY").continuous == 0
    peak = rows(
        app_engine,
        "SELECT max(value) AS v, sum(value) AS s FROM sensor.observation WHERE device_id = 'RP-TKY'",
    )
    assert (peak[0].v, round(peak[0].s, 1)) == (20.5, 168.5)


def test_wrong7_river_rows_timed_24_00_are_the_next_midnight(tmp_path, settings, app_engine, worker):
    """Issue 14, Wrong 7: a river file of the same source with rows timed 24:00 (the end of a day, as
    Japanese hydrological files write it) is replayed whole: 24:00 is 00:00 of the next day, nothing is
    refused, and every reading reaches the gauge through the CLI, the broker and the worker."""
    day_file = tmp_path / "2023-07-13.csv"
    day_file.write_bytes(
        "\ufeff日時,河川水位,id\n"
        "2023-07-13T23:40,1.10,9\n2023-07-13T23:50,1.12,9\n2023-07-13T24:00,1.15,9\n"
        "2023-07-13T24:00,3.00,2\n2023-07-14T00:10,1.18,9\n".encode()
    )
    readings = files.river_levels(day_file, "9")
    assert [(r.ts.isoformat(), r.value) for r in readings] == [
        ("2023-07-13T14:40:00+00:00", 1.10),
        ("2023-07-13T14:50:00+00:00", 1.12),
        ("2023-07-13T15:00:00+00:00", 1.15),  # 24:00 JST on the 13th = 00:00 JST on the 14th
        ("2023-07-13T15:10:00+00:00", 1.18),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_bytes("日時,河川水位,id\n2023-07-13T24:10,1.0,9\n".encode())
    with pytest.raises(files.ReplayError, match="bad time"):  # only 24:00 is the end of a day
        files.river_levels(bad, "9")

    creds = register_devices(
        settings, app_engine, [DeviceSpec("RP-W24", DeviceKind.water_gauge, "24時 station", 136.2, 36.06)]
    )
    out = subprocess.run(
        [sys.executable, "-m", "sensors.simulate", "--gauge", "RP-W24", "--password", creds["RP-W24"],
         "--port", str(settings.mqtt_port), "--station", "9", "--replay-river", str(day_file)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "4/4 readings published" in out.stdout

    def stored() -> list:
        return rows(
            app_engine,
            "SELECT device_ts, value FROM sensor.observation WHERE device_id = 'RP-W24' ORDER BY device_ts",
        )

    wait_until(lambda: len(stored()) == 4, 20)
    assert [(r.device_ts.isoformat(), r.value) for r in stored()][2] == ("2023-07-13T15:00:00+00:00", 1.15)
