"""Gauge observations -> rolling sums, levels and alerts, all in the caller's transaction.

The sums are computed in SQL from the stored observations (never kept as running totals), so a
redelivered or late message gives the same result as an orderly stream:

- 10-minute rain = the latest 10-minute value at or before the evaluation time ``T``;
- 60-minute rain = the sum of the values in ``(T - 60 min, T]`` (the six 10-minute values);
- 連続雨量 (continuous) = the sum of the wet values (> 0) since the rain began, where a spell ends
  after a dry gap of ``reset_hours`` (thresholds JSON, default 6): the gap between two wet values
  is ``t2 - 10 min - t1`` (the second covers the 10 minutes before ``t2``), and the spell is over
  (continuous = 0) once ``T - last wet >= reset_hours``.

The sums are taken in numeric (each double read to its 15 significant digits: 21.7 as 21.7), so ten
10-minute values of 21.7 mm make 217 mm, not 216.99999999999994: the number a threshold of 217 is
compared with, stored, pushed and shown (issue 14, Wrong 6).

``T`` is the newest observation of the gauge, so a late message recomputes the current state.
Levels are evaluated per measure, highest first (see ``sensors.thresholds``). A level rises at once;
it falls only when every value in the hold window ``(T - hold_minutes, T]`` is below the threshold
minus the measure's margin (``sensors.thresholds.settle``): the window's values are the same sums,
recomputed at each stored observation time in it, so a late message still gives the same result as
an orderly stream. Each change of level, up or down, inserts a ``sensor.alert`` row (its
警戒レベル相当 is filled in by a trigger from ``ops.alert_level_rule``, migration 0024), whose trigger
NOTIFYs ``gisapp_events``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from ingest.payloads import GaugeObservation
from sensors.thresholds import hysteresis, lowered, rain_levels, rank, settle, water_levels

DEFAULT_RESET_HOURS = 6.0

_INSERT = text(
    """INSERT INTO sensor.observation (device_id, kind, device_ts, value)
       VALUES (:device_id, :kind, :device_ts, :value)
       ON CONFLICT (device_id, kind, device_ts) DO NOTHING
       RETURNING 1"""
)

_DEVICES = text("SELECT id, kind, thresholds FROM sensor.device WHERE enabled AND id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)

_NEW_STATE = text("INSERT INTO sensor.gauge_state (device_id) VALUES (:d) ON CONFLICT (device_id) DO NOTHING")
_STATE = text("SELECT as_of, levels FROM sensor.gauge_state WHERE device_id = :d FOR UPDATE")

_LATEST = text("SELECT max(device_ts) FROM sensor.observation WHERE device_id = :d AND kind = :k")

_RAIN = text(
    """WITH obs AS (
         SELECT device_ts, value FROM sensor.observation
          WHERE device_id = :d AND kind = 'rain_10min' AND device_ts <= :t),
       wet AS (
         SELECT device_ts, value,
                device_ts - interval '10 minutes' - lag(device_ts) OVER (ORDER BY device_ts) AS dry_before
           FROM obs WHERE value > 0),
       spell AS (
         SELECT max(device_ts) AS since FROM wet WHERE dry_before IS NULL OR dry_before >= :reset),
       last_wet AS (SELECT max(device_ts) AS at FROM wet)
       SELECT (SELECT value FROM obs ORDER BY device_ts DESC LIMIT 1) AS rain_10min,
              (SELECT CAST(coalesce(sum(CAST(value AS numeric)), 0) AS float8) FROM obs
                WHERE device_ts > :t - interval '60 minutes') AS rain_60min,
              CASE WHEN l.at IS NULL OR :t - l.at >= :reset THEN 0
                   ELSE (SELECT CAST(sum(CAST(value AS numeric)) AS float8) FROM wet
                          WHERE device_ts >= s.since) END AS continuous,
              CASE WHEN l.at IS NULL OR :t - l.at >= :reset THEN NULL
                   ELSE s.since - interval '10 minutes' END AS continuous_since
         FROM spell s, last_wet l"""
)

_LEVEL = text(
    """SELECT value FROM sensor.observation
        WHERE device_id = :d AND kind = 'level' AND device_ts <= :t
        ORDER BY device_ts DESC LIMIT 1"""
)

_UPDATE_STATE = text(
    """UPDATE sensor.gauge_state
          SET as_of = :t, rain_10min = :rain_10min, rain_60min = :rain_60min,
              continuous = :continuous, continuous_since = :continuous_since, level = :level,
              levels = :levels, updated_at = now()
        WHERE device_id = :d"""
).bindparams(bindparam("levels", type_=JSONB))

_ALERT = text(
    """INSERT INTO sensor.alert (device_id, measure, level_from, level_to, value, at)
       VALUES (:d, :measure, :level_from, :level_to, :value, :at)"""
)


def device_kinds(conn: Connection, ids: set[str]) -> dict[str, str]:
    """Enabled devices among ``ids`` -> their kind."""
    if not ids:
        return {}
    return {r.id: r.kind for r in conn.execute(_DEVICES, {"ids": sorted(ids)})}


def record_observations(conn: Connection, observations: Sequence[GaugeObservation]) -> int:
    """Store the observations and update state and alerts; returns how many were new."""
    if not observations:
        return 0
    devices = {r.id: r for r in conn.execute(_DEVICES, {"ids": sorted({o.device_id for o in observations})})}
    new = 0
    # One at a time in device-time order, each evaluated before the next is stored, so every
    # crossing within a batch is seen.
    for o in sorted(observations, key=lambda o: (o.device_id, o.device_ts)):
        if conn.execute(_INSERT, asdict(o)).first() is None:
            continue  # a redelivery: already stored and evaluated
        new += 1
        device = devices.get(o.device_id)
        if device is not None:
            # A thresholds document of the wrong shape means "no thresholds", never a stuck worker.
            thresholds = device.thresholds if isinstance(device.thresholds, dict) else {}
            _evaluate(conn, device.id, device.kind, thresholds, o)
    return new


def reset_hours(thresholds: dict[str, Any]) -> float:
    """The dry gap that ends a spell of rain; a missing or unusable value means the default."""
    value = thresholds.get("reset_hours")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 24 * 7:
        return float(value)
    return DEFAULT_RESET_HOURS


def _rain_measures(row: Any) -> dict[str, float | None]:
    return {"10min_mm": row.rain_10min, "60min_mm": row.rain_60min, "continuous_mm": row.continuous}


def _window_levels(
    conn: Connection, device_id: str, kind: str, thresholds: dict, at: datetime
) -> list[tuple[dict[str, str | None], dict[str, str | None]]]:
    """At each stored time of the hold window ``(T - hold, T]`` (``T`` always in it): the levels per
    measure against the thresholds, and against the thresholds lowered by the margins. The sums at
    each time come from one query by the same definitions as the state (``_RAIN_SERIES``)."""
    settings = hysteresis(thresholds)
    low = lowered(kind, thresholds, settings.margin)
    since = at - max(timedelta(minutes=settings.hold_minutes), timedelta(microseconds=1))
    if kind == "water_gauge":
        levels = [p["level"] for p in level_series(conn, device_id, since, at)]
        return [(water_levels(thresholds, v)[0], water_levels(low, v)[0]) for v in levels]
    found = []
    for p in rain_series(conn, device_id, thresholds, since, at):
        measures = {
            "10min_mm": p["rain_10min"],
            "60min_mm": p["rain_60min"],
            "continuous_mm": p["continuous"],
        }
        found.append((rain_levels(thresholds, measures)[0], rain_levels(low, measures)[0]))
    return found


def _evaluate(conn: Connection, device_id: str, kind: str, thresholds: dict, o: GaugeObservation) -> None:
    conn.execute(_NEW_STATE, {"d": device_id})
    state = conn.execute(_STATE, {"d": device_id}).one()
    latest = conn.execute(_LATEST, {"d": device_id, "k": o.kind}).scalar_one()
    at: datetime = max(o.device_ts, latest)
    values: dict[str, Any] = {
        "rain_10min": None, "rain_60min": None, "continuous": None, "continuous_since": None, "level": None,
    }  # fmt: skip
    if kind == "rain_gauge" and o.kind == "rain_10min":
        reset = timedelta(hours=reset_hours(thresholds))
        row = conn.execute(_RAIN, {"d": device_id, "t": at, "reset": reset}).one()
        values.update(row._asdict())
        new_levels, shown = rain_levels(thresholds, _rain_measures(row))
    elif kind == "water_gauge" and o.kind == "level":
        values["level"] = conn.execute(_LEVEL, {"d": device_id, "t": at}).scalar_one()
        new_levels, shown = water_levels(thresholds, values["level"])
    else:
        return  # the worker dead-letters wrong kinds before they get here
    old_levels: dict[str, str | None] = state.levels or {}
    # The window is read only when it can matter: a level would fall, or a late message may have
    # changed the values of the window (in an orderly stream that does not fall, the level is now's).
    falling = [m for m, level in new_levels.items() if rank(level) < rank(old_levels.get(m))]
    if falling or o.device_ts < at:
        window = _window_levels(conn, device_id, kind, thresholds, at)
        for m in new_levels:
            raw = [w[0].get(m) for w in window]
            low = [w[1].get(m) for w in window]
            new_levels[m] = settle(old_levels.get(m), [*raw, new_levels[m]], low)
    for measure, level in new_levels.items():
        if old_levels.get(measure) != level:
            conn.execute(
                _ALERT,
                {
                    "d": device_id,
                    "measure": measure,
                    "level_from": old_levels.get(measure),
                    "level_to": level,
                    "value": shown[measure],
                    "at": at,
                },
            )
    conn.execute(_UPDATE_STATE, {"d": device_id, "t": at, "levels": new_levels, **values})


# The same definitions as _RAIN, for every stored 10-minute value in (since, until] at once (the
# chart): the spell is numbered by its wet values whose dry gap before them is at least reset, the
# 60-minute window is (t - 60 min, t] (RANGE is inclusive, so 1 µs less than 60 minutes, the
# resolution of timestamptz).
_RAIN_SERIES = text(
    """WITH obs AS (
         SELECT device_ts, value FROM sensor.observation
          WHERE device_id = :d AND kind = 'rain_10min' AND device_ts <= :until),
       marked AS (
         SELECT device_ts, value, CASE WHEN value > 0 THEN device_ts END AS wet_at,
                CASE WHEN value > 0 THEN device_ts - interval '10 minutes'
                     - lag(device_ts) OVER (PARTITION BY value > 0 ORDER BY device_ts) END AS dry_before
           FROM obs),
       spells AS (
         SELECT device_ts, value, wet_at,
                count(*) FILTER (WHERE wet_at IS NOT NULL AND (dry_before IS NULL OR dry_before >= :reset))
                  OVER w AS spell,
                max(wet_at) OVER w AS last_wet
           FROM marked WINDOW w AS (ORDER BY device_ts)),
       sums AS (
         SELECT device_ts, value, last_wet,
                CAST(sum(CAST(value AS numeric)) FILTER (WHERE value > 0)
                       OVER (PARTITION BY spell ORDER BY device_ts) AS float8) AS spell_sum,
                CAST(sum(CAST(value AS numeric)) OVER (ORDER BY device_ts
                                 RANGE BETWEEN interval '59 minutes 59.999999 seconds' PRECEDING AND CURRENT ROW)
                     AS float8) AS rain_60min
           FROM spells)
       SELECT device_ts AS at, value AS rain_10min, rain_60min,
              CASE WHEN last_wet IS NULL OR device_ts - last_wet >= :reset THEN 0
                   ELSE coalesce(spell_sum, 0) END AS continuous
         FROM sums WHERE device_ts > :since ORDER BY device_ts"""
)

_LEVEL_SERIES = text(
    """SELECT device_ts AS at, value AS level FROM sensor.observation
        WHERE device_id = :d AND kind = 'level' AND device_ts > :since AND device_ts <= :until
        ORDER BY device_ts"""
)


def rain_series(
    conn: Connection, device_id: str, thresholds: dict[str, Any], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Each stored 10-minute value in ``(since, until]`` with the 60-minute sum and the 連続雨量 at
    its time, by the definitions above (what the gauge's state was, or would have been, then)."""
    params = {
        "d": device_id,
        "since": since,
        "until": until,
        "reset": timedelta(hours=reset_hours(thresholds)),
    }
    return [r._asdict() for r in conn.execute(_RAIN_SERIES, params)]


def level_series(conn: Connection, device_id: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Each stored water level in ``(since, until]``."""
    return [
        r._asdict() for r in conn.execute(_LEVEL_SERIES, {"d": device_id, "since": since, "until": until})
    ]
