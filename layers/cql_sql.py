"""CQL2 (OGC 21-065r2) as SQL for the items query of OGC API – Features Part 3.

The filter arrives as CQL2 JSON (parsed and size-bounded by the web layer) and leaves as one boolean SQL
expression over the alias ``t`` with bound parameters. What a filter may name comes from the
collection's queryables only: a typed column is spliced from the ``KINDS`` constants, a generic
layer's JSONB key is itself a bound parameter (``t.properties ->> :k``) cast by its JSON type. Every
literal is bound. Geometry literals are checked with shapely and transformed from filter-crs to
EPSG:4326 once, here, so PostGIS compares them with ``t.geom`` directly and can use its GiST index.
Anything not understood is a 400 naming it; nothing here touches stored data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import box, shape

from layers import rectangle
from layers.catalog import KindTable
from layers.errors import LayerInvalid

GEOMETRY_NAMES = ("geometry", "geom")  # the spatial queryable; "geom" as tipg and pygeoapi name it
MAX_LIST = 500  # IN (...) items
MAX_VERTICES = 10_000


class FilterInvalid(LayerInvalid):
    status = 400  # the OGC API answers an invalid parameter with 400


def _bad(ja: str, en: str, **details: Any) -> FilterInvalid:
    return FilterInvalid(f"パラメータ filter: {ja}", f"Parameter filter: {en}", parameter="filter", **details)


@dataclass(frozen=True)
class Target:
    """What a filter may name on one collection, and the CRS of its geometry literals."""

    kind: KindTable
    queryables: Mapping[str, str | None]  # name -> JSON type (None: mixed)
    temporal: str | None = None  # the kind's timestamp column, if it has one
    srid: int = 4326
    north_first: bool = False  # filter-crs axis order: the first axis points north


@dataclass
class _Op:
    sql: str
    type: str  # string | number | boolean | instant | geometry
    literal: bool = False  # a geometry literal (already in EPSG:4326)
    inner_box: rectangle.Box | None = None  # a literal that is a lon/lat rectangle: see layers.rectangle


_COMPARE = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SPATIAL = {
    "s_intersects": "ST_Intersects",
    "s_equals": "ST_Equals",
    "s_disjoint": "ST_Disjoint",
    "s_touches": "ST_Touches",
    "s_within": "ST_Within",
    "s_overlaps": "ST_Overlaps",
    "s_crosses": "ST_Crosses",
    "s_contains": "ST_Contains",
}
# Allen's relations on [s1, e1] (first argument) and [s2, e2] (second); an instant is s = e.
_TEMPORAL: dict[str, Callable[[str, str, str, str], str]] = {
    "t_after": lambda s1, e1, s2, e2: f"{s1} > {e2}",
    "t_before": lambda s1, e1, s2, e2: f"{e1} < {s2}",
    "t_contains": lambda s1, e1, s2, e2: f"({s1} < {s2} AND {e1} > {e2})",
    "t_disjoint": lambda s1, e1, s2, e2: f"({e1} < {s2} OR {s1} > {e2})",
    "t_during": lambda s1, e1, s2, e2: f"({s1} > {s2} AND {e1} < {e2})",
    "t_equals": lambda s1, e1, s2, e2: f"({s1} = {s2} AND {e1} = {e2})",
    "t_finishedby": lambda s1, e1, s2, e2: f"({s1} < {s2} AND {e1} = {e2})",
    "t_finishes": lambda s1, e1, s2, e2: f"({s1} > {s2} AND {e1} = {e2})",
    "t_intersects": lambda s1, e1, s2, e2: f"({s1} <= {e2} AND {e1} >= {s2})",
    "t_meets": lambda s1, e1, s2, e2: f"{e1} = {s2}",
    "t_metby": lambda s1, e1, s2, e2: f"{s1} = {e2}",
    "t_overlappedby": lambda s1, e1, s2, e2: f"({s1} > {s2} AND {s1} < {e2} AND {e1} > {e2})",
    "t_overlaps": lambda s1, e1, s2, e2: f"({s1} < {s2} AND {e1} > {s2} AND {e1} < {e2})",
    "t_startedby": lambda s1, e1, s2, e2: f"({s1} = {s2} AND {e1} > {e2})",
    "t_starts": lambda s1, e1, s2, e2: f"({s1} = {s2} AND {e1} < {e2})",
}
_CAST = {"string": "text", "number": "numeric", "boolean": "boolean"}
# (id of a literal's node in a kept filter, srid, north first) -> (that node, (WKB, inner box))
_LITERALS: dict[tuple[int, int, bool], tuple[dict, tuple[bytes, rectangle.Box | None]]] = {}


@lru_cache(maxsize=64)
def _to_wgs84(srid: int) -> Transformer:
    return Transformer.from_crs(f"EPSG:{srid}", "EPSG:4326", always_xy=True)


class _Compiler:
    def __init__(self, target: Target, params: dict[str, Any], prefix: str) -> None:
        self.target, self.params, self.prefix, self.n = target, params, prefix, 0

    def bind(self, value: Any, cast: str | None = None) -> str:
        name = f"{self.prefix}{self.n}"
        self.n += 1
        self.params[name] = value
        return f"CAST(:{name} AS {cast})" if cast else f":{name}"

    # --- predicates ---------------------------------------------------------------------------
    def predicate(self, node: Any) -> str:
        if isinstance(node, bool):
            return "TRUE" if node else "FALSE"
        if not isinstance(node, dict) or "op" not in node:
            raise _bad("条件（真偽の式）ではありません。", "not a predicate (a boolean expression).")
        op, args = str(node["op"]).lower(), node.get("args") or []
        if not isinstance(args, list):
            raise _bad("args が配列ではありません。", "args is not an array.")
        if op in ("and", "or"):
            if len(args) < 2:
                raise _bad(f"{op} には2つ以上の条件が要ります。", f"{op} needs two or more predicates.")
            return "(" + f" {op.upper()} ".join(self.predicate(a) for a in args) + ")"
        if op == "not":
            self._arity(op, args, 1)
            return f"(NOT {self.predicate(args[0])})"
        if op in _COMPARE:
            return self._compare(op, args)
        if op == "like":
            self._arity(op, args, 2)
            _pattern(args[1])
            a, b = self.operand(args[0]), self.operand(args[1])
            self._same(op, a, b, {"string"})
            return f"({a.sql} LIKE {b.sql})"
        if op == "between":
            self._arity(op, args, 3)
            a, lo, hi = (self.operand(x) for x in args)
            self._same(op, a, lo, {"number", "string", "instant"})
            self._same(op, a, hi, {"number", "string", "instant"})
            return f"({a.sql} BETWEEN {lo.sql} AND {hi.sql})"
        if op == "in":
            return self._in(args)
        if op == "isnull":
            self._arity(op, args, 1)
            return f"({self.operand(args[0]).sql} IS NULL)"
        if op in _SPATIAL:
            return self._spatial(op, args)
        if op in _TEMPORAL:
            self._arity(op, args, 2)
            s1, e1 = self._period(args[0])
            s2, e2 = self._period(args[1])
            return _TEMPORAL[op](s1, e1, s2, e2)
        raise _bad(
            f"演算子「{op[:40]}」には対応していません。", f"the operator '{op[:40]}' is not supported.",
            operator=op[:40],
        )  # fmt: skip

    def _arity(self, op: str, args: list, n: int) -> None:
        if len(args) != n:
            raise _bad(f"{op} の引数は {n} 個です。", f"{op} takes {n} argument(s).")

    def _same(self, op: str, a: _Op, b: _Op, allowed: set[str]) -> None:
        if a.type not in allowed or b.type != a.type:
            raise _bad(
                f"{op} の両辺の型が合いません（{a.type} と {b.type}）。",
                f"the two sides of {op} are not of comparable types ({a.type} and {b.type}).",
            )

    def _pair(self, first: Any, second: Any) -> tuple[_Op, _Op]:
        a, b = self.operand(first), self.operand(second)
        return self._coerce(b, first, a), self._coerce(a, second, b)

    def _coerce(self, other: _Op, node: Any, value: _Op) -> _Op:
        """What GDAL's OAPIF driver writes for OGR types: 0/1 for booleans, a quoted string for a
        date-time. Taken as such only when the other side is of that type; anything else stays as is."""
        if (
            other.type == "boolean"
            and value.type == "number"
            and not isinstance(node, bool)
            and node in (0, 1)
        ):
            return self.operand(bool(node))
        if other.type == "instant" and value.type == "string" and isinstance(node, str):
            return self.operand({"date": node} if len(node) == 10 else {"timestamp": node})
        return value

    def _compare(self, op: str, args: list) -> str:
        self._arity(op, args, 2)
        a, b = self._pair(args[0], args[1])
        allowed = {"string", "number", "instant"} | ({"boolean"} if op in ("=", "<>") else set())
        self._same(op, a, b, allowed)
        return f"({a.sql} {_COMPARE[op]} {b.sql})"

    def _in(self, args: list) -> str:
        self._arity("in", args, 2)
        a, items = self.operand(args[0]), args[1]
        if not isinstance(items, list) or not items:
            raise _bad("in には値の並びが要ります。", "in needs a list of values.")
        if len(items) > MAX_LIST:
            raise _bad(f"in の値は {MAX_LIST} 個までです。", f"in takes at most {MAX_LIST} values.")
        values = [self.operand(v) for v in items]
        for v in values:
            self._same("in", a, v, {"string", "number", "instant", "boolean"})
        return f"({a.sql} IN ({', '.join(v.sql for v in values)}))"

    def _spatial(self, op: str, args: list) -> str:
        self._arity(op, args, 2)
        a, b = self.operand(args[0]), self.operand(args[1])
        if a.type != "geometry" or b.type != "geometry":
            raise _bad(f"{op} の引数は形状です。", f"the arguments of {op} are geometries.")
        if op == "s_intersects" and a.literal and b.sql == "t.geom":
            a, b = b, a  # symmetric: the column first
        if op == "s_intersects" and a.sql == "t.geom" and b.literal:
            # `&&` on the literal's envelope is what the GiST index answers; the function is exact.
            return rectangle.intersects_sql(b.sql, b.inner_box, lambda v: self.bind(v, "float8"))
        return f"{_SPATIAL[op]}({a.sql}, {b.sql})"

    def _period(self, node: Any) -> tuple[str, str]:
        """(start, end) SQL of an instant or an interval; open ends are ±infinity."""
        if isinstance(node, dict) and "interval" in node:
            ends = node["interval"]
            if not isinstance(ends, list) or len(ends) != 2:
                raise _bad("interval には開始と終了が要ります。", "an interval needs a start and an end.")
            start = self._period_end(ends[0], first=True)
            end = self._period_end(ends[1], first=False)
            return start, end
        value = self.operand(node)
        if value.type != "instant":
            raise _bad(
                "時間の演算子の引数は日時か期間です。", "temporal operators take instants or intervals."
            )
        if isinstance(node, dict) and "date" in node:  # a date is the whole day (UTC)
            return value.sql, f"({value.sql} + interval '1 day' - interval '1 microsecond')"
        return value.sql, value.sql

    def _period_end(self, node: Any, first: bool) -> str:
        if node == "..":
            return self.bind("-infinity" if first else "infinity", "timestamptz")
        if isinstance(node, str):  # in an interval a bare string is a date or a timestamp
            node = {"date": node} if len(node) == 10 else {"timestamp": node}
        start, end = self._period(node)
        return start if first else end

    # --- operands -----------------------------------------------------------------------------
    def operand(self, node: Any) -> _Op:
        if isinstance(node, bool):
            return _Op(self.bind(node, "boolean"), "boolean")
        if isinstance(node, int | float):
            if not math.isfinite(node):
                raise _bad("数値が有限ではありません。", "a number is not finite.")
            return _Op(self.bind(str(node), "numeric"), "number")
        if isinstance(node, str):
            if "\x00" in node:  # PostgreSQL text cannot hold NUL
                raise _bad("文字列に NUL 文字は使えません。", "a string cannot contain the NUL character.")
            return _Op(self.bind(node, "text"), "string")
        if not isinstance(node, dict):
            raise _bad("この値は使えません。", "a value of this kind cannot be used here.")
        if "property" in node:
            return self._property(str(node["property"]))
        if "timestamp" in node:
            return _Op(self.bind(_timestamp(node["timestamp"]), "timestamptz"), "instant")
        if "date" in node:
            return _Op(f"({self.bind(_date(node['date']), 'timestamp')} AT TIME ZONE 'UTC')", "instant")
        if "bbox" in node or "type" in node:
            wkb, inner = self._literal(node)
            return _Op(f"ST_GeomFromWKB({self.bind(wkb)}, 4326)", "geometry", literal=True, inner_box=inner)
        op = str(node.get("op", "")).lower()
        if op == "casei":
            self._arity(op, node.get("args") or [], 1)
            inner = self.operand(node["args"][0])
            if inner.type != "string":
                raise _bad("casei の引数は文字列です。", "casei takes a string.")
            return _Op(f"lower({inner.sql})", "string")
        raise _bad(
            f"値「{op[:40] or '?'}」には対応していません。", f"the value '{op[:40] or '?'}' is not supported.",
            operator=op[:40],
        )  # fmt: skip

    def _property(self, name: str) -> _Op:
        t = self.target
        if name in t.queryables:
            json_type = t.queryables[name]
            kind_type = "number" if json_type in ("integer", "number") else (json_type or "string")
            if t.kind.table == "gis.feature":
                key = self.bind(name)
                text_value = f"(t.properties ->> {key})"
                if kind_type == "string":
                    return _Op(text_value, "string")
                return _Op(f"CAST({text_value} AS {_CAST[kind_type]})", kind_type)
            column = next(c for c in t.kind.properties if c == name)  # the constant, not the input
            return _Op(f"t.{column}", kind_type)
        if name in GEOMETRY_NAMES:
            return _Op("t.geom", "geometry")
        if t.temporal is not None and name == t.temporal:
            return _Op(f"t.{t.temporal}", "instant")
        shown = name[:64]
        raise FilterInvalid(
            f"パラメータ filter: 「{shown}」はこのコレクションの属性ではありません（/queryables を参照）。",
            f"Parameter filter: '{shown}' is not a queryable of this collection (see /queryables).",
            parameter="filter",
            property=shown,
        )

    def _literal(self, node: dict) -> tuple[bytes, rectangle.Box | None]:
        """A geometry literal checked and in EPSG:4326 as WKB, with its inner box if a rectangle. Kept
        per node: the parsed filter is itself kept (gisapp.ogc.cql), and a map asks the same filter
        again as it pages or refreshes (the checks took a third of a small filtered page's Python).
        The entry holds the node, so its id cannot be reused while it is kept."""
        key = (id(node), self.target.srid, self.target.north_first)
        kept = _LITERALS.get(key)
        if kept is not None and kept[0] is node:
            return kept[1]
        geom = self._geometry(node)
        value = (shapely.to_wkb(geom), rectangle.of_polygon(geom))
        if len(value[0]) <= 64 * 1024:  # a few thousand vertices: at most 16 MiB kept in all
            if len(_LITERALS) >= 256:
                _LITERALS.clear()
            _LITERALS[key] = (node, value)
        return value

    def _geometry(self, node: dict) -> shapely.Geometry:
        try:
            if "bbox" in node:
                v = [float(x) for x in node["bbox"]]
                if len(v) == 6:
                    v = [v[0], v[1], v[3], v[4]]
                if len(v) != 4 or v[0] > v[2] or v[1] > v[3]:
                    raise ValueError("bbox")
                geom = box(*v)
            else:
                geom = shape(node)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError):
            raise _bad("形状が正しくありません。", "the geometry literal is not valid.") from None
        coords = shapely.get_coordinates(geom)
        if geom.is_empty or len(coords) > MAX_VERTICES or not all(map(math.isfinite, coords.ravel())):
            raise _bad("形状が空か大きすぎます。", "the geometry literal is empty, too large or not finite.")
        if self.target.north_first:  # the first axis is north: PostGIS and pyproj want x = east
            geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        if self.target.srid != 4326:
            t = _to_wgs84(self.target.srid)
            geom = shapely.transform(geom, lambda xy: _xy(t, xy))
        x1, y1, x2, y2 = geom.bounds
        if not all(map(math.isfinite, (x1, y1, x2, y2))) or x1 < -180 or x2 > 180 or y1 < -90 or y2 > 90:
            raise _bad("形状が座標参照系の範囲外です。", "the geometry literal is outside its CRS's range.")
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)[:120]
            raise _bad(f"形状が不正です（{reason}）。", f"the geometry literal is invalid ({reason}).")
        return geom


def _pattern(node: Any) -> None:
    """A LIKE pattern is a string literal (or CASEI of one), as CQL2's patternExpression says; one that
    ends in a lone escape character is refused here rather than by PostgreSQL."""
    if isinstance(node, dict) and str(node.get("op", "")).lower() == "casei" and node.get("args"):
        node = node["args"][0]
    if not isinstance(node, str):
        raise _bad("LIKE のパターンは文字列です。", "the pattern of LIKE is a string literal.")
    trailing = len(node) - len(node.rstrip("\\"))
    if trailing % 2:
        raise _bad(
            "LIKE のパターンが \\ で終わっています。",
            "the LIKE pattern ends in a lone escape character (\\).",
        )


def _xy(transformer: Transformer, xy: Any) -> Any:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _timestamp(value: Any) -> datetime:
    try:
        text_value = str(value)
        parsed = datetime.fromisoformat(text_value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise _bad("日時が RFC 3339 ではありません。", "a timestamp is not RFC 3339.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _bad("日付が YYYY-MM-DD ではありません。", "a date is not YYYY-MM-DD.") from None


def to_sql(tree: Any, target: Target, params: dict[str, Any], prefix: str = "cq") -> str:
    """The filter as one SQL boolean expression over ``t``; its values are added to ``params``."""
    return _Compiler(target, params, prefix).predicate(tree)
