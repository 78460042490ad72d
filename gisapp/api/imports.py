"""Layer upload for staff: ``POST /api/layers/{slug}/import`` (all or nothing; see docs/import.md)."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile

from gisapp.db import transaction
from gisapp.deps import CurrentUser, EngineDep
from layers import manage
from layers.importers import ImportRejected, get_target
from layers.importers.audited import import_and_audit

router = APIRouter(prefix="/api/layers", tags=["import"])


def _safe_name(filename: str | None) -> str:
    # Only the base name, and only characters a file system takes: the suffix tells the format.
    name = Path(filename or "upload").name
    return re.sub(r"[^\w.\-]", "_", name)[-120:] or "upload"


@router.post("/{slug}/import", summary="Import a file into a layer / レイヤーにファイルを取り込む")
def import_layer(
    slug: str,
    user: CurrentUser,
    engine: EngineDep,
    file: Annotated[UploadFile, File(description="GeoJSON, zipped Shapefile, GPKG, CityGML, CSV, OSM XML")],
    format: Annotated[str | None, Form(description="geojson|shapefile|gpkg|citygml|shelter_csv|osm")] = None,
    mode: Annotated[Literal["upsert", "replace"], Form()] = "upsert",
    hazard_type: Annotated[str | None, Form()] = None,
) -> dict:
    with transaction(engine, user.roles) as conn:
        # Import rights equal edit rights: the one rule of layers.manage (404 unseen, 403 not managed).
        manage.managed_layer(conn, user, slug)
        name = _safe_name(file.filename)
        with tempfile.TemporaryDirectory(prefix="gisapp-import-") as tmp:
            path = Path(tmp) / name
            with path.open("wb") as out:
                shutil.copyfileobj(file.file, out, 1 << 20)
            outcome = import_and_audit(
                conn, get_target(conn, slug), path, layer=slug, actor=user.username,
                name=file.filename or name, fmt=format, mode=mode, hazard_type=hazard_type,
            )  # fmt: skip
    # A refused run and its audit entry are committed above; the features were never touched.
    if isinstance(outcome, ImportRejected):
        raise outcome
    return outcome.as_json()
