"""The page's furniture: header (title, time T, 取扱注意) and footer on every page; the scale bar, the
north arrow and the legend on the map page."""

from __future__ import annotations

from reportlab.lib.colors import HexColor, white

from layers.printmap.frame import MM, nice_length
from layers.printmap.pen import Pen, round_scale, wrap
from layers.printmap.sheet import CONFIDENTIAL, GREY, INK

MARGIN = 10 * MM
HEADER = 20 * MM
FOOTER = 7 * MM


class Furniture(Pen):
    def header(self, title: str) -> None:
        c, s = self.c, self.sheet
        self.page_no += 1
        top = self.height - MARGIN
        size = 20 if self.paper == "A3" else 16
        c.setFillColor(INK)
        c.setFont(self.font, size)
        c.drawString(MARGIN, top - size, title)
        c.setFont(self.font, 9)
        c.drawString(MARGIN, top - size - 13, s.subtitle)
        if s.confidential:
            self._confidential(self.width - MARGIN, top - 2, size)
        # footer: source and page
        c.setFont(self.font, 7)
        c.setFillColor(GREY)
        c.drawString(MARGIN, MARGIN, s.words.get("footer", ""))
        page = s.words.get("page", "{n}").format(n=self.page_no)
        c.drawRightString(self.width - MARGIN, MARGIN, page)
        if s.confidential:
            c.setFillColor(CONFIDENTIAL)
            c.setFont(self.font, 9)
            c.drawRightString(
                self.width - MARGIN - c.stringWidth(page, self.font, 7) - 12, MARGIN, s.confidential
            )

    def _confidential(self, right: float, top: float, size: float) -> None:
        c = self.c
        words = self.sheet.confidential or ""
        fs = size * 0.8
        w = c.stringWidth(words, self.font, fs) + 12
        h = fs + 8
        c.setStrokeColor(CONFIDENTIAL)
        c.setLineWidth(1.6)
        c.setFillColor(white)
        c.rect(right - w, top - h, w, h, stroke=1, fill=1)
        c.setFillColor(CONFIDENTIAL)
        c.setFont(self.font, fs)
        c.drawCentredString(right - w / 2, top - h + 4.5, words)

    def scale_bar(self) -> None:
        """A true scale bar (plane metres), bottom left inside the frame, on a white box."""
        c, f = self.c, self.frame
        length_m = nice_length((f.maxx - f.minx) * 0.22)
        length_pt = length_m * f.points_per_metre
        x0, y0 = f.x + 5 * MM, f.y + 5 * MM
        label = f"{length_m / 1000:g} km" if length_m >= 1000 else f"{length_m:g} m"
        c.setFillColor(white)
        c.setFillAlpha(0.9)
        c.rect(
            x0 - 3 * MM, y0 - 3 * MM, length_pt + 6 * MM + c.stringWidth(label, self.font, 8), 13 * MM, 0, 1
        )
        c.setFillAlpha(1)
        parts = 4
        for i in range(parts):
            c.setFillColor(INK if i % 2 == 0 else white)
            c.setStrokeColor(INK)
            c.setLineWidth(0.6)
            c.rect(x0 + i * length_pt / parts, y0, length_pt / parts, 2 * MM, stroke=1, fill=1)
        c.setFillColor(INK)
        c.setFont(self.font, 8)
        c.drawCentredString(x0, y0 + 3 * MM, "0")
        c.drawCentredString(
            x0 + length_pt / 2,
            y0 + 3 * MM,
            f"{length_m / 2:g}" if length_m < 1000 else f"{length_m / 2000:g}",
        )
        c.drawString(x0 + length_pt + 2, y0 + 3 * MM, label)
        c.setFont(self.font, 7)
        c.drawString(
            x0, y0 + 7 * MM, self.sheet.words.get("scale", "1:{n}").format(n=f"{round_scale(f.scale):,}")
        )

    def north_arrow(self) -> None:
        """True north at the frame's centre, drawn top right (turned from the page's up by the
        meridian convergence of the plane zone)."""
        c, f = self.c, self.frame
        cx, cy = f.x + f.width - 12 * MM, f.y + f.height - 16 * MM
        c.saveState()
        c.setFillColor(white)
        c.setFillAlpha(0.9)
        c.circle(cx, cy, 9 * MM, stroke=0, fill=1)
        c.restoreState()
        c.saveState()
        c.translate(cx, cy)
        c.rotate(-f.true_north_deg())
        length = 7 * MM
        p = c.beginPath()
        p.moveTo(0, length)
        p.lineTo(-2.6 * MM, -length * 0.6)
        p.lineTo(0, -length * 0.25)
        p.close()
        c.setFillColor(INK)
        c.setStrokeColor(INK)
        c.setLineWidth(0.6)
        c.drawPath(p, stroke=1, fill=1)
        p = c.beginPath()
        p.moveTo(0, length)
        p.lineTo(2.6 * MM, -length * 0.6)
        p.lineTo(0, -length * 0.25)
        p.close()
        c.setFillColor(white)
        c.drawPath(p, stroke=1, fill=1)
        c.setFillColor(INK)
        c.setFont(self.font, 9)
        c.drawCentredString(0, length + 2, self.sheet.words.get("north", "N"))
        c.restoreState()

    def legend(self) -> None:
        c, s = self.c, self.sheet
        x = self.width - MARGIN - self.legend_w
        top = self.height - MARGIN - HEADER
        c.setFillColor(INK)
        c.setFont(self.font, 11)
        c.drawString(x, top - 11, s.words.get("legend", ""))
        y = top - 24
        row = 12.5 if self.paper == "A3" else 11
        for entry in s.legend:
            if y < MARGIN + FOOTER + 40 * MM:
                break  # the notes and the scale below keep their room
            if entry.kind == "heading":
                y -= 3
                c.setFillColor(INK)
                c.setFont(self.font, 8.5)
                c.drawString(x, y, entry.label)
                y -= row
                continue
            cx, cy = x + 6, y + 3
            if entry.kind == "symbol":
                self.symbol_at(cx, cy, 10, entry.shape, entry.fill, entry.ink, entry.letter)
            elif entry.kind == "line":
                c.setLineCap(1)
                if entry.stroke == "#1a1a1a" and entry.width > 2:  # the closure: casing first
                    self._stroke("#ffffff", entry.width + 1.8, None)
                    c.line(cx - 6, cy, cx + 6, cy)
                self._stroke(entry.stroke, entry.width, entry.dash)
                c.line(cx - 6, cy, cx + 6, cy)
                c.setLineCap(0)
                c.setDash([])
            elif entry.kind == "area":
                c.saveState()
                c.setFillColor(HexColor(entry.fill))
                c.setFillAlpha(entry.alpha)
                c.rect(cx - 6, cy - 4, 12, 8, stroke=0, fill=1)
                c.restoreState()
                self._stroke(entry.stroke, 1.2, entry.dash)
                c.rect(cx - 6, cy - 4, 12, 8, stroke=1, fill=0)
                c.setDash([])
            c.setFillColor(INK)
            c.setFont(self.font, 7.5)
            c.drawString(x + 16, y, entry.label)
            y -= row
        # Below the legend: the scale in words, the coordinate system, the sources and the notes.
        y = min(y, MARGIN + FOOTER + 38 * MM) - 4
        c.setFont(self.font, 7)
        lines = [s.words.get("crs", ""), s.words.get("source", ""), *s.notes]
        for line in lines:
            for part in wrap(line, self.font, 7, self.legend_w):
                if y < MARGIN + FOOTER:
                    return
                c.setFillColor(INK)
                c.drawString(x, y, part)
                y -= 9
