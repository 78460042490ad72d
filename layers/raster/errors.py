"""The refusals of a raster upload: each says why in Japanese and English; nothing is stored."""

from __future__ import annotations

from layers.errors import LayerInvalid


class RasterRejected(LayerInvalid):
    """The file was refused (answered 422 like a refused vector import; ``code`` says why)."""

    def __init__(self, ja: str, en: str, *, code: str = "raster_rejected", **details: object) -> None:
        super().__init__(ja, en, reason=code, **details)
        self.code = code


class RasterTooLarge(RasterRejected):
    status = 413
