"""Layer catalog, features, management (owner department), open-data export and access counts."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gisapp.access import access_counts
from gisapp.api.rasters import as_listed
from gisapp.db import transaction
from gisapp.deps import EngineDep, OptionalUser, ReadConn, ReadRoute, SettingsDep, StaffUser
from layers import catalog, deletion, export, manage, reading, search
from layers.errors import LayerInvalid, LayerNotFound
from layers.importers.shelter_export import City
from layers.raster import store as raster_store

router = APIRouter(prefix="/api/layers", tags=["layers"], route_class=ReadRoute)
public_router = APIRouter(prefix="/api/public/layers", tags=["public"], route_class=ReadRoute)
stats_router = APIRouter(prefix="/api/stats", tags=["stats"], route_class=ReadRoute)


@router.get("", summary="Layers you may see / 閲覧できるレイヤー")
def list_layers(conn: ReadConn, user: OptionalUser) -> list[dict]:
    return [layer.as_json() for layer in catalog.list_layers(conn, user.roles if user else None)]


@router.get("/{slug}/features", summary="A layer's features as GeoJSON / 地物 (GeoJSON)")
def layer_features(slug: str, engine: EngineDep, user: OptionalUser) -> dict:
    # A restricted layer's read is audited by the domain, in this transaction, committed before the answer.
    with transaction(engine, user.roles if user else ()) as conn:
        return reading.layer_features(
            conn, slug, user.username if user else None, user.roles if user else None
        )


# --- management: owner-department staff and admins ------------------------------------------
class LayerIn(BaseModel):
    slug: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title_ja: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    geometry_type: str = "Geometry"
    kind: str = "generic"
    visibility: Literal["internal", "restricted"] = "internal"
    description_ja: str = Field("", max_length=4000)
    description_en: str = Field("", max_length=4000)
    source: str = Field("", max_length=500)
    licence: str = Field("", max_length=200)


class LayerPatch(BaseModel):
    title_ja: str | None = Field(None, min_length=1, max_length=200)
    title_en: str | None = Field(None, min_length=1, max_length=200)
    description_ja: str | None = Field(None, max_length=4000)
    description_en: str | None = Field(None, max_length=4000)
    source: str | None = Field(None, max_length=500)
    licence: str | None = Field(None, max_length=200)


@router.post("", status_code=201, summary="Create a layer of your department / レイヤー作成")
def create_layer(body: LayerIn, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        layer = manage.create_layer(conn, user, manage.LayerSpec(**body.model_dump()))
    return layer.as_json()


@router.patch("/{slug}", summary="Edit a layer's description / レイヤー情報の変更")
def update_layer(slug: str, body: LayerPatch, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        layer = manage.update_layer(conn, user, slug, body.model_dump(exclude_none=True))
    return layer.as_json()


@router.post("/{slug}/publish", summary="Publish to the citizen map / 公開")
def publish_layer(slug: str, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        layer = manage.set_visibility(conn, user, slug, catalog.Visibility.public)
    return layer.as_json()


@router.post("/{slug}/withdraw", summary="Withdraw from the citizen map / 公開取り下げ")
def withdraw_layer(slug: str, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        layer = manage.set_visibility(conn, user, slug, catalog.Visibility.internal)
    return layer.as_json()


@router.delete(
    "/{slug}",
    status_code=204,
    summary=f"Delete a layer (restorable for {deletion.RESTORE_DAYS} days)"
    f" / レイヤー削除（{deletion.RESTORE_DAYS}日間は復元可）",
    description="Registries (要支援者名簿) and layers that open operations refer to answer 409 with the reasons.",
)
def delete_layer(slug: str, engine: EngineDep, user: StaffUser) -> Response:
    with transaction(engine, user.roles) as conn:
        deletion.delete_layer(conn, user, slug)
    return Response(status_code=204)


@router.get("/deleted", summary="Deleted layers you may restore / 復元できる削除済みレイヤー")
def deleted_layers(engine: EngineDep, user: StaffUser) -> list[dict]:
    with transaction(engine, user.roles) as conn:
        return jsonable_encoder(deletion.list_deleted(conn, user))


@router.post("/{slug}/restore", summary="Restore a deleted layer / 削除したレイヤーの復元")
def restore_layer(slug: str, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        layer = deletion.restore_layer(conn, user, slug)
    return layer.as_json()


# --- published layers: both instances --------------------------------------------------------
def _public_layer(request: Request, conn, slug: str) -> catalog.Layer:
    layer = catalog.get_public_layer(conn, slug)
    if layer is None:
        raise LayerNotFound(slug)
    if request.app.state.public:
        request.app.state.access.hit(layer.id)
    return layer


@public_router.get("", summary="Published layers / 公開レイヤー")
def list_public_layers(conn: ReadConn) -> list[dict]:
    # Published rasters (航空写真) after the vector layers, as kind "raster" with their tile template.
    rasters = [as_listed(r, public=True) for r in raster_store.list_public_rasters(conn)]
    return [layer.as_public_json() for layer in catalog.list_public_layers(conn)] + rasters


@public_router.get("/{slug}/features", summary="A published layer as GeoJSON / 公開レイヤーの地物")
def public_layer_features(slug: str, request: Request, conn: ReadConn) -> dict:
    return catalog.features_geojson(conn, _public_layer(request, conn, slug), public=True)


@public_router.get("/{slug}/export", summary="Open-data download / オープンデータのダウンロード")
def export_public_layer(
    slug: str,
    request: Request,
    conn: ReadConn,
    settings: SettingsDep,
    format: Annotated[
        Literal["geojson", "gpkg", "csv"], Query(description="geojson | gpkg | csv (shelters: 自治体標準)")
    ] = "geojson",
    encoding: Annotated[Literal["utf-8", "cp932"], Query(description="CSV only")] = "utf-8",
) -> Response:
    layer = _public_layer(request, conn, slug)
    city = City(settings.municipality_code, settings.prefecture_name + settings.municipality_name)
    out = export.export_layer(conn, layer, format, encoding=encoding, city=city)
    headers = {"Content-Disposition": _attachment(layer.slug, layer.title_ja, out.extension)}
    if isinstance(out.data, dict):
        return JSONResponse(out.data, media_type=out.media_type, headers=headers)
    return Response(out.data, media_type=out.media_type, headers=headers)


def _attachment(slug: str, title: str, extension: str) -> str:
    """An ASCII file name (the slug) for old clients and the layer's Japanese title (RFC 6266/5987)."""
    name = "".join(c for c in title if c.isprintable() and c not in '\\/:*?"<>|').strip() or slug
    return f"attachment; filename=\"{slug}.{extension}\"; filename*=UTF-8''{quote(f'{name}.{extension}', safe='')}"


