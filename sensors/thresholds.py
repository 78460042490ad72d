"""Which level a gauge is at, from its ``thresholds`` JSON (sensor.device.thresholds).

Rain gauge::

    {"10min_mm": {"注意": 10, "警戒": 15, "危険": 20},
     "60min_mm": {"注意": 20, "警戒": 30, "危険": 50},
     "continuous_mm": {"注意": 100, "警戒": 150, "危険": 200},
     "reset_hours": 6,
     "combinations": [
       {"all": [{"measure": "continuous_mm", "gte": 150}, {"measure": "60min_mm", "gte": 20}],
        "level": "警戒"}]}

Water gauge: ``{"水防団待機水位": 1.2, "氾濫注意水位": 1.8, "避難判断水位": 2.2, "氾濫危険水位": 2.6}``.

A measure is at the level with the highest threshold that its value reaches (``>=``); below all of
them its level is ``None``. The combination rules together form the measure ``combined``: the rule
with the most severe level (注意 < 警戒 < 危険) whose conditions all hold wins.

Hysteresis (both kinds, optional; these are the defaults)::

    "hysteresis": {"hold_minutes": 30, "margin": {"60min_mm": 0, "level_m": 0}}

A level rises at once, but falls only once every value of the last ``hold_minutes`` (device time,
the window ``(T - hold, T]``: three 10-minute values for 30 minutes) is below its threshold, and
(with a ``margin``, in the measure's unit: mm, or m for ``level_m``; a combination rule's conditions
use their measures' margins) below the threshold minus the margin. It then falls to the highest
level those values still reach, so a value oscillating around a threshold does not flap
警戒→注意→警戒 (解除 as practised: after the value has stayed below for a while). Without a margin
the level is a function of the stored values alone (the highest level of the window), so late and
redelivered messages end in the same state as an orderly stream; the margin band depends on the
level the gauge came from. ``hold_minutes: 0`` with no margin is the old behaviour: every crossing
is a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RAIN_MEASURES = ("10min_mm", "60min_mm", "continuous_mm")
RAIN_LEVELS = ("注意", "警戒", "危険")
WATER_LEVELS = ("水防団待機水位", "氾濫注意水位", "避難判断水位", "氾濫危険水位")
WATER_MEASURE = "level_m"
COMBINED = "combined"
DEFAULT_HOLD_MINUTES = 30.0
MAX_HOLD_MINUTES = 24 * 60

Levels = dict[str, str | None]
Values = dict[str, float | None]


def highest(limits: dict[str, Any], value: float | None) -> str | None:
    """The level whose threshold is the highest one ``value`` reaches; evaluated highest first."""
    if value is None:
        return None
    numeric = [(v, k) for k, v in limits.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    for limit, name in sorted(numeric, reverse=True):
        if value >= limit:
            return name
    return None


def rain_levels(thresholds: dict[str, Any], measures: Values) -> tuple[Levels, Values]:
    """(measure -> level, measure -> the value shown in an alert) for the measures with thresholds."""
    levels: Levels = {}
    shown: Values = {}
    for measure in RAIN_MEASURES:
        if isinstance(thresholds.get(measure), dict):
            levels[measure] = highest(thresholds[measure], measures.get(measure))
            shown[measure] = measures.get(measure)
    rules = [r for r in thresholds.get("combinations") or [] if _valid_rule(r)]
    if rules:
        rules.sort(key=lambda r: _rank(r["level"]), reverse=True)
        hit = next((r for r in rules if all(_holds(c, measures) for c in r["all"])), None)
        levels[COMBINED] = hit["level"] if hit else None
        # The alert shows the value of the first condition of the deciding (or most severe) rule.
        shown[COMBINED] = measures.get((hit or rules[0])["all"][0]["measure"])
    return levels, shown


def water_levels(thresholds: dict[str, Any], level: float | None) -> tuple[Levels, Values]:
    limits = {k: v for k, v in thresholds.items() if k in WATER_LEVELS}
    return {WATER_MEASURE: highest(limits, level)}, {WATER_MEASURE: level}


def _rank(level: str) -> int:
    return RAIN_LEVELS.index(level) if level in RAIN_LEVELS else -1


def rank(level: str | None) -> int:
    """Severity of a level name of either kind: -1 for None (below every threshold)."""
    if level in RAIN_LEVELS:
        return RAIN_LEVELS.index(level)
    if level in WATER_LEVELS:
        return WATER_LEVELS.index(level)
    return -1


@dataclass(frozen=True)
class Hysteresis:
    hold_minutes: float = DEFAULT_HOLD_MINUTES
    margin: dict[str, float] = field(default_factory=dict)  # measure -> margin in its unit


def hysteresis(thresholds: dict[str, Any]) -> Hysteresis:
    """The device's hysteresis settings; a missing or unusable value means its default (a stored
    document is validated on the way in, but a worker never stops on a bad one)."""
    doc = thresholds.get("hysteresis")
    if not isinstance(doc, dict):
        return Hysteresis()
    hold = doc.get("hold_minutes")
    hold = float(hold) if _number(hold) and 0 <= hold <= MAX_HOLD_MINUTES else DEFAULT_HOLD_MINUTES
    margins = doc.get("margin") if isinstance(doc.get("margin"), dict) else {}
    return Hysteresis(hold, {k: float(v) for k, v in margins.items() if _number(v) and v >= 0})


def lowered(kind: str, thresholds: dict[str, Any], margin: dict[str, float]) -> dict[str, Any]:
    """The thresholds with each limit lowered by its measure's margin (what a falling value must
    go below)."""
    if not any(margin.values()):
        return thresholds
    doc = dict(thresholds)
    if kind == "water_gauge":
        m = margin.get(WATER_MEASURE, 0.0)
        return {k: (v - m if k in WATER_LEVELS and _number(v) else v) for k, v in doc.items()}
    for measure in RAIN_MEASURES:
        if isinstance(doc.get(measure), dict):
            m = margin.get(measure, 0.0)
            doc[measure] = {k: (v - m if _number(v) else v) for k, v in doc[measure].items()}
    rules = []
    for r in doc.get("combinations") or []:
        if _valid_rule(r):
            r = {**r, "all": [{**c, "gte": c["gte"] - margin.get(c["measure"], 0.0)} for c in r["all"]]}
        rules.append(r)
    doc["combinations"] = rules
    return doc


def settle(current: str | None, raw: list[str | None], low: list[str | None]) -> str | None:
    """The level after hysteresis, from the window's levels (each stored time in ``(T - hold, T]``,
    ``T`` included): ``raw`` against the thresholds, ``low`` against the thresholds lowered by the
    margins. The highest raw level of the window (a rise counts at once, a fall only once the whole
    window is below), or the ``current`` level while the window still reaches it with the lowered
    thresholds (never above ``current``: the margin only delays a fall)."""
    held = max(raw, key=rank, default=None)
    kept = max(low, key=rank, default=None)
    margin_hold = current if rank(kept) >= rank(current) else kept
    return held if rank(held) >= rank(margin_hold) else margin_hold


def _valid_rule(rule: Any) -> bool:
    return (
        isinstance(rule, dict)
        and isinstance(rule.get("level"), str)
        and isinstance(rule.get("all"), list)
        and bool(rule["all"])
        and all(isinstance(c, dict) and c.get("measure") in RAIN_MEASURES and isinstance(c.get("gte"), int | float)
                for c in rule["all"])
    )  # fmt: skip


def _holds(condition: dict[str, Any], measures: Values) -> bool:
    value = measures.get(condition["measure"])
    return value is not None and value >= condition["gte"]


class ThresholdError(ValueError):
    """A thresholds document that cannot be used, with the reason in Japanese and English."""


def validate(kind: str, doc: Any) -> dict[str, Any]:
    """The thresholds document for a device of `kind`, checked: known keys only, numbers where
    numbers belong, and levels in order (注意 ≤ 警戒 ≤ 危険; 水防団待機水位 < … < 氾濫危険水位).
    Raises ThresholdError naming the first problem."""
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ThresholdError(
            "しきい値はJSONオブジェクトで指定してください / thresholds must be a JSON object"
        )
    if kind == "radio_unit":
        if doc:
            raise ThresholdError("無線機にしきい値は設定できません / a radio unit has no thresholds")
        return {}
    if kind == "water_gauge":
        _known(doc, (*WATER_LEVELS, "hysteresis"))
        _ordered(doc, WATER_LEVELS, strict=True, where="")
        _validate_hysteresis(doc.get("hysteresis"), (WATER_MEASURE,))
        return dict(doc)
    if kind != "rain_gauge":
        raise ThresholdError(f"不明な機器種別 / unknown device kind: {kind!r}")
    _known(doc, (*RAIN_MEASURES, "reset_hours", "combinations", "hysteresis"))
    _validate_hysteresis(doc.get("hysteresis"), RAIN_MEASURES)
    for measure in RAIN_MEASURES:
        if measure in doc:
            if not isinstance(doc[measure], dict) or not doc[measure]:
                raise ThresholdError(
                    f'{measure}: 段階としきい値の組を指定 / give levels and limits, e.g. {{"注意": 10}}'
                )
            _known(doc[measure], RAIN_LEVELS, where=f"{measure}.")
            _ordered(doc[measure], RAIN_LEVELS, strict=False, where=f"{measure}.")
            if any(v < 0 for v in doc[measure].values()):
                raise ThresholdError(f"{measure}: 負の雨量 / negative rainfall")
    if "reset_hours" in doc and not (_number(doc["reset_hours"]) and 0 < doc["reset_hours"] <= 168):
        raise ThresholdError("reset_hours: 0より大きく168以下の数 / a number of hours in (0, 168]")
    rules = doc.get("combinations", [])
    if not isinstance(rules, list):
        raise ThresholdError("combinations: 配列で指定 / must be a list")
    for i, rule in enumerate(rules):
        if not _valid_rule(rule) or rule["level"] not in RAIN_LEVELS or set(rule) - {"all", "level"}:
            raise ThresholdError(
                f"combinations[{i}]: 形式が不正 / expected "
                '{"all": [{"measure": "continuous_mm", "gte": 150}, …], "level": "警戒"}'
            )
    return dict(doc)


def _validate_hysteresis(doc: Any, measures: tuple[str, ...]) -> None:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise ThresholdError(
            'hysteresis: JSONオブジェクトで指定 / must be an object, e.g. {"hold_minutes": 30}'
        )
    _known(doc, ("hold_minutes", "margin"), where="hysteresis.")
    hold = doc.get("hold_minutes", DEFAULT_HOLD_MINUTES)
    if not (_number(hold) and 0 <= hold <= MAX_HOLD_MINUTES):
        raise ThresholdError(
            f"hysteresis.hold_minutes: 0以上{MAX_HOLD_MINUTES}以下の分数 / minutes in [0, {MAX_HOLD_MINUTES}]"
        )
    margin = doc.get("margin", {})
    if not isinstance(margin, dict):
        raise ThresholdError('hysteresis.margin: 計測項目ごとの幅 / per measure, e.g. {"60min_mm": 2}')
    _known(margin, measures, where="hysteresis.margin.")
    for k, v in margin.items():
        if not (_number(v) and v >= 0):
            raise ThresholdError(f"hysteresis.margin.{k}: 0以上の数 / a number of at least 0")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _known(doc: dict[str, Any], allowed: tuple[str, ...], where: str = "") -> None:
    unknown = sorted(set(doc) - set(allowed))
    if unknown:
        raise ThresholdError(
            f"{where}{unknown[0]}: 不明な項目（使えるのは {'、'.join(allowed)}） / unknown key (allowed: {', '.join(allowed)})"
        )


def _ordered(doc: dict[str, Any], order: tuple[str, ...], *, strict: bool, where: str) -> None:
    present = [(k, doc[k]) for k in order if k in doc]
    for k, v in present:
        if not _number(v):
            raise ThresholdError(f"{where}{k}: 数値で指定 / must be a number")
    for (a, va), (b, vb) in zip(present, present[1:], strict=False):
        if vb < va or (strict and vb == va):
            raise ThresholdError(f"{where}{b} ({vb}) は {a} ({va}) より高く / {b} must be above {a}")
