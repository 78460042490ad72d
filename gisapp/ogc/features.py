"""OGC API – Features routes (owned by the OGC work; placeholder router until then)."""

from fastapi import APIRouter

router = APIRouter(prefix="/ogc", tags=["OGC API - Features"])
