"""Drawing the situation map's pages with reportlab: header (title, time, 取扱注意), the map frame
(basemap, areas, lines, markers), the legend with the scale and the north arrow, and a list of
incidents on the following pages. Everything it draws comes in as plain values (``Sheet``); the words
too, so this module holds no wording of its own.

The layout is fixed per paper (``map_rect``): the caller fits the ground into the frame first (the
basemap's simplification depends on the scale), then hands the frame to ``render``.
"""

from __future__ import annotations

import io
import threading

import numpy as np
from reportlab import rl_config
from reportlab.lib.colors import HexColor, white
from reportlab.pdfgen.canvas import FILL_EVEN_ODD, Canvas

from layers.printmap.fonts import font
from layers.printmap.frame import MM, Frame, page_size
from layers.printmap.furniture import FOOTER, HEADER, MARGIN
from layers.printmap.pen import legend_width
from layers.printmap.sheet import BASE_STYLE, GREY, INK, LEVEL_DASH, Area, Closure, Marker, Sheet
from layers.printmap.table import Table

_render_lock = threading.Lock()
# Page streams Flate-compressed as binary, not also ASCII85-encoded (reportlab's default): ASCII85 only
# makes a PDF 7-bit clean, and its pure-Python encoder took most of a city sheet's time.
rl_config.useA85 = 0


def map_rect(paper: str, orientation: str) -> tuple[float, float, float, float]:
    """The map frame (x, y, width, height) in points on a page of ``paper`` and ``orientation``."""
    w, h = page_size(paper, orientation)
    return (
        MARGIN,
        MARGIN + FOOTER,
        w - 2 * MARGIN - legend_width(paper, orientation) - 4 * MM,
        h - 2 * MARGIN - FOOTER - HEADER,
    )


def render(sheet: Sheet, frame: Frame, paper: str, orientation: str) -> bytes:
    """The PDF document: the map page, then the incident list (if any) on as many pages as it needs."""
    name, _embedded = font()
    out = io.BytesIO()
    # reportlab keeps per-document font subsetting state on the shared font object: one at a time.
    with _render_lock:
        c = Canvas(out, pagesize=page_size(paper, orientation), pageCompression=1, initialFontName=name)
        c.setTitle(sheet.title)
        c.setAuthor(sheet.author)
        c.setSubject(sheet.subject or sheet.subtitle)
        c.setCreator("gisapp")
        d = _Drawer(c, name, sheet, frame, paper, orientation)
        d.map_page()
        d.table_pages()
        c.save()
    return out.getvalue()


class _Drawer(Table):
    def map_page(self) -> None:
        c, f, s = self.c, self.frame, self.sheet
        self.header(s.title)
        c.saveState()
        p = c.beginPath()
        p.rect(f.x, f.y, f.width, f.height)
        c.clipPath(p, stroke=0, fill=0)
        c.setFillColor(white)
        c.rect(f.x, f.y, f.width, f.height, stroke=0, fill=1)
        self.basemap()
        for area in s.areas:
            self.area(area)
        for closure in s.closures:
            self.closure(closure)
        self.base_labels()
        for area in s.areas:
            self.area_tag(area)
        for marker in s.markers:
            self.marker(marker)
        c.restoreState()
        c.setStrokeColor(INK)
        c.setLineWidth(0.8)
        c.rect(f.x, f.y, f.width, f.height, stroke=1, fill=0)
        self.north_arrow()
        self.scale_bar()
        self.legend()
        c.showPage()

    def basemap(self) -> None:
        """Fills one by one (even-odd keeps each polygon's holes), then one stroked path per kind."""
        c = self.c
        by_kind: dict[str, list] = {}
        for shape in self.sheet.basemap.shapes:
            by_kind.setdefault(shape.kind, []).append(shape.geometry)
        for kind, geometries in by_kind.items():
            stroke, width, dash, fill, alpha = BASE_STYLE.get(kind, BASE_STYLE["line"])
            polygons = [g for g in geometries if g.geom_type in ("Polygon", "MultiPolygon")]
            lines = [g for g in geometries if g.geom_type in ("LineString", "MultiLineString")]
            if polygons and fill:
                c.saveState()
                c.setFillColor(HexColor(fill))
                c.setFillAlpha(alpha)
                for g in polygons:
                    c.drawPath(self._path(g, True), stroke=0, fill=1, fillMode=FILL_EVEN_ODD)
                c.restoreState()
            self._stroke(stroke, width, dash)
            if polygons:
                c.drawPath(self._path(polygons, True), stroke=1, fill=0)
            if lines:
                c.drawPath(self._path(lines, False), stroke=1, fill=0)
        c.setDash([])

    def base_labels(self) -> None:
        """The 町丁目 names and the basemap file's names, small and grey: where a reader finds a place
        on paper."""
        c = self.c
        c.setFont(self.font, 6.5 if self.paper == "A3" else 5.5)
        c.setFillColor(GREY)
        for shape in self.sheet.basemap.shapes:
            labelled = shape.kind == "area" or shape.kind.startswith("file:")
            if labelled and shape.label_at is not None and shape.name:
                x, y = self._points(np.array([[shape.label_at.x, shape.label_at.y]]))[0]
                c.drawCentredString(x, y, shape.name)

    def area(self, area: Area) -> None:
        c = self.c
        path = self._path(area.geometry, True)
        c.saveState()
        c.setFillColor(HexColor(area.colour))
        c.setFillAlpha(0.28)
        c.drawPath(path, stroke=0, fill=1, fillMode=FILL_EVEN_ODD)
        c.restoreState()
        self._stroke(area.colour, 1.6, LEVEL_DASH.get(area.level))
        c.drawPath(self._path(area.geometry, True), stroke=1, fill=0)
        c.setDash([])

    def area_tag(self, area: Area) -> None:
        at = area.geometry.representative_point()
        x, y = self._points(np.array([[at.x, at.y]]))[0]
        self._tag(x, y, area.label, area.colour, area.text_colour)

    def closure(self, closure: Closure) -> None:
        c = self.c
        # A white casing under a black dotted line: reads on any basemap, differs from roads by pattern.
        c.setLineCap(1)
        self._stroke("#ffffff", 5.0, None)
        c.drawPath(self._path(closure.geometry, False), stroke=1, fill=0)
        self._stroke("#1a1a1a", 3.2, (0.1, 4.2))
        c.drawPath(self._path(closure.geometry, False), stroke=1, fill=0)
        c.setLineCap(0)
        c.setDash([])

    def marker(self, m: Marker) -> None:
        x, y = self._points(np.array([[m.x, m.y]]))[0]
        self.symbol_at(x, y, self.symbol, m.shape, m.fill, m.ink, m.letter)
        if m.label:
            c = self.c
            fs = 6.5 if self.paper == "A3" else 5.5
            c.setFont(self.font, fs)
            tx, ty = x + self.symbol / 2 + 1.5, y - fs * 0.35
            # On a pale box, so the words read over lines and shading (and are written once: the
            # text a reader copies or searches has each label once).
            c.saveState()
            c.setFillColor(white)
            c.setFillAlpha(0.8)
            c.rect(tx - 1, ty - 1.5, c.stringWidth(m.label, self.font, fs) + 2, fs + 2, stroke=0, fill=1)
            c.restoreState()
            c.setFillColor(INK)
            c.drawString(tx, ty, m.label)
