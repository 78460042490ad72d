"""The app factory: builds the internal app or the citizen-facing one (``public=True``)."""

from __future__ import annotations

import re
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import frontend
from gisapp import errors, logs, openapi_doc
from gisapp.access import AccessCounter
from gisapp.admission import Admission, Gate
from gisapp.api import (
    auth,
    basemap,
    chronology,
    chronology_page,
    citizen,
    damage,
    dead_letters,
    devices,
    disaster_ops,
    docs,
    evacuation,
    evacuation_info,
    evacuation_public,
    events,
    geofence,
    health,
    imports,
    incidents,
    jma,
    layers,
    maps,
    pages,
    people,
    public_incidents,
    radio,
    rasters,
    reports,
    road_closures,
    shelter_ops,
    shelters,
    units,
)
from gisapp.cors import ReadCors
from gisapp.db import app_engine, public_read_engine
from gisapp.evac_watch import EvacuationWatch
from gisapp.events import EventHub
from gisapp.health import CachedHealth
from gisapp.middleware import CompressExceptPersonal, OriginCheck, SecurityHeaders
from gisapp.ogc import features as ogc_features
from gisapp.ogc import raster_tiles as ogc_raster_tiles
from gisapp.ogc import styles as ogc_styles
from gisapp.ogc import tiles as ogc_tiles
from gisapp.ogc.head import OgcHead
from gisapp.ogc.tiles_fast import LayerDirectory, TileFastPath
from gisapp.request_guard import RequestGuard
from gisapp.response_cache import CacheStore, ResponseCache, Rule, static_cache_control
from gisapp.settings import Settings, get_settings
from layers.tiles import TileCache

STATIC = Path(frontend.__file__).parent / "static"


def _layers_version(state) -> object:
    """Changes the moment a layer does (the layer directory reloads on every layer notification)."""
    directory = state.layer_directory
    return directory.reloads if directory.layers is not None else None


def _evacuation_version(state) -> object:
    """Changes the moment an order version is written (gisapp/evac_watch.py LISTENs for it)."""
    return state.evac_watch.version


def _count_layer_access(state, match: re.Match[str]) -> None:
    layers = state.layer_directory.layers
    layer = layers.get(match.group(1)) if layers is not None else None
    if layer is not None:
        state.access.hit(layer.id)


def cache_rules(public: bool) -> list[Rule]:
    """What the response cache keeps (gisapp/response_cache.py; docs/deploy.md has the table).
    Static files on every instance; the citizens' shared answers on the citizen-facing one only."""
    rules = [
        Rule(re.compile(r"^/static/"), 3600, static_cache_control),
    ]
    if not public:
        return rules
    shared = "public, max-age=5, s-maxage=10"
    return [
        *rules,
        # Shelter congestion and public incidents: at most 5 + 10 s old here, + s-maxage 10 at a
        # proxy, + max-age 5 in the browser = 30 s, even while the database is failing.
        Rule(re.compile(r"^/api/public/shelters/status$"), 5, shared, stale=10),
        Rule(re.compile(r"^/api/public/incidents$"), 5, shared, stale=10),
        Rule(re.compile(r"^/api/public/layers$"), 15, "public, max-age=15, s-maxage=30", 60, _layers_version),
        Rule(
            re.compile(r"^/api/public/layers/([a-z0-9][a-z0-9_-]{0,62})/features$"),
            15,
            "public, max-age=15, s-maxage=30",
            60,
            _layers_version,
            _count_layer_access,
        ),
        Rule(
            re.compile(r"^/api/(public/incident-categories|reports/categories)$"), 60, "public, max-age=300"
        ),
        # The citizen page and its JSON carry the evacuation information: a new order version is a new
        # key. An answer for a position is private (no-store, never kept); for an area or the city, shared.
        Rule(re.compile(r"^/$"), 30, "public, max-age=30", 300, _evacuation_version),
        Rule(re.compile(r"^/api/public/here$"), 5, None, 10, _evacuation_version),
        # Evacuation information: a new order version is a new key (seen within the notification's
        # milliseconds); the route's own Cache-Control (max-age=1, or no-store from a lagging
        # replica); a proxy keeps it to the end of the current second; never served stale. The
        # lifetime bounds only what changes without a version (a 解除 older than 24 h leaving the list).
        Rule(
            re.compile(r"^/(api/public/evacuation-info|feeds/evacuation-info\.atom)$"),
            30,
            None,
            version=_evacuation_version,
            proxy_now=True,
        ),
        Rule(re.compile(r"^/feeds/evacuation-info/[0-9]+-[0-9]+\.cap$"), 300, None),
    ]


