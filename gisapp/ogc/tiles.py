"""Vector tiles (MVT) routes under /ogc (owned by the tiles work; placeholder router until then)."""

from fastapi import APIRouter

router = APIRouter(prefix="/ogc", tags=["OGC API - Tiles"])
