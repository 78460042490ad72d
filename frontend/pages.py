"""The map pages still built with folium: citizen map (公開型GIS), the HQ replay (振り返り) and the staff
GIS viewer (統合型GIS). (The HQ map itself is a template on base.html: gisapp/pages_hq.py.)

Rule: every JS/CSS asset is served by the app under /static (the integrated GIS runs with no
internet). folium's Map lists CDN links in its ``default_js`` / ``default_css`` class attributes; we
shadow them on each instance with the vendored Leaflet, and every page is checked by
``assert_self_hosted`` before it is returned. The only external URLs left are the 地理院タイル tile
template and its attribution link (both absent when ``offline=True``).

How the page JS gets the map: ``_PageStart`` is added as the map's last child. folium renders a
parent's script before its children's, in insertion order, into one <script> at the end of the body,
so when ``gisapp.start(...)`` runs, the ``var map_…`` and ``var tile_layer_…`` it names already
exist. Our JS files are plain <script> tags in <head> that only define functions, so they are loaded
by then too. The page modules find the map as ``config.map`` (and tests as ``gisapp.config.map``).

No inline script or style (the pages' CSP forbids both): folium writes its script and a few <style>
blocks inline, so ``_build`` moves them into a script and a stylesheet of the page's own, served by the
app at ``/pages/{page}-{lang}[-offline].js|css`` (``page_asset``). folium names its elements with random
ids; ``_number_elements`` replaces them with ids numbered in tree order, so every server process builds
the same page and the same script, whichever process answers the page and whichever its script.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import folium
import jinja2
from branca.element import Figure
from folium.elements import JSCSSMixin
from folium.template import Template

from frontend.text import BASEMAP_OFFLINE_NOTICE, RESTRICTED_NOTICE, TEXT

Lang = Literal["ja", "en"]
Page = Literal["citizen", "gis", "replay"]

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"

GSI_TILE_URL = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTRIBUTION_URL = "https://maps.gsi.go.jp/development/ichiran.html"
GSI_ATTRIBUTION = f'<a href="{GSI_ATTRIBUTION_URL}">地理院タイル</a>'
ALLOWED_EXTERNAL_URLS = frozenset({GSI_TILE_URL, GSI_ATTRIBUTION_URL})

ISEHARA_CENTER = (35.39, 139.30)  # 伊勢原市 (lat, lon)
DEFAULT_ZOOM = 13

_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


class ExternalAssetError(RuntimeError):
    """A rendered page would load something from outside the app (rule: no CDN at run time)."""


def citizen_map_html(lang: str = "ja", offline: bool = False) -> str:
    """The citizen map (公開型GIS): public layers from /api/public/layers, legend, layer switcher, and
    the incidents of the categories HQ made public (/api/public/incidents, status and category only)."""
    return _build("citizen", _normalise_lang(lang), offline).html


def replay_map_html(lang: str = "ja", offline: bool = False) -> str:
    """After-action review (振り返り): the HQ map of a disaster at a chosen time T — incidents with the
    status they had then and every unit where it was — from /api/disasters/{id}/at, plus the exports."""
    return _build("replay", _normalise_lang(lang), offline).html


def gis_map_html(lang: str = "ja", offline: bool = False) -> str:
    """The staff GIS viewer (統合型GIS): every layer /api/layers lets the user see, grouped."""
    return _build("gis", _normalise_lang(lang), offline).html


PAGE_ASSET_PREFIX = "/pages/"
_ASSET_NAME = re.compile(r"(citizen|gis|replay)-(ja|en)(-offline)?\.(js|css)")
_MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class PageAsset:
    text: str
    media_type: str
    page: Page
    version: str  # the ?v= its page links it with


def page_asset(name: str) -> PageAsset | None:
    """The script or stylesheet of a map page by its file name (``replay-en-offline.js``), or None for a
    name that is not one."""
    found = _ASSET_NAME.fullmatch(name)
    if found is None:
        return None
    page, lang, offline, ext = found.groups()
    built = _build(page, lang, bool(offline))
    text = built.js if ext == "js" else built.css
    return PageAsset(text, _MEDIA_TYPES[ext], page, _digest(text))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def external_urls(html: str) -> list[str]:
    """Every absolute or protocol-relative URL in ``html``, first occurrence order, no duplicates."""
    found = _ABSOLUTE_URL_RE.findall(html) + _PROTOCOL_RELATIVE_RE.findall(html)
    return list(dict.fromkeys(found))


def unexpected_external_urls(html: str) -> list[str]:
    """External URLs other than the 地理院タイル template and its attribution link."""
    return [url for url in external_urls(html) if url not in ALLOWED_EXTERNAL_URLS]


def assert_self_hosted(html: str) -> None:
    """Raise ExternalAssetError if ``html`` refers to anything outside the app but 地理院タイル."""
    unexpected = unexpected_external_urls(html)
    if unexpected:
        raise ExternalAssetError(f"page refers to external URLs: {unexpected}")


# Stops at quotes, whitespace, brackets and backslashes: folium writes the attribution inside a JSON
# string as \u003ca href=\"…\", so the backslash ends the URL.
_ABSOLUTE_URL_RE = re.compile(r"""https?://[^\s"'<>()\\]+""", re.IGNORECASE)
# "//host/x" only where a browser would fetch it; elsewhere "//" is usually a JS comment.
_PROTOCOL_RELATIVE_RE = re.compile(
    r"""(?:(?:src|href|action)\s*=\s*["']?|url\(\s*["']?)(//[^\s"'<>()\\]+)""", re.IGNORECASE
)
# folium's Map header pins maximum-scale=1 and user-scalable=no, which stops people from zooming text
# (WCAG 1.4.4); our template writes its own viewport meta, so folium's is dropped.
_LOCKED_VIEWPORT_RE = re.compile(
    r"""<meta\s+name=["']viewport["'][^>]*(?:user-scalable|maximum-scale)[^>]*>\s*""", re.IGNORECASE
)


