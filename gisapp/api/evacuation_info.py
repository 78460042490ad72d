"""避難情報 API for the HQ (internal instance): orders, suggestions, the HQ log.

Reading is for staff; issuing, changing, cancelling and dismissing are for hq_operator and admin
only (the mayor's act, carried out by the HQ), unlike incidents, which any staff may register.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from gisapp.auth import User
from gisapp.db import transaction
from gisapp.deps import EngineDep, ReadConn, ReadRoute, StaffUser, require_roles
from gisapp.ops import evac_info, evac_levels
from gisapp.params import IdPath

router = APIRouter(tags=["evacuation information / 避難情報"], route_class=ReadRoute)

IssuerUser = Annotated[User, Depends(require_roles("hq_operator"))]  # and admin

AreaCode = Annotated[str, Field(min_length=1, max_length=40)]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: Literal[3, 4, 5] = Field(examples=[4])
    hazard: Literal[
        "landslide", "flood", "inland_flood", "storm_surge", "tsunami", "fire", "earthquake", "volcano"
    ]
    area_codes: list[AreaCode] = Field(default_factory=list, max_length=evac_info.MAX_AREAS)
    geometry: dict[str, Any] | None = None
    reason: str = Field(min_length=1, max_length=1000, examples=["土砂災害警戒情報の発表を受けて"])
    suggestion_id: int | None = Field(None, ge=1, le=2**62)
    disaster_id: int | None = Field(None, ge=1, le=2**31 - 1)


class OrderPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int = Field(ge=1, le=2**31 - 1)
    reason: str = Field(min_length=1, max_length=1000)
    level: Literal[3, 4, 5] | None = None
    area_codes: list[AreaCode] | None = Field(None, max_length=evac_info.MAX_AREAS)
    geometry: dict[str, Any] | None = None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int = Field(ge=1, le=2**31 - 1)
    reason: str = Field(min_length=1, max_length=1000, examples=["土砂災害警戒情報の解除を受けて"])


class DismissIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=2000)


@router.get("/api/evacuation-info/areas", summary="Areas an order can target (GeoJSON) / 発令対象の区域")
def areas(conn: ReadConn, user: StaffUser) -> dict:
    features = [
        {
            "type": "Feature",
            "id": a["code"],
            "geometry": a["geometry"],
            "properties": {"code": a["code"], "name": a["name"]},
        }
        for a in evac_info.areas(conn)
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get("/api/evacuation-info/orders", summary="Evacuation information / 避難情報の一覧")
def orders(conn: ReadConn, user: StaffUser, status: Literal["active", "all"] = "active") -> dict:
    return {"orders": evac_info.list_orders(conn, active_only=status == "active")}


@router.get("/api/evacuation-info/orders/{order_id}", summary="One order with its history / 避難情報と履歴")
def order(order_id: IdPath, conn: ReadConn, user: StaffUser) -> dict:
    return evac_info.get_order(conn, order_id, history=True)


@router.post("/api/evacuation-info/orders", status_code=201, summary="Issue (発令) / 避難情報の発令")
def issue(body: OrderIn, engine: EngineDep, user: IssuerUser) -> dict:
    new = evac_info.OrderIn(**{**body.model_dump(), "area_codes": tuple(body.area_codes)})
    with transaction(engine, user.roles) as conn:
        return evac_info.issue(conn, new, user.username)


@router.patch(
    "/api/evacuation-info/orders/{order_id}", summary="Change level or areas / レベル・対象地域の変更"
)
def change(order_id: IdPath, body: OrderPatch, engine: EngineDep, user: IssuerUser) -> dict:
    codes = None if body.area_codes is None else tuple(body.area_codes)
    ch = evac_info.OrderChange(body.expected_version, body.reason, body.level, codes, body.geometry)
    with transaction(engine, user.roles) as conn:
        return evac_info.change(conn, order_id, ch, user.username)


@router.post("/api/evacuation-info/orders/{order_id}/cancel", summary="Cancel (解除) / 避難情報の解除")
def cancel(order_id: IdPath, body: CancelIn, engine: EngineDep, user: IssuerUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return evac_info.cancel(conn, order_id, body.expected_version, body.reason, user.username)


@router.get("/api/evacuation-info/suggestions", summary="Suggestions from the criteria / 発令の提案")
def suggestions(conn: ReadConn, user: StaffUser, state: Literal["open", "all"] = "open") -> dict:
    return {"suggestions": evac_info.list_suggestions(conn, open_only=state == "open")}


@router.post(
    "/api/evacuation-info/suggestions/{suggestion_id}/dismiss", summary="Dismiss a suggestion / 提案の見送り"
)
def dismiss(suggestion_id: IdPath, body: DismissIn, engine: EngineDep, user: IssuerUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return evac_info.dismiss(conn, suggestion_id, body.reason, user.username)


@router.get(
    "/api/evacuation-info/levels", summary="Levels and hazards with their words / 警戒レベルと災害種別"
)
def levels(user: StaffUser) -> dict:
    """For the issue form, which must name a level it has not seen in any answer yet."""
    return {
        "levels": [evac_levels.describe(n, "") for n in sorted(evac_levels.LEVELS)],
        "hazards": [
            {"hazard": k, "hazard_ja": ja, "hazard_en": en} for k, (ja, en) in evac_levels.HAZARDS.items()
        ],
    }


@router.get("/api/evacuation-info/criteria", summary="発令基準 and 警戒レベル相当 (data) / 発令基準")
def criteria(conn: ReadConn, user: StaffUser) -> dict:
    return {"criteria": evac_info.list_criteria(conn), "level_rules": evac_info.list_level_rules(conn)}


@router.get("/api/hq-log", summary="HQ log, newest first / 本部ログ")
def hq_log(
    conn: ReadConn,
    user: StaffUser,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict:
    return {"entries": evac_info.log_entries(conn, after, limit)}


@router.post("/api/hq-log", status_code=201, summary="Add a note to the HQ log / 本部ログに記録")
def add_note(body: NoteIn, engine: EngineDep, user: IssuerUser) -> dict:
    with transaction(engine, user.roles) as conn:
        return evac_info.add_note(conn, body.text, user.username)
