"""Pages of citizen reports (通報): the public form and the reporter's status page (the staff
moderation queue is frontend/moderation_page.py). Japanese first (English with ?lang=en), every asset served by the app.

The HTML is written by autoescaping Jinja; the page scripts get their wording and settings as JSON in
a ``<script type="application/json">`` (``tojson`` escapes ``<``, ``>`` and ``&``) and put every
user-supplied text into the page with ``textContent``.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import jinja2

from frontend.pages import GSI_ATTRIBUTION, GSI_TILE_URL, ISEHARA_CENTER, assert_self_hosted, static_url

JST = ZoneInfo("Asia/Tokyo")

TEXT: dict[str, dict] = {
    "ja": {
        "skip": "本文へ移動",
        "other_lang": {"code": "en", "label": "English"},
        "form_title": "通報する（市民通報）",
        "emergency": "命に関わる緊急の場合は、119番（消防・救急）または 110番（警察）に電話してください。",
        "category": "種別（必須）",
        "choose": "選んでください",
        "location": "場所（必須）",
        "location_help": "地図をタップして場所を選ぶか、「現在地を使う」を押してください。"
        "キーボードでは矢印キーで地図を動かし、Enter キーで地図の中心を選べます。",
        "map_label": "場所を選ぶ地図",
        "use_location": "現在地を使う",
        "description": "内容（任意・2000文字まで）",
        "description_help": "氏名・電話番号などの個人情報は書かないでください。",
        "photo": "写真（任意・JPEG または PNG・10 MB まで）",
        "photo_help": "写真の位置情報などは取り除いて保存します。",
        "submit": "送信する",
        "done_title": "通報を受け付けました",
        "done_text": "対応の状況は次のリンクで確認できます。リンクはこの画面にしか表示されません。"
        "ブックマークするか、控えてください。",
        "status_title": "通報の状況",
        "not_found": "通報が見つかりません。リンクをもう一度確認してください。",
        "category_label": "種別",
        "status_label": "状況",
        "reported_at": "受付日時",
        "updated_at": "最終更新",
        "new_report": "新しく通報する",
        "js": {
            "no_location": "場所を選んでください。地図をタップするか「現在地を使う」を押してください。",
            "no_category": "種別を選んでください。",
            "too_long": "内容は2000文字までです。",
            "photo_too_large": "写真が大きすぎます（10 MB まで）。",
            "sending": "送信しています…",
            "failed": "送信できませんでした。時間をおいてもう一度お試しください。",
            "selected": "選択した場所：緯度 {lat}、経度 {lon}",
            "not_selected": "場所はまだ選ばれていません。",
            "locating": "現在地を確認しています…",
            "locate_failed": "現在地を取得できませんでした。地図をタップして場所を選んでください。",
            "marker": "通報する場所",
        },
    },
    "en": {
        "skip": "Skip to content",
        "other_lang": {"code": "ja", "label": "日本語"},
        "form_title": "Report a problem",
        "emergency": "If a life is in danger, call 119 (fire and ambulance) or 110 (police).",
        "category": "Category (required)",
        "choose": "Choose one",
        "location": "Location (required)",
        "location_help": "Tap the map to choose the place, or press “Use my location”. With a keyboard, "
        "move the map with the arrow keys and press Enter to choose its centre.",
        "map_label": "Map for choosing the place",
        "use_location": "Use my location",
        "description": "Description (optional, up to 2000 characters)",
        "description_help": "Please do not write names, phone numbers or other personal details.",
        "photo": "Photo (optional, JPEG or PNG, up to 10 MB)",
        "photo_help": "Location data and other metadata are removed from the photo.",
        "submit": "Send",
        "done_title": "Your report was received",
        "done_text": "You can follow its status with this link. It is shown only here: "
        "bookmark it or note it down.",
        "status_title": "Report status",
        "not_found": "No such report. Please check the link.",
        "category_label": "Category",
        "status_label": "Status",
        "reported_at": "Received",
        "updated_at": "Last update",
        "new_report": "Send a new report",
        "js": {
            "no_location": "Choose the place: tap the map or press “Use my location”.",
            "no_category": "Choose a category.",
            "too_long": "The description can have up to 2000 characters.",
            "photo_too_large": "The photo is too large (10 MB max).",
            "sending": "Sending…",
            "failed": "Could not send. Please try again later.",
            "selected": "Chosen place: latitude {lat}, longitude {lon}",
            "not_selected": "No place chosen yet.",
            "locating": "Finding your location…",
            "locate_failed": "Your location could not be determined. Tap the map to choose the place.",
            "marker": "Place of the report",
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

_FORM = """{% extends "base" %}{% block main %}
<p class="report-emergency">{{ t.emergency }}</p>
<form id="report-form" novalidate>
  <p id="report-error" class="report-error" role="alert" tabindex="-1" hidden></p>
  <div class="report-field">
    <label for="report-category">{{ t.category }}</label>
    <select id="report-category" name="category" required aria-required="true">
      <option value="">{{ t.choose }}</option>
{% for c in categories %}      <option value="{{ c.code }}">{{ c.name_en if lang == "en" else c.name_ja }}</option>
{% endfor %}
    </select>
  </div>
  <fieldset class="report-field">
    <legend>{{ location_label }}</legend>
    <p id="report-location-help" class="report-help">{{ t.location_help }}</p>
    <div id="report-map" class="report-map" tabindex="0" role="application" aria-label="{{ t.map_label }}" aria-describedby="report-location-help"></div>
    <button type="button" id="report-locate" class="report-button-secondary">{{ t.use_location }}</button>
    <p id="report-location-text" class="report-help" aria-live="polite">{{ t.js.not_selected }}</p>
    <input type="hidden" id="report-lon" name="lon">
    <input type="hidden" id="report-lat" name="lat">
  </fieldset>
  <div class="report-field">
    <label for="report-description">{{ t.description }}</label>
    <p id="report-description-help" class="report-help">{{ t.description_help }}</p>
    <textarea id="report-description" name="description" rows="5" maxlength="2000" aria-describedby="report-description-help"></textarea>
  </div>
  <div class="report-field">
    <label for="report-photo">{{ t.photo }}</label>
    <p id="report-photo-help" class="report-help">{{ t.photo_help }}</p>
    <input type="file" id="report-photo" name="photo" accept="image/jpeg,image/png" aria-describedby="report-photo-help">
  </div>
  <button type="submit" id="report-submit" class="report-button">{{ t.submit }}</button>
  <p id="report-progress" class="report-help" role="status"></p>
