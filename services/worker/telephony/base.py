"""The interface every telephony provider implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from aio_pika.abc import AbstractConnection

from shared.settings import Settings


@dataclass(frozen=True)
class DialRequest:
    call_id: UUID
    attempt_no: int
    campaign_id: UUID
    phone_number: str
    #: Ask the carrier to tell a person from a machine (the campaign's answeringMachine.detect).
    machine_detection: bool = False

    @property
    def idempotency_key(self) -> str:
        """One key per attempt: asking twice for the same attempt never places two calls."""
        return f"{self.call_id}:{self.attempt_no}"


@dataclass(frozen=True)
class HangUpRequest:
    """A live call to end now: the attempt, and the provider's id for its call."""

    call_id: UUID
    attempt_no: int
    campaign_id: UUID
    external_call_id: str


class TelephonyProvider(Protocol):
    """Places calls. Results come back later, through shared.repositories.endings.

    `place_call` returns the provider's id for the call, or raises ProviderUnavailable (not
    placed, may work later), ProviderRejected (never will, for this number) or
    ProviderOutcomeUnknown (sent, but no answer: it may have been placed).
    """

    name: str

    async def place_call(self, request: DialRequest) -> str: ...

    async def hang_up(self, request: HangUpRequest) -> None:
        """End a live call now (a machine answered it). Best effort: a call that has already
        ended is no error. Raises ProviderUnavailable when the provider could not be asked."""
        ...


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may use to connect: the settings, the worker's broker connection (for
    a carrier that speaks messages) and the worker's id (where its results are routed)."""

    settings: Settings
    connection: AbstractConnection
    worker_id: str


class ProviderConfigError(Exception):
    """The settings do not describe a usable provider: the worker refuses to start."""
