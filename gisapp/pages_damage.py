"""The printable 消防庁 第4号様式（その2）page, /hq/damage/form4 (route in gisapp/api/damage.py): the form as the
prefecture knows it (A4 when printed), the choice of disaster, time and report number above it (not
printed), the link to the xlsx, and the figures per 町丁目 on a second printed page.

frontend/templates/damage_form4.html, text section ``damage``, styles css/damage_form4.css. No script:
the choices are a GET form; printing is the browser's own (the page says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import groupby
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from frontend.catalogue import Lang
from frontend.render import RenderedPage, render_page
from gisapp.ops.damage import FIELDS, GROUPS
from gisapp.ops.damage_form import Form4, Line

JST = ZoneInfo("Asia/Tokyo")
# The figures shown per 町丁目 on screen and paper (the xlsx has every figure).
AREA_COLUMNS = ("dead", "missing", "injured_serious", "injured_minor", "destroyed_buildings", "half_buildings",
                "partial_buildings", "flooded_above_buildings", "flooded_below_buildings")  # fmt: skip


def _spans(lines: list[Line]) -> list[tuple[Line, int]]:
    """Each line with the rowspan of its 区分 cell: the first of a run of the same group spans the run,
    the others 0 (no cell); an empty group is a one-row label of its own."""
    out: list[tuple[Line, int]] = []
    for group, run in groupby(lines, key=lambda line: line.group):
        items = list(run)
        if not group:
            out += [(line, -1) for line in items]
            continue
        out += [(line, len(items) if i == 0 else 0) for i, line in enumerate(items)]
    return out


def local_input(value: datetime | None) -> str:
    """A time for <input type=datetime-local> (JST)."""
    return value.astimezone(JST).strftime("%Y-%m-%dT%H:%M") if value else ""


def form4_page(
    lang: Lang,
    form: Form4,
    totals: dict[str, Any],
    disasters: list[dict[str, Any]],
    *,
    query: Mapping[str, str],
    at: datetime | None,
    report_no: int | None,
    final: bool,
    error: tuple[str, str] | None = None,
) -> RenderedPage:
    disaster_id = totals["disaster"]["id"]
    file_query = {"at": at.isoformat() if at else None, "no": report_no, "final": "true" if final else None}
    xlsx = f"/api/disasters/{disaster_id}/damage/form4.xlsx"
    params = urlencode({k: v for k, v in file_query.items() if v is not None})
    columns = [
        {
            "name": f.name,
            "label": (f"{f.row_en} ({f.unit_en})" if lang == "en" else f"{f.row_ja}（{f.unit_ja}）")
            if f.group == "housing"
            else (f.row_en if lang == "en" else f.row_ja),
            "group": GROUPS[f.group][1 if lang == "en" else 0],
        }
        for f in FIELDS
        if f.name in AREA_COLUMNS
    ]
    errors = sorted([("ja", error[0]), ("en", error[1])], key=lambda p: p[0] != lang) if error else None
    return render_page(
        "damage_form4.html",
        lang=lang,
        path="/hq/damage/form4",
        query=query,
        styles=["css/damage_form4.css"],
        form=form,
        left=_spans(form.left),
        right=_spans(form.right),
        areas=form.areas,
        columns=columns,
        disasters=disasters,
        disaster_id=disaster_id,
        at_value=local_input(at),
        report_no=report_no,
        final=final,
        xlsx_url=xlsx + (f"?{params}" if params else ""),
        hq_url="/hq" + ("?lang=en" if lang == "en" else ""),
        error=errors,
    )
