"""Campaign, call and attempt states, with the names the seed's API used."""

from __future__ import annotations

from enum import StrEnum


class CampaignStatus(StrEnum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_CAMPAIGN_STATUSES


FINAL_CAMPAIGN_STATUSES = frozenset(
    {CampaignStatus.COMPLETED, CampaignStatus.FAILED, CampaignStatus.CANCELLED}
)


class CallStatus(StrEnum):
    PENDING = "PENDING"
    #: An attempt is recorded and the dial request is on its way to the provider.
    SCHEDULED = "SCHEDULED"
    #: The provider accepted the call; its result has not come yet.
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    #: The last attempt failed and a retry waits for `next_retry_at`.
    FAILED = "FAILED"
    PERMANENTLY_FAILED = "PERMANENTLY_FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_CALL_STATUSES


FINAL_CALL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.PERMANENTLY_FAILED, CallStatus.CANCELLED}
)


class AttemptOutcome(StrEnum):
    """How one attempt ended, as the provider reported it or as we decided."""

    COMPLETED = "COMPLETED"
    BUSY = "BUSY"
    NO_ANSWER = "NO_ANSWER"
    FAILED = "FAILED"
    #: Answered by a machine (or a fax), under a campaign that asked for detection; what it
    #: does to the call is the campaign's onMachine (shared.domain.answering_machine).
    MACHINE = "MACHINE"
    #: The provider refused the number for good (invalid, blocked): never retried.
    REJECTED = "REJECTED"
    #: The provider was unavailable and never placed the call: the attempt is not counted.
    NOT_PLACED = "NOT_PLACED"
    CANCELLED = "CANCELLED"
