"""Errors of HQ operations, on the platform's one error model (``common.errors``)."""

from __future__ import annotations

from common.errors import Conflict, Forbidden, InvalidInput, NotFound, UserError
from common.errors import PreconditionRequired as _PreconditionRequired


class OpsError(UserError):
    """Of HQ operations."""


class OpsNotFound(OpsError, NotFound):
    pass


class OpsConflict(OpsError, Conflict):
    """The state changed meanwhile (stale version), or a unit is already busy."""


class OpsInvalid(OpsError, InvalidInput):
    pass


class OpsForbidden(OpsError, Forbidden):
    pass


class PreconditionRequired(OpsError, _PreconditionRequired):
    pass
