from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from gisapp.deps import HQUser

router = APIRouter(tags=["events"])


@router.get("/api/events", summary="Live events (Server-Sent Events) / ライブイベント")
async def events(request: Request, user: HQUser) -> StreamingResponse:
    hub = request.app.state.events
    return StreamingResponse(
        hub.stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
