"""Domain errors, mapped to HTTP in one place (service/errors.py).

    DomainError                 400  base: a business rule refused the request
    ├── InvalidValue            422  a well-formed value the stored state makes invalid
    ├── NotFound                404  no such site, article, comment (or not yours)
    ├── Conflict                409  the state does not allow it (closed article, ...)
    │   └── InvalidTransition   409  a status change the lifecycle forbids
    ├── Unauthorized            401  missing or bad credentials
    └── Forbidden               403  credentials valid, action not allowed
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


class InvalidValue(DomainError):
    """Answered like the schema's own validation errors (422 with ``fields``): the value
    is refused only in combination with what is stored (hold above the stored reject)."""

    status = 422
    code = "validation_error"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
