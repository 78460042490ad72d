"""What a printed map holds, as plain values: the symbols, areas and closures drawn over the
basemap, the legend, the words, and the incident list that follows the map. The caller (gisapp) fills
it in the reader's language; layers/printmap/pdf.py draws it."""

from __future__ import annotations

from dataclasses import dataclass, field

import shapely
from reportlab.lib.colors import HexColor

from layers.printmap.basemap import Basemap

INK = HexColor("#1a1a1a")
GREY = HexColor("#5f6368")
CONFIDENTIAL = HexColor("#b3261e")

# Basemap kinds: (stroke, width, dash, fill, fill alpha). Quiet greys and pale fills under the HQ's
# own symbols, which keep the strong colours.
BASE_STYLE: dict[str, tuple[str, float, tuple[float, ...] | None, str | None, float]] = {
    "area": ("#8a8f95", 0.6, (3, 2), None, 0),
    "hazard:landslide_warning": ("#8a5a00", 0.4, None, "#f2b705", 0.22),
    "hazard:landslide_special": ("#7a1f1f", 0.5, None, "#b3261e", 0.22),
    "hazard:flood": ("#1f5fa8", 0.3, None, "#1f5fa8", 0.16),
    "hazard:inland_flood": ("#0e7c86", 0.3, None, "#0e7c86", 0.16),
    "line": ("#4a90c2", 1.0, None, None, 0),
    "sewer": ("#7b3fa0", 0.5, (1, 1), None, 0),
    "road": ("#7a7f85", 0.8, None, None, 0),
    # The city's basemap file (layers/printmap/file_basemap.py): quiet, under everything else.
    "file:area": ("#b9b2a5", 0.3, None, "#eee9df", 1.0),
    "file:line": ("#a3a9b0", 0.5, None, None, 0),
    "file:point": ("#a3a9b0", 0.5, None, None, 0),
}
# 避難情報 areas: a border pattern per level as on the HQ map (hq/evacinfo/map.js DASH), not colour alone.
LEVEL_DASH: dict[int, tuple[float, ...] | None] = {3: (6, 3.5), 4: None, 5: (2, 3)}


@dataclass(frozen=True)
class Marker:
    """A point symbol (frontend/symbols.py: shape, fill, ink, letter) and the words beside it."""

    x: float  # plane metres
    y: float
    shape: str
    fill: str
    ink: str
    letter: str
    label: str = ""


@dataclass(frozen=True)
class Area:
    """A shaded area (an 避難情報 in force): fill, border pattern, and a tag with its words."""

    geometry: shapely.Geometry  # plane metres
    colour: str
    text_colour: str
    level: int
    label: str


@dataclass(frozen=True)
class Closure:
    """A road closure (通行止め): the closed road drawn over, with the closure symbol at its middle."""

    geometry: shapely.Geometry  # plane metres
    marker: Marker


@dataclass(frozen=True)
class LegendEntry:
    """kind: heading | symbol (shape/fill/ink/letter) | line (stroke/dash/width) | area (fill/stroke)."""

    kind: str
    label: str
    shape: str = "circle"
    fill: str = "#ffffff"
    ink: str = "#ffffff"
    letter: str = ""
    stroke: str = "#1a1a1a"
    width: float = 1.0
    dash: tuple[float, ...] | None = None
    alpha: float = 1.0


@dataclass
class Sheet:
    """Everything on the document, in the reader's language."""

    title: str
    subtitle: str
    confidential: str | None  # 取扱注意 on every page, or None when nothing internal is shown
    basemap: Basemap
    areas: list[Area] = field(default_factory=list)
    closures: list[Closure] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # said in the legend column (nothing to show, cut …)
    words: dict[str, str] = field(default_factory=dict)  # legend, scale, north, crs, source, page
    table_title: str = ""
    table_headers: list[str] = field(default_factory=list)
    table_rows: list[list[str]] = field(default_factory=list)
    table_widths: list[float] = field(default_factory=list)  # fractions of the width
    author: str = "gisapp"
    subject: str = ""
