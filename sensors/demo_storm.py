"""The demo storm as gauge readings around "now": what has fallen is stored by the demo loader, the rest
is published live by the simulator (``python -m sensors.simulate --story``) when its time comes.

- Rain: the heaviest day of a real 気象庁 daily file (rebuilt as 10-minute values by sensors/replay.py),
  time-shifted so that "now" falls 20 minutes before its peak, and scaled per gauge (how hard the
  storm hits there). Without the file: the simulator's own storm (``sensors.simulate.STORM_MM``).
- River: a real 福井県 station's recorded levels (Code for FUKUI), whose file starts at a flood's crest
  and holds its falling limb; mirrored about the crest it gives the rising limb too. Its values are mapped piecewise-linearly from that
  station's four levels onto the demo gauge's (the station's 避難判断水位 becomes the demo gauge's),
  interpolated to 10-minute steps, and shifted so the gauge is past 避難判断水位 now and reaches
  氾濫危険水位 about 40 minutes later. Without the file: the same shape drawn from the simulator's
  river model (level answering the rain).

Pure: no database, no broker. ``build`` answers every reading with its time; the caller splits them.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sensors import replay as files
from sensors.replay import Reading
from sensors.simulate import STORM_MM
from sensors.thresholds import WATER_LEVELS

TEN_MINUTES = timedelta(minutes=10)
JMA_DAILY = Path("observations/jma/data20221020-20231019.csv")
RIVER_DAY = Path("observations/fukui_waterlevel/2023-07-13.csv")
RIVER_STATIONS = Path("observations/fukui_waterlevel/sensors.csv")
RIVER_STATION = "9"  # four levels given, and its recorded levels pass all of them
RAIN_STEPS_BEFORE_PEAK = 2  # "now" is the 10-minute step two before the heaviest one
RIVER_STEPS_TO_DANGER = 4  # 氾濫危険水位 is reached four steps (40 min) after "now"
# How hard the storm hits each demo rain gauge (大山 in the hills hardest); others 0.5.
RAIN_FACTORS = {"RG01": 1.1, "RG02": 1.0, "RG03": 0.8, "RG04": 0.6, "RG05": 0.9}
# The first water gauge follows the river record; the others answer the rain, peaking at this level.
SECOND_RIVER_PEAK = "氾濫注意水位"


@dataclass(frozen=True)
class Gauge:
    device_id: str
    kind: str  # rain_gauge | water_gauge
    thresholds: dict


@dataclass(frozen=True)
class Storm:
    readings: dict[str, list[Reading]]  # device id -> its readings, oldest first
    source_ja: str
    source_en: str
    notice: str | None  # set when the real files were missing (the built-in storm is used)


def heaviest_day(path: Path) -> date:
    """The day with the largest 降水量の合計 in a JMA daily file."""
    totals: dict[date, float] = defaultdict(float)
    for r in files.jma_daily_csv(path):
        totals[(r.ts - TEN_MINUTES).astimezone(files.JST).date()] += r.value
    return max(sorted(totals), key=lambda d: totals[d])


def _shift(values: list[float], now_index: int, now: datetime) -> list[Reading]:
    start = now - now_index * TEN_MINUTES
    return [Reading(start + i * TEN_MINUTES, v) for i, v in enumerate(values)]


def _interpolate(readings: list[Reading]) -> list[float]:
    """Readings at irregular times -> values at every 10 minutes from the first (linear)."""
    out, t, i = [], readings[0].ts, 0
    while t <= readings[-1].ts:
        while readings[i + 1].ts < t:
            i += 1
        a, b = readings[i], readings[min(i + 1, len(readings) - 1)]
        span = (b.ts - a.ts).total_seconds()
        k = (t - a.ts).total_seconds() / span if span else 0.0
        out.append(a.value + (b.value - a.value) * k)
        t += TEN_MINUTES
    return out


def map_levels(value: float, source: dict[str, float], target: dict[str, float]) -> float:
    """A level of one gauge on another's scale: piecewise linear through their named levels (and 0)."""
    names = [n for n in WATER_LEVELS if n in source and n in target]
    xs = [0.0, *(source[n] for n in names)]
    ys = [0.0, *(target[n] for n in names)]
    for k in range(1, len(xs)):
        if value <= xs[k] or k == len(xs) - 1:
            slope = (ys[k] - ys[k - 1]) / (xs[k] - xs[k - 1])
            return ys[k - 1] + (value - xs[k - 1]) * slope
    return value  # no levels to map through


