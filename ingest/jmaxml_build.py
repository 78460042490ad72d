"""JMA-form telegrams for the demo city 伊勢原市 (tests and the demo): the real structure of VPWW54,
VXWW50 and VXKO, with our area codes. Their Headline says they are demo telegrams; they are not
issued by JMA.

Area codes (気象庁 予報区等コード): 神奈川県 140000 (府県予報区), 東部 140010 (一次細分区域),
湘南 140012 (市町村等をまとめた地域), 伊勢原市 1421400 (市町村等: the 全国地方公共団体コード 14214
without its check digit, then 00). Only the 市町村等 code drives what is stored; the others give the
telegram its real shape. The rivers are the demo's fictional ones (layers.demo_geo.RIVERS) with
fictional river and forecast-area codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

from lxml import etree

from ingest.jmaxml import NS_BODY, NS_HEAD, NS_REPORT
from layers.demo_geo import RIVERS

JST = timezone(timedelta(hours=9))
OFFICE = "横浜地方気象台"
PREF = ("神奈川県", "140000")
PRIMARY = ("東部", "140010")
GROUP = ("湘南", "140012")
CITY = ("伊勢原市", "1421400")
NEIGHBOURS = (("秦野市", "1421100"), ("厚木市", "1421200"))  # present in the telegram, not ours
DEMO_NOTE = "【デモ】この電文は訓練用に作成したもので、気象庁が発表したものではありません。"

# 気象警報・注意報 codes (気象庁 コード表「気象警報・注意報」).
WARNING_CODES = {
    "大雨特別警報": "33",
    "大雨警報": "03",
    "洪水警報": "04",
    "大雨注意報": "10",
    "洪水注意報": "18",
    "雷注意報": "14",
}
# 指定河川洪水予報: the Kind, its code (as read in recent telegrams: 10 解除, 2x 注意, 3x 警戒, 4x 危険,
# 5x 発生; JMA's 2008 sample has 00 for はん濫注意情報) and the Condition it carries.
RIVER_KINDS = {
    "氾濫注意情報": ("20", "洪水注意報（発表）"),
    "氾濫警戒情報": ("30", "洪水警報（発表）"),
    "氾濫危険情報": ("40", "洪水警報（発表）"),
    "氾濫発生情報": ("51", "洪水警報（発表）"),
    "氾濫注意情報解除": ("10", "洪水注意報（解除）"),
}
RIVER_CODES = {name: (f"99900000000{i + 1}", f"999000000{i + 1}") for i, (name, *_) in enumerate(RIVERS)}


def _at(report_at: datetime | None) -> datetime:
    return (report_at or datetime.now(JST).replace(microsecond=0)).astimezone(JST)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _area(parent: etree._Element, ns: str, name: str, code: str) -> None:
    area = _sub(parent, f"{{{ns}}}Area")
    _sub(area, f"{{{ns}}}Name", name)
    _sub(area, f"{{{ns}}}Code", code)


def _report(
    control_title: str,
    title: str,
    info_kind: str,
    version: str,
    event_id: str,
    serial: int | None,
    info_type: str,
    report_at: datetime,
    headline: str,
) -> tuple[etree._Element, etree._Element, etree._Element]:
    r, h = NS_REPORT, NS_HEAD
    root = etree.Element(f"{{{r}}}Report", nsmap={None: r, "jmx": r})
    control = _sub(root, f"{{{r}}}Control")
    _sub(control, f"{{{r}}}Title", control_title)
    _sub(control, f"{{{r}}}DateTime", report_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _sub(control, f"{{{r}}}Status", "通常")
    _sub(control, f"{{{r}}}EditorialOffice", OFFICE)
    _sub(control, f"{{{r}}}PublishingOffice", OFFICE)
    head = etree.SubElement(root, f"{{{h}}}Head", nsmap={None: h})
    _sub(head, f"{{{h}}}Title", title)
    _sub(head, f"{{{h}}}ReportDateTime", report_at.isoformat())
    _sub(head, f"{{{h}}}TargetDateTime", report_at.isoformat())
    _sub(head, f"{{{h}}}EventID", event_id)
    _sub(head, f"{{{h}}}InfoType", info_type)
    _sub(head, f"{{{h}}}Serial", None if serial is None else str(serial))
    _sub(head, f"{{{h}}}InfoKind", info_kind)
    _sub(head, f"{{{h}}}InfoKindVersion", version)
    headline_el = _sub(head, f"{{{h}}}Headline")
    _sub(headline_el, f"{{{h}}}Text", f"{DEMO_NOTE}\n{headline}")
    body = etree.SubElement(root, f"{{{NS_BODY}}}Body", nsmap={None: NS_BODY})
    return root, headline_el, body


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ------------------------------------------------------------------------------------ 土砂災害警戒情報
def landslide(
    *,
    status: str = "発表",
    serial: int = 1,
    info_type: str = "発表",
    event_id: str = "神奈川県土砂災害警戒情報",
    report_at: datetime | None = None,
) -> bytes:
    """VXWW50 for 神奈川県: 伊勢原市 with ``status`` 発表 / 継続 (警戒, Code 3) or 解除 (Code 1); the
    neighbours なし. A 取消 carries no items."""
    at = _at(report_at)
    b, h = NS_BODY, NS_HEAD
    kind = ("解除", "1") if status == "解除" else ("警戒", "3")
    text = (
        "伊勢原市に土砂災害警戒情報を発表しました。"
        if kind[0] == "警戒"
        else "伊勢原市の土砂災害警戒情報を解除しました。"
    )
    if info_type == "取消":
        text = "先の土砂災害警戒情報を取り消します。"
    root, headline, body = _report(
        "土砂災害警戒情報",
        "神奈川県土砂災害警戒情報",
        "土砂災害警戒情報",
        "1.0_1",
        event_id,
        serial,
        info_type,
        at,
        text,
    )
    if info_type == "取消":
        return _bytes(root)
    info = _sub(headline, f"{{{h}}}Information", type="土砂災害警戒情報")
    item = _sub(info, f"{{{h}}}Item")
    k = _sub(item, f"{{{h}}}Kind")
    _sub(k, f"{{{h}}}Name", kind[0])
    _sub(k, f"{{{h}}}Code", kind[1])
    _sub(k, f"{{{h}}}Condition", status)
    areas = _sub(item, f"{{{h}}}Areas", codeType="気象・地震・火山情報／市町村等")
    _area(areas, h, *CITY)
    target = _sub(body, f"{{{b}}}TargetArea")
    _sub(target, f"{{{b}}}Name", PREF[0])
    _sub(target, f"{{{b}}}Code", PREF[1])
    warning = _sub(body, f"{{{b}}}Warning", type="土砂災害警戒情報")
    for (name, code), (kname, kcode, kstatus) in [(CITY, (*kind, status))] + [
        (n, ("なし", "0", "なし")) for n in NEIGHBOURS
    ]:
        item = _sub(warning, f"{{{b}}}Item")
        k = _sub(item, f"{{{b}}}Kind")
        _sub(k, f"{{{b}}}Name", kname)
        _sub(k, f"{{{b}}}Code", kcode)
        _sub(k, f"{{{b}}}Status", kstatus)
        _area(item, b, name, code)
    return _bytes(root)


# ------------------------------------------------------------------------------------ 気象警報・注意報
Kind = tuple[str, str, str]  # (name, condition, status)

HEAVY_RAIN_WARNING: tuple[Kind, ...] = (("大雨警報", "土砂災害", "発表"), ("洪水警報", "", "発表"))
EMERGENCY_WARNING: tuple[Kind, ...] = (("大雨特別警報", "土砂災害、浸水害", "発表"), ("洪水警報", "", "継続"))
ALL_CLEAR: tuple[Kind, ...] = (("", "", "発表警報・注意報はなし"),)


def warnings(
    kinds: Sequence[Kind] = HEAVY_RAIN_WARNING,
    *,
    info_type: str = "発表",
    event_id: str | None = None,
    report_at: datetime | None = None,
) -> bytes:
    """VPWW54 for 神奈川県 with ``kinds`` (name, condition, status) for 伊勢原市 and the same at the
    upper area levels; the neighbours have 大雨注意報 (not ours). Serial is empty, as JMA's is."""
    at = _at(report_at)
    b, h = NS_BODY, NS_HEAD
    event_id = event_id or at.strftime("%Y%m%d%H%M%S") + "_0"
    in_force = [k for k in kinds if k[0] and k[2] not in ("解除", "発表警報・注意報はなし")]
    named = "、".join(k[0] for k in in_force) or "警報・注意報の解除"
    root, headline, body = _report(
        "気象警報・注意報（Ｈ２７）",
        "神奈川県気象警報・注意報",
        "気象警報・注意報",
        "1.2_0",
        event_id,
        None,
        info_type,
        at,
        f"伊勢原市に{named}。" if in_force else "伊勢原市の警報・注意報は解除されました。",
    )
    if info_type == "取消":
        return _bytes(root)
    levels = (
        ("気象警報・注意報（府県予報区等）", "気象情報／府県予報区・細分区域等", [PREF]),
        ("気象警報・注意報（一次細分区域等）", "気象情報／府県予報区・細分区域等", [PRIMARY]),
        ("気象警報・注意報（市町村等をまとめた地域等）", "気象情報／府県予報区・細分区域等", [GROUP]),
        ("気象警報・注意報（市町村等）", "気象・地震・火山情報／市町村等", [CITY]),
    )
    neighbour_kinds: tuple[Kind, ...] = (("大雨注意報", "", "発表"),)
    for info_type_name, code_type, places in levels:
        info = _sub(headline, f"{{{h}}}Information", type=info_type_name)
        groups = [(kinds, places)]
        if code_type.endswith("市町村等"):
            groups.append((neighbour_kinds, list(NEIGHBOURS)))
        for group_kinds, group_places in groups:
            shown = [k for k in group_kinds if k[0] and k[2] not in ("解除", "発表警報・注意報はなし")]
            if not shown:
                continue
            item = _sub(info, f"{{{h}}}Item")
            for name, cond, _status in shown:
                k = _sub(item, f"{{{h}}}Kind")
                _sub(k, f"{{{h}}}Name", name)
                _sub(k, f"{{{h}}}Code", WARNING_CODES.get(name, "00"))
                if cond:
                    _sub(k, f"{{{h}}}Condition", cond)
            areas = _sub(item, f"{{{h}}}Areas", codeType=code_type)
            for place in group_places:
                _area(areas, h, *place)
        warning = _sub(body, f"{{{b}}}Warning", type=info_type_name)
        for group_kinds, group_places in groups:
            for place in group_places:
                item = _sub(warning, f"{{{b}}}Item")
                for name, cond, status in group_kinds:
                    k = _sub(item, f"{{{b}}}Kind")
                    if name:
                        _sub(k, f"{{{b}}}Name", name)
                        _sub(k, f"{{{b}}}Code", WARNING_CODES.get(name, "00"))
                    _sub(k, f"{{{b}}}Status", status)
                    if cond:
                        _sub(k, f"{{{b}}}Condition", cond)
                _area(item, b, *place)
                _sub(item, f"{{{b}}}ChangeStatus", "警報・注意報種別に変化有")
    return _bytes(root)


