"""The situation map (状況図) as a PDF: the HQ's state at T (gisapp/ops/situation_map.py) put into
words (text section ``situation_map``) and the HQ map's symbols (frontend/symbols.py: the same
shapes, colours and letters, so the paper and the screen read alike), drawn by layers/printmap.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from frontend.catalogue import Lang, text
from frontend.symbols import symbols
from gisapp.ops import evac_levels
from gisapp.ops.situation_map import MAX_INCIDENTS, PrintRequest, Situation, now
from layers.printmap import pdf
from layers.printmap.sheet import BASE_STYLE, LEVEL_DASH, Area, Closure, LegendEntry, Marker, Sheet

JST = ZoneInfo("Asia/Tokyo")
_SHELTER_STATES = ("vacant", "moderate", "crowded", "full", "unknown")


def _jst(moment: datetime) -> str:
    return f"{moment.astimezone(JST):%Y-%m-%d %H:%M}"


def map_rect(req: PrintRequest) -> tuple[float, float, float, float]:
    return pdf.map_rect(req.paper, req.orientation)


def render(situation: Situation, req: PrintRequest, lang: Lang = "ja") -> bytes:
    words = text(lang, "situation_map")
    drawn = symbols(lang)
    name = situation.disaster["name"]
    time = _jst(situation.at)
    sheet = Sheet(
        title=words["title"].format(disaster=name),
        subtitle=words["as_of"].format(time=time),
        confidential=words["confidential"] if situation.internal else None,
        basemap=situation.basemap,
        subject=words["subject"],
        words={
            "legend": words["legend"],
            "north": words["north"],
            "scale": words["scale"]
            .replace("{paper}", req.paper)
            .replace("{orientation}", words[req.orientation]),
            "crs": words["crs"].format(srid=situation.frame.srid),
            "source": words["source"],
            "footer": words["footer"].format(printed=_jst(now())),
            "page": words["page"],
        },
    )
    _areas(sheet, situation, lang, words)
    _closures(sheet, situation, drawn, words)
    _markers(sheet, situation, drawn, words)
    sheet.legend = _legend(situation, drawn, words, lang)
    sheet.notes = _notes(situation, words)
    _table(sheet, situation, drawn, words, name, time, lang)
    return pdf.render(sheet, situation.frame, req.paper, req.orientation)


def _areas(sheet: Sheet, s: Situation, lang: Lang, words: dict) -> None:
    for order in s.orders:
        info = evac_levels.describe(order["level"], order["hazard"])
        label = words["order_label"].format(
            level=order["level"], name=info["name_en" if lang == "en" else "name_ja"]
        )
        sheet.areas.append(
            Area(order["geometry"], str(info["colour"]), str(info["text_colour"]), order["level"], label)
        )


def _closures(sheet: Sheet, s: Situation, drawn: dict, words: dict) -> None:
    symbol = drawn["closure"]["closed"]
    for closure in s.closures:
        g = closure["geometry"]
        try:
            mid = g.interpolate(0.5, normalized=True)
        except Exception:  # a geometry GEOS cannot walk along: its inside point
            mid = g.representative_point()
        sheet.closures.append(
            Closure(
                g, Marker(mid.x, mid.y, symbol["shape"], symbol["colour"], symbol["ink"], symbol["letter"])
            )
        )
        # The closure's symbol sits on the line; its route name beside it.
        sheet.markers.append(
            Marker(
                mid.x, mid.y, symbol["shape"], symbol["colour"], symbol["ink"], symbol["letter"],
                words["closure_label"].format(route=closure["route_name"]),
            )
        )  # fmt: skip


def _markers(sheet: Sheet, s: Situation, drawn: dict, words: dict) -> None:
    for shelter in s.shelters:
        sym = drawn["shelter"].get(shelter["level"], drawn["shelter"]["unknown"])
        key = "shelter_label_capacity" if shelter["capacity"] else "shelter_label"
        label = words[key].format(
            name=shelter["name"], occupancy=shelter["occupancy"], capacity=shelter["capacity"]
        )
        sheet.markers.append(
            Marker(shelter["x"], shelter["y"], sym["shape"], sym["colour"], sym["ink"], sym["letter"], label)
        )
    unit = drawn["unit"]["online"]
    for u in s.units:
        sheet.markers.append(
            Marker(
                u["x"],
                u["y"],
                unit["shape"],
                unit["colour"],
                unit["ink"],
                unit["letter"],
                u["name"] or u["device_id"],
            )
        )
    # Incidents last: on top, the HQ's first concern. The number refers to the list that follows.
    for i in s.incidents:
        sym = drawn["incident"][i["status"]]
        sheet.markers.append(
            Marker(i["x"], i["y"], sym["shape"], sym["colour"], sym["ink"], sym["letter"], str(i["id"]))
        )


def _symbol(entry: dict, label: str | None = None) -> LegendEntry:
    return LegendEntry(
        "symbol", label or entry["label"], shape=entry["shape"], fill=entry["colour"], ink=entry["ink"],
        letter=entry["letter"],
    )  # fmt: skip


def _legend(s: Situation, drawn: dict, words: dict, lang: Lang) -> list[LegendEntry]:
    h = words["headings"]
    out = [LegendEntry("heading", h["incidents"])]
    out += [_symbol(entry) for entry in drawn["incident"].values()]
    out.append(LegendEntry("heading", h["shelters"]))
    out += [_symbol(drawn["shelter"][state]) for state in _SHELTER_STATES]
    out.append(LegendEntry("heading", h["units"]))
    out.append(_symbol(drawn["unit"]["online"], words["unit_at"]))
    out.append(LegendEntry("heading", h["closures"]))
    closed = drawn["closure"]["closed"]
    out.append(LegendEntry("line", closed["label"], stroke="#1a1a1a", width=3.2, dash=(0.1, 4.2)))
    out.append(_symbol(closed))
    out.append(LegendEntry("heading", h["orders"]))
    for level in (3, 4, 5):
        info = evac_levels.describe(level, "")
        label = words["order_label"].format(level=level, name=info["name_en" if lang == "en" else "name_ja"])
        out.append(
            LegendEntry("area", label, fill=str(info["colour"]), stroke=str(info["colour"]), alpha=0.28,
                        dash=LEVEL_DASH[level])
        )  # fmt: skip
    kinds = {shape.kind for shape in s.basemap.shapes}
    hazards = [k.split(":", 1)[1] for k in BASE_STYLE if k.startswith("hazard:") and k in kinds]
    if hazards:
        out.append(LegendEntry("heading", h["hazards"]))
        for hazard in hazards:
            stroke, _w, _d, fill, alpha = BASE_STYLE[f"hazard:{hazard}"]
            out.append(
                LegendEntry(
                    "area", words["hazard"][hazard], fill=fill or "#ffffff", stroke=stroke, alpha=alpha
                )
            )
    base = [k for k in ("road", "area", "line", "sewer") if k in kinds]
    if any(k.startswith("file:") for k in kinds):
        base.append("file:line")  # the city's basemap file, one entry
    if base:
        out.append(LegendEntry("heading", h["basemap"]))
        for kind in base:
            stroke, width, dash, _f, _a = BASE_STYLE[kind]
            out.append(LegendEntry("line", words["basemap"][kind], stroke=stroke, width=width, dash=dash))
    return out


def _notes(s: Situation, words: dict) -> list[str]:
    notes = []
    if s.empty:
        notes.append(words["nothing"])
    if s.incidents_outside:
        notes.append(words["outside"].format(n=s.incidents_outside))
    if s.incidents_cut:
        notes.append(words["cut"].format(shown=MAX_INCIDENTS, n=s.incidents_cut))
    if s.basemap.cut:
        notes.append(
            words["basemap_cut"].format(sources=", ".join(words["basemap"].get(k, k) for k in s.basemap.cut))
        )
    return notes


def _table(sheet: Sheet, s: Situation, drawn: dict, words: dict, name: str, time: str, lang: Lang) -> None:
    if not s.incidents:
        return
    t = words["table"]
    sheet.table_title = words["table_title"].format(disaster=name, time=time)
    sheet.table_headers = [t["no"], t["status"], t["category"], t["title"], t["priority"], t["since"]]
    sheet.table_widths = [0.07, 0.1, 0.15, 0.46, 0.07, 0.15]
    sheet.table_rows = [
        [
            str(i["id"]),
            f"{drawn['incident'][i['status']]['letter']} {drawn['incident'][i['status']]['label']}",
            s.categories.get(i["category"], (i["category"],) * 2)[1 if lang == "en" else 0],
            i["title"],
            str(i["priority"]),
            _jst(i["status_since"]),
        ]
        for i in s.incidents
    ]
