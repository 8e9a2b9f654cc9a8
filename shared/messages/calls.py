"""Messages about dialling: jobs for workers and the signals that release them."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from shared.messages.base import Message


class PlaceCall(Message):
    """One line's worth of work for a campaign: dial its most urgent dialable number.

    The job names the campaign, not the call: the worker picks the number at dial time, due
    retries first, so a queued job never goes stale. Its `message_id` is recorded on the
    attempt it starts, which makes a redelivered job recognisable.
    """

    type: Literal["PlaceCall"] = "PlaceCall"
    campaign_id: UUID
    #: Dial one call and give the line back, rather than holding it for a lease of several:
    #: for paced campaigns, whose rate the dispatcher keeps by how fast it sends jobs.
    one_call: bool = False


class AttemptEnded(Message):
    """An attempt has its result (or timed out): the worker holding its job may let go."""

    type: Literal["AttemptEnded"] = "AttemptEnded"
    campaign_id: UUID
    call_id: UUID
    attempt_no: int
