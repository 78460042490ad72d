"""The printable roster (名簿) of people needing evacuation help in one community area, with a map
(frontend/templates/roster.html, static/js/pages/roster.js, text section ``roster``).

Only the place and the priority number of each row reach the page's data (the map's points); names,
addresses and phones are written by autoescaping Jinja into the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from frontend.catalogue import Lang
from frontend.render import RenderedPage, render_page


def roster_page(
    lang: Lang,
    area: str,
    rows: list[dict[str, Any]],
    *,
    columns: tuple[tuple[str, str], ...],
    cells: list[dict[str, str]],
    query: Mapping[str, str],
    offline: bool = False,
) -> RenderedPage:
    """``columns`` (key, Japanese header) and ``cells`` (one display line per row) come from the people
    domain (gisapp.ops.people.ROSTER_COLUMNS / roster_cells), the same as the roster CSV's."""
    points = [{"lat": r["lat"], "lon": r["lon"], "priority": r["priority"]} for r in rows]
    return render_page(
        "roster.html",
        lang=lang,
        path="/people/roster",
        query=query,
        entry="pages/roster.js",
        styles=["vendor/leaflet/leaflet.css", "css/roster.css"],
        scripts=["vendor/leaflet/leaflet.js"] if points else [],
        data={"points": points},
        text_sections=["roster"],
        offline=offline,
        area=area,
        columns=[key for key, _ in columns],
        rows=cells,
    )