# --- search -----------------------------------------------------------------------------------
search_router = APIRouter(prefix="/api", tags=["search"], route_class=ReadRoute)  # internal app
public_search_router = APIRouter(
    prefix="/api/public", tags=["public"], route_class=ReadRoute
)  # both instances
SearchQ = Annotated[str, Query(min_length=1, max_length=100, description="名称の一部 / part of a name")]


def _checked(q: str) -> str:
    q = q.strip()
    if not q:
        raise LayerInvalid("検索語を入力してください。", "Enter something to search for.", field="q")
    return q


@search_router.get("/search", summary="Search names in the layers you may see / 名称検索")
def search_layers(q: SearchQ, conn: ReadConn, user: OptionalUser) -> list[dict]:
    return search.search(conn, _checked(q), roles=user.roles if user else None, public=user is None)


@public_search_router.get("/search", summary="Search published layers / 公開レイヤーの名称検索")
def search_public(q: SearchQ, conn: ReadConn) -> list[dict]:
    return search.search(conn, _checked(q), roles=None, public=True)


# --- access counts ---------------------------------------------------------------------------
@stats_router.get("/layer-access", summary="Public-GIS accesses per layer per day / 公開型GISのアクセス数")
def layer_access(
    conn: ReadConn, user: StaffUser, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> list[dict]:
    return access_counts(conn, days)
