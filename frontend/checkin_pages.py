"""Pages of evacuation pre-registration: the resident's form (/register, /register/{token}). Japanese
first (English with ?lang=en), every asset served by the app. (The staff kiosk /kiosk is a template on
the base layout: gisapp/pages_kiosk.py.)

The HTML carries no personal data: the resident's page reads its registration from the API with the
token in its URL, and the kiosk only ever receives counts. Wording reaches the scripts as JSON in a
``<script type="application/json">``; scripts put every text into the page with ``textContent``.
"""

from __future__ import annotations

import jinja2

from frontend.pages import static_url

TEXT: dict[str, dict] = {
    "ja": {
        "other_lang": {"code": "en", "label": "English"},
        "register_title": "避難所受付の事前登録",
        "own_title": "事前登録の内容",
        "intro": "世帯の情報を登録すると、避難所の受付で使うQRコードが表示されます。"
        "QRコードには氏名などの個人情報は含まれません。",
        "not_found": "登録が見つかりません。リンクをもう一度確認してください。",
        "js": {
            "representative": "代表者の氏名（必須）",
            "phone": "電話番号",
            "address": "住所",
            "members": "世帯の人（必須・20人まで）",
            "member_name": "氏名",
            "birth_year": "生まれた年（西暦）",
            "needs_care": "要配慮（高齢・障害・乳幼児・妊産婦など）",
            "needs": "配慮の内容（例：車いす、アレルギー）",
            "add_member": "人を追加",
            "remove_member": "この人を削除",
            "pets": "ペットの数",
            "submit": "登録する",
            "save": "変更を保存",
            "saved": "保存しました。",
            "sending": "送信しています…",
            "failed": "送信できませんでした：{message}",
            "done": "登録しました。このQRコードを避難所の受付で見せてください。",
            "keep_link": "このページのリンクで、後から内容の確認・変更ができます。リンクは他の人に教えないでください。",
            "qr_alt": "受付用QRコード",
            "download_svg": "QRコードを保存（SVG）",
            "download_png": "QRコードを保存（PNG）",
            "page_link": "登録内容のページ",
        },
    },
    "en": {
        "other_lang": {"code": "ja", "label": "日本語"},
        "register_title": "Pre-registration for shelter check-in",
        "own_title": "Your registration",
        "intro": "Register your household to get a QR code for checking in at a shelter. "
        "The QR code holds no name or other personal data.",
        "not_found": "No registration found. Check the link.",
        "js": {
            "representative": "Representative's name (required)",
            "phone": "Phone",
            "address": "Address",
            "members": "Household members (required, up to 20)",
            "member_name": "Name",
            "birth_year": "Year of birth",
            "needs_care": "Needs care (elderly, disability, infant, pregnancy…)",
            "needs": "What care (e.g. wheelchair, allergy)",
            "add_member": "Add a person",
            "remove_member": "Remove this person",
            "pets": "Number of pets",
            "submit": "Register",
            "save": "Save changes",
            "saved": "Saved.",
            "sending": "Sending…",
            "failed": "Could not send: {message}",
            "done": "Registered. Show this QR code at the shelter's check-in.",
            "keep_link": "This page's link lets you check and change your registration later. Do not share it.",
            "qr_alt": "QR code for check-in",
            "download_svg": "Save the QR code (SVG)",
            "download_png": "Save the QR code (PNG)",
            "page_link": "Your registration page",
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


def register_html(lang: str, token: str | None, *, not_found: bool = False) -> str:
    t = TEXT[lang]
    return _TEMPLATE.render(
        lang=lang,
        t=t,
        title=t["own_title"] if token else t["register_title"],
        intro=None if (token or not_found) else t["intro"],
        not_found=not_found,
        body_class="evac-register",
        css=static_url("css/evac.css"),
        js=[static_url("js/common.js"), static_url("js/register.js")],
        config={"lang": lang, "token": None if not_found else token, "text": t["js"]},
    )
