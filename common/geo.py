"""Is a longitude/latitude plausible for this platform? Every place it stores lies in Japan.

One check for every path a position arrives by (incidents, citizen reports, the people registry, radio
units over MQTT, layer imports), so a (0, 0) from a device without a fix, a swap of latitude and
longitude, or a lost minus sign is refused with the same specific reason everywhere.
"""

from __future__ import annotations

import math

from common.errors import InvalidInput

# Japan with its outlying islands (与那国島 122.9°E … 南鳥島 154.0°E, 沖ノ鳥島 20.4°N … 45.6°N).
JAPAN = (122.0, 20.0, 154.5, 46.0)

# reason code -> (日本語, English)
REASONS: dict[str, tuple[str, str]] = {
    "not_a_number": ("座標が数値ではありません。", "the coordinates are not finite numbers"),
    "null_island": (
        "座標が (0, 0) です。位置が取得できていない可能性があります。",
        "the position is (0, 0): the location was probably never set",
    ),
    "swapped": (
        "日本の範囲外です。緯度と経度が入れ替わっている可能性があります。",
        "outside Japan: latitude and longitude look swapped",
    ),
    "sign": (
        "日本の範囲外です。緯度・経度の符号が逆になっている可能性があります（日本は北緯・東経）。",
        "outside Japan: the sign of the latitude or longitude looks wrong (Japan is north and east)",
    ),
    "outside_japan": ("日本の範囲外です。", "outside Japan"),
}


def inside_japan(lon: float, lat: float) -> bool:
    minx, miny, maxx, maxy = JAPAN
    return minx <= lon <= maxx and miny <= lat <= maxy


def location_problem(lon: float, lat: float) -> str | None:
    """None for a plausible position, else the reason code (a key of ``REASONS``)."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        return "not_a_number"
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return "not_a_number"
    if inside_japan(lon, lat):
        return None
    if lon == 0 and lat == 0:
        return "null_island"
    if inside_japan(lat, lon):
        return "swapped"
    if any(inside_japan(x, y) for x, y in ((-lon, lat), (lon, -lat), (-lon, -lat), (-lat, -lon),
                                           (lat, -lon), (-lat, lon))):  # fmt: skip
        return "sign"
    return "outside_japan"


def describe(code: str) -> tuple[str, str]:
    return REASONS[code]


class ImplausibleLocation(InvalidInput):
    """A position that cannot be right for a place in Japan (422)."""


def check_location(lon: float, lat: float, field: str = "location") -> None:
    """Raise ImplausibleLocation (422, with ``field`` and ``reason``) unless (lon, lat) lies in Japan."""
    code = location_problem(lon, lat)
    if code is not None:
        ja, en = REASONS[code]
        raise ImplausibleLocation(f"位置が正しくありません: {ja}", f"Implausible location: {en}.",
                                  field=field, reason=code)  # fmt: skip
