"""`gisapp import` / `gisapp export` commands (owned by the import work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the import/export commands to the main CLI."""
