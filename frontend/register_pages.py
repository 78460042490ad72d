"""The resident's pre-registration for shelter check-in: /register (the form) and /register/{token}
(the QR code and the check-in number first, then the form to change the registration).

The HTML carries no personal data: /register/{token} shows the QR code and the token (which are in its
URL anyway) and its script reads the registration from the API. Texts: section ``register``
(ja, en, やさしい日本語)."""

from __future__ import annotations

from datetime import date

from frontend.catalogue import Lang, catalogue
from frontend.render import RenderedPage, render_page, with_lang

# 和暦, oldest first: (key in the catalogue's [era], first year). The year an era changed belongs to both.
ERAS = (("meiji", 1868), ("taisho", 1912), ("showa", 1926), ("heisei", 1989), ("reiwa", 2019))
OLDEST = 1900


def wareki(year: int, lang: Lang) -> str:
    """``1985`` → ``昭和60年``; ``1989`` → ``昭和64年／平成元年``."""
    era = catalogue(lang)["register"]["era"]
    names = []
    for i, (key, first) in enumerate(ERAS):
        end = ERAS[i + 1][1] if i + 1 < len(ERAS) else 10_000
        if first <= year <= end:
            n = year - first + 1
            names.append(
                era["year"].replace("{era}", era[key]).replace("{n}", era["first"] if n == 1 else str(n))
            )
    return ("／" if lang != "en" else " / ").join(names)


def year_options(lang: Lang, today: date | None = None) -> list[dict]:
    t = catalogue(lang)["register"]
    current = (today or date.today()).year
    return [
        {
            "value": str(y),
            "label": t["year_option"].replace("{year}", str(y)).replace("{wareki}", wareki(y, lang)),
        }
        for y in range(current, OLDEST - 1, -1)
    ]


def register_page(lang: Lang, links: dict | None, *, not_found: bool = False) -> RenderedPage:
    """``links``: the registration's QR, token and pages (gisapp.api.shelters.registration_links) on
    /register/{token}; None on /register."""
    token = links["token"] if links else None
    if links:
        links = {
            **links,
            "url": with_lang(links["url"], lang),
            "evacuation_url": with_lang(links["evacuation_url"], lang),
        }
    path = f"/register/{token}" if token else "/register"
    return render_page(
        "register.html",
        lang=lang,
        path=path,
        query={"lang": lang} if lang != "ja" else {},
        entry=None if not_found else "pages/register.js",
        styles=["css/forms.css"],
        data={"token": token, "links": links},
        text_sections=["register"],
        easy=True,
        own=token is not None,
        not_found=not_found,
        links=links,
        years=year_options(lang),
        new_href=with_lang("/register", lang),
    )
