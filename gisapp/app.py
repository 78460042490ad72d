"""The app factory: builds the internal app or the citizen-facing one (``public=True``)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import frontend
from gisapp import errors, logs, openapi_doc
from gisapp.access import AccessCounter
from gisapp.api import (
    auth,
    dead_letters,
    devices,
    docs,
    evacuation,
    events,
    health,
    imports,
    incidents,
    layers,
    pages,
    people,
    public_incidents,
    radio,
    reports,
    road_closures,
    shelters,
)
from gisapp.db import app_engine
from gisapp.events import EventHub
from gisapp.health import CachedHealth
from gisapp.middleware import OriginCheck, SecurityHeaders
from gisapp.ogc import features as ogc_features
from gisapp.ogc import tiles as ogc_tiles
from gisapp.ogc.tiles_fast import LayerDirectory, TileFastPath
from gisapp.request_guard import RequestGuard
from gisapp.settings import Settings, get_settings
from layers.tiles import TileCache

STATIC = Path(frontend.__file__).parent / "static"


def create_app(settings: Settings | None = None, *, public: bool = False) -> FastAPI:
    settings = settings or get_settings()
    engine = app_engine(settings, public=public)
    hub = None if public else EventHub(settings.database_url or "")
    access = AccessCounter(engine)
    directory = LayerDirectory(settings.public_database_url if public else settings.database_url or "")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        access.start()
        directory.start()
        if hub:
            hub.start()
        yield
        if hub:
            await hub.stop()
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
    # characters, all before the tile fast path and the routes; innermost the last-resort 500.
    app.add_middleware(errors.UnexpectedErrors)
    app.add_middleware(TileFastPath)
    app.add_middleware(RequestGuard)
    app.add_middleware(OriginCheck, allowed_origins=settings.allowed_origin_list)
    app.add_middleware(SecurityHeaders, offline=settings.offline, hsts=settings.session_secure_cookie)
    app.state.settings = settings
    app.state.engine = engine
    app.state.public = public
    app.state.events = hub
    app.state.access = access
    app.state.layer_directory = directory
    app.state.tile_cache = TileCache()
    app.state.health = CachedHealth(engine, settings.mqtt_url, drops=not public)
    errors.install(app)

    app.include_router(health.router)
    app.include_router(layers.public_router)
    app.include_router(pages.public_router)
    app.include_router(layers.public_search_router)
    app.include_router(ogc_features.router)
    app.include_router(ogc_tiles.router)
    app.include_router(reports.public_router)
    app.include_router(public_incidents.router)
    app.include_router(shelters.public_router)
    app.include_router(evacuation.public_router)
    if not public:
        app.include_router(imports.router)
        app.include_router(auth.router)
        app.include_router(layers.router)
        app.include_router(layers.stats_router)
        app.include_router(layers.search_router)
        app.include_router(radio.router)
        app.include_router(devices.router)
        app.include_router(devices.gauges_router)
        app.include_router(events.router)
        app.include_router(pages.router)
        app.include_router(road_closures.router)
        app.include_router(incidents.router)
        app.include_router(reports.router)
        app.include_router(shelters.router)
        app.include_router(evacuation.router)
        app.include_router(people.router)
        app.include_router(dead_letters.router)
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
