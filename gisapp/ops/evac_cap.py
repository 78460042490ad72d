"""Evacuation information for other systems: OASIS CAP 1.2 (ITU-T X.1303) per order version, and the
Atom feed that lists them (RFC 4287). Pure: values in, XML bytes out (the standard library builds the
XML; nothing is parsed here). docs/evacuation-info.md "Publishing" describes the profile.

- One CAP document per version: ``msgType`` Alert (issue), Update (a change of level or areas, with
  ``references`` to every earlier version), Cancel (解除, likewise); two ``info`` blocks, ja-JP then
  en-US, with the words of ``evac_levels`` (the same as the citizen banner); ``instruction`` is the
  level's action text; ``area`` carries the order's polygons as CAP rings (lat,lon pairs, closed; a
  multipolygon gives several ``polygon`` elements; CAP has no holes, so inner rings are left out and the
  area is the outer ring's) and the area codes as ``geocode``.
- One Atom entry per version, newest first, linking to its CAP document.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from gisapp.ops import evac_levels

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"
ATOM_TYPE = "application/atom+xml"
JST = ZoneInfo("Asia/Tokyo")
TAG_DATE = "2026"  # of the Atom ids' tag URIs: a fixed date, so an id never changes
EVENT_CODE = "JP-KeikaiLevel"  # our eventCode valueName: the 警戒レベル of the order

MSG_TYPE = {"issue": "Alert", "cancel": "Cancel"}  # any change: Update
VERB = {  # action -> (ja, en)
    "issue": ("発令", "issued"),
    "change_level": ("レベル変更", "level changed"),
    "change_areas": ("対象地域変更", "areas changed"),
    "change": ("変更", "changed"),
    "cancel": ("解除", "cancelled"),
}
CANCEL_INSTRUCTION = (
    "この避難情報は解除されました。引き続き気象情報や市の情報に注意してください。",
    "This evacuation information has been lifted. Keep following weather and city information.",
)
# CAP categories per hazard (Safety always; then the nature of the hazard).
CATEGORIES = {
    "landslide": ("Safety", "Geo"),
    "flood": ("Safety", "Met"),
    "inland_flood": ("Safety", "Met"),
    "storm_surge": ("Safety", "Met"),
    "tsunami": ("Safety", "Geo"),
    "earthquake": ("Safety", "Geo"),
    "volcano": ("Safety", "Geo"),
    "fire": ("Safety", "Fire"),
}


def cap_time(moment: datetime) -> str:
    """CAP's dateTime form: seconds, an explicit offset (never "Z"); Japan Standard Time."""
    return moment.astimezone(JST).replace(microsecond=0).isoformat()


def atom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def identifier(sender: str, order_id: int, version: int) -> str:
    """Unique per sender and version; no spaces, commas, ``<`` or ``&`` (CAP 1.2 3.2.1)."""
    return f"{sender}:evacuation-info:{order_id}:{version}"


def entry_id(sender: str, order_id: int, version: int) -> str:
    """The Atom entry's permanent id: a tag URI (RFC 4151) under the sender's mail address or domain."""
    return f"tag:{sender},{TAG_DATE}:evacuation-info/{order_id}/{version}"


def headline(v: dict, lang: str) -> str:
    d = evac_levels.describe(v["level"], v["hazard"])
    areas_ja = "、".join(v["area_names"])
    verb_ja, verb_en = VERB[v["action"]]
    if lang == "ja":
        return f"【{d['level_label_ja']}】{d['name_ja']}（{d['hazard_ja']}）{verb_ja}：{areas_ja}"
    return f"[{d['level_label_en']}] {d['name_en']} ({d['hazard_en']}) {verb_en}: {areas_en(v)}"


def areas_en(v: dict) -> str:
    names = v["area_names"]
    codes = v["area_codes"]
    if len(codes) == len(names):
        return ", ".join(f"{n} ({c})" for n, c in zip(names, codes, strict=True))
    return ", ".join(names)


def description(v: dict, lang: str) -> str:
    d = evac_levels.describe(v["level"], v["hazard"])
    local = v["at"].astimezone(JST)
    if lang == "ja":
        when = f"{local.year}年{local.month}月{local.day}日{local.hour}時{local.minute:02d}分"
        areas = "、".join(v["area_names"])
        what = f"{d['level_label_ja']}「{d['name_ja']}」（{d['hazard_ja']}）"
        if v["action"] == "issue":
            return f"{when}、{areas}に{what}を発令しました。"
        if v["action"] == "cancel":
            return f"{when}、{areas}の{what}を解除しました。"
        return f"{when}、{what}の内容を変更しました（{VERB[v['action']][0]}）。対象地域：{areas}"
    when = f"{local:%H:%M} JST on {local.day} {local:%b %Y}"
    what = f"{d['level_label_en']} \u201c{d['name_en']}\u201d ({d['hazard_en']})"
    if v["action"] == "issue":
        return f"At {when}, {what} was issued for {areas_en(v)}."
    if v["action"] == "cancel":
        return f"At {when}, {what} for {areas_en(v)} was lifted."
    return f"At {when}, {what} was changed ({VERB[v['action']][1]}). Areas: {areas_en(v)}."


def instruction(v: dict, lang: str) -> str:
    if v["action"] == "cancel":
        return CANCEL_INSTRUCTION[0 if lang == "ja" else 1]
    d = evac_levels.describe(v["level"], v["hazard"])
    return str(d["action_ja"] if lang == "ja" else d["action_en"])


