"""Native ES modules without a build step: the page's import map and preload list.

Page scripts are modules under ``frontend/static/js/`` that import each other by relative path
(``import { getJSON } from '../lib/api.js'``). For a page whose entry is ``pages/hq.js`` this module
walks the static import graph from the entry and gives:

- an **import map** that maps every reached module's plain URL to its content-hashed URL
  (``/static/js/lib/api.js`` → ``/static/js/lib/api.js?v=3f2a…``): relative imports resolve to the plain
  URL and the map turns it into the hashed one, so a redeploy is never served stale while each file
  may be cached for a year;
- a **modulepreload** list, so the browser fetches the whole graph in parallel instead of discovering
  it one level per round trip (a phone on a congested network pays ~150 ms for each level).

The import map is an inline script: the page's CSP names its SHA-256 (``script_hash``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath

from frontend.static_files import STATIC_DIR, STATIC_URL, static_url

JS_DIR = STATIC_DIR / "js"

# Static imports and re-exports with a relative specifier: `import x from './a.js'`, `import './a.js'`,
# `export { y } from '../b.js'`. Dynamic import('./c.js') is listed too (mapped, not preloaded).
_STATIC_IMPORT = re.compile(
    r"""^\s*(?:import|export)\s[^'"]*?\bfrom\s*['"](\.{1,2}/[^'"]+)['"]|^\s*import\s*['"](\.{1,2}/[^'"]+)['"]""",
    re.M,
)
_DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*['"](\.{1,2}/[^'"]+)['"]\s*\)""")


class ModuleNotFound(RuntimeError):
    """A module imports a file that does not exist (caught when the page is first built)."""


@dataclass(frozen=True)
class ModuleGraph:
    entry: str  # hashed URL of the entry module
    preload: tuple[str, ...]  # hashed URLs of the statically imported modules (not the entry)
    import_map: str  # JSON text of the import map
    script_hash: str  # 'sha256-…' of the import map's text, for the CSP


def _resolve(importer: PurePosixPath, specifier: str) -> PurePosixPath:
    parts: list[str] = list(importer.parent.parts)
    for piece in PurePosixPath(specifier).parts:
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return PurePosixPath(*parts)


def _imports(path: PurePosixPath) -> tuple[list[PurePosixPath], list[PurePosixPath]]:
    file = JS_DIR / path
    if not file.is_file():
        raise ModuleNotFound(f"frontend/static/js/{path} is imported but does not exist")
    source = file.read_text(encoding="utf-8")
    static = [_resolve(path, a or b) for a, b in _STATIC_IMPORT.findall(source)]
    dynamic = [_resolve(path, s) for s in _DYNAMIC_IMPORT.findall(source)]
    return static, dynamic


@cache
def module_graph(entry: str) -> ModuleGraph:
    """The graph reached from ``entry`` (a path under static/js, e.g. ``pages/citizen.js``)."""
    start = PurePosixPath(entry)
    static_seen: dict[PurePosixPath, None] = {}
    all_seen: dict[PurePosixPath, None] = {start: None}
    queue: list[tuple[PurePosixPath, bool]] = [(start, True)]
    while queue:
        path, is_static = queue.pop(0)
        static, dynamic = _imports(path)
        for target in static:
            if is_static and target != start:
                static_seen.setdefault(target, None)
            if target not in all_seen:
                all_seen[target] = None
                queue.append((target, is_static))
        for target in dynamic:
            if target not in all_seen:
                all_seen[target] = None
                queue.append((target, False))
    imports = {f"{STATIC_URL}/js/{p}": static_url(f"js/{p}") for p in all_seen}
    text = json.dumps({"imports": imports}, ensure_ascii=False, separators=(",", ":"))
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return ModuleGraph(
        entry=static_url(f"js/{start}"),
        preload=tuple(static_url(f"js/{p}") for p in static_seen),
        import_map=text,
        script_hash=f"'sha256-{digest}'",
    )
