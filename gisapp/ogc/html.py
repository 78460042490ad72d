"""HTML views of the OGC API documents for people with a browser (Japanese first, English beside)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse


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
<style>
body{font-family:system-ui,"Hiragino Sans","Noto Sans JP",sans-serif;margin:1.5rem;max-width:70rem;color:#222}
.en{color:#666;font-size:.9em} table{border-collapse:collapse;margin:.5rem 0} nav a{margin-right:.8rem}
td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top;font-size:.9em}
th{background:#f3f3f3} code{font-size:.85em;word-break:break-all} #map{height:24rem;margin:.5rem 0}
</style>
{% if p.geojson %}<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">
<script src="/static/vendor/leaflet/leaflet.js"></script>{% endif %}
</head><body>
<nav>{% for href, label in p.crumbs %}<a href="{{ href }}">{{ label }}</a>{% endfor %}</nav>
<h1>{{ p.title_ja }} <span class="en">{{ p.title_en }}</span></h1>
{% if p.description %}<p>{{ p.description }}</p>{% endif %}
{% if p.geojson %}<div id="map"></div>
<script>
(function () {
  var map = L.map("map");
  {% if p.basemap %}L.tileLayer({{ gsi_url|tojson }}, {attribution: {{ gsi_attr|tojson }}, maxZoom: 18}).addTo(map);{% endif %}
  var layer = L.geoJSON({{ p.geojson|tojson }}).addTo(map);
  var b = layer.getBounds();
  if (b.isValid()) { map.fitBounds(b, {maxZoom: 17}); } else { map.setView([35.4, 139.31], 13); }
})();
</script>{% endif %}
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
    html = _TEMPLATE.render(p=page, gsi_url=GSI_TILE_URL, gsi_attr=GSI_ATTRIBUTION)
    return HTMLResponse(html, status, headers=headers)


def cell_link(href: str, text: str) -> dict[str, str]:
    return {"href": href, "text": text}
