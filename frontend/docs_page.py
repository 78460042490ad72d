"""The Swagger UI page (/docs of the internal instance, /ogc/api?f=html) on the base layout:
frontend/templates/docs.html, text section ``docs``. The vendored bundle (static/vendor/swagger-ui) is a
classic deferred script; static/js/pages/docs.js starts it with the definition's URL from the page
data (FastAPI's ``get_swagger_ui_html`` has an inline start-up script, which the CSP forbids)."""

from __future__ import annotations

from collections.abc import Mapping

from frontend.catalogue import Lang, catalogue
from frontend.render import RenderedPage, render_page


def docs_page(
    lang: Lang, *, path: str, query: Mapping[str, str], openapi_url: str, ogc: bool = False
) -> RenderedPage:
    words = catalogue(lang)["docs"]
    return render_page(
        "docs.html",
        lang=lang,
        path=path,
        query=query,
        entry="pages/docs.js",
        styles=["vendor/swagger-ui/swagger-ui.css", "css/docs.css"],
        scripts=["vendor/swagger-ui/swagger-ui-bundle.js"],
        data={"openapi_url": openapi_url},
        text_sections=["docs"],
        heading_text=words["ogc_title"] if ogc else words["title"],
        openapi_url=openapi_url,
    )
