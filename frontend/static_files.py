"""URLs of the files under frontend/static, with their content hash (the app serves them; no CDN)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/static"


@cache
def static_url(path: str) -> str:
    """URL of a file under frontend/static with a content hash: ``/static/css/base.css?v=1a2b3c4d5e``.
    A URL with ``?v=`` is cached for a year (gisapp/response_cache.py), so a redeploy is never stale."""
    digest = hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:10]
    return f"{STATIC_URL}/{path}?v={digest}"
