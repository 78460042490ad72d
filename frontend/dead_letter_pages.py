"""The dead-letter screen for HQ and admin (/hq/dead-letters): what the ingest worker refused, why,
and from which device; counts per reason for the last hour and day; device alerts per device and reason
(24 hours) and the valid OwnTracks messages counted and not stored; marking letters as reviewed.

frontend/templates/dead_letters.html, text section ``dead_letters`` (reason codes under ``reasons``),
styles css/dead_letters.css. No script at all: filters are a GET form, the review is a POST form
answered with a redirect back to the same view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from frontend.catalogue import Lang
from frontend.render import RenderedPage, render_page

JST = ZoneInfo("Asia/Tokyo")


def _query(lang: str, filters: dict[str, Any], **extra: Any) -> str:
    values = {k: v for k, v in filters.items() if v not in (None, "", False)}
    values.update({k: v for k, v in extra.items() if v is not None})
    values["lang"] = lang
    return urlencode({k: "true" if v is True else v for k, v in values.items()})


def dead_letters_page(
    lang: Lang,
    letters: list[dict[str, Any]],
    counts: list[dict[str, Any]],
    filters: dict[str, Any],
    *,
    limit: int,
    before: int | None = None,
    marked: int | None = None,
    error: tuple[str, str] | None = None,
    alerts: list[dict[str, Any]] | None = None,
    ignored: list[dict[str, Any]] | None = None,
) -> RenderedPage:
    """``filters``: device, reason, unreviewed (as given); ``letters`` newest first; ``error``: why
    the filters were refused (ja, en), shown in both languages, the page's first."""

    def when(value: datetime) -> str:
        local = value.astimezone(JST)
        return local.strftime("%Y-%m-%d %H:%M:%S") + ("" if lang == "ja" else " JST")

    older = letters[-1]["id"] if len(letters) == limit else None
    shown = {k: ("true" if v is True else str(v)) for k, v in filters.items() if v not in (None, "", False)}
    errors = sorted([("ja", error[0]), ("en", error[1])], key=lambda p: p[0] != lang) if error else None
    return render_page(
        "dead_letters.html",
        lang=lang,
        path="/hq/dead-letters",
        query={**shown, **({"before": str(before)} if before else {})},
        styles=["css/dead_letters.css"],
        counts=counts,
        alerts=alerts or [],
        ignored=ignored or [],
        letters=letters,
        filters=filters,
        limit=limit,
        before=before,
        marked=marked,
        when=when,
        keep=[*shown.items(), ("lang", lang)],
        error=errors,
        newest_query=_query(lang, filters),
        older_query=_query(lang, filters, before=older) if older else None,
    )
