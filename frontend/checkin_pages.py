"""The staff check-in kiosk (/kiosk); the resident's pre-registration moved to frontend/register_pages.py
(its wording to text/*/register.toml). Japanese first (English with ?lang=en), every asset served by the app.

The HTML carries no personal data: the kiosk only ever receives counts. Wording reaches the scripts as JSON in a
``<script type="application/json">``; scripts put every text into the page with ``textContent``.
"""

from __future__ import annotations

import jinja2

from frontend.pages import static_url

TEXT: dict[str, dict] = {
    "ja": {
        "other_lang": {"code": "en", "label": "English"},
        "kiosk_title": "避難所受付（キオスク）",
        "js": {
            "shelter": "避難所",
            "no_shelters": "開設中の避難所がありません",
            "scan_label": "QRコード（スキャナーで読み取り、または入力して Enter）",
            "mode": "記録する内容",
            "entry": "入所",
            "exit": "退所",
            "walk_in": "登録なしの人数",
            "walk_in_add": "人数を記録",
            "camera_start": "カメラで読み取る",
            "camera_stop": "カメラを止める",
            "camera_unavailable": "このブラウザではカメラ読み取りが使えません。スキャナーか入力欄を使ってください。",
            "entered": "世帯 {persons}名（要配慮 {care}・ペット {pets}）入所を記録しました",
            "exited": "世帯 {persons}名 退所を記録しました",
            "walk_entered": "登録なし {persons}名 入所を記録しました",
            "walk_exited": "登録なし {persons}名 退所を記録しました",
            "already_inside": "すでに入所済みです（{persons}名）。二重には数えません。",
            "queued": "通信できません。記録を端末に保存しました（未送信 {n} 件）。",
            "pending": "未送信 {n} 件",
            "online": "オンライン",
            "offline": "オフライン",
            "occupancy": "現在 {occupancy}名 / 定員 {capacity}名（{level}）",
            "error": "受付できません：{message}",
        },
    },
    "en": {
        "other_lang": {"code": "ja", "label": "日本語"},
        "kiosk_title": "Shelter check-in (kiosk)",
        "js": {
            "shelter": "Shelter",
            "no_shelters": "No shelter is open",
            "scan_label": "QR code (scanner, or type it and press Enter)",
            "mode": "Record",
            "entry": "Entry",
            "exit": "Exit",
            "walk_in": "Persons without registration",
            "walk_in_add": "Record persons",
            "camera_start": "Scan with the camera",
            "camera_stop": "Stop the camera",
            "camera_unavailable": "Camera scanning is not available in this browser: use the scanner or the field.",
            "entered": "Household of {persons} ({care} needing care, {pets} pets): entry recorded",
            "exited": "Household of {persons}: exit recorded",
            "walk_entered": "{persons} without registration: entry recorded",
            "walk_exited": "{persons} without registration: exit recorded",
            "already_inside": "Already inside ({persons}): not counted twice.",
            "queued": "Offline: the scan is kept on this device ({n} waiting).",
            "pending": "{n} waiting to send",
            "online": "Online",
            "offline": "Offline",
            "occupancy": "{occupancy} inside / capacity {capacity} ({level})",
            "error": "Not recorded: {message}",
        },
    },
}

_PAGE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{ title }}</title>
<link rel="stylesheet" href="{{ css }}">
{% for src in js %}<script src="{{ src }}" defer></script>
{% endfor %}
<script type="application/json" id="evac-config">{{ config|tojson }}</script>
</head>
<body class="evac-page {{ body_class }}">
<header class="evac-header">
  <h1>{{ title }}</h1>
  <a class="evac-lang" href="?lang={{ t.other_lang.code }}" hreflang="{{ t.other_lang.code }}" lang="{{ t.other_lang.code }}">{{ t.other_lang.label }}</a>
</header>
<main id="evac-main">
{% if not_found %}<p class="evac-error" role="alert">{{ t.not_found }}</p>{% endif %}
{% if intro %}<p class="evac-help">{{ intro }}</p>{% endif %}
<div id="evac-app"></div>
</main>
</body>
</html>
"""

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
_TEMPLATE = _ENV.from_string(_PAGE)


def kiosk_html(lang: str, offline: bool = False) -> str:
    t = TEXT[lang]
    return _TEMPLATE.render(
        lang=lang,
        t=t,
        title=t["kiosk_title"],
        intro=None,
        not_found=False,
        body_class="evac-kiosk",
        css=static_url("css/evac.css"),
        js=[static_url("js/common.js"), static_url("js/kiosk.js")],
        config={"lang": lang, "text": t["js"]},
    )
