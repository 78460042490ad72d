"""Errors a person can cause: each says what happened in Japanese and English, with the HTTP status
it answers as. ``UserError`` is the one base of every such error in the platform (the web app's own
ones in gisapp/errors.py too); the web app answers them all with one handler, the CLI prints them."""

from __future__ import annotations


class UserError(Exception):
    status = 400
    code = "invalid_input"

    def __init__(self, ja: str, en: str, **details: object) -> None:
        super().__init__(f"{ja} / {en}")
        self.ja, self.en, self.details = ja, en, details


class LayerError(UserError):
    """Of the layer domain."""


class LayerNotFound(LayerError):
    status, code = 404, "not_found"

    def __init__(self, slug: str = "") -> None:
        # Unknown and not-allowed read the same: a layer's existence is not revealed.
        super().__init__("レイヤーが見つかりません。", "Layer not found.")


class LayerForbidden(LayerError):
    status, code = 403, "forbidden"


class LayerConflict(LayerError):
    status, code = 409, "conflict"


class LayerInvalid(LayerError):
    status, code = 400, "invalid_input"
