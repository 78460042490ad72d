"""The staff login page (Japanese first, English available)."""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlsplit

TEXT = {
    "ja": {
        "title": "職員ログイン｜gisapp",
        "h1": "職員ログイン",
        "user": "ユーザー名",
        "pw": "パスワード",
        "submit": "ログイン",
        "failed": "ユーザー名またはパスワードが違います。",
        "other": ("English", "en"),
    },
    "en": {
        "title": "Staff login | gisapp",
        "h1": "Staff login",
        "user": "Username",
        "pw": "Password",
        "submit": "Log in",
        "failed": "Wrong username or password.",
        "other": ("日本語", "ja"),
    },
}


def safe_next(target: str) -> str:
    """Only same-site paths: never redirect to another host after login."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/hq"
    return target


def login_page(
    next_path: str, lang: str = "ja", failed: bool = False, notice: tuple[str, str] | None = None
) -> str:
    """The form; ``notice`` (ja, en), e.g. a login lock with its wait, is shown in both languages."""
    lang = lang if lang in TEXT else "ja"
    t = TEXT[lang]
    other_label, other_lang = t["other"]
    error = f'<p class="error" role="alert">{t["failed"]}</p>' if failed else ""
    if notice:
        ja, en = (escape(m) for m in notice)
        first, second = ((ja, "ja"), (en, "en")) if lang == "ja" else ((en, "en"), (ja, "ja"))
        error = (
            f'<div class="error" role="alert"><p>{first[0]}</p><p lang="{second[1]}">{second[0]}</p></div>'
        )
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t["title"]}</title><link rel="stylesheet" href="/static/css/gisapp.css"></head>
<body class="login"><main id="main">
<h1>{t["h1"]}</h1>{error}
<form method="post" action="/login">
<input type="hidden" name="next" value="{escape(next_path)}"><input type="hidden" name="lang" value="{lang}">
<p><label for="username">{t["user"]}</label><br>
<input id="username" name="username" autocomplete="username" required maxlength="64"></p>
<p><label for="password">{t["pw"]}</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" required
 maxlength="256"></p>
<p><button type="submit">{t["submit"]}</button></p>
</form>
<p><a href="/login?lang={other_lang}&amp;next={escape(quote(next_path, safe="/"))}" lang="{other_lang}">{other_label}</a></p>
</main></body></html>"""
