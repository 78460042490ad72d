"""The Japanese font of printed maps, embedded so the PDF prints the same on any machine.

IPA ゴシック (Debian fonts-ipafont-gothic, installed by scripts/install-debs.sh) is a TrueType font
that reportlab embeds as a subset of the glyphs used; without it, the CID font HeiseiKakuGo-W5 is
named instead (every Japanese PDF reader has it, but it is not embedded, so the output may differ).
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

CANDIDATES = (
    Path("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf"),
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
)
FALLBACK = "HeiseiKakuGo-W5"
_lock = threading.Lock()


@cache
def _registered() -> tuple[str, bool]:
    for path in CANDIDATES:
        if path.is_file():
            try:
                pdfmetrics.registerFont(TTFont("GisappGothic", str(path)))
            except Exception:  # a broken font file: try the next one
                continue
            return "GisappGothic", True
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK))
    return FALLBACK, False


def font() -> tuple[str, bool]:
    """(font name, embedded?) — registered once per process (reading the TTF takes ~0.2 s)."""
    with _lock:
        return _registered()
