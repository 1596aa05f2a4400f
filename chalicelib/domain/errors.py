"""Errors of the broker's own, raised by services and adapters and mapped to HTTP at the edge.

The API layer turns each into the Leostream error body (`error_status`, `error_message`,
`errors[{path, message}]`); nothing below the API knows about HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One bad field: `path` is a JSON pointer into the request (`/body/provision/center/image`),
    `message` says what is wrong."""

    path: str
    message: str


class BrokerError(Exception):
    """Base of every error the broker raises on purpose."""

    status = "ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadData(BrokerError):
    status = "BAD_DATA"

    def __init__(self, message: str, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    @classmethod
    def field(cls, path: str, message: str) -> BadData:
        return cls(f"{path}: {message}", [FieldError(path, message)])


class NotFound(BrokerError):
    status = "NOT_FOUND"


class NotUnique(BrokerError):
    """A value that must be unique is taken; `path` names the body field (`name` or `/body/name`)."""

    status = "NOT_UNIQUE"

    def __init__(self, message: str, path: str = "name") -> None:
        super().__init__(message)
        self.field = path.rsplit("/", 1)[-1]  # the reference's `items`
        self.errors = [FieldError(path if path.startswith("/") else f"/body/{path}", message)]


class Conflict(BrokerError):
    status = "CONFLICT"


class Unauthorized(BrokerError):
    status = "UNAUTHORIZED"


class InvalidCredentials(Unauthorized):
    """Wrong user name or password: one answer for both, so logins cannot probe for users."""

    status = "INVALID_CREDENTIALS"


class InsufficientPermissions(BrokerError):
    status = "INSUFFICIENT_PERMISSIONS"


class TooManyAttempts(BrokerError):
    """Login locked out for a while; `retry_after` is in seconds."""

    status = "TOO_MANY_ATTEMPTS"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginBusy(TooManyAttempts):
    """Not a lockout: every attempt slot of the window is taken by logins still being checked (a shared
    account's logins at one moment); the wait is short."""

    status = "LOGIN_BUSY"


class ServiceUnavailable(BrokerError):
    """A dependency (LDAP, the cloud, the queue) cannot be reached; the caller may retry."""

    status = "SERVICE_UNAVAILABLE"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class ErrorList:
    """Collects field errors so a request reports all of its problems at once."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path, message))

    def raise_if_any(self, message: str = "Invalid data") -> None:
        if self.errors:
            raise BadData(message, list(self.errors))