</form>
<section id="report-done" class="report-done" tabindex="-1" hidden>
  <h2>{{ t.done_title }}</h2>
  <p>{{ t.done_text }}</p>
  <p><a id="report-status-link" href="#"></a></p>
</section>
{% endblock %}"""

_STATUS = """{% extends "base" %}{% block main %}
{% if status is none %}
<p class="report-error" role="alert">{{ t.not_found }}</p>
{% else %}
<dl class="report-status" id="report-status">
  <dt>{{ t.category_label }}</dt><dd id="report-status-category">{{ status.category_en if lang == "en" else status.category_ja }}</dd>
  <dt>{{ t.status_label }}</dt><dd id="report-status-state" data-status="{{ status.status }}"><strong>{{ status.status_en if lang == "en" else status.status_ja }}</strong></dd>
  <dt>{{ t.reported_at }}</dt><dd>{{ reported }}</dd>
  <dt>{{ t.updated_at }}</dt><dd>{{ updated }}</dd>
</dl>
{% endif %}
<p><a href="/report{{ '?lang=en' if lang == 'en' else '' }}">{{ t.new_report }}</a></p>
{% endblock %}"""

_env = jinja2.Environment(
    loader=jinja2.DictLoader({"base": _BASE, "form": _FORM, "status": _STATUS}),
    autoescape=True,
)


def _time(value: datetime, lang: str) -> str:
    local = value.astimezone(JST)
    return local.strftime("%Y年%m月%d日 %H:%M") if lang == "ja" else local.strftime("%d %b %Y %H:%M JST")


def _render(name: str, lang: str, title: str, **values) -> str:
    html = _env.get_template(name).render(lang=lang, t=TEXT[lang], title=title, **values)
    assert_self_hosted(html)
    return html


def report_form_html(lang: str, categories: list[dict], offline: bool) -> str:
    t = TEXT[lang]
    config = {
        "lang": lang,
        "center": list(ISEHARA_CENTER),
        "tiles": None if offline else GSI_TILE_URL,
        "attribution": None if offline else GSI_ATTRIBUTION,
        "text": t["js"],
    }
    return _render(
        "form",
        lang,
        t["form_title"],
        categories=categories,
        location_label=t["location"],
        config=config,
        css=[static_url("vendor/leaflet/leaflet.css"), static_url("css/report.css")],
        js=[static_url("vendor/leaflet/leaflet.js"), static_url("js/common.js"), static_url("js/report.js")],
    )


def report_status_html(lang: str, status: dict | None) -> str:
    """The reporter's page: category, status and two times; nothing else is given to it."""
    values = {}
    if status is not None:
        values = {
            "reported": _time(status["reported_at"], lang),
            "updated": _time(status["updated_at"], lang),
        }
    return _render(
        "status",
        lang,
        TEXT[lang]["status_title"],
        status=status,
        config=None,
        css=[static_url("css/report.css")],
        js=[],
        **values,
    )
