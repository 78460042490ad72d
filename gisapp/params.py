"""Path and query parameters every router shares, with bounds (``common.inputs``): an id beyond bigint,
an offset beyond integer or a radius of 5e-324 m is invalid input (422), not a database error (500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator

from common.inputs import BIGINT_MAX, INT_MAX, normal_float

IdPath = Annotated[int, Path(gt=0, le=BIGINT_MAX, description="record id / ID")]
Offset = Annotated[int, Query(ge=0, le=INT_MAX, description="rows to skip / 読み飛ばす件数")]
# Distances are metres on the ground: below 1 m means nothing to a person and breaks PostGIS on subnormals.
Metres = Annotated[float, Query(ge=1, le=20_000, allow_inf_nan=False), AfterValidator(normal_float)]
