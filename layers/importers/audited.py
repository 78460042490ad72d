"""An import as every caller (API, CLI) makes it: the file into its layer, and the audit entry of the
outcome in the same transaction. A refused file is returned, not raised, so that the caller can commit
the refused run and its audit entry before it answers with the refusal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection

from common import audit
from layers.importers.errors import ImportRejected
from layers.importers.pipeline import ImportResult, Target, import_file


def import_and_audit(
    conn: Connection,
    target: Target,
    path: Path,
    *,
    layer: str,
    actor: str,
    name: str | None = None,
    fmt: str | None = None,
    mode: str = "upsert",
    hazard_type: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportResult | ImportRejected:
    try:
        result = import_file(conn, target, path, name=name, fmt=fmt, mode=mode, actor=actor,
                             hazard_type=hazard_type, progress=progress)  # fmt: skip
    except ImportRejected as e:
        audit.record(conn, actor, "layer.import_rejected", layer, import_run_id=e.run_id, reason=e.code)
        return e
    audit.record(conn, actor, "layer.import", layer, import_run_id=result.run_id, counts=result.counts)
    return result
