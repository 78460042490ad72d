"""The one frontend shape (frontend/render.py, catalogue.py, modules.py): catalogues that match
across languages, templates on the base layout, page modules whose import graph resolves, one fetch
module. Pure file checks: no server needed."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from frontend import catalogue as cat
from frontend.modules import JS_DIR, module_graph
from frontend.render import TEMPLATES

FRONTEND = Path(cat.__file__).parent


def _keys(node, prefix=""):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_english_has_every_japanese_text_and_easy_japanese_only_known_keys():
    ja = set(_keys(cat._load("ja")))
    en = set(_keys(cat._load("en")))
    easy = set(_keys(cat._load("easy")))
    assert ja - en == set(), "English catalogue is missing these keys"
    assert en - ja == set(), "English catalogue has keys Japanese lacks"
    assert easy - ja == set(), "やさしい日本語 has keys the Japanese catalogue lacks"


def test_placeholders_agree_between_languages():
    ja, en, easy = (cat.catalogue(lang) for lang in ("ja", "en", "easy"))
    placeholder = re.compile(r"\{(\w+)\}")

    def value(tree, key):
        for part in key.split("."):
            tree = tree[part]
        return tree

    for key in _keys(ja):
        source = value(ja, key)
        if not isinstance(source, str):
            continue
        want = set(placeholder.findall(source))
        for other in (en, easy):
            assert set(placeholder.findall(value(other, key))) == want, key


def test_easy_japanese_falls_back_to_japanese_key_by_key():
    assert cat.text("easy", "common.skip") != cat.text("ja", "common.skip")  # overridden
    assert cat.text("easy", "common.close") == cat.text("ja", "common.close")  # not overridden: ja


@pytest.mark.parametrize(
    "raw,easy,want",
    [
        ("en", False, "en"),
        ("en-US", False, "en"),
        ("easy", True, "easy"),
        ("easy", False, "ja"),
        ("fr", True, "ja"),
        (None, True, "ja"),
    ],
)
def test_language_from_the_url(raw, easy, want):
    assert cat.normalise_lang(raw, easy=easy) == want


def test_every_template_extends_the_base_layout():
    for path in TEMPLATES.rglob("*.html"):
        if path.name == "base.html" or path.parent.name == "partials":
            continue
        source = path.read_text(encoding="utf-8")
        assert '{% extends "base.html" %}' in source, f"{path.name} does not extend base.html"


@pytest.mark.parametrize(
    "entry", sorted(p.relative_to(JS_DIR).as_posix() for p in (JS_DIR / "pages").glob("*.js"))
)
def test_each_page_module_graph_resolves_and_its_import_map_hash_is_right(entry):
    graph = module_graph(entry)
    imports = json.loads(graph.import_map)["imports"]
    for plain, hashed in imports.items():
        assert hashed.startswith(plain + "?v="), plain
        assert (JS_DIR.parent / plain.removeprefix("/static/")).is_file(), plain
    digest = base64.b64encode(hashlib.sha256(graph.import_map.encode()).digest()).decode()
    assert graph.script_hash == f"'sha256-{digest}'"
    for url in graph.preload:
        assert url.split("?")[0] in imports


def test_only_the_api_module_calls_fetch_for_json():
    offenders = []
    for path in JS_DIR.rglob("*.js"):
        rel = path.relative_to(JS_DIR).as_posix()
        if rel in ("lib/api.js",) or rel.endswith("sw.js") or not _is_module(path):
            continue
        if re.search(r"\bfetch\(", path.read_text(encoding="utf-8")):
            offenders.append(rel)
    assert offenders == []


def _is_module(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return bool(re.search(r"^\s*(import|export)\s", text, re.M))
