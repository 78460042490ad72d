"""Layer catalog and features: internal (by role) and public (pub views only)."""

from __future__ import annotations

from fastapi import APIRouter

from gisapp import audit
from gisapp.deps import ConnDep, OptionalUser
from gisapp.errors import NotFound
from layers import catalog

router = APIRouter(prefix="/api/layers", tags=["layers"])
public_router = APIRouter(prefix="/api/public/layers", tags=["public"])

_NOT_FOUND = ("レイヤーが見つかりません。", "Layer not found.")


@router.get("", summary="Layers you may see / 閲覧できるレイヤー")
def list_layers(conn: ConnDep, user: OptionalUser) -> list[dict]:
    return [layer.as_json() for layer in catalog.list_layers(conn, user.roles if user else None)]


@router.get("/{slug}/features", summary="A layer's features as GeoJSON / 地物 (GeoJSON)")
def layer_features(slug: str, conn: ConnDep, user: OptionalUser) -> dict:
    # Unknown and not-allowed answer the same, so the existence of a layer does not leak.
    layer = catalog.get_layer(conn, slug, user.roles if user else None)
    if layer is None:
        raise NotFound(*_NOT_FOUND)
    if layer.visibility == catalog.Visibility.restricted:
        audit.record(conn, user.username if user else "anonymous", "layer.read_restricted", slug)
    return catalog.features_geojson(conn, layer, public=False)


@public_router.get("", summary="Published layers / 公開レイヤー")
def list_public_layers(conn: ConnDep) -> list[dict]:
    return [
        {k: v for k, v in layer.as_json().items() if k != "visibility"}
        for layer in catalog.list_public_layers(conn)
    ]


@public_router.get("/{slug}/features", summary="A published layer as GeoJSON / 公開レイヤーの地物")
def public_layer_features(slug: str, conn: ConnDep) -> dict:
    layer = catalog.get_public_layer(conn, slug)
    if layer is None:
        raise NotFound(*_NOT_FOUND)
    return catalog.features_geojson(conn, layer, public=True)