def _normalise_lang(lang: str) -> Lang:
    # Pages take ?lang= straight from the URL; anything but English falls back to Japanese.
    return "en" if lang.strip().lower().split("-")[0] == "en" else "ja"


@cache
def static_url(path: str) -> str:
    """URL of a file under frontend/static, with a content hash so a redeploy is never served stale."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"{STATIC_URL}/{path}?v={digest}"


def _page_language_first(messages: dict[str, str], lang: Lang) -> list[tuple[str, str]]:
    return sorted(messages.items(), key=lambda item: item[0] != lang)


class _MapPage(Figure):
    """Root element: folium's Figure with our page template (lang, title, skip link, header)."""

    _template = _templates.get_template("map_page.html")

    def __init__(self, page: Page, lang: Lang, offline: bool):
        text = TEXT[lang]
        super().__init__(title=text["title"][page])
        # The template writes <meta charset>; a second charset declaration is invalid HTML.
        self.header._children.pop("meta_http", None)
        self.page, self.lang, self.offline, self.text = page, lang, offline, text
        self.notice = _page_language_first(BASEMAP_OFFLINE_NOTICE, lang)
        self.restricted_notice = _page_language_first(RESTRICTED_NOTICE, lang)

    def render(self, **kwargs) -> str:
        return _LOCKED_VIEWPORT_RE.sub("", super().render(**kwargs))


class _PageStart(JSCSSMixin):
    """Links our CSS/JS and calls ``gisapp.start`` with the map once folium has created it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            gisapp.start({{ this.page|tojson }}, {
                map: {{ this._parent.get_name() }},
                basemap: {{ this.basemap.get_name() if this.basemap else "null" }},
                lang: {{ this.lang|tojson }},
                offline: {{ this.offline|tojson }},
                text: {{ this.js_text|tojson }}
            });
        {% endmacro %}
        """
    )

    def __init__(self, page: Page, lang: Lang, offline: bool, basemap: folium.TileLayer | None):
        super().__init__()
        self._name = "PageStart"
        self.page, self.lang, self.offline, self.basemap = page, lang, offline, basemap
        self.js_text = TEXT[lang]["js"]
        # Fresh per-instance lists: JSCSSMixin.add_js_link would mutate a shared class list.
        self.default_js = [
            ("gisapp_common", static_url("js/common.js")),
            ("gisapp_widgets", static_url("js/map_widgets.js")),
            (f"gisapp_{page}", static_url(f"js/{page}_map.js")),
        ]
        self.default_css = [("gisapp_css", static_url("css/gisapp.css"))]
        if page == "citizen":  # the evacuation information banner and areas (citizen_evac.js)
            self.default_js.insert(2, ("gisapp_citizen_evac", static_url("js/citizen_evac.js")))
            self.default_css.append(("gisapp_evac_info_css", static_url("css/evac_info.css")))
        if page == "replay":  # the replay page draws incidents in the HQ map's styles
            self.default_css.append(("gisapp_hq_incidents_css", static_url("css/hq_incidents.css")))


