"""Demo devices for 伊勢原市: rain gauges, water-level gauges on the demo rivers and radio units
starting on a demo road (all fictitious, all owned by 危機管理課). Passwords are made by the registry."""

from __future__ import annotations

import random

from layers import demo_geo as geo
from layers.demo_geo import SEED
from sensors.registry import DeviceKind, DeviceSpec
from sensors.thresholds import WATER_LEVELS

# Fixed demo sites (fictitious stations placed roughly like real ones: 大山, 日向, 市役所, 成瀬, 比々多).
_RAIN_SITES = (
    ("デモ大山雨量局（架空）", 139.262, 35.418),
    ("デモ日向雨量局（架空）", 139.276, 35.401),
    ("デモ市役所雨量局（架空）", 139.3148, 35.4025),
    ("デモ成瀬雨量局（架空）", 139.331, 35.386),
    ("デモ比々多雨量局（架空）", 139.291, 35.414),
)


def rain_thresholds() -> dict[str, dict[str, int]]:
    """注意 / 警戒 / 危険 in mm over 10 minutes, 60 minutes and the continuous rain (連続雨量).
    A fresh dict per gauge: a DeviceSpec is frozen but its dict is not."""
    return {
        "10min_mm": {"注意": 10, "警戒": 15, "危険": 20},
        "60min_mm": {"注意": 20, "警戒": 30, "危険": 50},
        "continuous_mm": {"注意": 100, "警戒": 150, "危険": 200},
    }


def device_specs(dept_ids: dict[str, int], *, scale: int = 1, seed: int = SEED) -> list[DeviceSpec]:
    """Rain gauges RG01.., water-level gauges WL01.. on the demo rivers, radio units R001.. starting on a
    demo road; all owned by 危機管理課."""
    if scale < 1:
        raise ValueError("scale は 1 以上 / scale must be at least 1")
    rng = geo.rng_for(seed, "devices")
    crisis = dept_ids["crisis"]
    return [
        *_rain_gauges(rng, scale, crisis),
        *_water_gauges(rng, scale, crisis),
        *_radio_units(seed, scale, crisis),
    ]


def _rain_gauges(rng: random.Random, scale: int, dept: int) -> list[DeviceSpec]:
    sites = list(_RAIN_SITES)
    while len(sites) < 5 * scale:  # extra gauges for a larger demo, anywhere in town or the hills
        lon, lat = geo.uniform_in(rng, rng.choice((geo.BUILT_UP, geo.HILLS, geo.LOWLAND)))
        sites.append((f"デモ雨量局{len(sites) + 1}（架空）", lon, lat))
    return [
        DeviceSpec(f"RG{i:02d}", DeviceKind.rain_gauge, name, lon, lat, dept, rain_thresholds())
        for i, (name, lon, lat) in enumerate(sites, start=1)
    ]


def _water_gauges(rng: random.Random, scale: int, dept: int) -> list[DeviceSpec]:
    specs = []
    for i in range(2 * scale):
        river = geo.RIVERS[i % len(geo.RIVERS)][0]
        lon, lat = geo.river_point(i, 0.5 if i < 2 else rng.uniform(0.15, 0.85))
        base = round(rng.uniform(1.0, 1.6), 1)  # 水防団待機水位; the others follow at fixed steps
        steps = (base, round(base + 0.6, 1), round(base + 1.0, 1), round(base + 1.4, 1))
        levels = dict(zip(WATER_LEVELS, steps, strict=True))  # 水防団待機水位 < … < 氾濫危険水位 (metres)
        name = f"{river.removesuffix('（架空）')}デモ水位局{i // 2 + 1}（架空）"
        specs.append(DeviceSpec(f"WL{i + 1:02d}", DeviceKind.water_gauge, name, lon, lat, dept, levels))
    return specs


def _radio_units(seed: int, scale: int, dept: int) -> list[DeviceSpec]:
    roads = geo.roads(geo.rng_for(seed, "roads"), scale)  # the same roads as `load` draws
    rng = geo.rng_for(seed, "radio")
    specs = []
    for i in range(1, 40 * scale + 1):
        road = rng.choice(roads)
        lon, lat = geo.point_on(rng, road.a, road.b)
        specs.append(DeviceSpec(f"R{i:03d}", DeviceKind.radio_unit, f"デモ移動局{i}（架空）", lon, lat, dept))
    return specs
