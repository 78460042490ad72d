"""The OGC API keeps the standard's 400 for an invalid parameter (``/api`` answers 422)."""

from __future__ import annotations

from common.errors import InvalidInput


class OgcInvalid(InvalidInput):
    status = 400
