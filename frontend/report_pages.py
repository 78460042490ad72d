"""Pages of citizen reports (通報): the public form and the reporter's status page (Jinja templates on
base.html, texts in section ``report``; Japanese first, English with ?lang=en, やさしい日本語 with
?lang=easy). The staff moderation queue is frontend/moderation_page.py.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from frontend.catalogue import Lang, catalogue
from frontend.render import RenderedPage, render_page, with_lang

JST = ZoneInfo("Asia/Tokyo")


def report_form_page(
    lang: Lang, categories: list[dict], offline: bool, areas: list[dict] | None = None
) -> RenderedPage:
    """The public form (templates/report.html, pages/report.js; texts in section ``report``).
    ``areas``: community areas with a point inside each ({code, name, lon, lat}), to place a report
    by its area when neither the position nor the map can be used."""
    return render_page(
        "report.html",
        lang=lang,
        path="/report",
        query={"lang": lang} if lang != "ja" else {},
        entry="pages/report.js",
        styles=["vendor/leaflet/leaflet.css", "css/forms.css"],
        scripts=["vendor/leaflet/leaflet.js"],
        data={"status_base": "/report/status/"},
        text_sections=["report"],
        easy=True,
        offline=offline,
        categories=categories,
        areas=areas or [],
        new_href=with_lang("/report", lang),
    )


def report_status_page(lang: Lang, token: str, status: dict | None) -> RenderedPage:
    """The reporter's page: category, status and two times; nothing else is given to it."""
    fmt = catalogue(lang)["report"]["time_format"]
    times = {}
    if status is not None:
        times = {
            "reported": status["reported_at"].astimezone(JST).strftime(fmt),
            "updated": status["updated_at"].astimezone(JST).strftime(fmt),
        }
    return render_page(
        "report_status.html",
        lang=lang,
        path=f"/report/status/{token}",
        query={"lang": lang} if lang != "ja" else {},
        styles=["css/forms.css"],
        easy=True,
        status=status,
        new_href=with_lang("/report", lang),
        **times,
    )
