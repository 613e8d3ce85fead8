"""Expected failures of the audit app; config.api_errors turns them into API responses.

Subclasses set a stable `code` (snake_case, never renamed once released), may set
`http_status` for the API handler, and put structured facts in `detail`.
"""

from __future__ import annotations

from typing import ClassVar

from django.utils.functional import Promise

from config.errors import ProjectError

from django.utils.translation import gettext_lazy as _


class AuditError(ProjectError):
    """Root of audit failures expected in normal operation (bugs raise something else)."""

    code: ClassVar[str] = "audit_error"
    default_message: ClassVar[str | Promise] = "Audit operation failed."


class ElectionNotObservable(AuditError):
    """No election with this id that the user observes (a missing one and a forbidden one look alike)."""

    code: ClassVar[str] = "election_not_observable"
    http_status: ClassVar[int] = 404
    default_message: ClassVar[str | Promise] = _("No election with this id that you may observe.")


class SignInRequired(AuditError):
    """The observer dashboard is for signed-in observers and officials."""

    code: ClassVar[str] = "sign_in_required"
    http_status: ClassVar[int] = 401
    default_message: ClassVar[str | Promise] = _("Sign in as an observer or official of this election.")
