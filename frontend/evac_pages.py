"""The resident's evacuation-status page (避難状況の連絡), reached with the token of their registration:
five choices and their community area, a plain HTML form (no script needed: it works on any phone).
Japanese first, English with ?lang=en; autoescaping Jinja; styles from css/report.css."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import jinja2

from frontend.pages import assert_self_hosted, static_url

JST = ZoneInfo("Asia/Tokyo")

TEXT: dict[str, dict] = {
    "ja": {
        "title": "避難状況の連絡",
        "skip": "本文へ移動",
        "other_lang": {"code": "en", "label": "English"},
        "intro": "いまの世帯の状況を選んで「送信する」を押してください。家族の安否確認と支援の手配に使います。",
        "disaster": "災害",
        "no_disaster": "現在、開設中の災害はありません。",
        "current": "前回の連絡",
        "none_yet": "まだ連絡はありません",
        "question": "いまどこにいますか（必須）",
        "area": "お住まいの地区",
        "area_keep": "（変更しない）",
        "submit": "送信する",
        "saved": "受け付けました：{status}（{time}）",
        "not_found": "登録が見つかりません。QRコードのリンクをもう一度確認してください。",
        "statuses": {"home": "在宅", "relatives": "親族・知人宅", "shelter": "避難所", "car": "車中泊", "unknown": "不明"},
        "in_shelter": "避難所で受付済みです。",
    },
    "en": {
        "title": "Tell us where you are",
        "skip": "Skip to content",
        "other_lang": {"code": "ja", "label": "日本語"},
        "intro": "Choose where your household is now and press “Send”. It is used to confirm safety and arrange help.",
        "disaster": "Disaster",
        "no_disaster": "No disaster is open now.",
        "current": "Your last report",
        "none_yet": "No report yet",
        "question": "Where are you now? (required)",
        "area": "Your area",
        "area_keep": "(no change)",
        "submit": "Send",
        "saved": "Received: {status} ({time})",
        "not_found": "No such registration. Please check the link of your QR code.",
        "statuses": {
            "home": "At home", "relatives": "With relatives or friends", "shelter": "At a shelter",
            "car": "Staying in a car", "unknown": "Unknown",
        },
        "in_shelter": "You are checked in at a shelter.",
    },
}  # fmt: skip

_PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.title }}</title>
<link rel="stylesheet" href="{{ css }}">
</head>
<body class="report-page">
<a class="report-skip" href="#report-main">{{ t.skip }}</a>
<header class="report-header">
  <h1>{{ t.title }}</h1>
  <a class="report-lang" href="?lang={{ t.other_lang.code }}" hreflang="{{ t.other_lang.code }}" lang="{{ t.other_lang.code }}">{{ t.other_lang.label }}</a>
</header>
<main id="report-main" tabindex="-1">
{% if error %}<p id="evac-error" class="report-error" role="alert">{{ error }}</p>{% endif %}
{% if saved %}<p id="evac-saved" class="report-done" role="status">{{ saved }}</p>{% endif %}
{% if mine is none %}
<p class="report-error" role="alert">{{ t.not_found }}</p>
{% else %}
<p>{{ t.intro }}</p>
<dl class="report-status">
  <dt>{{ t.disaster }}</dt><dd id="evac-disaster">{{ mine.disaster or t.no_disaster }}</dd>
  <dt>{{ t.current }}</dt><dd id="evac-current" data-status="{{ mine.status or '' }}">{{ t.statuses[mine.status] if mine.status else t.none_yet }}{% if reported %}（{{ reported }}）{% endif %}</dd>
</dl>
{% if mine.disaster %}
<form method="post" action="/evacuation/{{ token }}{{ '?lang=en' if lang == 'en' else '' }}" class="evac-form">
  <fieldset class="report-field">
    <legend>{{ t.question }}</legend>
{% for code, label in t.statuses.items() %}
    <label class="evac-choice"><input type="radio" name="status" value="{{ code }}" required{% if code == mine.status %} checked{% endif %}> {{ label }}</label>
{% endfor %}
  </fieldset>
  <div class="report-field">
    <label for="evac-area">{{ t.area }}</label>
    <select id="evac-area" name="area">
      <option value="">{{ t.area_keep }}</option>
{% for a in areas %}      <option value="{{ a.code }}"{% if a.code == mine.area_code %} selected{% endif %}>{{ a.name }}</option>
{% endfor %}
    </select>
  </div>
  <button type="submit" id="evac-submit" class="report-button">{{ t.submit }}</button>
</form>
{% endif %}
{% endif %}
</main>
</body>
</html>
"""

_env = jinja2.Environment(loader=jinja2.DictLoader({"page": _PAGE}), autoescape=True)


def _time(value: datetime | None, lang: str) -> str:
    if value is None:
        return ""
    local = value.astimezone(JST)
    return local.strftime("%m月%d日 %H:%M") if lang == "ja" else local.strftime("%d %b %H:%M JST")


def evacuation_html(
    lang: str, token: str, mine: dict | None, areas: list[dict], *, saved: dict | None = None, error: str = ""
) -> str:
    lang = "en" if lang == "en" else "ja"
    t = TEXT[lang]
    saved_text = ""
    if saved:
        saved_text = t["saved"].format(
            status=t["statuses"][saved["status"]], time=_time(saved["reported_at"], lang)
        )
    html = _env.get_template("page").render(
        lang=lang, t=t, token=token, mine=mine, areas=areas, css=static_url("css/report.css"),
        reported=_time(mine.get("reported_at"), lang) if mine else "", saved=saved_text, error=error,
    )  # fmt: skip
    assert_self_hosted(html)
    return html
