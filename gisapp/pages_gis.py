"""The staff GIS viewer (統合型GIS, /gis): every layer /api/layers lets the user see, in a layer list
grouped by owner department, with the audit notice for restricted layers (static/js/pages/gis.js)."""

from __future__ import annotations

from collections.abc import Mapping

from frontend.catalogue import both, normalise_lang
from frontend.render import RenderedPage, render_page
from frontend.symbols import symbols


def gis_page(lang: str, *, offline: bool, query: Mapping[str, str] | None = None) -> RenderedPage:
    code = normalise_lang(lang)
    return render_page(
        "gis.html",
        lang=code,
        path="/gis",
        query=query,
        entry="pages/gis.js",
        styles=["vendor/leaflet/leaflet.css", "css/staff_map.css"],
        scripts=["vendor/leaflet/leaflet.js"],
        text_sections=["gis"],
        # Road closures are drawn with the HQ map's closure symbol (lib/closures.js).
        data={"symbols": {"closure": symbols(code)["closure"]}},
        offline=offline,
        # Staff may read either language best: the audit notice in both, the page's first.
        restricted_notice=both("common.restricted", code),
    )
