"""Shelters and people needing evacuation help for the 伊勢原市 demo (pure and deterministic).

Every name, address and phone number is invented and marked 架空 so that nobody can take a demo row for
a real person; phone numbers use the unallocated 000 prefix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from shapely import union_all
from shapely.geometry.base import BaseGeometry

from layers import demo_geo as geo
from layers.demo_geo import XY, HazardArea


# --- shelters -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Kind:
    name: str
    weight: int
    capacity: tuple[int, int]  # 想定収容人数
    designated: bool  # 指定避難所 (a park is only an 指定緊急避難場所)
    indoors: bool
    open_ground: bool  # a large open space: designated for 大規模な火事


_SHELTER_KINDS = (
    _Kind("小学校", 35, (600, 1500), True, True, True),
    _Kind("中学校", 15, (700, 1500), True, True, True),
    _Kind("公民館", 20, (100, 300), True, True, False),
    _Kind("コミュニティセンター", 10, (150, 400), True, True, False),
    _Kind("高等学校", 5, (800, 1500), True, True, True),
    _Kind("公園", 15, (500, 1500), False, False, True),
)
_TOWNS_BUILT_UP = ("デモ本町", "デモ中町", "デモ東町", "デモ西町", "デモ駅前町")
_TOWN_FLOOD, _TOWN_SLOPE, _TOWN_RURAL = "デモ川端町", "デモ山手町", "デモ田園町"


def kanji_number(n: int) -> str:
    """1..9999 in kanji numerals (第一, 第十二, 第百五)."""
    digits = "〇一二三四五六七八九"
    out = []
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, unit_value)
        if q:
            out.append(("" if q == 1 else digits[q]) + unit)
    if n:
        out.append(digits[n])
    return "".join(out)


def address(rng: random.Random, town: str) -> str:
    return f"伊勢原市{town}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}-{rng.randint(1, 20)}（架空）"


@dataclass(frozen=True)
class Shelter:
    code: str
    name: str
    address: str
    capacity: int
    is_designated_shelter: bool
    flags: dict[str, bool]  # suits_* columns
    lon: float
    lat: float

    def params(self) -> dict[str, object]:
        return {
            "code": self.code,
            "name": self.name,
            "address": self.address,
            "capacity": self.capacity,
            "is_designated_shelter": self.is_designated_shelter,
            "lon": self.lon,
            "lat": self.lat,
            **self.flags,
        }


def _shelter_flags(kind: _Kind, in_flood: bool, in_slope: bool) -> dict[str, bool]:
    # A shelter inside a hazard area is never designated for that hazard, nor is open ground for
    # floods; Isehara is inland, hence no tsunami / storm surge designations, and no volcano plan.
    return {
        "suits_flood": kind.indoors and not in_flood,
        "suits_inland_flood": kind.indoors and not in_flood,
        "suits_landslide": not in_slope,
        "suits_earthquake": True,
        "suits_fire": kind.open_ground,
        "suits_storm_surge": False,
        "suits_tsunami": False,
        "suits_volcano": False,
    }


def _shelter_site(rng: random.Random, slope: BaseGeometry) -> XY:
    # Most in town, some in the hills and the lowland where people also live, and a few hamlet
    # 公民館 that stand in a landslide area themselves, as some do.
    u = rng.random()
    if u < 0.7:
        return geo.uniform_in(rng, geo.BUILT_UP, margin=0.001)
    if u < 0.93:
        return geo.uniform_in(rng, rng.choice((geo.HILLS, geo.LOWLAND)), margin=0.001)
    return geo.uniform_within(rng, slope)


def shelters(
    rng: random.Random, count: int, floods: list[HazardArea], slopes: list[HazardArea]
) -> list[Shelter]:
    slope = union_all([a.geom for a in slopes])
    seq: dict[str, int] = {}
    out = []
    weights = [k.weight for k in _SHELTER_KINDS]
    for i in range(1, count + 1):
        kind = rng.choices(_SHELTER_KINDS, weights)[0]
        seq[kind.name] = seq.get(kind.name, 0) + 1
        lon, lat = _shelter_site(rng, slope)
        in_flood, in_slope = geo.contains(floods, lon, lat), geo.contains(slopes, lon, lat)
        town = _TOWN_FLOOD if in_flood else _TOWN_SLOPE if in_slope else rng.choice(_TOWNS_BUILT_UP)
        out.append(
            Shelter(
                code=f"S{i:03d}",
                name=f"デモ第{kanji_number(seq[kind.name])}{kind.name}（架空）",
                address=address(rng, town),
                capacity=rng.randrange(kind.capacity[0], kind.capacity[1] + 1, 10),
                is_designated_shelter=kind.designated,
                flags=_shelter_flags(kind, in_flood, in_slope),
                lon=lon,
                lat=lat,
            )
        )
    return out


# --- people needing evacuation help (避難行動要支援者) ----------------------------------------------
_FAMILY = (
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("渡辺", "ワタナベ"),
    ("伊藤", "イトウ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
    ("吉田", "ヨシダ"), ("山田", "ヤマダ"),
)  # fmt: skip
_GIVEN_OLDER = (
    ("花子", "ハナコ"), ("和子", "カズコ"), ("幸子", "サチコ"), ("節子", "セツコ"), ("久子", "ヒサコ"),
    ("トメ", "トメ"), ("清", "キヨシ"), ("茂", "シゲル"), ("勇", "イサム"), ("正雄", "マサオ"),
    ("実", "ミノル"), ("進", "ススム"),
)  # fmt: skip
_GIVEN_YOUNGER = (
    ("恵子", "ケイコ"), ("由美", "ユミ"), ("明美", "アケミ"), ("美咲", "ミサキ"), ("陽菜", "ヒナ"),
    ("博", "ヒロシ"), ("誠", "マコト"), ("健一", "ケンイチ"), ("大輔", "ダイスケ"), ("翔太", "ショウタ"),
)  # fmt: skip
# care category, weight, birth years
CARE_CATEGORIES: tuple[tuple[str, int, tuple[int, int]], ...] = (
    ("要介護3", 14, (1926, 1950)),
    ("要介護4", 10, (1926, 1950)),
    ("要介護5", 7, (1926, 1950)),
    ("身体障害1級", 10, (1935, 2010)),
    ("身体障害2級", 8, (1935, 2010)),
    ("知的障害", 6, (1960, 2015)),
    ("精神障害", 5, (1950, 2000)),
    ("独居高齢者", 20, (1928, 1950)),
    ("高齢者のみ世帯", 16, (1928, 1950)),
    ("難病", 4, (1940, 2005)),
)
_RELATIONS = ("長男", "長女", "次男", "配偶者", "近隣住民", "民生委員", "自治会役員", "ケアマネジャー")


@dataclass(frozen=True)
class Person:
    external_id: str
    name: str
    name_kana: str
    birth_year: int
    phone: str
    address: str
    care_category: str
    consent: bool  # 同意 to share with support persons
    lon: float
    lat: float
    support_persons: list[dict[str, Any]] = field(default_factory=list)

    def params(self) -> dict[str, object]:
        return dict(self.__dict__)  # the fields are the statement's parameters


def _phone(rng: random.Random) -> str:
    return f"000-0000-{rng.randrange(10_000):04d}"


def _name(rng: random.Random, born: int) -> tuple[str, str]:
    family, family_kana = rng.choice(_FAMILY)
    given, given_kana = rng.choice(_GIVEN_OLDER if born < 1960 else _GIVEN_YOUNGER)
    return f"{family}　{given}（架空）", f"{family_kana} {given_kana}"


def _support_persons(rng: random.Random) -> list[dict[str, Any]]:
    return [
        {"name": _name(rng, 1970)[0], "relation": rng.choice(_RELATIONS), "phone": _phone(rng)}
        for _ in range(rng.choice((0, 1, 1, 2)))
    ]


class _Residences:
    """Where people live: mostly along the town's streets, a meaningful share inside the flood
    and landslide areas (what the priority overlay looks for), the rest scattered outside town."""

    def __init__(self, streets: list[tuple[XY, XY, str]], floods: list[HazardArea], slopes: list[HazardArea]):
        self.streets = streets
        self.flood: BaseGeometry = union_all([a.geom for a in floods])
        self.slope: BaseGeometry = union_all([a.geom for a in slopes if a.hazard_type == "landslide_warning"])

    def place(self, rng: random.Random) -> tuple[XY, str]:
        u = rng.random()
        if u < 0.55:
            a, b, _ = rng.choice(self.streets)
            x, y = geo.point_on(rng, a, b)
            xy = (geo.rnd(x + rng.uniform(-6e-4, 6e-4)), geo.rnd(y + rng.uniform(-5e-4, 5e-4)))
            return xy, rng.choice(_TOWNS_BUILT_UP)
        if u < 0.70:
            return geo.uniform_within(rng, self.flood), _TOWN_FLOOD
        if u < 0.84:
            return geo.uniform_within(rng, self.slope), _TOWN_SLOPE
        return geo.uniform_in(rng, rng.choice((geo.HILLS, geo.LOWLAND))), _TOWN_RURAL


def people(
    rng: random.Random,
    count: int,
    streets: list[tuple[XY, XY, str]],
    floods: list[HazardArea],
    slopes: list[HazardArea],
) -> list[Person]:
    homes = _Residences(streets, floods, slopes)
    weights = [c[1] for c in CARE_CATEGORIES]
    out = []
    for i in range(1, count + 1):
        category, _, (y0, y1) = rng.choices(CARE_CATEGORIES, weights)[0]
        born = rng.randint(y0, y1)
        name, kana = _name(rng, born)
        (lon, lat), town = homes.place(rng)
        out.append(
            Person(
                external_id=f"P{i:06d}",
                name=name,
                name_kana=kana,
                birth_year=born,
                phone=_phone(rng),
                address=address(rng, town),
                care_category=category,
                consent=rng.random() < 0.8,
                lon=lon,
                lat=lat,
                support_persons=_support_persons(rng),
            )
        )
    return out
