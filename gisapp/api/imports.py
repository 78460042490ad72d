"""Layer upload/import API for staff (owned by the import work; placeholder router until then)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/layers", tags=["import"])
