"""The HQ moderation page of citizen reports (/hq/reports): frontend/templates/moderation.html,
static/js/pages/moderation.js, text section ``moderation``; incident states drawn from
``frontend.symbols``."""

from __future__ import annotations

from collections.abc import Mapping

from frontend.catalogue import Lang
from frontend.render import RenderedPage, render_page


def moderation_page(lang: Lang, *, query: Mapping[str, str], offline: bool = False) -> RenderedPage:
    return render_page(
        "moderation.html",
        lang=lang,
        path="/hq/reports",
        query=query,
        entry="pages/moderation.js",
        styles=["vendor/leaflet/leaflet.css", "css/moderation.css"],
        scripts=["vendor/leaflet/leaflet.js"],
        text_sections=["moderation"],
        offline=offline,
    )
