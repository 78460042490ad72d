"""The text catalogue: every word a page shows, one catalogue per language.

A language's catalogue is the folder ``frontend/text/<lang>/``; each ``<section>.toml`` in it becomes
the top-level key ``<section>`` (``common``, ``citizen``, ``hq`` …), so two pages' texts never share a
file. ``ja`` is complete; ``en`` has every key ``ja`` has (checked by tests/test_frontend_shape.py);
``easy`` (やさしい日本語) covers the resident-facing sections and falls back to ``ja`` key by key.

Templates read it as ``t.section.key``; page scripts get the sections they need in the page's JSON
data block (``frontend/render.py``), so no wording lives in JS.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

Lang = Literal["ja", "en", "easy"]
LANGS: tuple[Lang, ...] = ("ja", "en", "easy")
TEXT_DIR = Path(__file__).parent / "text"

# The HTML lang attribute of each catalogue: やさしい日本語 is Japanese.
HTML_LANG: dict[Lang, str] = {"ja": "ja", "en": "en", "easy": "ja"}


def normalise_lang(raw: str | None, *, easy: bool = False) -> Lang:
    """``?lang=`` as a page takes it from the URL: ``en``/``en-US`` → English, ``easy`` (やさしい日本語)
    where the page offers it, anything else → Japanese."""
    value = (raw or "").strip().lower()
    if value.split("-")[0] == "en":
        return "en"
    if easy and value in ("easy", "ja-easy", "yasashii"):
        return "easy"
    return "ja"


def _load(lang: str) -> dict[str, Any]:
    folder = TEXT_DIR / lang
    catalogue: dict[str, Any] = {}
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as f:
            catalogue[path.stem] = tomllib.load(f)
    return catalogue


def _overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _overlay(base[key], value)
        else:
            merged[key] = value
    return merged


@cache
def catalogue(lang: Lang) -> dict[str, Any]:
    """The whole catalogue of ``lang`` (``easy`` overlaid on ``ja``). Read once per process."""
    if lang == "easy":
        return _overlay(_load("ja"), _load("easy"))
    return _load(lang)


def text(lang: Lang, key: str) -> Any:
    """One entry by dotted key (``"citizen.shelters.title"``); KeyError names the key if missing."""
    node: Any = catalogue(lang)
    for part in key.split("."):
        try:
            node = node[part]
        except (KeyError, TypeError):
            raise KeyError(f"text catalogue {lang!r} has no {key!r}") from None
    return node


def both(key: str, lang: Lang = "ja") -> list[tuple[str, str]]:
    """A message in Japanese and English, the page's language first: for notices staff may read in
    either (``[("ja", "…"), ("en", "…")]``)."""
    pairs = [("ja", text("ja", key)), ("en", text("en", key))]
    return sorted(pairs, key=lambda pair: pair[0] != HTML_LANG[lang])
