"""Rule: no CDN at run time. Every page is checked when it is rendered (``frontend.render``): it may
name no URL outside the app but the 地理院タイル template and its attribution link (the basemap when
online; lib/map.js holds them, so in practice a page names none)."""

from __future__ import annotations

import re

GSI_TILE_URL = "https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png"
GSI_ATTRIBUTION_URL = "https://maps.gsi.go.jp/development/ichiran.html"
ALLOWED_EXTERNAL_URLS = frozenset({GSI_TILE_URL, GSI_ATTRIBUTION_URL})

# Stops at quotes, whitespace, brackets and backslashes (a URL inside a JSON string ends at \").
_ABSOLUTE_URL_RE = re.compile(r"""https?://[^\s"'<>()\\]+""", re.IGNORECASE)
# "//host/x" only where a browser would fetch it; elsewhere "//" is usually a JS comment.
_PROTOCOL_RELATIVE_RE = re.compile(
    r"""(?:(?:src|href|action)\s*=\s*["']?|url\(\s*["']?)(//[^\s"'<>()\\]+)""", re.IGNORECASE
)


class ExternalAssetError(RuntimeError):
    """A rendered page would load something from outside the app."""


def external_urls(html: str) -> list[str]:
    """Every absolute or protocol-relative URL in ``html``, first occurrence order, no duplicates."""
    found = _ABSOLUTE_URL_RE.findall(html) + _PROTOCOL_RELATIVE_RE.findall(html)
    return list(dict.fromkeys(found))


def unexpected_external_urls(html: str) -> list[str]:
    """External URLs other than the 地理院タイル template and its attribution link."""
    return [url for url in external_urls(html) if url not in ALLOWED_EXTERNAL_URLS]


def assert_self_hosted(html: str) -> None:
    """Raise ExternalAssetError if ``html`` refers to anything outside the app but 地理院タイル."""
    unexpected = unexpected_external_urls(html)
    if unexpected:
        raise ExternalAssetError(f"page refers to external URLs: {unexpected}")