def cap_polygons(geometry: dict) -> list[str]:
    """CAP ``polygon`` values of a GeoJSON (Multi)Polygon: each outer ring as "lat,lon" pairs, closed."""
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    out = []
    for rings in polygons:
        ring = [(round(lat, 6), round(lon, 6)) for lon, lat, *_ in rings[0]]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        if len(ring) >= 4:
            out.append(" ".join(f"{lat},{lon}" for lat, lon in ring))
    return out


def _sub(parent: ET.Element, tag: str, value: str | None = None, ns: str = CAP_NS) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if value is not None:
        el.text = value
    return el


def _value(parent: ET.Element, tag: str, name: str, value: str) -> None:
    el = _sub(parent, tag)
    _sub(el, "valueName", name)
    _sub(el, "value", value)


def cap_document(v: dict, *, sender: str, sender_name: str, web: str) -> bytes:
    """The CAP 1.2 alert of one order version (``evac_public.order_version``)."""
    alert = ET.Element(f"{{{CAP_NS}}}alert")
    _sub(alert, "identifier", identifier(sender, v["order_id"], v["version"]))
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_time(v["at"]))
    _sub(alert, "status", "Actual")
    _sub(alert, "msgType", MSG_TYPE.get(v["action"], "Update"))
    _sub(alert, "scope", "Public")
    if v["previous"]:
        _sub(
            alert,
            "references",
            " ".join(
                f"{sender},{identifier(sender, v['order_id'], p['version'])},{cap_time(p['at'])}"
                for p in v["previous"]
            ),
        )
    _sub(alert, "incidents", identifier(sender, v["order_id"], 1))
    level = evac_levels.level(v["level"])
    cancelled = v["action"] == "cancel"
    polygons = cap_polygons(v["geometry"])
    for lang, language in (("ja", "ja-JP"), ("en", "en-US")):
        d = evac_levels.describe(v["level"], v["hazard"])
        info = _sub(alert, "info")
        _sub(info, "language", language)
        for category in CATEGORIES.get(v["hazard"], ("Safety",)):
            _sub(info, "category", category)
        _sub(
            info,
            "event",
            f"{d['name_ja']}（{d['hazard_ja']}）" if lang == "ja" else f"{d['name_en']} ({d['hazard_en']})",
        )
        if cancelled:
            _sub(info, "responseType", "AllClear")
        else:
            if v["level"] == 3:
                _sub(info, "responseType", "Prepare")
            _sub(info, "responseType", "Evacuate")
        _sub(info, "urgency", "Past" if cancelled else level.cap_urgency)
        _sub(info, "severity", "Minor" if cancelled else level.cap_severity)
        _sub(info, "certainty", "Observed" if cancelled else "Likely")
        _value(info, "eventCode", EVENT_CODE, str(v["level"]))
        _sub(info, "effective", cap_time(v["at"]))
        _sub(info, "senderName", sender_name)
        _sub(info, "headline", headline(v, lang))
        _sub(info, "description", description(v, lang))
        _sub(info, "instruction", instruction(v, lang))
        _sub(info, "web", web)
        area = _sub(info, "area")
        _sub(area, "areaDesc", "、".join(v["area_names"]) if lang == "ja" else areas_en(v))
        for ring in polygons:
            _sub(area, "polygon", ring)
        for code in v["area_codes"]:
            _value(area, "geocode", "gisapp-evac-area", code)
    ET.register_namespace("", CAP_NS)
    return ET.tostring(alert, encoding="utf-8", xml_declaration=True)


def atom_feed(
    versions: list[dict], *, feed_url: str, base_url: str, sender: str, sender_name: str, page_url: str
) -> bytes:
    """The Atom feed: one entry per order version (newest first), each linking to its CAP document."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"{http://www.w3.org/XML/1998/namespace}lang": "ja"})

    def sub(parent: ET.Element, tag: str, value: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if value is not None:
            el.text = value
        return el

    newest = versions[0]["at"] if versions else datetime(2000, 1, 1, tzinfo=UTC)
    sub(feed, "id", feed_url)
    sub(feed, "title", "避難情報 / Evacuation information")
    sub(feed, "subtitle", "高齢者等避難・避難指示・緊急安全確保の発令・変更・解除 (CAP 1.2)")
    sub(feed, "updated", atom_time(newest))
    author = sub(feed, "author")
    sub(author, "name", sender_name)
    sub(feed, "link", rel="self", type=ATOM_TYPE, href=feed_url)
    sub(feed, "link", rel="alternate", type="text/html", href=page_url)
    for v in versions:
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(sender, v["order_id"], v["version"]))
        sub(entry, "title", f"{headline(v, 'ja')} / {headline(v, 'en')}")
        sub(entry, "updated", atom_time(v["at"]))
        sub(entry, "published", atom_time(v["at"]))
        cap = f"{base_url}/feeds/evacuation-info/{v['order_id']}-{v['version']}.cap"
        sub(entry, "link", rel="alternate", type=CAP_TYPE, href=cap)
        sub(entry, "category", term=f"level-{v['level']}", label=f"警戒レベル{v['level']}")
        sub(entry, "category", term=v["action"])
        summary = "\n".join(
            [description(v, "ja"), instruction(v, "ja"), "", description(v, "en"), instruction(v, "en")]
        )
        sub(entry, "summary", summary, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
