"""Layer import: files from departments into the layer tables (see docs/import.md)."""

from layers.importers.errors import ImportRejected, Problem
from layers.importers.pipeline import ImportResult, Target, get_target, import_file

__all__ = ["ImportRejected", "ImportResult", "Problem", "Target", "get_target", "import_file"]
