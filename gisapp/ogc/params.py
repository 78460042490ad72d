"""Query parameters of the OGC API, parsed by small functions; each mistake is a bilingual 400."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
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
# Accepted by every /ogc endpoint: the output format and our page language.
EVERYWHERE = frozenset({"f", "lang"})
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


def only(params: QueryParams, allowed: frozenset[str] | set[str]) -> None:
    """An endpoint's own parameters (and f, lang everywhere); any other is a 400 naming it, as Part 1
    asks (/req/core/query-param-unknown) rather than being silently ignored."""
    for name in params.keys():
        if name not in allowed and name not in EVERYWHERE:
            raise InvalidInput(
                "このエンドポイントでは使えないパラメータです。",
                "Unknown parameter for this endpoint.",
                parameter=name[:64],
            )


def crs(params: QueryParams, name: str = "crs", offered: Sequence[Crs] = crs_mod.SUPPORTED) -> Crs:
    return crs_mod.parse(_single(params, name), name, offered)


def bbox(
    params: QueryParams, offered: Sequence[Crs] = crs_mod.SUPPORTED
) -> tuple[tuple[float, float, float, float], Crs] | None:
    """(xmin, ymin, xmax, ymax) in PostGIS axis order (x east), and the CRS it is in. In a geographic
    CRS xmin > xmax is a box across the antimeridian (Part 1, /req/core/fc-bbox-definition), left so
    for the query to split; ymin > ymax is always an error."""
    raw = _single(params, "bbox")
    in_crs = crs(params, "bbox-crs", offered)
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
    x1, y1, x2, y2 = numbers
    if in_crs.north_first:
        x1, y1, x2, y2 = y1, x1, y2, x2
    lower_above = ("最小値が最大値を超えています。", "a lower corner value is above the upper one.")
    if y1 > y2 or (x1 > x2 and not in_crs.geographic):
        raise _bad("bbox", *lower_above)
    if in_crs.geographic:
        if not (-180 <= x1 <= 180 and -180 <= x2 <= 180 and -90 <= y1 <= y2 <= 90):
            raise _bad("bbox", "経度・緯度の範囲外です。", "longitude or latitude out of range.")
    elif in_crs.area is not None:
        ax1, ay1, ax2, ay2 = in_crs.area
        if x2 < ax1 or x1 > ax2 or y2 < ay1 or y1 > ay2:
            raise _bad(
                "bbox",
                f"{in_crs.short} の適用範囲の外です。",
                f"outside the area of use of {in_crs.short}.",
            )
        # Beyond the zone the projection drifts and far beyond PostGIS cannot transform: clip to the
        # area of use widened by its own size on every side (a neighbouring zone's data still meets).
        w, h = ax2 - ax1, ay2 - ay1
        x1, y1 = max(x1, ax1 - w), max(y1, ay1 - h)
        x2, y2 = min(x2, ax2 + w), min(y2, ay2 + h)
    return (x1, y1, x2, y2), in_crs


# RFC 3339 (section 5.6): "T"/"t" (or a space, as its note allows), "Z"/"z" or an offset, and any number
# of fractional digits (microseconds kept).
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def _instant(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    if len(text) == 10:  # a date: the whole day (UTC)
        day = date.fromisoformat(text)
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError("not RFC 3339")
    day, hh, mm, ss, frac, zulu, sign, oh, om = m.groups()
    zone = UTC
    if not zulu:
        offset = timedelta(hours=int(oh), minutes=int(om))
        zone = timezone(-offset if sign == "-" else offset)
    second = min(int(ss), 59)  # a leap second (:60) is read as the second before it
    micro = int((frac or "0")[:6].ljust(6, "0"))
    return datetime.combine(date.fromisoformat(day), time(int(hh), int(mm), second, micro), tzinfo=zone)


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


_HTML = "text/html"
_JSON_TYPES = ("application/json", "application/geo+json", "application/schema+json")


def _accept_ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their q-values (RFC 9110, 12.5.1)."""
    out = []
    for part in accept.lower().split(","):
        media, *options = (p.strip() for p in part.split(";"))
        if "/" not in media:
            continue
        q = 1.0
        for option in options:
            key, _, value = option.partition("=")
            if key.strip() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0  # a broken weight counts as "not acceptable"
        out.append((media, q))
    return out


def _quality(ranges: list[tuple[str, float]], media: str) -> tuple[float, int]:
    """(q, specificity) of the most specific range matching ``media``; (0, -1) when none does."""
    kind = media.split("/")[0]
    best = (0.0, -1)
    for found, q in ranges:
        specificity = 2 if found == media else 1 if found == f"{kind}/*" else 0 if found == "*/*" else -1
        if specificity > best[1]:
            best = (q, specificity)
    return best


def wants_html(params: QueryParams, accept: str) -> bool:
    """?f= wins; otherwise the Accept header with its q-values: HTML only when text/html weighs more
    than every JSON type (or as much, named more precisely or first). No header or */*: JSON."""
    f = _single(params, "f")
    if f is not None:
        if f.lower() == "html":
            return True
        if f.lower() in ("json", "geojson", "application/json", "application/geo+json"):
            return False
        raise _bad("f", "html か json を指定してください。", "use html or json.")
    ranges = _accept_ranges(accept)
    html_q, html_spec = _quality(ranges, _HTML)
    if html_q <= 0:
        return False
    json_q, json_spec = max(_quality(ranges, t) for t in _JSON_TYPES)
    if html_q != json_q:
        return html_q > json_q
    if html_spec != json_spec:
        return html_spec > json_spec
    # Equal weight, equally precise: the one named first (a browser lists text/html first).
    order = [media for media, _ in ranges]
    first_json = min((order.index(t) for t in _JSON_TYPES if t in order), default=len(order))
    return _HTML in order and order.index(_HTML) < first_json