@dataclass(frozen=True)
class _Built:
    html: str
    js: str  # folium's script, served at /pages/<name>.js
    css: str  # folium's styles, served at /pages/<name>.css


# Inline blocks as folium writes them (no attributes); <script src=…> and JSON blocks have some.
_INLINE_SCRIPT_RE = re.compile(r"<script>(.*?)</script>\s*", re.DOTALL)
_INLINE_STYLE_RE = re.compile(r"<style>(.*?)</style>\s*", re.DOTALL)


def _number_elements(root: Figure) -> None:
    """Replace folium's random element ids (uuid4) with numbers in tree order: the page and its script
    are then the same in every process (``var map_1`` in one is ``var map_1`` in all)."""
    counter = itertools.count(1)
    stack = [root]
    while stack:
        element = stack.pop(0)
        element._id = str(next(counter))
        stack[:0] = list(element._children.values())


def _move_inline(html: str, name: str) -> _Built:
    """Take folium's inline <style> and <script> blocks out of ``html`` into files of their own."""
    css = "\n".join(block.strip() for block in _INLINE_STYLE_RE.findall(html)) + "\n"
    js = "\n".join(block.strip() for block in _INLINE_SCRIPT_RE.findall(html)) + "\n"
    css_url = f"{PAGE_ASSET_PREFIX}{name}.css?v={_digest(css)}"
    js_url = f"{PAGE_ASSET_PREFIX}{name}.js?v={_digest(js)}"
    # The styles where the first block was (after leaflet.css, before ours); the script at the end of
    # the body, where folium's was, so the map's <div> exists when it runs.
    html = _INLINE_STYLE_RE.sub("\x00", html, count=1)
    html = _INLINE_STYLE_RE.sub("", html).replace("\x00", f'<link rel="stylesheet" href="{css_url}"/>\n', 1)
    html = _INLINE_SCRIPT_RE.sub("", html).replace("</body>", f'<script src="{js_url}"></script>\n</body>', 1)
    return _Built(html, js, css)


# Pages depend only on (page, language, offline): build each once per process.
@cache
def _build(page: Page, lang: Lang, offline: bool) -> _Built:
    root = _MapPage(page, lang, offline)
    fmap = folium.Map(
        location=ISEHARA_CENTER,
        zoom_start=DEFAULT_ZOOM,
        tiles=None,
        position="absolute",  # fills <main>, which is sized by gisapp.css
        control_scale=True,
    )
    # Shadow folium's CDN lists on this instance only: Leaflet is all these pages use (no jQuery,
    # Bootstrap or awesome-markers), served from the vendored copy.
    fmap.default_js = [("leaflet", static_url("vendor/leaflet/leaflet.js"))]
    fmap.default_css = [("leaflet_css", static_url("vendor/leaflet/leaflet.css"))]
    root.add_child(fmap)  # folium.Map made its own Figure; ours replaces it as the parent

    basemap = None
    if not offline:  # offline: no tile layer at all, so no request ever leaves the network
        basemap = folium.TileLayer(
            tiles=GSI_TILE_URL,
            attr=GSI_ATTRIBUTION,
            name="地理院タイル",
            min_zoom=5,  # 標準地図 starts at zoom 5
            max_zoom=18,
            max_native_zoom=18,
            control=False,
        )
        basemap.add_to(fmap)
    _PageStart(page, lang, offline, basemap).add_to(fmap)  # last: the map and basemap exist by then
    _number_elements(root)

    name = f"{page}-{lang}" + ("-offline" if offline else "")
    built = _move_inline(root.render(), name)
    assert_self_hosted(built.html + built.js + built.css)
    return built
