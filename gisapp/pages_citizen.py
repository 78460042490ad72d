"""The citizen's disaster-day page (``/``): the answers of ``gisapp.ops.citizen_view.here`` rendered on
the server (so the page answers without JS, and fast), enhanced by ``static/js/pages/citizen.js``
(position, live refresh, the map, the offline copy)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from frontend.catalogue import Lang, catalogue
from frontend.render import RenderedPage, render_page
from frontend.static_files import static_url
from frontend.symbols import symbols

TOKYO = ZoneInfo("Asia/Tokyo")
LEAFLET_JS = "vendor/leaflet/leaflet.js"
LEAFLET_CSS = "vendor/leaflet/leaflet.css"


def clock(iso: str | None, now: datetime | None = None) -> str:
    """``HH:MM`` in Japan, with ``M/D`` when not today (as lib/dom.js clockTime)."""
    if not iso:
        return "—"
    moment = datetime.fromisoformat(iso).astimezone(TOKYO)
    today = (now or datetime.now(TOKYO)).astimezone(TOKYO).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return f"{moment.month}/{moment.day} {moment:%H:%M}"


def _words(lang: Lang) -> dict[str, Any]:
    return catalogue(lang)["citizen"]


def _order_view(order: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """Level number + words + what to do in the page's language (やさしい日本語 from the catalogue)."""
    if lang == "easy":
        level = _words(lang)["level"][str(order["level"])]
        name, action = level["name"], level["action"]
    else:
        name, action = (
            order[f"name_{'en' if lang == 'en' else 'ja'}"],
            order[f"action_{'en' if lang == 'en' else 'ja'}"],
        )
    suffix = "en" if lang == "en" else "ja"
    return {
        "id": order["id"],
        "level": order["level"],
        "level_label": order[f"level_label_{suffix}"],
        "name": name,
        "action": action,
        "hazard": order[f"hazard_{suffix}"],
        "areas": ("、" if suffix == "ja" else ", ").join(order["area_names"]),
    }


def page_data_answer(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The answer as the page carries it for its script: without the closures' lines (the map, shown
    on demand, asks for them) so the first view stays small."""
    closures = [{k: v for k, v in c.items() if k != "geometry"} for c in answer["closures"]]
    return {**answer, "closures": closures}


def citizen_page(
    answer: Mapping[str, Any],
    areas: list[dict],
    *,
    lang: Lang,
    query: Mapping[str, str],
    offline: bool,
    area_unknown: bool = False,
    symbols_css: str = "/symbols.css",
) -> RenderedPage:
    suffix = "en" if lang == "en" else "ja"
    evacuation = answer["evacuation"]
    place = answer["place"]
    here_query = f"area={place['area']}" if place and place["source"] == "area" and place["area"] else ""
    return render_page(
        "citizen.html",
        lang=lang,
        path="/",
        query=query,
        entry="pages/citizen.js",
        styles=["css/citizen.css"],
        data={
            "answer": page_data_answer(answer),
            "here_query": here_query,
            "symbols": symbols(lang),
            "leaflet": {"js": static_url(LEAFLET_JS), "css": static_url(LEAFLET_CSS)},
            "sw": "/sw.js",
        },
        text_sections=["citizen"],
        easy=True,
        offline=offline,
        answer=answer,
        suffix=suffix,
        orders=[_order_view(o, lang) for o in evacuation["orders"]],
        elsewhere=[_order_view(o, lang) for o in evacuation["elsewhere"]],
        place=place,
        areas=areas,
        area_unknown=area_unknown,
        clock=clock,
        symbol=symbols(lang),
        symbols_css=symbols_css,
    )
