"""Pages of citizen reports (通報): the public form and the reporter's status page (Jinja templates on
base.html, texts in section ``report``), and the staff moderation queue (still the inline template
below with its TEXT). Japanese first (English with ?lang=en, やさしい日本語 with ?lang=easy on the resident pages).

The HTML is written by autoescaping Jinja; the page scripts get their wording and settings as JSON in
a ``<script type="application/json">`` (``tojson`` escapes ``<``, ``>`` and ``&``) and put every
user-supplied text into the page with ``textContent``.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import jinja2

from frontend.catalogue import Lang, catalogue
from frontend.pages import assert_self_hosted, static_url
from frontend.render import RenderedPage, render_page

JST = ZoneInfo("Asia/Tokyo")

TEXT: dict[str, dict] = {
    "ja": {
        "skip": "本文へ移動",
        "other_lang": {"code": "en", "label": "English"},
        "hq_title": "市民通報の確認（本部）",
        "js": {
            "loading": "読み込み中…",
            "pending_count": "未処理の通報 {n} 件",
            "none": "未処理の通報はありません。",
            "load_failed": "通報を読み込めませんでした（{status}）。",
            "disaster": "登録先の災害",
            "no_disaster": "開設中の災害がありません",
            "report": "通報 #{id}",
            "received": "受付 {time}",
            "at": "場所：緯度 {lat}、経度 {lon}",
            "no_description": "（内容なし）",
            "photo_alt": "通報 #{id} の写真",
            "suggest_incidents": "統合候補の事案（50 m・2 時間以内）",
            "suggest_reports": "近くの未処理の通報",
            "no_suggestions": "統合候補はありません。",
            "incident_line": "事案 #{id}「{title}」{status}・{m} m・{min} 分差",
            "report_line": "通報 #{id}・{m} m・{min} 分差",
            "accept": "事案にする",
            "merge": "この事案に統合",
            "reject": "却下",
            "done_accept": "通報 #{id} を事案 #{incident} にしました。",
            "done_merge": "通報 #{id} を事案 #{incident} に統合しました。",
            "done_reject": "通報 #{id} を却下しました。",
            "action_failed": "処理できませんでした：{message}",
            "locale": "ja-JP",
        },
    },
    "en": {
        "skip": "Skip to content",
        "other_lang": {"code": "ja", "label": "日本語"},
        "hq_title": "Citizen reports (HQ review)",
        "js": {
            "loading": "Loading…",
            "pending_count": "{n} reports waiting",
            "none": "No reports waiting.",
            "load_failed": "Could not load the reports ({status}).",
            "disaster": "Disaster to register in",
            "no_disaster": "No disaster is open",
            "report": "Report #{id}",
            "received": "Received {time}",
            "at": "Location: latitude {lat}, longitude {lon}",
            "no_description": "(no description)",
            "photo_alt": "Photo of report #{id}",
            "suggest_incidents": "Incidents to merge into (within 50 m and 2 h)",
            "suggest_reports": "Nearby reports waiting",
            "no_suggestions": "No suggestions.",
            "incident_line": "Incident #{id} “{title}” {status}, {m} m, {min} min apart",
            "report_line": "Report #{id}, {m} m, {min} min apart",
            "accept": "Make an incident",
            "merge": "Merge into this incident",
            "reject": "Reject",
            "done_accept": "Report #{id} is now incident #{incident}.",
            "done_merge": "Report #{id} was merged into incident #{incident}.",
            "done_reject": "Report #{id} was rejected.",
            "action_failed": "Could not do this: {message}",
            "locale": "en-GB",
        },
    },
}

_BASE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
{% for href in css %}<link rel="stylesheet" href="{{ href }}">
{% endfor %}
{% for src in js %}<script src="{{ src }}" defer></script>
{% endfor %}
{% if config is not none %}<script type="application/json" id="report-config">{{ config|tojson }}</script>{% endif %}
</head>
<body class="report-page">
<a class="report-skip" href="#report-main">{{ t.skip }}</a>
<header class="report-header">
  <h1>{{ title }}</h1>
  <a class="report-lang" href="?lang={{ t.other_lang.code }}" hreflang="{{ t.other_lang.code }}" lang="{{ t.other_lang.code }}">{{ t.other_lang.label }}</a>
</header>
<main id="report-main" tabindex="-1">
{% block main %}{% endblock %}
</main>
</body>
</html>
"""

_MODERATION = """{% extends "base" %}{% block main %}
<p id="report-queue-status" class="report-help" role="status" aria-live="polite">{{ t.js.loading }}</p>
<p id="report-queue-result" class="report-result" role="status" aria-live="polite"></p>
<div class="report-field">
  <label for="report-disaster">{{ t.js.disaster }}</label>
  <select id="report-disaster"></select>
</div>
<ol id="report-queue" class="report-queue"></ol>
{% endblock %}"""

_env = jinja2.Environment(
    loader=jinja2.DictLoader({"base": _BASE, "moderation": _MODERATION}),
    autoescape=True,
)


def _render(name: str, lang: str, title: str, **values) -> str:
    html = _env.get_template(name).render(lang=lang, t=TEXT[lang], title=title, **values)
    assert_self_hosted(html)
    return html


def _with_lang(path: str, lang: Lang) -> str:
    return path + (f"?lang={lang}" if lang != "ja" else "")


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
        new_href=_with_lang("/report", lang),
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
        new_href=_with_lang("/report", lang),
        **times,
    )


def moderation_html(lang: str, offline: bool = False) -> str:
    t = TEXT[lang]
    return _render(
        "moderation",
        lang,
        t["hq_title"],
        config={"lang": lang, "text": t["js"]},
        css=[static_url("css/report.css")],
        js=[static_url("js/common.js"), static_url("js/report.js")],
    )
