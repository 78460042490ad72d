"""The shelter operations screen (避難所運営, /shelters/ops and /shelters/{id}/ops): the HQ sees every
shelter of the disaster, a shelter's own staff their shelter (static/js/pages/shelter_ops.js). Open and
close with their checks as confirmation dialogs, counts, needs (物資) and 要配慮者数. Numbers and items
only: no person reaches this page. Works on a tablet (targets >= 44 px)."""

from __future__ import annotations

from collections.abc import Mapping

from frontend.catalogue import normalise_lang
from frontend.render import RenderedPage, render_page
from frontend.symbols import symbols
from gisapp.ops.shelter_needs import CARE_CATEGORIES, NEED_STATUSES, NEED_TRANSITIONS, PRIORITIES


def shelter_ops_rules(lang: str) -> dict:
    """The screen's rules as data: need statuses and which may follow which, priorities, 要配慮者
    categories, congestion letters and words."""
    en = lang == "en"
    return {
        "need_statuses": {k: v[1] if en else v[0] for k, v in NEED_STATUSES.items()},
        "need_order": list(NEED_STATUSES),
        "need_next": {k: [s for s in NEED_STATUSES if s in nxt] for k, nxt in NEED_TRANSITIONS.items()},
        "priorities": {str(k): v[1] if en else v[0] for k, v in PRIORITIES.items()},
        "care_categories": {k: v[1] if en else v[0] for k, v in CARE_CATEGORIES.items()},
        "care_order": list(CARE_CATEGORIES),
        # Congestion as a letter and a word (frontend/symbols.py), never by colour alone.
        "levels": {
            k: {"letter": v["letter"], "label": v["label"]} for k, v in symbols(lang)["shelter"].items()
        },
    }


def shelter_ops_page(
    lang: str = "ja",
    *,
    offline: bool = False,
    query: Mapping[str, str] | None = None,
    shelter_id: int | None = None,
) -> RenderedPage:
    code = normalise_lang(lang)
    path = f"/shelters/{shelter_id}/ops" if shelter_id else "/shelters/ops"
    return render_page(
        "shelter_ops.html",
        lang=code,
        path=path,
        query=query,
        entry="pages/shelter_ops.js",
        styles=["css/forms.css", "css/shelter_ops.css"],
        data={"shelter_id": shelter_id, "rules": shelter_ops_rules(code)},
        text_sections=["shelter_ops"],
        offline=offline,
        shelter_id=shelter_id,
    )
