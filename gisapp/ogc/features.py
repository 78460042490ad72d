"""OGC API – Features routes at /ogc, on both the internal app and the citizen-facing instance.

Thin routes: visibility in ``access``, parameters in ``params``, SQL in ``layers.features_query``,
documents in ``documents``/``openapi``, HTML in ``html``. Tiles under /collections/{id}/tiles belong to
``gisapp.ogc.tiles``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from common.errors import NotFound
from frontend.catalogue import normalise_lang
from frontend.docs_page import docs_page
from gisapp.api.html import page_response
from gisapp.deps import OptionalUser, ReadConn, ReadRoute
from gisapp.ogc import access, cql, documents, html, openapi, params, raster_docs, raster_tiles, selection
from gisapp.ogc import crs as crs_mod
from gisapp.ogc.documents import GEOJSON, OPENAPI_TYPE
from layers import features_query as fq
from layers.catalog import KINDS, Layer

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"], route_class=ReadRoute)

_FEATURE_NOT_FOUND = ("地物が見つかりません。", "Feature not found.")
ITEM_PARAMS = frozenset({"crs"})


def _html(request: Request) -> bool:
    return params.wants_html(request.query_params, request.headers.get("accept", ""))


def _json(doc: dict[str, Any], media_type: str = "application/json", headers: dict | None = None) -> Response:
    return JSONResponse(doc, media_type=media_type, headers=headers)


@router.get("", summary="ランディングページ / Landing page")
def landing(request: Request) -> Response:
    params.only(request.query_params, params.EVERYWHERE)
    doc = documents.landing(request)
    if _html(request):
        b = documents.base(request)
        return html.render(
            request, html.Page(*documents.TITLE, html.crumbs(b), doc["description"], links=doc["links"])
        )
    return _json(doc)


@router.get("/conformance", summary="適合クラス / Conformance classes")
def conformance(request: Request) -> Response:
    params.only(request.query_params, params.EVERYWHERE)
    doc = documents.conformance(request)
    if _html(request):
        b = documents.base(request)
        page = html.Page("適合クラス", "Conformance", html.crumbs(b), links=doc["links"])
        page.table_head, page.table_rows = ["conformsTo"], [[c] for c in doc["conformsTo"]]
        return html.render(request, page)
    return _json(doc)


@router.get("/api", summary="API 定義 (OpenAPI 3.0) / API definition")
def api_definition(request: Request, conn: ReadConn, user: OptionalUser) -> Response:
    params.only(request.query_params, params.EVERYWHERE)
    b = documents.base(request)
    if _html(request):
        # Swagger UI from our own /static (no CDN), reading the definition below.
        page = docs_page(
            normalise_lang(request.query_params.get("lang")),
            path=request.url.path,
            query=dict(request.query_params),
            openapi_url=f"{b}/api?f=json",
            ogc=True,
        )
        return page_response(request, page)
    public = access.is_public(request)
    layers = access.visible_layers(request, conn, user)
    queryables = {layer.slug: fq.queryables(conn, layer, public) for layer in layers}
    offered = crs_mod.offered(conn, layers)
    access.audit_read(request, user, layers, "api")
    crs_lists = {layer.slug: crs_mod.uris(offered[layer.id]) for layer in layers}
    rasters = [
        (r.slug, f"{r.title_ja} / {r.title_en}") for r in raster_tiles.visible_rasters(request, conn, user)
    ]
    return _json(openapi.document(b, layers, queryables, crs_lists, rasters), OPENAPI_TYPE)


@router.get("/collections", summary="コレクション一覧 / Collections")
def collections(request: Request, conn: ReadConn, user: OptionalUser) -> Response:
    params.only(request.query_params, params.EVERYWHERE)
    public = access.is_public(request)
    layers = access.visible_layers(request, conn, user)
    offered = crs_mod.offered(conn, layers)
    docs = [
        documents.collection(request, layer, fq.extent(conn, layer, public), offered[layer.id])
        for layer in layers
    ]
    docs += [raster_docs.collection(request, r) for r in raster_tiles.visible_rasters(request, conn, user)]
    access.audit_read(request, user, layers, "collections")
    doc = documents.collections(request, docs)
    if not _html(request):
        return _json(doc)
    b = documents.base(request)
    page = html.Page("コレクション一覧", "Collections", html.crumbs(b), links=doc["links"])
    page.table_head = ["ID", "名称 / Title", "形状 / Geometry", "範囲 / Extent (CRS84)"]
    page.table_rows = [
        [html.cell_link(f"{b}/collections/{d['id']}?f=html", d["id"]), d["description"], d.get("geometryType", "raster"),
         ", ".join(f"{v:.5f}" for v in d["extent"]["spatial"]["bbox"][0])]
        for d in docs
    ]  # fmt: skip
    return html.render(request, page)


@router.get("/collections/{collection_id}", summary="コレクション / Collection")
def collection(collection_id: str, request: Request, conn: ReadConn, user: OptionalUser) -> Response:
    params.only(request.query_params, params.EVERYWHERE)
    try:
        layer = access.find_layer(request, conn, user, collection_id)
    except NotFound:
        raster = raster_tiles.raster_in(request, conn, user, collection_id)  # a raster layer (航空写真)?
        if raster is None:
            raise
        return raster_tiles.collection_response(request, raster, _html(request))
    public = access.is_public(request)
    offered = crs_mod.offered(conn, [layer])[layer.id]
    doc = documents.collection(request, layer, fq.extent(conn, layer, public), offered)
    access.audit_read(request, user, [layer], "collection")
    if not _html(request):
        return _json(doc)
    b = documents.base(request)
    page = html.Page(
        layer.title_ja, layer.title_en, html.crumbs(b, (f"{b}/collections", "コレクション / Collections")),
        links=doc["links"],
    )  # fmt: skip
    page.facts = [
        ("ID", layer.slug),
        ("形状 / Geometry", layer.geometry_type),
        ("範囲 / Extent (CRS84)", doc["extent"]["spatial"]["bbox"][0]),
        ("座標参照系 / CRS", crs_mod.summary(offered)),
        ("出典 / Source", layer.source),
        ("ライセンス / Licence", layer.licence),
    ]
    return html.render(request, page)


@router.get("/collections/{collection_id}/queryables", summary="絞り込み可能な属性 / Queryables")
def queryables(collection_id: str, request: Request, conn: ReadConn, user: OptionalUser) -> Response:
    params.only(request.query_params, params.EVERYWHERE)
    layer = access.find_layer(request, conn, user, collection_id)
    props = fq.queryables(conn, layer, access.is_public(request))
    access.audit_read(request, user, [layer], "queryables")
    doc = documents.queryables(request, layer, props, fq.TEMPORAL.get(layer.kind))
    if not _html(request):
        return _json(doc, "application/schema+json")
    b = documents.base(request)
    page = html.Page(
        f"{layer.title_ja}: 絞り込み可能な属性", f"{layer.title_en}: queryables",
        html.crumbs(b, (f"{b}/collections/{layer.slug}", layer.title_ja)),
        description="?filter=（CQL2）または ?項目名=値 で絞り込めます / filter the items with ?filter= (CQL2) or ?name=value",
    )  # fmt: skip
    page.table_head = ["項目 / Property", "型 / Type"]
    page.table_rows = [
        [name, spec.get("type") or spec.get("format") or "—"] for name, spec in doc["properties"].items()
    ]
    return html.render(request, page)


@router.get("/collections/{collection_id}/items", summary="地物 / Features")
def items(collection_id: str, request: Request, conn: ReadConn, user: OptionalUser) -> Response:
    layer = access.find_layer(request, conn, user, collection_id)
    public = access.is_public(request)
    qp = request.query_params
    want_html = _html(request)
    offered = crs_mod.offered(conn, [layer])[layer.id]
    out_crs = params.crs(qp, offered=offered)
    found_bbox = params.bbox(qp, offered)
    when = params.datetime_range(qp)
    known = fq.queryables(conn, layer, public)
    found_filter = cql.parse(qp)
    q = fq.ItemsQuery(
        layer=layer,
        public=public,
        srid=out_crs.srid,
        flip=out_crs.north_first,
        decimals=out_crs.decimals,
        bbox=found_bbox[0] if found_bbox else None,
        bbox_srid=found_bbox[1].srid if found_bbox else 4326,
        start=when[0] if when else None,
        end=when[1] if when else None,
        filters=params.property_filters(qp, known),
        limit=params.limit(qp),
        offset=params.offset(qp),
        cql=found_filter.tree if found_filter else None,
        filter_srid=found_filter.crs.srid if found_filter else 4326,
        filter_flip=found_filter.crs.north_first if found_filter else False,
        queryables=known,
        sortby=selection.sortby(qp, [*known, *filter(None, [fq.TEMPORAL.get(layer.kind)])]),
        properties=selection.properties(qp, known),
        skip_geometry=selection.skip_geometry(qp),
    )
    matched, features = fq.items(conn, q)
    returned = max(0, min(q.limit, matched - q.offset))
    access.audit_read(request, user, [layer], "items", returned=returned, query=str(qp)[:500])
    headers = {"Content-Crs": f"<{out_crs.uri}>"}
    links = _page_links(request, layer.slug, q, matched, want_html)
    if want_html:
        page = _items_page(request, layer, json.loads(features), matched, returned, links)
        return html.render(request, _with_map(request, page, out_crs), headers=headers)
    head = {
        "type": "FeatureCollection",
        "numberMatched": matched,
        "numberReturned": returned,
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    # The features array comes from PostGIS as JSON text: spliced in, never parsed here.
    body = json.dumps(head, ensure_ascii=False)[:-1] + ', "features": ' + features + "}"
    return Response(body.encode(), media_type=GEOJSON, headers=headers)


def _page_links(request: Request, slug: str, q: fq.ItemsQuery, matched: int, want_html: bool) -> list[dict]:
    url = request.url
    own = "text/html" if want_html else GEOJSON
    other, other_f = ("application/geo+json", "json") if want_html else ("text/html", "html")
    # The query parsed once, each link's parameters replaced in it (Starlette's include_query_params
    # parses and rebuilds the whole URL per link: a tenth of a small page's time).
    here = f"{url.scheme}://{url.netloc}{url.path}"
    query = request.query_params.multi_items()

    def with_params(**changes: object) -> str:
        kept = [(k, v) for k, v in query if k not in changes]
        return f"{here}?{urlencode([*kept, *((k, str(v)) for k, v in changes.items())])}"

    links = [
        documents.link(str(url), "self", own, "このページ / This page"),
        documents.link(with_params(f=other_f), "alternate", other, "別の形式 / Other format"),
        documents.link(
            f"{documents.base(request)}/collections/{slug}", "collection", "application/json", slug
        ),
    ]
    if q.offset + q.limit < matched:
        nxt = with_params(offset=q.offset + q.limit, limit=q.limit)
        links.append(documents.link(nxt, "next", own, "次のページ / Next page"))
    if q.offset > 0:
        prv = with_params(offset=max(0, q.offset - q.limit), limit=q.limit)
        links.append(documents.link(prv, "prev", own, "前のページ / Previous page"))
    return links


def _with_map(request: Request, page: html.Page, out_crs: crs_mod.Crs) -> html.Page:
    # A map only for lon/lat output; the basemap only where the network has internet.
    if out_crs != crs_mod.CRS84:
        page.geojson = None
    page.basemap = not request.app.state.settings.offline
    return page


def _items_page(
    request: Request, layer: Layer, features: list[dict], matched: int, returned: int, links: list
) -> html.Page:
    b = documents.base(request)
    coll = f"{b}/collections/{layer.slug}"
    page = html.Page(
        f"{layer.title_ja}: 地物", f"{layer.title_en}: features",
        html.crumbs(b, (f"{b}/collections", "コレクション / Collections"), (coll, layer.title_ja)),
        description=f"該当 {matched} 件中 {returned} 件を表示 / {returned} of {matched} features",
        links=[link for link in links if link["rel"] in ("next", "prev", "alternate")],
    )  # fmt: skip
    typed = KINDS[layer.kind].properties  # typed columns first, in their ledger order
    keys = list(dict.fromkeys([*typed, *(k for f in features for k in f["properties"])]))[:12]
    page.table_head = ["id", "形状 / Geometry", *keys]
    page.table_rows = [
        [html.cell_link(f"{coll}/items/{f['id']}?f=html", str(f["id"])), (f["geometry"] or {}).get("type", "—"),
         *(f["properties"].get(k, "") for k in keys)]
        for f in features
    ]  # fmt: skip
    with_geometry = [f for f in features if f["geometry"]]  # none with skipGeometry=true
    page.geojson = {"type": "FeatureCollection", "features": with_geometry} if with_geometry else None
    return page


@router.get("/collections/{collection_id}/items/{feature_id}", summary="地物 1 件 / One feature")
def item(
    collection_id: str, feature_id: str, request: Request, conn: ReadConn, user: OptionalUser
) -> Response:
    params.only(request.query_params, ITEM_PARAMS)
    layer = access.find_layer(request, conn, user, collection_id)
    offered = crs_mod.offered(conn, [layer])[layer.id]
    out_crs = params.crs(request.query_params, offered=offered)
    want_html = _html(request)
    found = None
    if feature_id.isdigit() and len(feature_id) < 19:
        found = fq.item(
            conn, layer, access.is_public(request), int(feature_id),
            srid=out_crs.srid, flip=out_crs.north_first, decimals=out_crs.decimals,
        )  # fmt: skip
    if found is None:
        raise NotFound(*_FEATURE_NOT_FOUND)
    access.audit_read(request, user, [layer], "item", feature_id=int(feature_id))
    headers = {"Content-Crs": f"<{out_crs.uri}>"}
    b = documents.base(request)
    coll = f"{b}/collections/{layer.slug}"
    links = [
        documents.link(f"{coll}/items/{feature_id}", "self", GEOJSON, "この地物 / This feature"),
        documents.link(f"{coll}/items/{feature_id}?f=html", "alternate", "text/html", "HTML"),
        documents.link(coll, "collection", "application/json", layer.title_ja),
    ]
    if want_html:
        feature = json.loads(found)
        page = html.Page(
            f"{layer.title_ja} #{feature_id}", f"{layer.title_en} #{feature_id}",
            html.crumbs(b, (f"{b}/collections", "コレクション / Collections"), (coll, layer.title_ja),
                        (f"{coll}/items", "地物 / Features")),
            links=links,
        )  # fmt: skip
        page.facts = [("形状 / Geometry", feature["geometry"]["type"]), *feature["properties"].items()]
        page.geojson = feature
        return html.render(request, _with_map(request, page, out_crs), headers=headers)
    body = found[:-1] + ', "links": ' + json.dumps(links, ensure_ascii=False) + "}"
    return Response(body.encode(), media_type=GEOJSON, headers=headers)
