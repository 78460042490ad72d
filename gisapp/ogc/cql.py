"""The ``filter`` parameters of OGC API – Features Part 3 (OGC 19-079r2) with CQL2 (OGC 21-065r2).

``filter`` in cql2-text or cql2-json is parsed by the ``cql2`` package (developmentseed's cql2-rs) into
CQL2 JSON, the neutral tree that ``layers.cql_sql`` turns into SQL with bound parameters. Size and
nesting are bounded before the parser runs: cql2-rs recurses natively and a few thousand nested
parentheses crash the process instead of raising.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cql2
from starlette.datastructures import QueryParams

from gisapp.ogc import crs as crs_mod
from gisapp.ogc.crs import Crs
from gisapp.ogc.errors import OgcInvalid

LANGS = ("cql2-text", "cql2-json")
# GDAL's OAPIF driver (3.6 to 3.12 at least) sends its -where as "cql-text", the draft's name for the
# text encoding; what it writes is CQL2 text, so the draft name is read as cql2-text.
LEGACY_TEXT = "cql-text"
MAX_LENGTH = 8_000
MAX_DEPTH = 40


@dataclass(frozen=True)
class Filter:
    tree: dict[str, Any] | bool  # CQL2 JSON
    crs: Crs  # of the geometry literals (filter-crs)


def _bad(param: str, ja: str, en: str, **details: Any) -> OgcInvalid:
    return OgcInvalid(f"パラメータ {param}: {ja}", f"Parameter {param}: {en}", parameter=param, **details)


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise _bad(name, "一度だけ指定してください。", "give it once only.")
    return values[0] if values else None


def _text_depth(text: str) -> int:
    """Deepest parenthesis nesting outside quoted strings."""
    depth = deepest = 0
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted  # '' inside a string toggles twice: still right
        elif not quoted and ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif not quoted and ch == ")":
            depth -= 1
    return deepest


def _json_depth(value: Any, depth: int = 0) -> int:
    if depth > MAX_DEPTH * 3:
        return depth
    if isinstance(value, dict):
        return max((_json_depth(v, depth + 1) for v in value.values()), default=depth + 1)
    if isinstance(value, list):
        return max((_json_depth(v, depth + 1) for v in value), default=depth + 1)
    return depth


def _too_deep() -> OgcInvalid:
    return _bad(
        "filter",
        f"入れ子が深すぎます（括弧は {MAX_DEPTH} 段まで）。",
        f"nested too deeply (at most {MAX_DEPTH} levels of parentheses).",
    )


def _parse_error(reason: str) -> OgcInvalid:
    # The parser's own message names the line:column and what it expected there.
    reason = reason.strip()[:600]
    return _bad(
        "filter",
        f"CQL2 の式として読めません: {reason}",
        f"not a valid CQL2 expression: {reason}",
        reason=reason,
    )


def parse(params: QueryParams) -> Filter | None:
    """The filter of an items request as CQL2 JSON, or None when there is none."""
    raw = _single(params, "filter")
    lang = _single(params, "filter-lang")
    in_crs = crs_mod.parse(_single(params, "filter-crs"), "filter-crs")
    if lang is not None and lang not in (*LANGS, LEGACY_TEXT):
        raise _bad(
            "filter-lang", "cql2-text か cql2-json を指定してください。", "use cql2-text or cql2-json.",
            supported=list(LANGS),
        )  # fmt: skip
    if raw is None:
        return None
    if not raw.strip():
        raise _bad("filter", "式が空です。", "the expression is empty.")
    if len(raw) > MAX_LENGTH:
        raise _bad("filter", f"{MAX_LENGTH} 文字までです。", f"at most {MAX_LENGTH} characters.")
    tree = _tree(raw, lang)
    if not isinstance(tree, dict | bool):
        raise _parse_error("the filter is not a predicate")
    return Filter(tree, in_crs)


@lru_cache(maxsize=256)
def _tree(raw: str, lang: str | None) -> Any:
    """The CQL2 JSON of a filter text (or JSON), parsed once per distinct filter: a map or a GIS client
    pages through one filter and asks it again as the view moves. Read only: the SQL compiler
    (layers.cql_sql) never changes it. An error is raised each time (lru_cache keeps only answers)."""
    try:
        if lang == "cql2-json":
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError) as e:
                raise _parse_error(f"JSON: {e}") from None
            if _json_depth(value) > MAX_DEPTH * 3:
                raise _too_deep()
            if not isinstance(value, dict):
                raise _parse_error("JSON: the filter must be an object")
            expr = cql2.Expr(value)
        else:
            if _text_depth(raw) > MAX_DEPTH:
                raise _too_deep()
            expr = cql2.parse_text(raw)
        # No expr.validate(): it compiles the CQL2 JSON Schema on every call (0.2–0.6 s). The grammar is the
        # parser's; arity, types, operators and names are checked by layers.cql_sql as it builds the SQL.
        tree = expr.to_json()
    except (cql2.ParseError, cql2.ValidationError, ValueError, TypeError) as e:
        raise _parse_error(str(e)) from None
    except Exception as e:  # cql2-rs raises a bare Exception for text that does not parse
        if isinstance(e, OgcInvalid):
            raise
        raise _parse_error(str(e)) from None
    return tree
