"""HTML views of the OGC API documents for people with a browser: frontend/templates/ogc.html on the
base layout (text section ``ogc``), the page's language first (``?lang=en``) with the other beside it;
the map drawn by static/js/pages/ogc.js from the page data, with our own basemap when the tiles fail
or the instance is offline. No inline script or style (the page's CSP allows only its import map)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from frontend.catalogue import normalise_lang
from frontend.render import render_page
from gisapp.api.html import page_response


def show(value: Any) -> str:
    """A property value as a person reads it (JSON spelling for booleans and null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


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
    basemap: bool = False  # kept for callers; the basemap follows the instance's offline setting


def crumbs(base: str, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [(f"{base}?f=html", "トップ / Home"), *((f"{href}?f=html", label) for href, label in more)]


def render(
    request: Request, page: Page, status: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    lang = normalise_lang(request.query_params.get("lang"))
    first, second = (page.title_en, page.title_ja) if lang == "en" else (page.title_ja, page.title_en)
    with_map = page.geojson is not None
    rendered = render_page(
        "ogc.html",
        lang=lang,
        path=request.url.path,
        query=dict(request.query_params),
        entry="pages/ogc.js" if with_map else None,
        styles=["vendor/leaflet/leaflet.css", "css/ogc.css"] if with_map else ["css/ogc.css"],
        scripts=["vendor/leaflet/leaflet.js"] if with_map else [],
        data={"geojson": page.geojson} if with_map else None,
        text_sections=["ogc"],
        offline=request.app.state.settings.offline,
        p=page,
        show=show,
        first_title=first,
        second_title=second,
        second_lang="ja" if lang == "en" else "en",
    )
    return page_response(request, rendered, status, headers)


def cell_link(href: str, text: str) -> dict[str, str]:
    return {"href": href, "text": text}
