"""What an import can report back: problems with single rows, and the whole file being refused."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from common.errors import InvalidInput, error_body


@dataclass(frozen=True)
class Problem:
    """One rejected or repaired row/feature (1-based, in the order of the source file)."""

    row: int
    reason_ja: str
    reason_en: str
    key: str | None = None

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


class ImportRejected(InvalidInput):
    """The file was refused and nothing was stored. ``rejected`` lists every row refused, if any.

    Part of the one error model: answered as 422 (413 for a file or archive over the size limits),
    with ``reason`` (the specific cause, also ``.code`` here) and the refused rows."""

    def __init__(
        self, ja: str, en: str, rejected: list[Problem] | None = None, *, code: str = "import_rejected"
    ) -> None:
        super().__init__(ja, en)
        self.code = code
        self.rejected = rejected or []
        self.run_id: int | None = None  # set once the refused run is recorded
        if code in TOO_LARGE:
            self.status = 413

    def body(self) -> dict:
        out: dict = {"reason": self.code, "rejected": [p.as_json() for p in self.rejected]}
        if self.run_id is not None:
            out["import_run_id"] = self.run_id
        code = self.code if self.status == 413 else "invalid_input"
        return error_body(code, self.ja, self.en, **out)


TOO_LARGE = frozenset({"file_too_large", "archive_too_large"})


def rows_rejected(rejected: list[Problem]) -> ImportRejected:
    n = len(rejected)
    return ImportRejected(
        f"{n} 件の行・地物を取り込めないため、ファイル全体を取り込みませんでした（何も保存していません）。",
        f"{n} row(s)/feature(s) could not be imported, so the file was not imported (nothing was stored).",
        sorted(rejected, key=lambda p: p.row),
        code="rows_rejected",
    )
