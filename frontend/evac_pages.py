"""The resident's evacuation-status page (避難状況の連絡), reached with the token of their registration:
the choices and their community area, a plain HTML form (no script needed: it works on any phone).
Japanese, English and やさしい日本語 (frontend/templates/evacuation.html, text section ``evacuation``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from frontend.catalogue import Lang, catalogue
from frontend.render import RenderedPage, render_page, with_lang

JST = ZoneInfo("Asia/Tokyo")

# What a resident can answer to いまどこにいますか. 'unknown' (不明) is HQ's word for "no answer yet", not
# an answer a resident gives about their own household: it is shown only as an earlier report.
RESIDENT_CHOICES = ("home", "relatives", "shelter", "car")


def _time(value: datetime | None, lang: Lang) -> str:
    if value is None:
        return ""
    return value.astimezone(JST).strftime(catalogue(lang)["evacuation"]["time_format"])


def evacuation_page(
    lang: Lang,
    token: str,
    mine: dict | None,
    areas: list[dict],
    *,
    saved: dict | None = None,
    error: str = "",
    error_field: str | None = None,
) -> RenderedPage:
    t = catalogue(lang)["evacuation"]
    saved_text = counted = ""
    if saved:
        saved_text = t["saved"].replace("{status}", t["statuses"][saved["status"]])
        saved_text = saved_text.replace("{time}", _time(saved["reported_at"], lang))
        if mine and mine.get("status"):
            counted = t["counted"].replace("{status}", t["statuses"][mine["status"]])
    return render_page(
        "evacuation.html",
        lang=lang,
        path=f"/evacuation/{token}",
        query={"lang": lang} if lang != "ja" else {},
        styles=["css/forms.css"],
        easy=True,
        mine=mine,
        areas=areas,
        choices=RESIDENT_CHOICES,
        reported=_time(mine.get("reported_at"), lang) if mine else "",
        saved=saved_text,
        counted=counted,
        error=error,
        error_field=error_field,
        action=with_lang(f"/evacuation/{token}", lang),
        registration_href=with_lang(f"/register/{token}", lang),
    )