def create_app(settings: Settings | None = None, *, public: bool = False) -> FastAPI:
    settings = settings or get_settings()
    # Writes go to the primary; the citizen-facing instance reads a streaming replica if it has one
    # (docs/deploy.md, "Read replica"). The layer directory LISTENs, which a standby cannot: it
    # follows the primary, whose revisions are never behind the replica's (a tile is cached under the
    # revision it was rendered from, so the fast path answers only tiles the replica has caught up to).
    write_engine = app_engine(settings, public=public)
    engine = public_read_engine(settings) if public else write_engine
    hub = None if public else EventHub(settings.database_url or "")
    access = AccessCounter(write_engine)
    directory = LayerDirectory(settings.public_database_url if public else settings.database_url or "")
    evac_watch = EvacuationWatch(
        settings.public_database_url if public else settings.database_url or "",
        max_streams=settings.evac_streams,
    )

    gate = Gate(
        limit=settings.process_concurrency(), queue=settings.queue_length, wait_ms=settings.queue_wait(public)
    )
    cache = CacheStore(cache_rules(public) if settings.response_cache else [])

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Admitted requests use at most one worker thread each; the rest is for static files and
        # logins. AnyIO's default of 40 is enough up to db_concurrency 24.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, settings.process_concurrency() + 16)
        access.start()
        directory.start()
        evac_watch.start()
        if hub:
            hub.start()
        yield
        if hub:
            await hub.stop()
        await evac_watch.stop()
        await directory.stop()
        access.stop()

    app = FastAPI(
        title="gisapp" + (" 公開型GIS (public)" if public else " 統合型GIS API"),
        version="0.1.0",
        lifespan=lifespan,
        # /docs and /openapi.json are our own routes (gisapp/api/docs.py): staff only, Swagger UI from
        # /static. The citizen-facing instance publishes no API documentation.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    # Outermost last: headers on every answer, then the Origin check, then body limits and control
    # characters; then the response cache (answers what everyone asks for, compressed once), the
    # compression of everything else, the tile fast path; then admission control, which sheds what
    # reaches it beyond capacity (503, Retry-After); innermost the last-resort 500. CORS for the
    # anonymous read APIs just inside the headers (gisapp/cors.py).
    app.add_middleware(errors.UnexpectedErrors)
    app.add_middleware(Admission, gate=gate)
    app.add_middleware(TileFastPath)
    app.add_middleware(CompressExceptPersonal, zstd=False, minimum_size=512)
    app.add_middleware(ResponseCache, store=cache)
    app.add_middleware(RequestGuard)
    app.add_middleware(OriginCheck, allowed_origins=settings.allowed_origin_list)
    app.add_middleware(ReadCors)  # preflights answered before anything runs; every read answer carries it
    app.add_middleware(SecurityHeaders, offline=settings.offline, hsts=settings.session_secure_cookie)
    app.add_middleware(OgcHead)  # outermost: everything inside answers HEAD as the GET it is
    app.state.settings = settings
    app.state.engine = engine
    app.state.write_engine = write_engine
    app.state.public = public
    app.state.events = hub
    app.state.access = access
    app.state.layer_directory = directory
    app.state.evac_watch = evac_watch
    app.state.tile_cache = TileCache()
    app.state.basemap, app.state.basemap_style = basemap.load(settings.basemap, settings.basemap_style)
    app.state.admission = gate
    app.state.response_cache = cache
    app.state.health = CachedHealth(
        engine,
        settings.mqtt_url,
        drops=not public,
        jma=None if public else (settings.jma_feed_urls, settings.jma_stale_minutes),
        primary=write_engine if engine is not write_engine else None,
    )
    errors.install(app)

    app.include_router(health.router)
    app.include_router(layers.public_router)
    app.include_router(citizen.pages)
    app.include_router(citizen.router)
    app.include_router(layers.public_search_router)
    app.include_router(ogc_features.router)
    app.include_router(ogc_tiles.router)
    app.include_router(ogc_raster_tiles.router)
    app.include_router(ogc_raster_tiles.xyz_router)
    app.include_router(ogc_styles.router)
    app.include_router(basemap.router)
    app.include_router(reports.public_router)
    app.include_router(public_incidents.router)
    app.include_router(shelters.public_router)
    app.include_router(evacuation.public_router)
    app.include_router(evacuation_public.router)
    if not public:
        app.include_router(imports.router)
        app.include_router(rasters.router)
        app.include_router(auth.router)
        app.include_router(layers.router)
        app.include_router(layers.stats_router)
        app.include_router(layers.search_router)
        app.include_router(radio.router)
        app.include_router(units.router)
        app.include_router(devices.router)
        app.include_router(devices.gauges_router)
        app.include_router(geofence.router)
        app.include_router(events.router)
        app.include_router(pages.router)
        app.include_router(road_closures.router)
        app.include_router(incidents.router)
        app.include_router(disaster_ops.router)
        app.include_router(damage.router)
        app.include_router(reports.router)
        app.include_router(shelters.router)
        app.include_router(shelter_ops.router)
        app.include_router(evacuation.router)
        app.include_router(evacuation_info.router)
        app.include_router(chronology.router)
        app.include_router(chronology_page.router)
        app.include_router(people.router)
        app.include_router(dead_letters.router)
        app.include_router(maps.router)
        app.include_router(jma.router)
        app.include_router(docs.router)

    openapi_doc.install(app)  # every 4xx an operation can answer, in its OpenAPI
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


# For uvicorn's own worker processes (`gisapp serve --workers N`: an import string and factory=True), each
# process builds its app from the environment, as `gisapp serve` would.
def create_internal_app() -> FastAPI:
    return _from_environment(public=False)


def create_public_app() -> FastAPI:
    return _from_environment(public=True)


def _from_environment(*, public: bool) -> FastAPI:
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings, public=public)
