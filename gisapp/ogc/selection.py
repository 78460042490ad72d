"""``sortby``, ``properties`` and ``skipGeometry`` of the items request (as tipg and pygeoapi offer them;
``sortby`` after OGC API – Features Part 8 draft). Names only from the collection's queryables."""

from __future__ import annotations

from collections.abc import Collection

from starlette.datastructures import QueryParams

from gisapp.ogc.errors import OgcInvalid

MAX_KEYS = 20


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise OgcInvalid(f"パラメータ {name}: 一度だけ指定してください。", f"Parameter {name}: give it once only.",
                         parameter=name)  # fmt: skip
    return values[0] if values else None


def _unknown(param: str, name: str) -> OgcInvalid:
    name = name[:64]
    return OgcInvalid(
        f"パラメータ {param}: 「{name}」はこのコレクションの属性ではありません（/queryables を参照）。",
        f"Parameter {param}: '{name}' is not a property of this collection (see /queryables).",
        parameter=param,
        property=name,
    )


def _names(raw: str, param: str) -> list[str]:
    names = [n.strip() for n in raw.split(",")]
    if len(names) > MAX_KEYS:
        raise OgcInvalid(f"パラメータ {param}: {MAX_KEYS} 個までです。", f"Parameter {param}: at most {MAX_KEYS} names.",
                         parameter=param)  # fmt: skip
    return names


def sortby(params: QueryParams, known: Collection[str]) -> tuple[tuple[str, bool], ...]:
    """``+name,-id``: (property, descending) pairs. A "+" left unescaped in a URL arrives as a space."""
    raw = _single(params, "sortby")
    if raw is None or not raw.strip():
        return ()
    out = []
    for item in _names(raw, "sortby"):
        desc = item.startswith("-")
        name = item[1:].strip() if item[:1] in "+-" and item else item
        if not name or (name != "id" and name not in known):
            raise _unknown("sortby", name or item)
        out.append((name, desc))
    return tuple(out)


def properties(params: QueryParams, known: Collection[str]) -> tuple[str, ...] | None:
    """The properties to return; None: all of them. ``properties=`` (empty) returns none."""
    raw = _single(params, "properties")
    if raw is None:
        return None
    if not raw.strip():
        return ()
    names = [n for n in _names(raw, "properties") if n]
    for name in names:
        if name not in known:
            raise _unknown("properties", name)
    return tuple(dict.fromkeys(names))


def skip_geometry(params: QueryParams) -> bool:
    raw = _single(params, "skipGeometry")
    if raw is None:
        return False
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise OgcInvalid("パラメータ skipGeometry: true か false を指定してください。",
                         "Parameter skipGeometry: use true or false.", parameter="skipGeometry")  # fmt: skip
    return value == "true"
