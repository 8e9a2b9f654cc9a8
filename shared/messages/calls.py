"""Messages about dialling: leases on lines for workers, and the signals that release them."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from shared.messages.base import Message


class LeaseLine(Message):
    """A lease on one of a campaign's lines: while a worker holds it, it dials the campaign's
    most urgent dialable numbers one after another on that line.

    The lease names the campaign, not a call: the worker picks each number at dial time, due
    retries first, so a queued lease never goes stale. Its `message_id` is recorded on the
    attempts it starts, which makes a redelivered lease recognisable.

    Before 2026-12 this message was called `PlaceCall`; leases published under that name may
    still wait in campaign queues after an upgrade, so it is still read (for one release).
    """

    type: Literal["LeaseLine", "PlaceCall"] = "LeaseLine"
    campaign_id: UUID
    #: Dial one call and give the line back, rather than holding it for a lease of several:
    #: for paced campaigns, whose rate the dispatcher keeps by how fast it sends leases.
    one_call: bool = False


class AttemptEnded(Message):
    """An attempt has its result (or timed out): the worker holding its lease may let go."""

    type: Literal["AttemptEnded"] = "AttemptEnded"
    campaign_id: UUID
    call_id: UUID
    attempt_no: int
