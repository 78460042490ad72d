"""Errors of the layer domain, on the platform's one error model (``common.errors``)."""

from __future__ import annotations

from common.errors import Conflict, Forbidden, InvalidInput, NotFound, UserError


class LayerError(UserError):
    """Of the layer domain."""


class LayerNotFound(LayerError, NotFound):
    def __init__(self, slug: str = "") -> None:
        # Unknown and not-allowed read the same: a layer's existence is not revealed.
        super().__init__("レイヤーが見つかりません。", "Layer not found.")


class LayerForbidden(LayerError, Forbidden):
    pass


class LayerConflict(LayerError, Conflict):
    pass


class LayerInvalid(LayerError, InvalidInput):
    pass
