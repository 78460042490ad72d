"""Real observation files replayed as a gauge's MQTT messages (see docs/mqtt.md, "Replaying").

- 気象庁 daily CSV (過去の気象データ・ダウンロード, CP932): each day has its total (降水量の合計) and its
  largest 10-minute rainfall (10分間降水量の最大), not when the rain fell. A day is rebuilt as one
  storm peaking at noon JST: the peak slot holds the day's largest 10-minute value, the others fall
  off linearly on both sides, and the day's 144 values add up to its total exactly (0.1 mm steps).
- 気象庁 AMeDAS point JSON (bosai ``/amedas/data/point/…``): ``precipitation10m`` at each time key.
- River water levels in the Code for FUKUI layout (``日時,河川水位,id``, JST, UTF-8 with BOM) for one
  station, and that station's four levels from ``sensors.csv`` as thresholds. A row timed ``24:00``
  (the end of a day, common in Japanese hydrological files) is 00:00 of the next day.

Each reading keeps its own time (JST in the files, converted to UTC) unless shifted.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

JST = timezone(timedelta(hours=9))
TEN_MINUTES = timedelta(minutes=10)
SLOTS_PER_DAY = 144
PEAK_SLOT = 72  # 12:00 JST


class ReplayError(ValueError):
    """A file that cannot be replayed, with the reason in Japanese and English."""


@dataclass(frozen=True)
class Reading:
    ts: datetime  # aware: the end of the 10-minute interval (rain) or the observation time (level)
    value: float


def _read_text(path: Path, encoding: str) -> str:
    try:
        return path.read_bytes().decode(encoding)
    except OSError as e:
        raise ReplayError(f"ファイルを読めません / cannot read {path}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise ReplayError(
            f"{path}: 文字コードが {encoding} ではありません / not {encoding} (byte {e.start})"
        ) from e


def _number(cell: str) -> float | None:
    cell = cell.replace("\u00a0", "").strip().rstrip(")]")  # JMA marks doubtful values as "12.5)"
    if not cell or cell.startswith("-"):
        return None  # "", "--", "---" (no value)
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# ----------------------------------------------------------------------------- JMA daily CSV
def day_profile(total: float, peak: float | None) -> list[float]:
    """144 ten-minute values (0.1 mm) adding up to `total`, with `peak` at noon and falling off
    linearly on both sides over about total/peak slots."""
    if total <= 0:
        return [0.0] * SLOTS_PER_DAY
    peak = min(peak if peak and peak > 0 else total / 6, total)
    half_width = max(1.0, total / peak)
    weights = [
        0.0 if i == PEAK_SLOT else max(0.0, 1 - abs(i - PEAK_SLOT) / half_width) for i in range(SLOTS_PER_DAY)
    ]
    rest = total - peak
    if rest > 0 and sum(weights) == 0:
        weights = [0.0 if i == PEAK_SLOT else 1.0 for i in range(SLOTS_PER_DAY)]
    scale = rest / sum(weights) if rest > 0 else 0.0
    exact = [peak if i == PEAK_SLOT else w * scale for i, w in enumerate(weights)]
    # Round to 0.1 mm on the running sum, so the day's total stays exact.
    out, running, shown = [], 0.0, 0.0
    for value in exact:
        running += value
        step = round(running - shown, 1)
        out.append(max(step, 0.0))
        shown += step
    return out


def jma_daily_csv(path: Path, first: date | None = None, last: date | None = None) -> list[Reading]:
    """10-minute rain rebuilt from a JMA daily download (see the module's note); days `first`..`last`."""
    rows = list(csv.reader(io.StringIO(_read_text(path, "cp932"))))
    header = next((r for r in rows[:8] if r and r[0] == "年月日"), None)
    if header is None or "降水量の合計(mm)" not in header:
        raise ReplayError(
            f"{path.name}: 気象庁の日別データ（年月日・降水量の合計）ではありません / "
            "not a JMA daily file with 年月日 and 降水量の合計(mm)"
        )
    total_col = header.index("降水量の合計(mm)")
    peak_col = header.index("10分間降水量の最大(mm)") if "10分間降水量の最大(mm)" in header else None
    out: list[Reading] = []
    for row in rows[rows.index(header) + 1 :]:
        try:
            day = datetime.strptime(row[0], "%Y/%m/%d").date()
        except (ValueError, IndexError):
            continue  # the sub-header lines
        if (first and day < first) or (last and day > last):
            continue
        total = _number(row[total_col]) if len(row) > total_col else None
        if total is None:
            continue  # not observed that day: nothing is sent (the gauge is silent, as it was)
        peak = _number(row[peak_col]) if peak_col is not None and len(row) > peak_col else None
        start = datetime(day.year, day.month, day.day, tzinfo=JST)
        for i, value in enumerate(day_profile(total, peak)):
            out.append(Reading((start + (i + 1) * TEN_MINUTES).astimezone(UTC), value))
    if not out:
        raise ReplayError(f"{path.name}: 対象期間に降水量がありません / no rainfall in the chosen days")
    return out


# ------------------------------------------------------------------------- AMeDAS point JSON
def amedas_point_json(path: Path) -> list[Reading]:
    try:
        doc = json.loads(_read_text(path, "utf-8"))
    except json.JSONDecodeError as e:
        raise ReplayError(f"{path.name}: JSONではありません / not JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ReplayError(f"{path.name}: アメダス地点JSONではありません / not an AMeDAS point JSON")
    out = []
    for key, element in sorted(doc.items()):
        try:
            ts = datetime.strptime(key, "%Y%m%d%H%M%S").replace(tzinfo=JST).astimezone(UTC)
        except ValueError as e:
            raise ReplayError(f"{path.name}: 時刻キー {key!r} が不正 / bad time key") from e
        pair = element.get("precipitation10m") if isinstance(element, dict) else None
        if isinstance(pair, list) and pair and isinstance(pair[0], int | float):
            out.append(Reading(ts, float(pair[0])))
    if not out:
        raise ReplayError(f"{path.name}: precipitation10m がありません / no precipitation10m values")
    return out


# ------------------------------------------------------------------------ river water levels
RIVER_LEVEL_COLUMNS = {  # sensors.csv column -> our level name
    "水防団待機水位": "水防団待機水位",
    "はん濫注意水位": "氾濫注意水位",
    "避難判断水位": "避難判断水位",
    "はん濫危険水位": "氾濫危険水位",
}


def river_levels(path: Path, station: str) -> list[Reading]:
    """One station's readings from a Code for FUKUI day file (日時 in JST without an offset)."""
    rows = list(csv.DictReader(io.StringIO(_read_text(path, "utf-8-sig"))))
    if not rows or not {"日時", "河川水位", "id"} <= set(rows[0]):
        raise ReplayError(
            f"{path.name}: 列 日時・河川水位・id がありません / expected columns 日時, 河川水位, id"
        )
    out = []
    for r in rows:
        if r["id"] != station:
            continue
        value = _number(r["河川水位"])
        if value is None:
            continue  # a missing reading stays missing
        ts = _river_time(r["日時"])
        if ts is None:
            raise ReplayError(f"{path.name}: 日時 {r['日時']!r} が不正 / bad time")
        out.append(Reading(ts, value))
    if not out:
        raise ReplayError(
            f"{path.name}: 観測所 {station} の水位がありません / no readings for station {station}"
        )
    return sorted(out, key=lambda x: x.ts)


def _river_time(cell: str) -> datetime | None:
    """``2023-07-13T07:20`` (JST) as UTC. ``24:00`` is the end of the day, as Japanese hydrological
    files write it: 00:00 of the next day (a datetime has no hour 24)."""
    day, sep, clock = cell.strip().partition("T")
    if sep and clock == "24:00":
        try:
            midnight = datetime.strptime(day, "%Y-%m-%d") + timedelta(days=1)
        except ValueError:
            return None
        return midnight.replace(tzinfo=JST).astimezone(UTC)
    try:
        return datetime.strptime(cell.strip(), "%Y-%m-%dT%H:%M").replace(tzinfo=JST).astimezone(UTC)
    except ValueError:
        return None


def river_thresholds(sensors_csv: Path, station: str) -> dict[str, float]:
    """The station's levels as gauge thresholds (the ones given; ``---`` means none)."""
    rows = csv.DictReader(io.StringIO(_read_text(sensors_csv, "utf-8-sig")))
    for r in rows:
        if r.get("id") == station:
            return {
                ours: v
                for theirs, ours in RIVER_LEVEL_COLUMNS.items()
                if (v := _number(r.get(theirs, ""))) is not None
            }
    raise ReplayError(f"{sensors_csv.name}: 観測所 {station} がありません / no station {station}")


def shifted(readings: list[Reading], end: datetime) -> list[Reading]:
    """The same series moved so its last reading falls at `end` (kept on 10-minute steps)."""
    end = end.replace(minute=end.minute - end.minute % 10, second=0, microsecond=0)
    delta = end - readings[-1].ts
    return [Reading(r.ts + delta, r.value) for r in readings]


def payload(kind: str, reading: Reading) -> bytes:
    field = "rain_10min_mm" if kind == "rain" else "level_m"
    return json.dumps({"ts": reading.ts.isoformat(), field: round(reading.value, 3)}).encode()
