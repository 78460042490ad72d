"""The words, colours and advice of 警戒レベル 3–5 and the hazards of an order, for the HQ map's issue form
(which must name a level it has not seen in any answer yet): gisapp/ops/evac_levels.py, unchanged."""

from __future__ import annotations

from fastapi import APIRouter

from gisapp.deps import StaffUser
from gisapp.ops import evac_levels

router = APIRouter(tags=["evacuation information / 避難情報"])


@router.get(
    "/api/evacuation-info/levels", summary="Levels and hazards with their words / 警戒レベルと災害種別"
)
def levels(user: StaffUser) -> dict:
    return {
        "levels": [evac_levels.describe(n, "") for n in sorted(evac_levels.LEVELS)],
        "hazards": [
            {"hazard": k, "hazard_ja": ja, "hazard_en": en} for k, (ja, en) in evac_levels.HAZARDS.items()
        ],
    }
