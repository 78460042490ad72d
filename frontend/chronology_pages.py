"""The chronology page (/hq/chronology, gisapp/api/chronology_page.py): frontend/templates/chronology.html,
text section ``chronology``, styles css/chronology.css (with the A4 print rules). No script at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from frontend.catalogue import Lang
from frontend.render import RenderedPage, render_page

JST = ZoneInfo("Asia/Tokyo")


def _query(pairs: list[tuple[str, str]], **extra: Any) -> str:
    out = [(k, v) for k, v in pairs if v]
    out += [(k, str(v)) for k, v in extra.items() if v is not None]
    return urlencode(out)


def chronology_view(
    lang: Lang,
    *,
    view: str,
    typed: dict[str, Any],
    kinds: list[str],
    entries: list[dict[str, Any]],
    handover: dict[str, Any] | None,
    open_instructions: list[dict[str, Any]],
    disasters: list[dict[str, Any]],
    departments: list[dict[str, Any]],
    before: int | None,
    page_size: int,
    error: tuple[str, str] | None,
    csv_params: list[tuple[str, str]] | None = None,
    can_write: bool = False,
    written: int | None = None,
) -> RenderedPage:
    """``typed``: the form's values as given (``kind`` a list); ``entries`` newest first;
    ``csv_params``: the API's query for the same entries (None: no CSV link)."""

    def when(value: datetime | None) -> str:
        if value is None:
            return "—"
        return value.astimezone(JST).strftime("%Y-%m-%d %H:%M") + ("" if lang == "ja" else " JST")

    def summary(e: dict[str, Any]) -> str:
        return (e.get("summary_en") or e["summary_ja"]) if lang == "en" else e["summary_ja"]

    filters = [(k, v) for k, v in typed.items() if k not in ("kind", "since") and isinstance(v, str)]
    filters += [("kind", k) for k in typed["kind"]]
    keep = [*filters, ("lang", lang if lang != "ja" else "")]
    older = entries[-1]["id"] if len(entries) == page_size else None
    errors = sorted([("ja", error[0]), ("en", error[1])], key=lambda p: p[0] != lang) if error else None
    return render_page(
        "chronology.html",
        lang=lang,
        path="/hq/chronology",
        query={**dict(filters), "view": view},
        styles=["css/chronology.css"],
        view=view,
        typed=typed,
        kinds=kinds,
        entries=entries,
        handover=handover,
        open_instructions=open_instructions,
        disasters=disasters,
        departments=departments,
        when=when,
        summary=summary,
        now=datetime.now(JST),
        can_write=can_write,
        written=written,
        before=before,
        error=errors,
        newest_query=_query(keep),
        older_query=_query(keep, before=older) if older else None,
        csv_query=None
        if csv_params is None
        else _query([*csv_params, ("lang", lang if lang == "en" else "")]),
        handover_query=_query([("view", "handover"), ("lang", lang if lang != "ja" else "")]),
        list_query=_query([("lang", lang if lang != "ja" else "")]),
    )
