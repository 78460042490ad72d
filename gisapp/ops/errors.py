"""Errors of HQ operations, each with its HTTP status (answered by the app's one handler)."""

from __future__ import annotations

from layers.errors import UserError


class OpsError(UserError):
    """Of HQ operations."""


class OpsNotFound(OpsError):
    status, code = 404, "not_found"


class OpsConflict(OpsError):
    """The state changed meanwhile (stale version), or a unit is already busy."""

    status, code = 409, "conflict"


class OpsInvalid(OpsError):
    status, code = 422, "invalid_input"


class PreconditionRequired(OpsError):
    status, code = 428, "precondition_required"
