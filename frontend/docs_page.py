"""The Swagger UI page (/docs of the internal instance, /ogc/api?f=html): our own HTML instead of
FastAPI's ``get_swagger_ui_html``, whose inline start-up script a strict CSP forbids. The vendored
bundle (static/vendor/swagger-ui) is started by static/js/swagger_init.js, which reads the definition's
URL from the page."""

from __future__ import annotations

from html import escape

from frontend.pages import static_url


def swagger_page(title: str, openapi_url: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{static_url("vendor/swagger-ui/swagger-ui.css")}">
<link rel="icon" type="image/png" href="{static_url("vendor/swagger-ui/favicon-32x32.png")}">
</head><body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{static_url("vendor/swagger-ui/swagger-ui-bundle.js")}"></script>
<script src="{static_url("js/swagger_init.js")}"></script>
</body></html>"""
