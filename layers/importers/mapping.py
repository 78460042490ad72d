"""From source features to rows of the layer's table: typed columns by their usual Japanese and English
column names, every other source column kept as attributes, and the key a re-import updates by."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from layers.catalog import KINDS
from layers.importers.errors import Problem

SUITS: dict[str, tuple[str, ...]] = {
    "suits_flood": ("suits_flood", "災害種別_洪水", "洪水"),
    "suits_landslide": ("suits_landslide", "災害種別_崖崩れ、土石流及び地滑り", "崖崩れ、土石流及び地滑り"),
    "suits_storm_surge": ("suits_storm_surge", "災害種別_高潮", "高潮"),
    "suits_earthquake": ("suits_earthquake", "災害種別_地震", "地震"),
    "suits_tsunami": ("suits_tsunami", "災害種別_津波", "津波"),
    "suits_fire": ("suits_fire", "災害種別_大規模な火事", "大規模な火事"),
    "suits_inland_flood": ("suits_inland_flood", "災害種別_内水氾濫", "内水氾濫"),
    "suits_volcano": ("suits_volcano", "災害種別_火山現象", "火山現象"),
}
# A city's own 避難所 list names the kinds of disaster a shelter opens for: read as flags, kept as is.
OPENS_FOR = {
    "開設される災害の種類（地震・津波）": ("suits_earthquake", "suits_tsunami"),
    "開設される災害の種類（風水害）": ("suits_flood", "suits_storm_surge", "suits_inland_flood"),
    "開設される災害の種類（土砂災害）": ("suits_landslide",),
}
SHELTER_CODE = ("code", "ID", "共通ID", "NO", "No", "番号")
SHELTER_NAME = ("name", "名称", "施設・場所名", "施設名")
SHELTER_ADDRESS = ("address", "所在地_連結表記", "住所")
SHELTER_CAPACITY = ("capacity", "想定収容人数", "収容人数")
SHELTER_DESIGNATED = ("is_designated_shelter", "指定避難所との重複", "指定避難所との住所同一")
COORD_COLUMNS = ("緯度", "経度", "lat", "lon", "lng", "latitude", "longitude", "Latitude", "Longitude")
ID_COLUMNS = ("source_key", "id", "ID", "Id", "fid", "FID", "gml_id", "osm_id", "共通ID")
TRUE = {"1", "○", "◯", "〇", "●", "true", "yes", "y", "t", "はい"}
FALSE = {"", "0", "×", "false", "no", "n", "f", "-", "いいえ"}
HAZARD_TYPES = ("landslide_warning", "landslide_special", "flood", "inland_flood")
HAZARD_WORDS = (("内水", "inland_flood"), ("洪水", "flood"), ("浸水", "flood"), ("土砂", "landslide_warning"))


class RowError(Exception):
    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja, self.en = ja, en


@dataclass
class Mapped:
    columns: tuple[str, ...]  # table columns, geometry last as hex EWKB
    rows: list[tuple] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    kind: str
    geometry_type: str  # the layer's
    layout: str | None = None  # CSV layout
    source_name: str = ""
    hazard_type: str | None = None


# --- values ----------------------------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """A source value as JSON, or None for 'no value' (NaN, empty text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes):
        return None
    return str(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def flag(value: Any, column: str) -> bool:
    if isinstance(value, bool):
        return value
    text = unicodedata.normalize("NFKC", _text(value)).lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise RowError(f"{column} の値 {value!r} は「1・○・空欄」のどれでもありません",
                   f"{column}: {value!r} is not a flag (1, ○ or empty)")  # fmt: skip


def _pick(attrs: dict, names: tuple[str, ...]) -> tuple[str | None, Any]:
    """The first of these columns that has a value."""
    for name in names:
        if attrs.get(name) is not None:
            return name, attrs[name]
    return None, None


def _int(value: Any, column: str) -> int | None:
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", _text(value)).replace(",", "")
    try:
        number = int(float(text))
    except ValueError:
        raise RowError(
            f"{column} の値 {value!r} が整数ではありません", f"{column}: {value!r} is not an integer"
        ) from None
    if number < 0:
        raise RowError(f"{column} が負の値です", f"{column} is negative")
    return number


def _decimal(value: Any) -> float | None:
    try:
        number = float(unicodedata.normalize("NFKC", _text(value)).rstrip("m").strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def _multi(geom: BaseGeometry, base: str) -> BaseGeometry:
    if geom.geom_type == base:
        return {"Polygon": shapely.MultiPolygon, "LineString": shapely.MultiLineString}[base]([geom])
    if geom.geom_type == f"Multi{base}":
        return geom
    raise RowError(
        f"ジオメトリが {geom.geom_type} です（{base} 系が必要）",
        f"geometry is {geom.geom_type}; {base} expected",
    )


def stable_hash(geom: BaseGeometry, attrs: dict) -> str:
    digest = hashlib.sha256(shapely.to_wkb(geom, output_dimension=2))
    digest.update(json.dumps(attrs, sort_keys=True, ensure_ascii=False).encode())
    return "h:" + digest.hexdigest()[:32]


def _id_key(attrs: dict) -> str | None:
    _, value = _pick(attrs, ID_COLUMNS)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return None if value is None else str(value)


# --- one row per kind --------------------------------------------------------------------------
def _shelter(attrs: dict, geom: BaseGeometry, ctx: Context) -> tuple[str | None, dict, dict]:
    if geom.geom_type == "MultiPoint" and len(geom.geoms) == 1:
        geom = geom.geoms[0]
    if geom.geom_type != "Point":
        raise RowError(
            f"避難場所は点でなければなりません（{geom.geom_type}）",
            f"a shelter must be a Point ({geom.geom_type})",
        )
    used: set[str] = set(COORD_COLUMNS)
    code_col, code = _pick(attrs, SHELTER_CODE)
    name_col, name = _pick(attrs, SHELTER_NAME)
    if name is None:
        raise RowError("名称がありません", "the name is empty")
    addr_col, address = _pick(attrs, SHELTER_ADDRESS)
    cap_col, capacity = _pick(attrs, SHELTER_CAPACITY)
    row: dict[str, Any] = {"name": _text(name), "address": _text(address),
                           "capacity": _int(capacity, cap_col or "")}  # fmt: skip
    used.update(c for c in (code_col, name_col, addr_col, cap_col) if c)
    for column, names in SUITS.items():
        col = next((n for n in names if n in attrs), None)
        row[column] = flag(attrs[col], col) if col else False
        used.update(n for n in names if n in attrs)
    for col, columns in OPENS_FOR.items():
        if col in attrs and flag(attrs[col], col):
            row.update(dict.fromkeys(columns, True))
    des_col = next((n for n in SHELTER_DESIGNATED if n in attrs), None)
    if des_col:
        row["is_designated_shelter"] = flag(attrs[des_col], des_col)
        used.update(n for n in SHELTER_DESIGNATED if n in attrs)
    else:
        row["is_designated_shelter"] = ctx.layout in ("gsi_shelter", "city_shelter")
    if code is not None:
        code = str(int(code)) if isinstance(code, float) and code.is_integer() else _text(code)
    else:
        # No ID in the list (市川市 leaves it empty): name + address identify a shelter across updates.
        code = "h:" + hashlib.sha256(f"{row['name']}\x1f{row['address']}".encode()).hexdigest()[:16]
    row["code"] = code
    extra = {k: v for k, v in attrs.items() if k not in used}
    return code, row, {"attributes": extra, "geom": geom}


def _hazard_type(attrs: dict, ctx: Context) -> str:
    if ctx.hazard_type:
        return ctx.hazard_type
    if attrs.get("hazard_type") in HAZARD_TYPES:
        return attrs["hazard_type"]
    feature_type = attrs.get("feature_type")
    if feature_type == "SedimentDisasterProneArea":  # PLATEAU urf: areaType 2 = 特別警戒区域
        return "landslide_special" if str(attrs.get("areaType")) == "2" else "landslide_warning"
    if feature_type == "WaterBody":  # PLATEAU 洪水浸水想定区域
        return "flood"
    for word, hazard in HAZARD_WORDS:
        if word in ctx.source_name:
            return hazard
    raise RowError("災害の種類（hazard_type）が分かりません。hazard_type を指定してください",
                   "unknown hazard type: give hazard_type")  # fmt: skip


def _hazard(attrs: dict, geom: BaseGeometry, ctx: Context) -> tuple[str | None, dict, dict]:
    _, depth = _pick(attrs, ("depth_rank", "浸水深ランク", "浸水深", "最大浸水深", "rank", "rankOrg"))
    _, name = _pick(attrs, ("name", "名称", "zoneName", "区域名"))
    row = {"hazard_type": _hazard_type(attrs, ctx), "depth_rank": None if depth is None else _text(depth),
           "name": _text(name)}  # fmt: skip
    key = _id_key(attrs)
    row["source_key"] = key
    return key, row, {"attributes": attrs, "geom": _multi(geom, "Polygon")}


def _road(attrs: dict, geom: BaseGeometry, ctx: Context) -> tuple[str | None, dict, dict]:
    no_col, route_no = _pick(attrs, ("route_no", "路線番号", "osm_id", "id", "ID"))
    name_col, route_name = _pick(attrs, ("route_name", "路線名", "name", "名称"))
    class_col, road_class = _pick(attrs, ("road_class", "種別", "道路種別", "highway"))
    _, width = _pick(attrs, ("width_m", "幅員", "width"))
    row = {"route_name": _text(route_name), "road_class": _text(road_class), "width_m": _decimal(width)}
    key = None if route_no is None else _text(route_no)
    row["route_no"] = key
    used = {no_col, name_col, class_col}
    extra = {k: v for k, v in attrs.items() if k not in used}
    return key, row, {"attributes": extra, "geom": _multi(geom, "LineString")}


_PIPE_USES = {
    "汚水": "汚水",
    "雨水": "雨水",
    "合流": "合流",
    "sanitary": "汚水",
    "storm": "雨水",
    "combined": "合流",
}


def _sewer(attrs: dict, geom: BaseGeometry, ctx: Context) -> tuple[str | None, dict, dict]:
    """下水道台帳: the ledger's usual column names (or ours); everything else kept as attributes."""
    no_col, pipe_no = _pick(attrs, ("pipe_no", "管渠番号", "管路番号", "施設番号", "id", "ID"))
    use_col, use = _pick(attrs, ("pipe_use", "排除方式", "種別", "用途"))
    mat_col, material = _pick(attrs, ("material", "管種"))
    dia_col, diameter = _pick(attrs, ("diameter_mm", "管径mm", "管径", "口径"))
    year_col, year = _pick(attrs, ("laid_year", "布設年度", "布設年", "敷設年度"))
    if pipe_no is None:
        raise RowError("管渠番号がありません", "no pipe number (管渠番号)")
    pipe_use = _PIPE_USES.get(_text(use).strip(), "") if use is not None else ""
    if use is not None and not pipe_use:
        raise RowError(f"排除方式が不明です: {_text(use)}", f"unknown pipe use (排除方式): {_text(use)}")
    row = {
        "pipe_no": _text(pipe_no), "pipe_use": pipe_use, "material": _text(material or ""),
        "diameter_mm": _int(diameter, dia_col or "管径"), "laid_year": _int(year, year_col or "布設年度"),
    }  # fmt: skip
    if row["diameter_mm"] == 0:
        raise RowError("管径が 0 です", "pipe diameter (管径) is 0")
    if row["laid_year"] is not None and not 1868 <= row["laid_year"] <= 2200:
        raise RowError(f"布設年度 {row['laid_year']} は西暦で入力してください",
                       f"laying year (布設年度) {row['laid_year']} must be a Western-calendar year")  # fmt: skip
    used = {no_col, use_col, mat_col, dia_col, year_col}
    extra = {k: v for k, v in attrs.items() if k not in used}
    return row["pipe_no"], row, {"attributes": extra, "geom": _multi(geom, "LineString")}


def _generic(attrs: dict, geom: BaseGeometry, ctx: Context) -> tuple[str | None, dict, dict]:
    if ctx.geometry_type != "Geometry" and geom.geom_type.removeprefix(
        "Multi"
    ) != ctx.geometry_type.removeprefix("Multi"):
        raise RowError(f"ジオメトリが {geom.geom_type} です（レイヤーは {ctx.geometry_type}）",
                       f"geometry is {geom.geom_type}; the layer holds {ctx.geometry_type}")  # fmt: skip
    key = _id_key(attrs)
    return key, {"source_key": key}, {"properties": attrs, "geom": geom}


KindRow = Callable[[dict, BaseGeometry, Context], tuple[str | None, dict, dict]]
ROWS: dict[str, tuple[KindRow, tuple[str, ...]]] = {
    "generic": (_generic, ("source_key", "properties")),
    "shelter": (_shelter, ("code", "name", "address", "capacity", "is_designated_shelter", *SUITS, "attributes")),
    "hazard_area": (_hazard, ("source_key", "hazard_type", "depth_rank", "name", "attributes")),
    "road_segment": (_road, ("route_no", "route_name", "road_class", "width_m", "attributes")),
    "sewer_pipe": (_sewer, ("pipe_no", "pipe_use", "material", "diameter_mm", "laid_year", "attributes")),
}  # fmt: skip
# The natural key a re-import updates by, as the catalog declares it.
KEY_COLUMN: dict[str, str] = {kind: str(KINDS[kind].key) for kind in ROWS}


def map_rows(frame, ctx: Context) -> Mapped:
    """Rows for the layer's table. A row whose key comes from the source and repeats an earlier row's
    is refused; features without an id get a hash of geometry + attributes, numbered when repeated."""
    build, columns = ROWS[ctx.kind]
    out = Mapped((*columns, "geom"))
    key_col = KEY_COLUMN[ctx.kind]
    seen: dict[str, int] = {}
    names = [c for c in frame.columns if c != frame.geometry.name]
    for n, geom, values in zip(
        frame.index, frame.geometry, frame[names].itertuples(index=False), strict=True
    ):
        attrs = {
            k: v for k, v in ((k, jsonable(v)) for k, v in zip(names, values, strict=True)) if v is not None
        }
        try:
            key, row, rest = build(attrs, geom, ctx)
        except RowError as e:
            out.rejected.append(Problem(int(n), e.ja, e.en))
            continue
        if key is None:
            key = stable_hash(geom, attrs)
            if key in seen:
                key = f"{key}#{sum(1 for k in seen if k.startswith(key))}"
        elif key in seen:
            out.rejected.append(Problem(int(n), f"キー {key} が {seen[key]} 行目と重複しています",
                                        f"key {key} repeats row {seen[key]}", key=key))  # fmt: skip
            continue
        seen[key] = int(n)
        row[key_col] = key
        row.update(rest)
        row["geom"] = shapely.to_wkb(shapely.set_srid(row["geom"], 4326), hex=True, include_srid=True)
        out.rows.append(tuple(row[c] for c in out.columns))
        out.keys.append(key)
        out.numbers.append(int(n))
    return out
