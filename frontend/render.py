"""Every page a person sees is a Jinja template under ``frontend/templates/`` extending ``base.html``.

``render_page`` gives the template what every page needs (``t`` the catalogue of the page's language,
``static()`` for hashed asset URLs, the language switch, the page's module graph) and returns the HTML
with the script hashes its CSP must allow (the import map is the only inline script; page data rides
in a ``<script type="application/json">`` block, which is data, not script). Routers turn it into a
response with ``gisapp.api.html.page_response``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2

from frontend.catalogue import HTML_LANG, Lang, catalogue
from frontend.modules import module_graph
from frontend.static_files import STATIC_DIR, static_url

TEMPLATES = Path(__file__).parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,  # a missing text key is an error, not an empty string
)
_env.globals["static"] = static_url


def _format(template: str, **values: Any) -> str:
    """``"{n} 件"|fmt(n=3)``: the same placeholders as the JS side's ``format``."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))
    return out


_env.filters["fmt"] = _format


@dataclass(frozen=True)
class RenderedPage:
    html: str
    script_hashes: tuple[str, ...] = ()
    style_hashes: tuple[str, ...] = ()  # of an inlined stylesheet (render_page(inline_css=True))


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@cache
def _inlined(paths: tuple[str, ...]) -> str:
    return "\n".join((STATIC_DIR / path).read_text(encoding="utf-8") for path in paths)


@dataclass(frozen=True)
class LangLink:
    code: str
    label: str
    href: str
    html_lang: str


def with_lang(path: str, lang: Lang) -> str:
    """A link to ``path`` in ``lang`` (Japanese, the default, needs no parameter)."""
    return path + ("?" + urlencode({"lang": lang}) if lang != "ja" else "")


def language_links(lang: Lang, path: str, query: Mapping[str, str], *, easy: bool) -> list[LangLink]:
    """Links to the same page in the other languages (the query kept, ``lang`` replaced)."""
    offered: list[Lang] = ["ja", "en"] + (["easy"] if easy else [])
    links = []
    for code in offered:
        if code == lang:
            continue
        params = {k: v for k, v in query.items() if k != "lang"}
        if code != "ja":
            params["lang"] = code
        href = path + ("?" + urlencode(params) if params else "")
        links.append(LangLink(code, catalogue(code)["common"][f"lang_{code}"], href, HTML_LANG[code]))
    return links


def render_page(
    template: str,
    *,
    lang: Lang,
    path: str,
    query: Mapping[str, str] | None = None,
    entry: str | None = None,
    styles: Sequence[str] = (),
    scripts: Sequence[str] = (),
    data: Mapping[str, Any] | None = None,
    text_sections: Sequence[str] = (),
    easy: bool = False,
    offline: bool = False,
    inline_css: bool = False,
    **context: Any,
) -> RenderedPage:
    """Render ``template`` for ``lang``.

    - ``entry``: the page's module under static/js (``pages/report.js``); with it come the import map,
      the modulepreload links and the CSP hash.
    - ``styles`` / ``scripts``: paths under static/ (classic vendored scripts such as Leaflet, loaded
      ``defer`` so they run before the modules, in order).
    - ``data`` and ``text_sections``: the page's JSON data block (``#page-data``), read by
      ``lib/dom.js``'s ``pageData()``; ``text`` carries ``common`` and the named catalogue sections.
    - ``easy``: the page offers やさしい日本語 (resident-facing pages).
    - ``inline_css``: base.css and ``styles`` go into the page as one ``<style>`` (allowed by its hash)
      instead of links: for a page that must paint on a slow phone network before a second round trip.
    """
    t = catalogue(lang)
    graph = module_graph(entry) if entry else None
    page_data = None
    if entry is not None or data is not None:
        page_data = {
            "lang": lang,
            "offline": offline,
            "text": {"common": t["common"], **{s: t[s] for s in text_sections}},
            **(data or {}),
        }
    css = _inlined(("css/base.css", *styles)) if inline_css else None
    html = _env.get_template(template).render(
        t=t,
        lang=lang,
        html_lang=HTML_LANG[lang],
        path=path,
        languages=language_links(lang, path, query or {}, easy=easy),
        graph=graph,
        styles=list(styles),
        scripts=list(scripts),
        page_data=page_data,
        offline=offline,
        inline_css=css,
        **context,
    )
    return RenderedPage(html, (graph.script_hash,) if graph else (), (_sha256(css),) if css else ())
