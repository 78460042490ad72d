from __future__ import annotations


class StackError(RuntimeError):
    """A problem the person running the stack can fix; the message says how (Japanese, then English)."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja}\n{en}")
        self.ja = ja
        self.en = en
