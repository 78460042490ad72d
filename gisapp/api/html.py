"""HTML answers for pages rendered by ``frontend.render``: the CSP with the page's own hashes."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse

from frontend.render import RenderedPage
from gisapp.middleware import content_security_policy


def page_response(
    request: Request,
    page: RenderedPage,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The page with its own CSP: its import map and, on the citizen page, its inlined stylesheet allowed
    by their hashes; nothing else inline."""
    offline = request.app.state.settings.offline
    csp = content_security_policy(offline, script_hashes=page.script_hashes, style_hashes=page.style_hashes)
    return HTMLResponse(page.html, status_code, headers={**(headers or {}), "Content-Security-Policy": csp})
