"""消防庁 第4号様式（その2）被害状況即報 — and the 確定報, in the same layout — from the damage totals
(gisapp/ops/damage.py): one layout as data, drawn by the printable page (gisapp/pages_damage.py)
and written as the workbook the prefecture takes (``workbook``).

The file for the prefecture is xlsx, not CSV: prefectures hand the 即報 forms to their municipalities
as Excel sheets and collect them the same way, and an xlsx keeps the form's two halves, its merged
group labels and its units where a CSV would flatten them (docs/damage-reports.md).

Rows the incidents cannot fill (田・畑 in hectares, 被害額 in 千円, 災害救助法, 出動延人数) are on the form
with an empty value, for the HQ to fill in by hand as on paper.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gisapp.ops.damage import FIELDS, GROUPS

JST = ZoneInfo("Asia/Tokyo")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Line:
    """One row of the form: its group (区分), its label, its unit and its value (None: not from us)."""

    group: str
    label: str
    unit: str
    value: int | str | None
    name: str = ""  # the figure's name (ops.damage FIELDS) or the derived row's, for tests and styles


def _jst(value: datetime | None, lang: str) -> str:
    if value is None:
        return ""
    local = value.astimezone(JST)
    if lang == "en":
        return local.strftime("%Y-%m-%d %H:%M JST")
    return f"{local.year}年{local.month}月{local.day}日{local.hour}時{local.minute}分"


def left_half(totals: dict[str, Any], lang: str = "ja") -> list[Line]:
    """区分 and 被害, in the form's order: 人的被害, 住家被害, 非住家, その他 (田・畑 first, by hand), り災世帯数・
    り災者数, 火災発生."""
    en = lang == "en"
    fig, der = totals["total"], totals["derived"]
    lines: list[Line] = []
    for f in FIELDS:
        group = GROUPS[f.group][1 if en else 0]
        if f.group == "other" and f.name == "schools":  # the form starts その他 with the fields (ha)
            for ja, label_en in (("田 流失・埋没", "Paddy washed away"), ("田 冠水", "Paddy flooded"),
                                 ("畑 流失・埋没", "Field washed away"), ("畑 冠水", "Field flooded")):  # fmt: skip
                lines.append(Line(group, label_en if en else ja, "ha", None))
        if f.group == "fire" and f.name == "fire_buildings":  # り災 come before 火災発生
            lines.append(
                Line("", "Affected households" if en else "り災世帯数", "households" if en else "世帯",
                     der["affected_households"], "affected_households")
            )  # fmt: skip
            lines.append(
                Line("", "Affected people" if en else "り災者数", "people" if en else "人",
                     der["affected_people"], "affected_people")
            )  # fmt: skip
        label = f.row_en if en else f.row_ja
        if f.group == "human" and f.name.startswith("injured"):
            label = ("Injured: " if en else "負傷者 ") + label
        lines.append(Line(group, label, f.unit_en if en else f.unit_ja, fig[f.name], f.name))
    return lines


def right_half(totals: dict[str, Any], municipality: str, lang: str = "ja") -> list[Line]:
    """被害額 (by hand), 災害対策本部等の設置状況 (the disaster's opening and closing), 災害救助法, 出動延人数, 備考."""
    en = lang == "en"
    d = totals["disaster"]
    money = "thousand yen" if en else "千円"
    damage = "Cost of damage" if en else "被害額"
    lines = [
        Line(damage, label, money, None)
        for label in (
            ("Public schools", "Agriculture, forestry and fishery facilities", "Public civil works",
             "Other public facilities", "Subtotal")
            if en else ("公立文教施設", "農林水産業施設", "公共土木施設", "その他の公共施設", "小計")
        )
    ]  # fmt: skip
    lines.append(Line(damage, "Municipalities with public damage" if en else "公共施設被害市町村数",
                      "bodies" if en else "団体", None))  # fmt: skip
    lines += [
        Line(damage, label, money, None)
        for label in (
            ("Agriculture", "Forestry", "Livestock", "Fishery", "Commerce and industry", "Other", "Total")
            if en else ("農産被害", "林産被害", "畜産被害", "水産被害", "商工被害", "その他", "被害総額")
        )
    ]  # fmt: skip
    hq = "Disaster HQ" if en else "災害対策本部等の設置状況"
    opened = _jst(d["opened_at"], lang)
    closed = _jst(d["closed_at"], lang)
    if en:
        city_hq = f"{municipality} disaster HQ: set up {opened}" + (f", dissolved {closed}" if closed else "")
    else:
        city_hq = f"{municipality}災害対策本部 設置 {opened}" + (f" 解散 {closed}" if closed else "")
    lines += [
        Line(hq, "Prefecture" if en else "都道府県", "", None),
        Line(hq, "Municipality" if en else "市町村", "", city_hq, "municipal_hq"),
        Line("", "Disaster Relief Act applied in" if en else "災害救助法適用市町村名", "", None),
        Line("", "Fire service staff deployed (person-days)" if en else "消防職員出動延人数",
             "people" if en else "人", None),
        Line("", "Volunteer fire corps deployed (person-days)" if en else "消防団員出動延人数",
             "people" if en else "人", None),
    ]  # fmt: skip
    note = "Remarks" if en else "備考"
    lines += [
        Line(note, "Disaster" if en else "災害の種類・概況", "", d["name"], "disaster_name"),
        Line(note, "Since" if en else "災害発生年月日", "", opened),
        Line(note, "Incidents with damage" if en else "被害のある事案", "件" if not en else "incidents",
             totals["incidents"], "incidents"),
    ]  # fmt: skip
    return lines


@dataclass(frozen=True)
class Form4:
    title: str
    header: list[tuple[str, str]]
    left: list[Line]
    right: list[Line]
    areas: list[dict[str, Any]]


def form4(
    totals: dict[str, Any],
    *,
    prefecture: str,
    municipality: str,
    reporter: str,
    report_no: int | None,
    final: bool,
    reported_at: datetime,
    lang: str = "ja",
) -> Form4:
    """The whole form for ``lang``: title, header pairs (label, value), the two halves, the areas."""
    en = lang == "en"
    if en:
        title = "FDMA Form 4 (part 2): " + ("final damage report" if final else "damage report")
    else:
        title = "第4号様式（その2）" + ("被害状況確定報告" if final else "被害状況即報")
    as_of = _jst(totals["at"], lang)
    number = "" if report_no is None else (f"No. {report_no}" if en else f"第{report_no}報")
    header = [
        ("Report" if en else "報告番号", ("final" if en else "確定") if final else number),
        ("As of" if en else "時現在", as_of),
        ("Reported at" if en else "報告日時", _jst(reported_at, lang)),
        ("Prefecture" if en else "都道府県", prefecture),
        ("Municipality" if en else "市町村", municipality),
        ("Disaster" if en else "災害名", totals["disaster"]["name"]),
        ("Reported by" if en else "報告者名", reporter),
    ]
    return Form4(
        title, header, left_half(totals, lang), right_half(totals, municipality, lang), totals["areas"]
    )


def workbook(form: Form4) -> bytes:
    """The form as an xlsx: sheet 1 the form (left half in A–D, right half in F–I, as on paper),
    sheet 2 the figures per 町丁目."""
    from openpyxl import Workbook  # only this file needs it
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "第4号様式その2"
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    ws["A1"] = form.title
    ws["A1"].font = Font(bold=True, size=14)
    row = 2
    for label, value in form.header:
        ws.cell(row, 1, label).font = Font(bold=True)
        ws.cell(row, 2, value)
        row += 1
    top = row + 1
    for col, heads in ((1, ("区分", "項目", "単位", "被害")), (6, ("区分", "項目", "単位", "被害"))):
        for i, head in enumerate(heads):
            cell = ws.cell(top, col + i, head)
            cell.font = Font(bold=True)
            cell.border = box
    for col, lines in ((1, form.left), (6, form.right)):
        r = top + 1
        for line in lines:
            for i, value in enumerate((line.group, line.label, line.unit, line.value)):
                cell = ws.cell(r, col + i, value)
                cell.border = box
                if i == 3 and isinstance(value, str):
                    cell.alignment = Alignment(wrap_text=True)
            r += 1
    for col, width in zip(range(1, 10), (12, 22, 8, 10, 2, 16, 34, 8, 44), strict=True):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True

    areas = wb.create_sheet("地区別")
    names = FIELDS
    areas.append(
        [
            "町丁目コード",
            "町丁目",
            "事案数",
            *[f"{GROUPS[f.group][0]} {f.row_ja}（{f.unit_ja}）" for f in names],
        ]
    )
    for area in form.areas:
        areas.append(
            [
                area["area_code"],
                area["area_name"],
                len(area["incident_ids"]),
                *[area["figures"][f.name] for f in names],
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
