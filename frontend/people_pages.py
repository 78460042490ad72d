"""The printable roster (名簿) of people needing evacuation help in one community area, with a map.

Japanese first (English with ?lang=en). Autoescaping Jinja writes the table; the map's points and
wording reach roster.js as JSON in a ``<script type="application/json">`` (``tojson`` escapes ``<``,
``>`` and ``&``). Every asset is served by the app (Leaflet vendored); the basemap is 地理院タイル unless
the deployment is offline.
"""

from __future__ import annotations

from typing import Any

import jinja2

from frontend.pages import GSI_ATTRIBUTION, GSI_TILE_URL, ISEHARA_CENTER, assert_self_hosted, static_url

_EN_HEADERS = {
    "priority": "Priority",
    "external_id": "ID",
    "name": "Name",
    "name_kana": "Kana",
    "address": "Address",
    "phone": "Phone",
    "care": "Care",
    "support": "Support persons",
    "plan": "Evacuation plan",
    "hazard": "Hazard",
    "consent": "Consent",
}
TEXT = {
    "ja": {
        "title": "避難行動要支援者名簿（地区別）",
        "area": "地区（自治会・町丁目）",
        "show": "表示",
        "print": "印刷する",
        "count": "{n} 人",
        "empty": "この地区に表示できる要支援者はいません。",
        "choose": "地区を入力して「表示」を押してください。",
        "confidential": "取扱注意：個人情報を含みます。目的外の利用・複製・持出しを禁じます。",
        "map_label": "要支援者の住所の地図（番号は優先順位）",
        "other_lang": ("en", "English"),
    },
    "en": {
        "title": "Roster of people needing evacuation help (one area)",
        "area": "Community area",
        "show": "Show",
        "print": "Print",
        "count": "{n} people",
        "empty": "No person in this area that you may see.",
        "choose": "Enter an area and press Show.",
        "confidential": "Confidential: personal data. Do not copy, take away or use for any other purpose.",
        "map_label": "Map of residences (numbers are priorities)",
        "other_lang": ("ja", "日本語"),
    },
}

_PAGE = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ t.title }}{% if area %} — {{ area }}{% endif %}</title>
<link rel="stylesheet" href="{{ assets.leaflet_css }}">
<link rel="stylesheet" href="{{ assets.css }}">
</head>
<body class="roster-page">
<header class="roster-header">
  <h1>{{ t.title }}{% if area %}：{{ area }}{% endif %}</h1>
  <p class="roster-confidential">{{ t.confidential }}</p>
  <form class="roster-form no-print" method="get" action="/people/roster">
    <label for="roster-area">{{ t.area }}</label>
    <input id="roster-area" name="area" value="{{ area }}" maxlength="100" required>
    <input type="hidden" name="lang" value="{{ lang }}">
    <button type="submit">{{ t.show }}</button>
    <button type="button" id="roster-print">{{ t.print }}</button>
    <a href="/people/roster?area={{ area | urlencode }}&amp;lang={{ t.other_lang[0] }}"
       lang="{{ t.other_lang[0] }}">{{ t.other_lang[1] }}</a>
  </form>
</header>
<main>
{% if not area %}
  <p>{{ t.choose }}</p>
{% elif not rows %}
  <p class="roster-empty">{{ t.empty }}</p>
{% else %}
  <p class="roster-count">{{ t.count.format(n=rows | length) }}</p>
  <div id="roster-map" class="roster-map" role="img" aria-label="{{ t.map_label }}"></div>
  <table class="roster-table">
    <thead><tr>{% for key, label in headers %}<th scope="col" class="col-{{ key }}">{{ label }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for cells in rows %}
      <tr>{% for key, _ in headers %}<td class="col-{{ key }}">{{ cells[key] }}</td>{% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
{% endif %}
</main>
<script type="application/json" id="roster-config">{{ config | tojson }}</script>
<script src="{{ assets.leaflet_js }}"></script>
<script src="{{ assets.js }}"></script>
</body>
</html>
"""
)


def roster_html(
    lang: str,
    area: str,
    rows: list[dict[str, Any]],
    *,
    columns: tuple[tuple[str, str], ...],
    cells: list[dict[str, str]],
    offline: bool = False,
) -> str:
    """``columns`` (key, Japanese header) and ``cells`` (one display line per row) come from the people
    domain (gisapp.ops.people.ROSTER_COLUMNS / roster_cells), the same as the roster CSV's."""
    t = TEXT[lang if lang in TEXT else "ja"]
    headers = [(key, ja if lang == "ja" else _EN_HEADERS[key]) for key, ja in columns]
    config = {
        "center": list(ISEHARA_CENTER),
        "tiles": None if offline else GSI_TILE_URL,
        "attribution": GSI_ATTRIBUTION,
        # Only what the map needs: the place and the priority number (names stay in the table).
        "points": [{"lat": r["lat"], "lon": r["lon"], "priority": r["priority"]} for r in rows],
    }
    html = _PAGE.render(
        lang=lang,
        t=t,
        area=area,
        headers=headers,
        rows=cells,
        config=config,
        assets={
            "leaflet_css": static_url("vendor/leaflet/leaflet.css"),
            "leaflet_js": static_url("vendor/leaflet/leaflet.js"),
            "css": static_url("css/roster.css"),
            "js": static_url("js/roster.js"),
        },
    )
    assert_self_hosted(html)
    return html
