"""CSV cells a spreadsheet will not run (OWASP "CSV injection").

Excel and LibreOffice treat a cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as
a formula: ``=HYPERLINK("http://evil","click")`` from an anonymous citizen report would become a live link
in the HQ's incident list. Every CSV the platform writes passes its cells through ``neutralise``: such a
string gets a leading ``'`` (shown as text, the quote itself hidden by spreadsheets). Numbers stay numbers:
a number, or a string that is just a decimal number such as ``-2.5`` (an elevation below sea level), is
written as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: Any) -> Any:
    """The cell as it is safe to write: a risky string prefixed with ``'``, anything else unchanged."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def row(values: Iterable[Any]) -> list[Any]:
    return [neutralise(v) for v in values]


def restore(value: str) -> str:
    """The inverse for a CSV we wrote and read back (the shelter export): drops the ``'`` only when
    ``neutralise`` would have put it there, so importing our own export gives the stored text."""
    if value.startswith("'") and neutralise(value[1:]) == value:
        return value[1:]
    return value
