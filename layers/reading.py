"""Reading a layer's features for a signed-in viewer: a restricted layer's read is audited in the same
transaction, whoever calls (API, CLI, export), so no caller can forget it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from common import audit
from layers.catalog import Visibility, features_geojson, get_layer
from layers.errors import LayerNotFound


def layer_features(
    conn: Connection, slug: str, viewer: str | None, roles: Iterable[str] | None
) -> dict[str, Any]:
    """The features of a layer the viewer may see (404 otherwise: unknown and not allowed answer the
    same, so a layer's existence does not leak)."""
    layer = get_layer(conn, slug, roles)
    if layer is None:
        raise LayerNotFound(slug)
    fc = features_geojson(conn, layer, public=False)
    if layer.visibility == Visibility.restricted:
        audit.record(conn, viewer or "anonymous", "layer.read_restricted", slug, rows=len(fc["features"]))
    return fc