# ------------------------------------------------------------------------------------ 指定河川洪水予報
def river_flood(
    kind: str = "氾濫危険情報",
    *,
    river: str = RIVERS[0][0],
    serial: int = 1,
    info_type: str = "発表",
    event_id: str | None = None,
    report_at: datetime | None = None,
) -> bytes:
    """VXKO for a demo river (鈴川（架空） by default): its 予報区域 (code = EventID, as JMA's), the river,
    the 府県予報区, and in the Body the 浸水想定地区 in 伊勢原市 (CityCode 1421400)."""
    at = _at(report_at)
    b, h = NS_BODY, NS_HEAD
    forecast_code, river_code = RIVER_CODES[river]
    code, condition = RIVER_KINDS[kind]
    title = f"{river}{kind}"
    root, headline, body = _report(
        "指定河川洪水予報",
        title,
        "指定河川洪水予報",
        "1.1_0",
        event_id or forecast_code,
        serial,
        info_type,
        at,
        f"{river}では{kind.removesuffix('解除')}{'を解除します' if kind.endswith('解除') else 'を発表しました'}。",
    )
    if info_type == "取消":
        return _bytes(root)
    for info_name, code_type, place in (
        ("指定河川洪水予報（予報区域）", "指定河川洪水予報（予報区域）", (river, forecast_code)),
        ("指定河川洪水予報（河川）", "河川", (river, river_code)),
        ("指定河川洪水予報（府県予報区等）", "気象情報／府県予報区・細分区域等", PREF),
    ):
        info = _sub(headline, f"{{{h}}}Information", type=info_name)
        item = _sub(info, f"{{{h}}}Item")
        k = _sub(item, f"{{{h}}}Kind")
        _sub(k, f"{{{h}}}Name", kind)
        _sub(k, f"{{{h}}}Code", code)
        _sub(k, f"{{{h}}}Condition", condition)
        _area(_sub(item, f"{{{h}}}Areas", codeType=code_type), h, *place)
    warning = _sub(body, f"{{{b}}}Warning", type="指定河川洪水予報")
    item = _sub(warning, f"{{{b}}}Item")
    prop = _sub(_sub(item, f"{{{b}}}Kind"), f"{{{b}}}Property")
    _sub(prop, f"{{{b}}}Type", "主文")
    _sub(
        prop, f"{{{b}}}Text", f"{river}の水位観測所で{kind.removesuffix('解除')}の基準に達しました（デモ）。"
    )
    _area(_sub(item, f"{{{b}}}Areas", codeType="河川"), b, river, river_code)
    item = _sub(warning, f"{{{b}}}Item")
    k = _sub(item, f"{{{b}}}Kind")
    _sub(k, f"{{{b}}}Name", "浸水想定地区")
    _sub(k, f"{{{b}}}Code", "1")
    _sub(k, f"{{{b}}}Status", "対象地域")
    area = _sub(_sub(item, f"{{{b}}}Areas"), f"{{{b}}}Area", codeType="水位観測所")
    _sub(area, f"{{{b}}}Name", f"{river.removesuffix('（架空）')}水位観測所")
    _sub(area, f"{{{b}}}Code", river_code + "0000001")
    _sub(area, f"{{{b}}}Prefecture", PREF[0])
    _sub(area, f"{{{b}}}PrefectureCode", "14000")
    _sub(area, f"{{{b}}}City", CITY[0])
    _sub(area, f"{{{b}}}CityCode", CITY[1][:5])  # 全国地方公共団体コード without its check digit
    return _bytes(root)


