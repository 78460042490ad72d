from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Database and broker state / DB・ブローカーの状態")
def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    body = dict(state.health.get())
    # This process's load: admission control (gisapp/admission.py) and the response cache.
    body["load"] = {
        "admission": state.admission.figures(),
        "cache": state.response_cache.figures(),
        "layer_directory_reloads": state.layer_directory.reloads,
        # The evacuation information's change counter (None: not listening) and push streams.
        "evacuation": state.evac_watch.figures(),
    }
    return JSONResponse(body, 503 if body["status"] == "degraded" else 200)
