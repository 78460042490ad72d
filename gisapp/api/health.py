from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Database and broker state / DB・ブローカーの状態")
def healthz(request: Request) -> JSONResponse:
    state = request.app.state.health.get()
    return JSONResponse(state, 503 if state["status"] == "degraded" else 200)
