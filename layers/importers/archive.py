"""Unpacking uploaded ZIP archives without letting them unpack us (zip bombs).

A 1 MB ZIP holding a 1 GiB ``.shp`` once took the internal process from 0.4 to 2.4 GB. Three checks, all
answering 413 ``archive_too_large`` with nothing stored:

1. the number of entries, read from the end-of-central-directory record before ``zipfile`` builds one
   object per entry (a central directory of millions of entries is a memory bomb of its own);
2. the sizes the central directory declares: total unpacked size and each member's compression ratio;
3. the bytes actually written while extracting, counted in chunks, against the same limits, since a
   header can lie (``zipfile`` also stops at the declared size and then fails the CRC check).

Members are streamed to disk in chunks, never read whole into memory.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from layers.importers.errors import ImportRejected

# Settings-style constants (tests may lower them). A city's shapefile unpacks to at most a few hundred
# MB; DBF files full of padding compress well (20-100:1), a deflate bomb reaches ~1000:1.
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 200
RATIO_FLOOR = 1024 * 1024  # members smaller than this are not ratio-checked (tiny .prj, .cpg)
MAX_ENTRIES = 1000
CHUNK = 1024 * 1024

_EOCD = b"PK\x05\x06"


def too_large(ja: str, en: str) -> ImportRejected:
    return ImportRejected(
        f"アーカイブを展開すると大きすぎます（{ja}）。展開せずに取り込みを中止しました。何も保存していません。",
        f"The archive unpacks too large ({en}); it was not unpacked and nothing was stored.",
        code="archive_too_large",
    )


def check_entry_count(path: Path) -> None:
    """The entry count of the end-of-central-directory record (0xFFFF means ZIP64: too many, too)."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - 22 - 65535))
        tail = f.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) < at + 22:
        return  # not a ZIP: zipfile says so next
    entries = struct.unpack("<H", tail[at + 10 : at + 12])[0]
    if entries > MAX_ENTRIES:
        raise too_large(f"{entries:,} 個以上のファイル、上限 {MAX_ENTRIES:,} 個",
                        f"{entries:,} or more entries; the limit is {MAX_ENTRIES:,}")  # fmt: skip


def _ratio_too_high(unpacked: int, packed: int) -> bool:
    return unpacked > RATIO_FLOOR and unpacked > MAX_RATIO * max(packed, 1)


def check_declared(infos: list[zipfile.ZipInfo]) -> None:
    """What the central directory declares, before anything is unpacked."""
    total = sum(i.file_size for i in infos)
    if total > MAX_UNPACKED_BYTES:
        raise too_large(f"展開後 {total:,} バイト、上限 {MAX_UNPACKED_BYTES:,} バイト",
                        f"{total:,} bytes unpacked; the limit is {MAX_UNPACKED_BYTES:,} bytes")  # fmt: skip
    for i in infos:
        if _ratio_too_high(i.file_size, i.compress_size):
            raise _ratio(i.file_size, i.compress_size)


def _ratio(unpacked: int, packed: int) -> ImportRejected:
    ratio = unpacked // max(packed, 1)
    return too_large(
        f"圧縮率 {ratio:,}:1、上限 {MAX_RATIO}:1",
        f"compression ratio {ratio:,}:1; the limit is {MAX_RATIO}:1",
    )


class Budget:
    """Bytes written so far across the archive (``capped=False``: counted, never refused)."""

    def __init__(self, capped: bool = True) -> None:
        self.capped, self.written = capped, 0


def extract(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, budget: Budget) -> int:
    """Stream one member to ``dest`` in chunks, counting what is really unpacked; the bytes written."""
    written = 0
    with zf.open(info) as src, dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            budget.written += len(chunk)
            if budget.capped:
                if budget.written > MAX_UNPACKED_BYTES:
                    raise too_large(f"展開後 {budget.written:,} バイト超、上限 {MAX_UNPACKED_BYTES:,} バイト",
                                    f"over {budget.written:,} bytes unpacked; the limit is {MAX_UNPACKED_BYTES:,}")  # fmt: skip
                if _ratio_too_high(written, info.compress_size):
                    raise _ratio(written, info.compress_size)
            out.write(chunk)
    return written
