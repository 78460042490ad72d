"""Raster layers (航空写真・オルソ画像) for staff: list, upload (GeoTIFF/COG), publish, withdraw, delete.

The tiles themselves are OGC API – Tiles routes on both instances (gisapp/ogc/raster_tiles.py). See
docs/raster.md.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Response, UploadFile

from gisapp.db import read_only, transaction
from gisapp.deps import EngineDep, OptionalUser, ReadConn, ReadRoute, SettingsDep, StaffUser
from layers.catalog import Visibility
from layers.raster import store
from layers.raster.errors import RasterRejected
from layers.raster.store import Raster

router = APIRouter(prefix="/api/rasters", tags=["rasters"], route_class=ReadRoute)

SlugForm = Annotated[str, Form(min_length=1, max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


def xyz_template(raster: Raster) -> str:
    """The page-relative XYZ template the map pages draw with (L.tileLayer)."""
    return f"/tiles/raster/{raster.slug}/{{z}}/{{x}}/{{y}}.png"


def as_listed(raster: Raster, *, public: bool) -> dict:
    return {**raster.as_json(public=public), "tiles": xyz_template(raster)}


@router.get("", summary="Rasters you may see / 閲覧できるラスター")
def list_rasters(conn: ReadConn, user: OptionalUser) -> list[dict]:
    return [as_listed(r, public=False) for r in store.list_rasters(conn, user.roles if user else None)]


def _safe_name(filename: str | None) -> str:
    name = Path(filename or "upload.tif").name
    return re.sub(r"[^\w.\-]", "_", name)[-120:] or "upload.tif"


@router.post("", status_code=201, summary="Upload a GeoTIFF / COG / ラスター（GeoTIFF・COG）の登録")
def upload_raster(
    engine: EngineDep,
    settings: SettingsDep,
    user: StaffUser,
    file: Annotated[UploadFile, File(description="GeoTIFF or COG (JGD2011 EPSG:6668–6687 or 4326)")],
    slug: SlugForm,
    title_ja: Annotated[str, Form(min_length=1, max_length=200)],
    title_en: Annotated[str, Form(max_length=200)] = "",
    visibility: Annotated[Literal["internal", "restricted"], Form()] = "internal",
    description_ja: Annotated[str, Form(max_length=2000)] = "",
    description_en: Annotated[str, Form(max_length=2000)] = "",
    source: Annotated[str, Form(max_length=500)] = "",
    licence: Annotated[str, Form(max_length=500)] = "",
) -> dict:
    spec = store.RasterSpec(
        slug, title_ja, title_en, visibility, description_ja, description_en, source, licence
    )
    name = file.filename or "upload.tif"
    with read_only(engine, user.roles) as conn:
        store.check_upload(conn, user, spec)  # 403 / 409 before a byte is converted
    limits = store.Limits.in_mib(settings.raster_max_mb, settings.raster_max_pixels_mb)
    with tempfile.TemporaryDirectory(prefix="gisapp-raster-") as tmp:
        path = Path(tmp) / _safe_name(file.filename)
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        try:
            prepared = store.prepare(path, settings.raster_dir, limits)
        except RasterRejected as e:
            with transaction(engine, user.roles) as conn:  # the refusal is on record; nothing else is
                store.audit_refusal(conn, user, slug, name, e)
            raise
    with transaction(engine, user.roles) as conn:
        raster = store.catalogue(conn, user, spec, prepared, name=name)
    return as_listed(raster, public=False)


@router.post("/{slug}/publish", summary="Publish to the citizen map / 公開")
def publish_raster(slug: str, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        raster = store.set_visibility(conn, user, slug, Visibility.public)
    return as_listed(raster, public=False)


@router.post("/{slug}/withdraw", summary="Withdraw from the citizen map / 公開取り下げ")
def withdraw_raster(slug: str, engine: EngineDep, user: StaffUser) -> dict:
    with transaction(engine, user.roles) as conn:
        raster = store.set_visibility(conn, user, slug, Visibility.internal)
    return as_listed(raster, public=False)


@router.delete("/{slug}", status_code=204, summary="Delete a raster / ラスター削除")
def delete_raster(slug: str, engine: EngineDep, user: StaffUser) -> Response:
    with transaction(engine, user.roles) as conn:
        store.delete_raster(conn, user, slug)
    return Response(status_code=204)
