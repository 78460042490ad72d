"""JMA 防災情報XML (気象庁防災情報XMLフォーマット) telegrams -> plain values. Pure: no database.

Three kinds are read, each at the area level a municipality acts on:

- 気象警報・注意報 (VPWW53 / VPWW54; 特別警報 in the same Kind list): ``Body/Warning`` of type
  ``気象警報・注意報（市町村等）``, one item per (市町村等 area, Kind) with the Kind's ``Status``
  (発表 / 継続 / 特別警報から警報 … / 解除 / 発表警報・注意報はなし) and ``Condition`` (土砂災害、浸水害).
  The other area levels in the telegram (府県予報区, 一次細分区域, 市町村等をまとめた地域) are ignored.
- 土砂災害警戒情報 (VXWW50, and the older VXWW40 form): ``Body/Warning[@type=土砂災害警戒情報]``, one
  item per municipality, Kind 警戒 (Code 3) / 解除 (1) / なし (0) with its Status. Stored under the kind
  name 土砂災害警戒情報 (what ``ops.alert_level_rule`` matches); the Kind's code is kept.
- 指定河川洪水予報 (VXKO): the Headline's 河川 list, one item per river with the Kind
  (氾濫注意/警戒/危険/発生情報, or …解除). The older spelling はん濫 is read as 氾濫. A telegram concerns
  a municipality when its 予報区域 code, one of its river codes, or a 浸水想定地区 city code is
  configured.

Hardened: lxml with entities, DTDs and the network off; any DOCTYPE or entity declaration is refused
before parsing (an entity bomb or an external entity never reaches the parser); sizes are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from common.errors import InvalidInput

NS_REPORT = "http://xml.kishou.go.jp/jmaxml1/"
NS_HEAD = "http://xml.kishou.go.jp/jmaxml1/informationBasis1/"
NS_BODY = "http://xml.kishou.go.jp/jmaxml1/body/meteorology1/"
_NS = {"r": NS_REPORT, "h": NS_HEAD, "b": NS_BODY}

WARNINGS = "気象警報・注意報"
LANDSLIDE = "土砂災害警戒情報"
RIVER_FLOOD = "指定河川洪水予報"
INFO_KINDS = (WARNINGS, LANDSLIDE, RIVER_FLOOD)
INFO_TYPES = ("発表", "訂正", "取消")

# Statuses that mean "not in force": the item is state, not a condition.
NOT_IN_FORCE = frozenset({"解除", "なし", "発表警報・注意報はなし"})

MAX_BYTES = 10 * 1024 * 1024  # the largest VPWW54 of a big prefecture is well under 2 MB

_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "load_dtd": False,
    "dtd_validation": False,
    "remove_blank_text": False,
}
# A DOCTYPE (internal subset: entity bombs) or an ENTITY declaration (external entities: XXE) has
# no place in a JMA telegram. Checked on the bytes, before any parser sees them.
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class TelegramError(InvalidInput):
    """A file or download that is not a JMA telegram we can read; nothing is stored."""

    code = "jma_telegram_invalid"


class UnknownInfoKind(TelegramError):
    """A well-formed telegram of a kind we do not read (earthquake, tsunami, volcano …)."""

    code = "jma_info_kind_unknown"


@dataclass(frozen=True)
class Header:
    info_kind: str  # 気象警報・注意報 / 土砂災害警戒情報 / 指定河川洪水予報
    event_id: str
    serial: int | None  # None where the telegram has none (気象警報・注意報: <Serial/>)
    info_type: str  # 発表 / 訂正 / 取消
    title: str  # Head/Title (the Control/Title is the telegram's type name)
    headline: str
    office: str  # Control/EditorialOffice
    report_at: datetime  # Head/ReportDateTime (with its offset)
    control_status: str = "通常"  # Control/Status: 通常 / 訓練 / 試験


@dataclass(frozen=True)
class Item:
    area_code: str
    area_name: str
    kind_name: str  # 大雨特別警報, 洪水警報, 土砂災害警戒情報, 氾濫危険情報 …; '' for 発表警報・注意報はなし
    kind_code: str
    condition: str  # 土砂災害、浸水害 (大雨警報・特別警報); 洪水警報（発表） (洪水予報); ''
    status: str  # 発表 / 継続 / 警戒 … / 解除 / なし
    river: str = ""  # 指定河川洪水予報: the river

    @property
    def in_force(self) -> bool:
        return bool(self.kind_name) and self.status not in NOT_IN_FORCE


@dataclass(frozen=True)
class Telegram:
    header: Header
    items: tuple[Item, ...]

    @property
    def area_codes(self) -> tuple[str, ...]:
        """The areas the telegram speaks of (in force or not), in order, once each."""
        return tuple(dict.fromkeys(i.area_code for i in self.items))

    @property
    def in_force(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.in_force)


# ------------------------------------------------------------------------------------ parsing
def parse_bytes(data: bytes) -> etree._Element:
    """The root element of XML ``data``, parsed by the hardened parser (TelegramError otherwise)."""
    if len(data) > MAX_BYTES:
        raise TelegramError(
            f"電文が大きすぎます（{len(data)} バイト、上限 {MAX_BYTES}）。",
            f"The telegram is too large ({len(data)} bytes, limit {MAX_BYTES}).",
        )
    if _DECLARATION.search(data):
        raise TelegramError(
            "DOCTYPE・ENTITY 宣言を含む XML は受け付けません（実体展開攻撃・外部実体参照の防止）。",
            "XML with a DOCTYPE or ENTITY declaration is refused (entity expansion / external entity attacks).",
        )
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise TelegramError(
            f"XML として読めません：{str(e)[:200]}", f"Not well-formed XML: {str(e)[:200]}"
        ) from e
    if root is None:
        raise TelegramError("空の XML です。", "Empty XML.")
    tree = root.getroottree()
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise TelegramError("DOCTYPE を含む XML は受け付けません。", "XML with a DOCTYPE is refused.")
    return root


def _text(el: etree._Element | None, path: str) -> str:
    if el is None:
        return ""
    found = el.find(path, _NS)
    return "" if found is None or found.text is None else found.text.strip()


def _serial(raw: str) -> int | None:
    if not raw:
        return None
    try:
        return int(raw.translate(_FULLWIDTH_DIGITS))
    except ValueError:
        raise TelegramError(
            f"Serial が数字ではありません：{raw[:20]}", f"Serial is not a number: {raw[:20]}"
        ) from None


_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _header(root: etree._Element) -> Header:
    if root.tag != f"{{{NS_REPORT}}}Report":
        raise TelegramError(
            "気象庁防災情報XMLの電文ではありません（Report 要素がありません）。",
            "Not a JMA disaster-information telegram (no Report element).",
        )
    control = root.find("r:Control", _NS)
    head = root.find("h:Head", _NS)
    if control is None or head is None:
        raise TelegramError("Control または Head がありません。", "The Control or Head part is missing.")
    info_kind = _text(head, "h:InfoKind")
    if info_kind not in INFO_KINDS:
        raise UnknownInfoKind(
            f"取り込まない種類の電文です（InfoKind: {info_kind[:40] or '(なし)'}）。"
            f"対象は {'・'.join(INFO_KINDS)} です。",
            f"A telegram kind this platform does not read (InfoKind: {info_kind[:40] or '(none)'}); "
            f"it reads {', '.join(INFO_KINDS)}.",
            info_kind=info_kind[:40],
        )
    info_type = _text(head, "h:InfoType")
    if info_type not in INFO_TYPES:
        raise TelegramError(
            f"InfoType が不明です：{info_type[:20]}",
            f"Unknown InfoType: {info_type[:20]}",
            info_type=info_type[:20],
        )
    event_id = _text(head, "h:EventID")
    if not event_id:
        raise TelegramError("EventID がありません。", "The EventID is missing.")
    raw_time = _text(head, "h:ReportDateTime")
    try:
        report_at = datetime.fromisoformat(raw_time)
    except ValueError:
        raise TelegramError(
            f"ReportDateTime が読めません：{raw_time[:40]}", f"Unreadable ReportDateTime: {raw_time[:40]}"
        ) from None
    if report_at.tzinfo is None:
        raise TelegramError("ReportDateTime に時差がありません。", "ReportDateTime has no UTC offset.")
    return Header(
        info_kind=info_kind,
        event_id=event_id[:200],
        serial=_serial(_text(head, "h:Serial")),
        info_type=info_type,
        title=_text(head, "h:Title")[:500],
        headline=_text(head, "h:Headline/h:Text")[:4000],
        office=_text(control, "r:EditorialOffice")[:200],
        report_at=report_at,
        control_status=_text(control, "r:Status") or "通常",
    )


def _warning_items(root: etree._Element) -> list[Item]:
    items = []
    for item in root.iterfind("b:Body/b:Warning[@type='気象警報・注意報（市町村等）']/b:Item", _NS):
        code, name = _text(item, "b:Area/b:Code"), _text(item, "b:Area/b:Name")
        for kind in item.iterfind("b:Kind", _NS):
            items.append(
                Item(
                    area_code=code,
                    area_name=name,
                    kind_name=_text(kind, "b:Name"),
                    kind_code=_text(kind, "b:Code"),
                    condition=_text(kind, "b:Condition"),
                    status=_text(kind, "b:Status"),
                )
            )
    return items


def _landslide_items(root: etree._Element) -> list[Item]:
    return [
        Item(
            area_code=_text(item, "b:Area/b:Code"),
            area_name=_text(item, "b:Area/b:Name"),
            kind_name=LANDSLIDE,  # Kind/Name is 警戒 / 解除 / なし; its code is kept
            kind_code=_text(item, "b:Kind/b:Code"),
            condition="",
            status=_text(item, "b:Kind/b:Status"),
        )
        for item in root.iterfind("b:Body/b:Warning[@type='土砂災害警戒情報']/b:Item", _NS)
    ]


def _flood_kind(name: str) -> str:
    return name.replace("はん濫", "氾濫")


def _flood_status(kind_name: str, condition: str, info_type: str) -> str:
    if "解除" in kind_name or "（解除）" in condition:
        return "解除"
    found = re.search(r"（(発表|継続|切替|解除)）", condition)
    return found.group(1) if found else info_type


def _river_items(root: etree._Element, info_type: str, codes: frozenset[str] | None) -> list[Item]:
    head_info = "h:Head/h:Headline/h:Information"
    forecast = root.find(f"{head_info}[@type='指定河川洪水予報（予報区域）']/h:Item", _NS)
    rivers = root.find(f"{head_info}[@type='指定河川洪水予報（河川）']/h:Item", _NS)
    source = rivers if rivers is not None else forecast
    if source is None:
        return []
    kind_name = _flood_kind(_text(source, "h:Kind/h:Name"))
    kind_code = _text(source, "h:Kind/h:Code")
    condition = _text(source, "h:Kind/h:Condition")
    status = _flood_status(kind_name, condition, info_type)
    # The Body's river names win over the Headline's (JMA's own sample spells 揖斐川 損斐川 in one).
    body_names = {
        _text(a, "b:Code"): _text(a, "b:Name")
        for a in root.iterfind("b:Body/b:Warning/b:Item/b:Areas[@codeType='河川']/b:Area", _NS)
    }
    areas = [(_text(a, "h:Code"), _text(a, "h:Name")) for a in source.iterfind("h:Areas/h:Area", _NS)]
    areas = [(c, body_names.get(c) or n) for c, n in areas]
    if codes is not None:
        forecast_codes = (
            {_text(a, "h:Code") for a in forecast.iterfind("h:Areas/h:Area", _NS)}
            if forecast is not None
            else set()
        )
        # 浸水想定地区 cities: 5-digit 全国地方公共団体コード (recent telegrams) or 7-digit (JMA's old
        # sample, where it is a placeholder 0000000); a configured 1421400 is the city 14214.
        cities = {
            code + "00" if len(code) == 5 else code
            for a in root.iterfind("b:Body/b:Warning/b:Item/b:Areas/b:Area", _NS)
            if (code := _text(a, "b:CityCode"))
        } - {"0000000"}
        if not (codes & (forecast_codes | cities)):
            areas = [(c, n) for c, n in areas if c in codes]  # only a configured river concerns us
    return [
        Item(area_code=c, area_name=n, kind_name=kind_name, kind_code=kind_code, condition=condition,
             status=status, river=n)
        for c, n in areas
    ]  # fmt: skip


def parse(data: bytes, area_codes: Iterable[str] | None = None) -> Telegram:
    """Read one telegram. With ``area_codes``, keep only the items of those areas (for a 指定河川洪水予報:
    all its rivers when its 予報区域 or a 浸水想定地区 city is configured, else the configured rivers).
    Raises TelegramError (UnknownInfoKind for a kind we do not read)."""
    root = parse_bytes(data)
    header = _header(root)
    codes = None if area_codes is None else frozenset(c.strip() for c in area_codes if c.strip())
    if header.info_kind == WARNINGS:
        items = _warning_items(root)
    elif header.info_kind == LANDSLIDE:
        items = _landslide_items(root)
    else:
        items = _river_items(root, header.info_type, codes)
    if any(not i.area_code for i in items):
        raise TelegramError("地域コードのない項目があります。", "An item has no area code.")
    if codes is not None and header.info_kind != RIVER_FLOOD:  # rivers: chosen above
        items = [i for i in items if i.area_code in codes]
    return Telegram(header, tuple(items))
