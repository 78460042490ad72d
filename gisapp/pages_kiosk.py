"""The shelter check-in kiosk (避難所受付, /kiosk): staff confirm the shelter, then scan household QR codes
or type them (static/js/pages/kiosk.js). The page carries no personal data; the kiosk only ever
receives counts."""

from __future__ import annotations

from collections.abc import Mapping

from frontend.catalogue import normalise_lang, text
from frontend.render import RenderedPage, render_page
from frontend.static_files import static_url


def kiosk_page(lang: str, *, offline: bool, query: Mapping[str, str] | None = None) -> RenderedPage:
    code = normalise_lang(lang)
    return render_page(
        "kiosk.html",
        lang=code,
        path="/kiosk",
        query=query,
        entry="pages/kiosk.js",
        styles=["css/kiosk.css"],
        data={
            # An error names its field in both languages (the kiosk may be staffed by either reader).
            "fields": {"ja": text("ja", "kiosk.fields"), "en": text("en", "kiosk.fields")},
            "errors": {"ja": text("ja", "kiosk.errors"), "en": text("en", "kiosk.errors")},
            # Loaded only when the camera is switched on (BarcodeDetector-less browsers).
            "jsqr": static_url("vendor/jsqr/jsQR.js"),
        },
        text_sections=["kiosk"],
        offline=offline,
    )
