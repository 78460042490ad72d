"""HTML views of the OGC API documents for people with a browser (Japanese first, English beside).
No inline script or style (the CSP forbids both): CSS in static/css/ogc.css, the map drawn by
static/js/ogc_map.js from the page's JSON block."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from frontend.pages import static_url


def _show(value: Any) -> str:
    """A property value as a person reads it (JSON spelling for booleans and null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


_ENV = jinja2.Environment(autoescape=True)
_ENV.filters["show"] = _show
_TEMPLATE = _ENV.from_string(
    """<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ p.title_ja }} / {{ p.title_en }}</title>
<link rel="stylesheet" href="{{ css_url }}">
{% if p.geojson %}<link rel="stylesheet" href="{{ leaflet_css }}">
<script src="{{ leaflet_js }}"></script>{% endif %}
</head><body>
<nav>{% for href, label in p.crumbs %}<a href="{{ href }}">{{ label }}</a>{% endfor %}</nav>
<h1>{{ p.title_ja }} <span class="en">{{ p.title_en }}</span></h1>
{% if p.description %}<p>{{ p.description }}</p>{% endif %}
{% if p.geojson %}<div id="map"></div>
<script type="application/json" id="ogc-map-data">{{ map_data|tojson }}</script>
<script src="{{ map_js }}"></script>{% endif %}
{% if p.facts %}<table>{% for k, v in p.facts %}<tr><th>{{ k }}</th><td>{{ v|show }}</td></tr>{% endfor %}</table>{% endif %}
{% if p.table_head %}<table><tr>{% for h in p.table_head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in p.table_rows %}<tr>{% for cell in row %}<td>{% if cell is mapping %}<a href="{{ cell.href }}">{{ cell.text }}</a>{% else %}{{ cell|show }}{% endif %}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
{% if p.links %}<h2>リンク <span class="en">Links</span></h2><ul>
{% for l in p.links %}<li><a href="{{ l.href }}">{{ l.title or l.rel }}</a> <span class="en">({{ l.rel }}, {{ l.type }})</span></li>{% endfor %}
</ul>{% endif %}
</body></html>"""
)


# 地理院タイル (online only; the integrated GIS network has none, see GISAPP_OFFLINE).
GSI_TILE_URL = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTRIBUTION = '<a href="https://maps.gsi.go.jp/development/ichiran.html">地理院タイル</a>'


@dataclass
class Page:
    title_ja: str
    title_en: str
    crumbs: list[tuple[str, str]]
    description: str = ""
    links: list[dict[str, str]] = field(default_factory=list)
    facts: list[tuple[str, Any]] = field(default_factory=list)
    table_head: list[str] = field(default_factory=list)
    table_rows: list[list[Any]] = field(default_factory=list)
    geojson: dict[str, Any] | None = None  # drawn on a Leaflet map (lon/lat only)
    basemap: bool = False


def crumbs(base: str, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [(f"{base}?f=html", "トップ / Home"), *((f"{href}?f=html", label) for href, label in more)]


def render(page: Page, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    map_data = None
    if page.geojson:
        basemap = {"url": GSI_TILE_URL, "attribution": GSI_ATTRIBUTION} if page.basemap else None
        map_data = {"geojson": page.geojson, "basemap": basemap}
    html = _TEMPLATE.render(
        p=page,
        map_data=map_data,
        css_url=static_url("css/ogc.css"),
        map_js=static_url("js/ogc_map.js"),
        leaflet_css=static_url("vendor/leaflet/leaflet.css"),
        leaflet_js=static_url("vendor/leaflet/leaflet.js"),
    )
    return HTMLResponse(html, status, headers=headers)


def cell_link(href: str, text: str) -> dict[str, str]:
    return {"href": href, "text": text}
