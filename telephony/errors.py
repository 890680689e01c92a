"""Domain errors; the routes map each to an HTTP status and a JSON body a person can act on."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **detail: Any):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.detail = detail


class InvalidRequest(DomainError):
    status = 400
    code = "invalid_request"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class TelephonyFailure(DomainError):
    """Twilio refused or could not be reached; nothing was left half-done. `transient`: Twilio
    itself failed (unreachable, timed out, 5xx), so the same request may work later."""

    status = 502
    code = "telephony_failure"

    def __init__(self, message: str, *, transient: bool = False, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.transient = transient
