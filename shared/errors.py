"""The error hierarchy: transient errors may succeed when tried again, permanent ones never will.

The HTTP middleware maps these to problem+json responses; the AMQP consumer maps them to an
acknowledgement policy. Those two places are the only ones that catch broad exceptions.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error the services raise on purpose."""

    #: A stable, documented identifier (the suffix of the problem+json `type`).
    code = "service-error"
    #: The HTTP status the api answers with.
    http_status = 500

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class TransientError(ServiceError):
    """May succeed later: a dependency is down, busy or slow."""

    code = "temporarily-unavailable"
    http_status = 503


class PermanentError(ServiceError):
    """Will fail again the same way: bad input, a state that forbids the action."""

    code = "bad-request"
    http_status = 400


class NotFound(PermanentError):
    code = "not-found"
    http_status = 404


class InvalidInput(PermanentError):
    """The request is well-formed but its content breaks a rule."""

    code = "validation-error"
    http_status = 422


class Unauthorized(PermanentError):
    """Missing or wrong credentials: an API key, or a callback's signature."""

    code = "unauthorized"
    http_status = 401


class UnsupportedMediaType(PermanentError):
    code = "unsupported-media-type"
    http_status = 415


class Forbidden(PermanentError):
    """Credentials that do not grant the request: a carrier callback's wrong signature."""

    code = "forbidden"
    http_status = 403


class Conflict(PermanentError):
    """The resource's current state forbids the action (starting a finished campaign)."""

    code = "conflict"
    http_status = 409


class ProviderError(ServiceError):
    """The telephony provider refused or failed a request."""


class ProviderUnavailable(ProviderError, TransientError):
    """The provider did not place the call and may later: 5xx, 429, connection refused."""

    code = "provider-unavailable"


class ProviderOutcomeUnknown(ProviderError, TransientError):
    """The request was sent but no answer came: the call may have been placed."""

    code = "provider-outcome-unknown"


class ProviderRejected(ProviderError, PermanentError):
    """The provider refused this call for good (an invalid or blocked number)."""

    code = "provider-rejected"


class Gone(PermanentError):
    """What was asked for existed and is kept no more (an event past its retention)."""

    code = "gone"
    http_status = 410
