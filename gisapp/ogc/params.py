"""Query parameters of the OGC API, parsed by small functions; each mistake is a bilingual 400."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.datastructures import QueryParams

from common.inputs import INT_MAX, is_normal
from gisapp.ogc import crs as crs_mod
from gisapp.ogc.crs import Crs
from gisapp.ogc.errors import OgcInvalid as InvalidInput

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
# Parameters of the API itself; every other query parameter filters on a property.
RESERVED = frozenset({"f", "lang", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime"})
# Part 3 filtering (gisapp/ogc/cql.py) and the tipg/pygeoapi-style selection (gisapp/ogc/selection.py).
RESERVED |= {"filter", "filter-lang", "filter-crs", "sortby", "properties", "skipGeometry"}


def _bad(param: str, ja: str, en: str) -> InvalidInput:
    return InvalidInput(f"パラメータ {param}: {ja}", f"Parameter {param}: {en}", parameter=param)


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise _bad(name, "一度だけ指定してください。", "give it once only.")
    return values[0] if values else None


def limit(params: QueryParams) -> int:
    """Default 10; above the maximum it is clamped (as the standard asks), below 1 it is an error."""
    raw = _single(params, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise _bad("limit", "1 以上の整数を指定してください。", "must be an integer of at least 1.") from None
    if value < 1:
        raise _bad("limit", "1 以上の整数を指定してください。", "must be an integer of at least 1.")
    return min(value, MAX_LIMIT)


def offset(params: QueryParams) -> int:
    raw = _single(params, "offset")
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= INT_MAX:  # beyond it PostgreSQL's OFFSET overflows (a 500, not an empty page)
        raise _bad(
            "offset", f"0〜{INT_MAX} の整数を指定してください。", f"must be an integer from 0 to {INT_MAX}."
        )
    return value


def crs(params: QueryParams, name: str = "crs") -> Crs:
    return crs_mod.parse(_single(params, name), name)


def bbox(params: QueryParams) -> tuple[tuple[float, float, float, float], Crs] | None:
    """(xmin, ymin, xmax, ymax) in PostGIS axis order (x east), and the CRS it is in."""
    raw = _single(params, "bbox")
    in_crs = crs(params, "bbox-crs")
    if raw is None:
        return None
    message = (
        "「最小値1,最小値2,最大値1,最大値2」の4つ（または高さ付きの6つ）の数値で指定してください。",
        "give 4 numbers (or 6 with heights): lower corner axis 1, axis 2, upper corner axis 1, axis 2.",
    )
    try:
        numbers = [float(v) for v in raw.split(",")]
    except ValueError:
        raise _bad("bbox", *message) from None
    # Subnormal numbers (5e-324) are refused by PostgreSQL's float8 input: invalid here, not a 500 there.
    if len(numbers) not in (4, 6) or not all(math.isfinite(n) and is_normal(n) for n in numbers):
        raise _bad("bbox", *message)
    if len(numbers) == 6:  # heights are ignored: our layers are 2D
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    a1, a2, b1, b2 = numbers
    if a1 > b1 or a2 > b2:
        raise _bad("bbox", "最小値が最大値を超えています。", "a lower corner value is above the upper one.")
    if in_crs.north_first:
        a1, a2, b1, b2 = a2, a1, b2, b1
    if in_crs.srid != 6677 and not (-180 <= a1 <= 180 and -180 <= b1 <= 180 and -90 <= a2 <= b2 <= 90):
        raise _bad("bbox", "経度・緯度の範囲外です。", "longitude or latitude out of range.")
    return (a1, a2, b1, b2), in_crs


def _instant(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    if len(text) == 10:  # a date: the whole day (UTC)
        day = date.fromisoformat(text)
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("no time zone")
    return value


def datetime_range(params: QueryParams) -> tuple[datetime | None, datetime | None] | None:
    """RFC 3339 instant, date, or interval ("a/b", "../b", "a/.."); None when absent."""
    raw = _single(params, "datetime")
    if raw is None:
        return None
    try:
        if "/" in raw:
            first, _, second = raw.partition("/")
            start, end = _instant(first, False), _instant(second, True)
            if first in ("", "..") and second in ("", ".."):
                raise ValueError("both ends open")
        else:
            start, end = _instant(raw, False), _instant(raw, True)
            if start is None:
                raise ValueError("empty")
    except ValueError:
        raise _bad(
            "datetime",
            "RFC 3339 の日時（時差付き, 例 2026-11-21T09:00:00+09:00）か期間（開始/終了, .. は無制限）で指定してください。",
            "give an RFC 3339 date-time with offset (e.g. 2026-11-21T09:00:00+09:00), a date, or an"
            " interval start/end ('..' for open).",
        ) from None
    if start and end and start > end:
        raise _bad("datetime", "開始が終了より後です。", "the start is after the end.")
    return start, end


def property_filters(params: QueryParams, queryables: dict[str, str | None]) -> tuple[tuple[str, Any], ...]:
    """property=value for the collection's queryables, typed; an unknown name is a 400 (it would
    otherwise silently return everything)."""
    out = []
    for name in sorted(set(params.keys()) - RESERVED):
        if name not in queryables:
            raise InvalidInput(
                "このコレクションでは絞り込めないパラメータです（/queryables を参照）。",
                "Unknown parameter or not a queryable property of this collection (see /queryables).",
                parameter=name[:64],
            )
        out.append((name, _typed(name, _single(params, name) or "", queryables[name])))
    return tuple(out)


def _typed(name: str, raw: str, json_type: str | None) -> Any:
    try:
        if json_type == "integer":
            return int(raw)
        if json_type == "number":
            value = Decimal(raw)
            if not value.is_finite():
                raise ValueError(raw)
            return value
        if json_type == "boolean":
            return {"true": True, "false": False}[raw.lower()]
    except (ValueError, KeyError, InvalidOperation):
        raise _bad(
            name[:64], f"値の型が違います（{json_type}）。", f"the value must be of type {json_type}."
        ) from None
    return raw


def wants_html(params: QueryParams, accept: str) -> bool:
    """?f= wins; otherwise the Accept header (a browser asks for text/html before any JSON)."""
    f = _single(params, "f")
    if f is not None:
        if f.lower() == "html":
            return True
        if f.lower() in ("json", "geojson", "application/json", "application/geo+json"):
            return False
        raise _bad("f", "html か json を指定してください。", "use html or json.")
    accept = accept.lower()
    html_at = accept.find("text/html")
    if html_at < 0:
        return False
    json_at = [i for i in (accept.find("json"),) if i >= 0]
    return not json_at or html_at < json_at[0]
