"""The chronology as CSV, oldest first (a record reads from the start of the day): UTF-8 with a BOM so
Excel opens the Japanese, times in JST as Excel reads them, headers in Japanese or English. Cells
are neutralised against formula injection (``common.csvsafe``): a note is free text."""

from __future__ import annotations

import csv
import io
from typing import Any
from zoneinfo import ZoneInfo

from common import csvsafe

JST = ZoneInfo("Asia/Tokyo")
MAX_ROWS = 50_000

HEADERS = {
    "ja": ["日時", "種別", "内容", "記録者", "事案", "避難所", "部署", "無線機", "警戒レベル", "記録番号"],
    "en": ["Time (JST)", "Kind", "Summary", "Recorded by", "Incident", "Shelter", "Department", "Radio unit",
           "Alert level", "Entry no."],
}  # fmt: skip


def _row(e: dict[str, Any], lang: str) -> list[Any]:
    en = lang == "en"
    return [
        e["at"].astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
        e["kind_en"] if en else e["kind_ja"],
        (e["summary_en"] or e["summary_ja"]) if en else e["summary_ja"],
        e["actor_name"],
        f"#{e['incident_id']}" if e["incident_id"] else "",
        e["shelter_name"] or "",
        (e["department_en"] if en else e["department_ja"]) or "",
        e["unit_id"] or "",
        e["level"] if e["level"] is not None else "",
        e["id"],
    ]


def to_csv(entries: list[dict[str, Any]], lang: str = "ja") -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS["en" if lang == "en" else "ja"])
    for e in entries:
        writer.writerow(csvsafe.row(_row(e, lang)))
    return out.getvalue().encode()
