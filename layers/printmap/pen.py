"""The pen of a printed map: ground to page, geometries to paths, the state symbols of the HQ map
(frontend/symbols.py shapes), word tags, and line wrapping that knows Japanese has no spaces."""

from __future__ import annotations

import math

import numpy as np
import shapely
from reportlab.lib.colors import HexColor, white
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from layers.printmap.frame import MM, Frame, page_size
from layers.printmap.sheet import INK, Sheet


class Pen:
    def __init__(self, c: Canvas, font_name: str, sheet: Sheet, frame: Frame, paper: str, orientation: str):
        self.c = c
        self.font = font_name
        self.sheet = sheet
        self.frame = frame
        self.paper = paper
        self.width, self.height = page_size(paper, orientation)
        self.legend_w = legend_width(paper, orientation)
        self.symbol = 15.0 if paper == "A3" else 12.5
        self.page_no = 0

    def _points(self, coords: np.ndarray) -> np.ndarray:
        return self.frame.to_page(np.asarray(coords, dtype=float)[:, :2])

    def _path(self, geometries: shapely.Geometry | list[shapely.Geometry], closed: bool):
        """One path of every ring and line of ``geometries``. The operators are written in bulk (the
        path object's code list, which drawPath writes out): a city's basemap has ~10^5 vertices, and
        reportlab's per-vertex lineTo costs far more than one format per ring."""
        p = self.c.beginPath()
        if not isinstance(geometries, list):
            geometries = [geometries]
        rings = []
        for geometry in geometries:
            parts = list(geometry.geoms) if hasattr(geometry, "geoms") else [geometry]
            for part in parts:
                if part.is_empty:
                    continue
                rings += [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
        ops = []
        for ring in rings:
            pts = self._points(shapely.get_coordinates(ring))
            if len(pts) < 2:
                continue
            # One %-format call per ring (C speed) rather than one call per vertex; 0.1 pt (0.035 mm)
            # is finer than any printer.
            ops.append(f"{pts[0, 0]:.1f} {pts[0, 1]:.1f} m\n")
            ops.append(("%.1f %.1f l\n" * (len(pts) - 1)) % tuple(pts[1:].ravel().tolist()))
            if closed:
                ops.append("h")
        p._code.extend(ops)  # private, but what drawPath writes: see above
        return p

    def _stroke(self, colour: str, width: float, dash: tuple[float, ...] | None) -> None:
        self.c.setStrokeColor(HexColor(colour))
        self.c.setLineWidth(width)
        self.c.setDash(list(dash) if dash else [])

    def _tag(self, x: float, y: float, words: str, fill: str, ink: str) -> None:
        c = self.c
        fs = 7.5 if self.paper == "A3" else 6.5
        w = c.stringWidth(words, self.font, fs) + 6
        c.setFillColor(HexColor(fill))
        c.setStrokeColor(white)
        c.setLineWidth(0.8)
        c.rect(x - w / 2, y - fs / 2 - 2, w, fs + 4, stroke=1, fill=1)
        c.setFillColor(HexColor(ink))
        c.setFont(self.font, fs)
        c.drawCentredString(x, y - fs * 0.35, words)

    def symbol_at(
        self, x: float, y: float, size: float, shape: str, fill: str, ink: str, letter: str
    ) -> None:
        """One state symbol as on the HQ map (frontend/symbols.py shapes), with its letter."""
        c = self.c
        r = size / 2
        dashed = shape.endswith("-dashed")
        base = shape.removesuffix("-dashed")
        c.setFillColor(HexColor(fill))
        c.setStrokeColor(INK if dashed else white)
        c.setLineWidth(1.0)
        c.setDash([2, 1.5] if dashed else [])
        if base == "none":
            return
        if base == "square":
            c.rect(x - r, y - r, size, size, stroke=1, fill=1)
        elif base == "rounded":
            c.roundRect(x - r, y - r, size, size, r * 0.45, stroke=1, fill=1)
        elif base in ("house", "diamond"):
            pts = (
                [(-r, -r), (r, -r), (r, 0.15 * r), (0, r), (-r, 0.15 * r)]
                if base == "house"
                else [(0, -r * 1.15), (r * 1.15, 0), (0, r * 1.15), (-r * 1.15, 0)]
            )
            p = c.beginPath()
            p.moveTo(x + pts[0][0], y + pts[0][1])
            for dx, dy in pts[1:]:
                p.lineTo(x + dx, y + dy)
            p.close()
            c.drawPath(p, stroke=1, fill=1)
        else:
            c.circle(x, y, r, stroke=1, fill=1)
        c.setDash([])
        if letter:
            fs = size * 0.62
            c.setFillColor(HexColor(ink))
            c.setFont(self.font, fs)
            c.drawCentredString(x, y - fs * 0.36, letter)


def legend_width(paper: str, orientation: str) -> float:
    if orientation == "landscape":
        return (62 if paper == "A3" else 50) * MM
    return (56 if paper == "A3" else 46) * MM


def round_scale(n: float) -> int:
    """1:N to three significant figures (the scale is true; more digits only look precise)."""
    if n <= 0 or not math.isfinite(n):
        return 0
    digits = max(0, int(math.floor(math.log10(n))) - 2)
    return int(round(n / 10**digits) * 10**digits)


def wrap(words: str, font_name: str, size: float, width: float) -> list[str]:
    """Lines of ``words`` no wider than ``width``: Japanese breaks between any two characters, English
    at the last space that fits."""
    lines: list[str] = []
    for paragraph in words.split("\n"):
        line = ""
        for ch in paragraph:
            if line and stringWidth(line + ch, font_name, size) > width:
                cut = line.rfind(" ")
                if ch != " " and cut > 0 and line[-1] != " " and line.isascii():
                    lines.append(line[:cut])
                    line = line[cut + 1 :]
                else:
                    lines.append(line.rstrip())
                    line = ""
                if ch == " ":
                    continue
            line += ch
        lines.append(line)
    return lines