def _river_from_file(shared: Path, target: dict[str, float]) -> list[float]:
    station = files.river_thresholds(shared / RIVER_STATIONS, RIVER_STATION)
    falling = files.river_levels(shared / RIVER_DAY, RIVER_STATION)
    crest = falling[0].ts  # the file starts at the crest: mirrored about it, the fall is the rise too
    rising = [Reading(crest - (r.ts - crest), r.value) for r in reversed(falling[1:])]
    return [round(map_levels(v, station, target), 2) for v in _interpolate(rising + falling)]


def river_response(rain: list[float], target: dict[str, float], peak_level: str) -> list[float]:
    """The simulator's river model (level = base + 0.85 × the last rise + rain), scaled so its
    highest point sits just above the gauge's ``peak_level``."""
    base = max(0.3, min(target.values()) - 0.5) if target else 0.8
    rise, curve = 0.0, []
    for mm in rain:
        rise = rise * 0.85 + mm
        curve.append(rise)
    top = max(curve) or 1.0
    peak = target.get(peak_level, base + 1.0) + 0.1
    return [round(base + (peak - base) * c / top, 2) for c in curve]


def _first_at_or_above(values: list[float], limit: float) -> int:
    return next((i for i, v in enumerate(values) if v >= limit), len(values) - 1)


def build(now: datetime, gauges: list[Gauge], shared: Path | None) -> Storm:
    """Every reading of the demo storm for ``gauges``, placed around ``now`` (see the module's note):
    each gauge has a reading at ``now`` and every 10 minutes before and after it."""
    notice = None
    real = shared is not None and all((shared / p).exists() for p in (JMA_DAILY, RIVER_DAY, RIVER_STATIONS))
    if real:
        day = heaviest_day(shared / JMA_DAILY)
        rain = [r.value for r in files.jma_daily_csv(shared / JMA_DAILY, day, day)]
        river = station_names(shared).get(RIVER_STATION, RIVER_STATION)
        source_ja = (
            f"雨: 気象庁 東京 {day:%Y年%-m月%-d日} の日降水量（10分値に再構成）、"
            f"水位: 福井県 {river} 2023年7月13日（折り返して上昇側に）を現在時刻へずらして再生"
        )
        source_en = (
            f"rain: JMA Tokyo {day.isoformat()} (daily record rebuilt as 10-minute values); river: Fukui "
            f"station {RIVER_STATION} on 2023-07-13 (mirrored for the rise); both time-shifted to now"
        )
    else:
        rain = [0.0] * 12 + [float(v) for v in STORM_MM] + [0.0] * 12
        source_ja, source_en = "内蔵の模擬豪雨（シミュレーター）", "the simulator's built-in storm"
        notice = (
            f"観測データ（{shared or '../shared/data'}）がないため内蔵の模擬豪雨を使います / "
            f"no observation files in {shared or '../shared/data'}: using the simulator's built-in storm"
        )
    peak = max(range(len(rain)), key=lambda i: rain[i])
    rain_now = peak - RAIN_STEPS_BEFORE_PEAK
    out: dict[str, list[Reading]] = {}
    waters = [g for g in gauges if g.kind == "water_gauge"]
    for g in gauges:
        if g.kind == "rain_gauge":
            factor = RAIN_FACTORS.get(g.device_id, 0.5)
            out[g.device_id] = _shift([round(v * factor, 1) for v in rain], rain_now, now)
    for i, g in enumerate(waters):
        levels = {k: float(v) for k, v in g.thresholds.items() if k in WATER_LEVELS}
        if i == 0:
            values = (
                _river_from_file(shared, levels)
                if real and shared is not None
                else river_response(rain, levels, "氾濫危険水位")
            )
            danger = levels.get("氾濫危険水位", max(values))
            # Past 避難判断水位 now, and 氾濫危険水位 within RIVER_STEPS_TO_DANGER steps.
            river_now = max(
                _first_at_or_above(values, levels.get("避難判断水位", danger)),
                _first_at_or_above(values, danger) - RIVER_STEPS_TO_DANGER,
            )
            out[g.device_id] = _shift(values, river_now, now)
        else:
            out[g.device_id] = _shift(river_response(rain, levels, SECOND_RIVER_PEAK), rain_now, now)
    return Storm(out, source_ja, source_en, notice)


def station_names(shared: Path) -> dict[str, str]:
    """Station id -> 河川名 観測所名, for saying where the river record comes from."""
    text = (shared / RIVER_STATIONS).read_bytes().decode("utf-8-sig")
    return {r["id"]: f"{r['河川名']} {r['観測所名']}" for r in csv.DictReader(io.StringIO(text))}
