"""After-action review (振り返り, /hq/replay): the HQ map of a disaster at a chosen time T — incidents with
the status they had then, radio units where they were, road closures in force — and the exports
(static/js/pages/replay.js).
Incidents are drawn from the shared state symbols, as on the HQ map, with a legend."""

from __future__ import annotations

from collections.abc import Mapping

from frontend.catalogue import normalise_lang
from frontend.render import RenderedPage, render_page
from frontend.symbols import symbols


def replay_page(lang: str, *, offline: bool, query: Mapping[str, str] | None = None) -> RenderedPage:
    code = normalise_lang(lang)
    drawn = symbols(code)
    return render_page(
        "replay.html",
        lang=code,
        path="/hq/replay",
        query=query,
        entry="pages/replay.js",
        styles=["vendor/leaflet/leaflet.css", "css/staff_map.css"],
        scripts=["vendor/leaflet/leaflet.js"],
        # The order of the legend and the counts (the JSON block sorts object keys).
        data={
            "symbols": {"incident": drawn["incident"], "unit": drawn["unit"], "closure": drawn["closure"]},
            "statuses": list(drawn["incident"]),
        },
        text_sections=["replay"],
        offline=offline,
        nav_query="?lang=en" if code == "en" else "",
    )
