"""Which collections a request may see, and the audit of restricted reads.

The public instance reads only the ``pub`` views (its database role can read nothing else); the
internal app goes by the caller's roles (anonymous = public only). A collection that is not visible
answers exactly like one that does not exist.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Connection

from common import audit
from common.errors import NotFound
from gisapp.auth import User
from gisapp.db import transaction
from layers import catalog
from layers.catalog import KINDS, Layer, Visibility

NOT_FOUND = ("コレクションが見つかりません。", "Collection not found.")


def is_public(request: Request) -> bool:
    return bool(request.app.state.public)


def _servable(layer: Layer, public: bool) -> bool:
    kind = KINDS.get(layer.kind)
    return kind is not None and not (public and kind.public_view is None)


def visible_layers(request: Request, conn: Connection, user: User | None) -> list[Layer]:
    public = is_public(request)
    found = (
        catalog.list_public_layers(conn)
        if public
        else catalog.list_layers(conn, user.roles if user else None)
    )
    return [layer for layer in found if _servable(layer, public)]


def published_layer(
    request: Request, conn: Connection, slug: str, *, revision_from_reads: bool = False
) -> Layer | None:
    """A published layer for the citizen-facing instance: from the layer directory (gisapp/ogc/
    tiles_fast.py; it LISTENs and reloads on every change of gis.layer, milliseconds after the commit)
    without a query, or from the database when the directory is not listening or does not know the
    slug (a layer published a moment ago). The features themselves are always read through the
    ``pub`` views, which check the visibility again, so a directory a moment behind never shows a
    feature of a layer that has just been withdrawn.

    ``revision_from_reads``: the caller keys a cache by ``layer.revision`` (tiles), which must then be
    the revision of the database it reads. The directory follows the primary, so with a read replica
    it is asked only when the instance reads the primary too."""
    state = request.app.state
    directory = state.layer_directory.layers
    if directory is not None and not (revision_from_reads and state.engine is not state.write_engine):
        layer = directory.get(slug)
        if layer is not None:
            return layer
    return catalog.get_public_layer(conn, slug)


def find_layer(request: Request, conn: Connection, user: User | None, slug: str) -> Layer:
    public = is_public(request)
    layer = (
        published_layer(request, conn, slug)
        if public
        else catalog.get_layer(conn, slug, user.roles if user else None)
    )
    if layer is None or not _servable(layer, public):
        raise NotFound(*NOT_FOUND)
    if public:
        request.app.state.access.hit(layer.id)  # the public-GIS access KPI
    return layer


def audit_read(
    request: Request, user: User | None, layers: list[Layer], resource: str, **details: object
) -> None:
    """Every read that touches a restricted layer is written to the audit log, in a transaction of
    its own committed before the answer is built (the read itself runs READ ONLY): no audit, no data."""
    restricted = [layer for layer in layers if layer.visibility == Visibility.restricted]
    if not restricted:
        return
    actor = user.username if user else "anonymous"
    with transaction(request.app.state.write_engine, user.roles if user else ()) as conn:
        for layer in restricted:
            audit.record(conn, actor, "ogc.read_restricted", layer.slug, resource=resource, **details)
