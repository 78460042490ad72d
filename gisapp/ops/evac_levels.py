"""The words, colours and advice of 避難情報 and 警戒レベル, in one place (内閣府「避難情報に関するガイドライン」).

Every page, feed and CAP document takes its labels from here, so a citizen reads the same words on
the map banner, in the Atom feed and from a broadcaster fed by CAP. Colour is never the only signal:
a level is always shown with its number and its words.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    level: int
    name_ja: str
    name_en: str
    colour: str  # background, per the guideline's colour scheme
    text_colour: str  # foreground with at least 4.5:1 contrast on ``colour``
    action_ja: str  # what a resident should do
    action_en: str
    cap_severity: str  # CAP 1.2 <severity>
    cap_urgency: str  # CAP 1.2 <urgency>


LEVELS: dict[int, Level] = {
    3: Level(
        3,
        "高齢者等避難",
        "Elderly and others evacuate",
        "#ff2800",
        "#000000",
        "高齢者・障がいのある人など避難に時間のかかる人とその支援者は危険な場所から避難してください。"
        "その他の人も普段の行動を見合わせ、避難の準備をしてください。",
        "Older people, people with disabilities and others who need time to evacuate, and those helping "
        "them: leave dangerous places now. Everyone else: get ready to evacuate.",
        "Severe",
        "Expected",
    ),
    4: Level(
        4,
        "避難指示",
        "Evacuation order",
        "#aa00aa",
        "#ffffff",
        "危険な場所から全員避難してください。",
        "Everyone must leave dangerous places now.",
        "Severe",
        "Immediate",
    ),
    5: Level(
        5,
        "緊急安全確保",
        "Emergency safety measure",
        "#0c000c",
        "#ffffff",
        "すでに災害が発生しているか切迫しています。命の危険があります。直ちに身の安全を確保してください。"
        "避難所への移動がかえって危険な場合は、近くの安全な建物や自宅の上の階など少しでも安全な場所へ移ってください。",
        "A disaster is happening or imminent and your life is in danger. Secure your safety at once: if going "
        "to a shelter is itself dangerous, move to a safer place nearby, such as a sturdy building or an upper floor.",
        "Extreme",
        "Immediate",
    ),
}

# 災害種別 of an order -> (ja, en)
HAZARDS: dict[str, tuple[str, str]] = {
    "landslide": ("土砂災害", "Landslide"),
    "flood": ("洪水", "River flood"),
    "inland_flood": ("内水氾濫", "Inland flooding"),
    "storm_surge": ("高潮", "Storm surge"),
    "tsunami": ("津波", "Tsunami"),
    "fire": ("大規模な火事", "Large fire"),
    "earthquake": ("地震", "Earthquake"),
    "volcano": ("火山現象", "Volcanic activity"),
}

# The hazard_area types (gis.hazard_area.hazard_type) each hazard of an order concerns.
HAZARD_AREA_TYPES: dict[str, tuple[str, ...]] = {
    "landslide": ("landslide_warning", "landslide_special"),
    "flood": ("flood",),
    "inland_flood": ("inland_flood",),
}


def level(n: int) -> Level:
    return LEVELS[n]


def describe(n: int, hazard: str) -> dict[str, str | int]:
    """Plain values for an answer: level number, words, colours and advice."""
    lv = LEVELS[n]
    hz_ja, hz_en = HAZARDS.get(hazard, (hazard, hazard))
    return {
        "level": lv.level,
        "level_label_ja": f"警戒レベル{lv.level}",
        "level_label_en": f"Alert level {lv.level}",
        "name_ja": lv.name_ja,
        "name_en": lv.name_en,
        "colour": lv.colour,
        "text_colour": lv.text_colour,
        "action_ja": lv.action_ja,
        "action_en": lv.action_en,
        "hazard": hazard,
        "hazard_ja": hz_ja,
        "hazard_en": hz_en,
    }
