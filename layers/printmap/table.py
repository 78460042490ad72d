"""The incident list after the map: one row per incident drawn (its number is the label beside its
symbol), on as many pages as it needs, each with the header and 取扱注意."""

from __future__ import annotations

from reportlab.lib.colors import HexColor

from layers.printmap.furniture import FOOTER, HEADER, MARGIN, Furniture
from layers.printmap.pen import wrap
from layers.printmap.sheet import INK


class Table(Furniture):
    def table_pages(self) -> None:
        s, c = self.sheet, self.c
        if not s.table_rows:
            return
        widths = [w * (self.width - 2 * MARGIN) for w in s.table_widths]
        fs = 8
        rows = list(s.table_rows)
        while rows:
            self.header(s.table_title)
            y = self.height - MARGIN - HEADER
            y = self._table_row(s.table_headers, widths, y, fs, heading=True)
            while rows:
                cells = [
                    wrap(str(v), self.font, fs, w - 4) or [""] for v, w in zip(rows[0], widths, strict=True)
                ]
                height = max(len(cell) for cell in cells) * (fs + 2) + 4
                if y - height < MARGIN + FOOTER + 4:
                    break
                y = self._table_row(rows.pop(0), widths, y, fs)
            c.showPage()

    def _table_row(
        self, values: list[str], widths: list[float], y: float, fs: float, heading: bool = False
    ) -> float:
        c = self.c
        cells = [wrap(str(v), self.font, fs, w - 4) or [""] for v, w in zip(values, widths, strict=True)]
        height = max(len(cell) for cell in cells) * (fs + 2) + 4
        x = MARGIN
        if heading:
            c.setFillColor(HexColor("#e9ecef"))
            c.rect(MARGIN, y - height, sum(widths), height, stroke=0, fill=1)
        c.setStrokeColor(HexColor("#9aa0a6"))
        c.setLineWidth(0.4)
        c.line(MARGIN, y - height, MARGIN + sum(widths), y - height)
        c.setFillColor(INK)
        c.setFont(self.font, fs)
        for cell, w in zip(cells, widths, strict=True):
            ty = y - fs - 1
            for line in cell:
                c.drawString(x + 2, ty, line)
                ty -= fs + 2
            x += w
        return y - height
