"""The staff login page (Japanese first, English available)."""

from __future__ import annotations

from urllib.parse import urlsplit

from frontend.catalogue import normalise_lang
from frontend.render import RenderedPage, render_page


def safe_next(target: str) -> str:
    """Only same-site paths: never redirect to another host after login."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/hq"
    return target


def login_page(
    next_path: str,
    lang: str = "ja",
    failed: bool = False,
    notice: tuple[str, str] | None = None,
    username: str = "",
) -> RenderedPage:
    """The form; ``notice`` (ja, en), e.g. a login lock with its wait, is shown in both languages.
    After a refused attempt the name typed stays in its field and the password field takes the focus."""
    code = normalise_lang(lang)
    pairs = [("ja", notice[0]), ("en", notice[1])] if notice else []
    pairs.sort(key=lambda pair: pair[0] != code)
    return render_page(
        "login.html",
        lang=code,
        path="/login",
        query={"next": next_path},
        failed=failed,
        notice=pairs,
        next_path=next_path,
        username=username,
    )