# ------------------------------------------------------------------------------------ Atom feed
def feed(
    entries: Sequence[tuple[str, str, datetime] | tuple[str, str, datetime, str]],
    *,
    self_url: str,
    updated: datetime | None = None,
) -> bytes:
    """A JMA PULL-form Atom feed: ``entries`` are (title, telegram URL, updated[, office]), newest
    first as JMA lists them; each entry's id and ``link`` are the telegram's URL, its author the office
    (横浜地方気象台 unless given)."""
    a = "http://www.w3.org/2005/Atom"
    root = etree.Element(f"{{{a}}}feed", nsmap={None: a})
    root.set("lang", "ja")
    _sub(root, f"{{{a}}}title", "高頻度（随時）")
    _sub(root, f"{{{a}}}subtitle", "JMAXML publishing feed")
    stamp = updated or max((e[2] for e in entries), default=_at(None))
    _sub(root, f"{{{a}}}updated", stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    _sub(root, f"{{{a}}}id", self_url)
    _sub(root, f"{{{a}}}link", rel="related", href="https://www.jma.go.jp/")
    _sub(root, f"{{{a}}}link", rel="self", href=self_url)
    _sub(root, f"{{{a}}}rights", "【デモ】", type="html")
    for title, url, at, *office in entries:
        entry = _sub(root, f"{{{a}}}entry")
        _sub(entry, f"{{{a}}}title", title)
        _sub(entry, f"{{{a}}}id", url)
        _sub(entry, f"{{{a}}}updated", at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        _sub(_sub(entry, f"{{{a}}}author"), f"{{{a}}}name", office[0] if office else OFFICE)
        _sub(entry, f"{{{a}}}link", type="application/xml", href=url)
        _sub(entry, f"{{{a}}}content", f"【{title}】{DEMO_NOTE}", type="text")
    return _bytes(root)
