"""What the worker and a message-speaking carrier (the mock) say to each other."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field, field_validator

from shared.messages.base import Message


class DialCall(Message):
    """Ask the carrier to place a call. Same `idempotency_key`, same call: never a second one."""

    type: Literal["DialCall"] = "DialCall"
    call_id: UUID
    attempt_no: int
    campaign_id: UUID
    phone_number: str
    idempotency_key: str
    #: Routing key for the call's result: the id of the worker holding its job.
    result_route: str = ""
    #: Past this instant nobody waits for the answer: a carrier must not place the call (the
    #: request may have been held up in a network or a queue). The attempt's callback timeout
    #: runs from it, so a late request can never become a call beside the attempt's retry.
    expires_at: datetime | None = None
    #: Tell a person from a machine, and say which answered (answered_by). Defaults to false,
    #: so a request from a worker that predates it reads as before.
    machine_detection: bool = False


class DialAccepted(Message):
    type: Literal["DialAccepted"] = "DialAccepted"
    external_call_id: str


class DialRefused(Message):
    """The carrier did not place the call. `transient`: it may if asked again later."""

    type: Literal["DialRefused"] = "DialRefused"
    transient: bool
    status_code: int
    reason: str


ProviderStatus = Literal[
    "QUEUED",
    "INITIATED",
    "RINGING",
    "IN_PROGRESS",
    "COMPLETED",
    "BUSY",
    "NO_ANSWER",
    "FAILED",
    "CANCELLED",
]


class CallResultReported(Message):
    """A carrier's status callback, as a message."""

    type: Literal["CallResultReported"] = "CallResultReported"
    external_call_id: str
    status: ProviderStatus
    call_id: UUID | None = None
    attempt_no: int | None = None
    duration_seconds: int | None = Field(default=None, ge=0)
    failure_reason: str | None = None
    #: Who answered, in the carrier's words (human, machine_start...), when it detected it.
    #: Optional with a default, so results from a carrier that predates it still read.
    answered_by: str | None = Field(default=None, max_length=40)

    @field_validator("status", mode="before")
    @classmethod
    def _one_spelling(cls, value: Any) -> Any:
        # Carriers spell it CANCELED, and so did results sent before 2026-12 still queued.
        return "CANCELLED" if value == "CANCELED" else value


class HangUpCall(Message):
    """Hang up a live call now (a machine answered, and its campaign hangs up on machines).

    The api sends it to the worker holding the attempt (its signals queue), which asks its
    provider; a worker sends it to a message-speaking carrier. A hint: if it is lost, the call
    ends when the carrier ends it, with the same outcome.
    """

    type: Literal["HangUpCall"] = "HangUpCall"
    campaign_id: UUID
    call_id: UUID
    attempt_no: int
    external_call_id: str
