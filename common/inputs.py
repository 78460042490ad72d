"""Input types every entry point shares (API bodies, CLI, ingest payloads): plain pydantic constraints
with the bounds PostgreSQL itself would otherwise refuse with an error (a 500 for the caller).

- record ids are ``bigserial``: 1 … 2⁶³−1; a larger number is invalid input, never sent to SQL;
- counts and offsets fit an ``integer`` (2³¹−1);
- a float is finite and either 0 or a normal double: PostgreSQL's float8 input refuses subnormal
  numbers such as 5e-324 (``out of range``), and a ``real`` column refuses anything below 1e-37.

FastAPI-specific aliases (Path, Query) built on these live in ``gisapp.params``.
"""

from __future__ import annotations

import sys
from typing import Annotated

from pydantic import AfterValidator, Field

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1
FLOAT_MIN_NORMAL = sys.float_info.min  # 2.2250738585072014e-308


def is_normal(value: float) -> bool:
    """0 or a normal double: what PostgreSQL's float8 input takes (it refuses subnormals like 5e-324)."""
    return value == 0 or abs(value) >= FLOAT_MIN_NORMAL


def normal_float(value: float) -> float:
    """0, or a finite float PostgreSQL can store (no subnormals)."""
    if not is_normal(value):
        raise ValueError("number too close to zero / 0 に近すぎる数値です")
    return value


def tenths(value: float) -> float:
    """A percentage kept to 0.1: what a person sets, and what a numeric(5,1) column stores."""
    return round(value, 1) + 0.0  # + 0.0: no negative zero


RecordId = Annotated[int, Field(gt=0, le=BIGINT_MAX)]
DepartmentId = Annotated[int, Field(gt=0, le=INT_MAX)]  # core.department.id is a serial
Count = Annotated[int, Field(ge=0, le=INT_MAX)]
Float = Annotated[float, Field(allow_inf_nan=False), AfterValidator(normal_float)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False), AfterValidator(normal_float)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False), AfterValidator(normal_float)]
Percent = Annotated[float, Field(ge=0, le=200, allow_inf_nan=False), AfterValidator(tenths)]
