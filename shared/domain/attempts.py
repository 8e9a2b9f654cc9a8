"""What the services say about one attempt at a call: its key, the rules it is dialled under,
and how starting it went."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from uuid import UUID

from shared.domain.answering_machine import NO_DETECTION, AnsweringMachine
from shared.domain.retry_policy import RetryConfig


@dataclass(frozen=True)
class AttemptRef:
    """One attempt: the call and the attempt's number within it (1 for the first dial)."""

    call_id: UUID
    attempt_no: int


@dataclass(frozen=True)
class DialRules:
    """What a worker checks before dialling for a campaign, as of one settings version."""

    campaign_id: UUID
    version: int
    retry: RetryConfig
    answering_machine: AnsweringMachine = NO_DETECTION


@dataclass(frozen=True)
class StartedAttempt:
    """An attempt recorded and holding a line, ready to be dialled."""

    ref: AttemptRef
    campaign_id: UUID
    phone_number: str
    retry: RetryConfig
    #: The campaign's settings_version the attempt was started under.
    settings_version: int
    #: Ask the carrier to tell a person from a machine (the campaign's answeringMachine.detect).
    machine_detection: bool = False


class NoDial(Enum):
    """Why a job started no attempt. The job is dropped (the dispatcher issues new ones),
    except for JOB_STARTED: the job waits for the attempt it already has, and NUMBERS_BARRED:
    the job claims again."""

    NO_FREE_LINE = "campaign not running, or all its lines busy"
    #: Also: no number the calling rules allow now.
    NOTHING_TO_DIAL = "no number is due"
    RULES_CHANGED = "the campaign's settings changed since they were read"
    JOB_STARTED = "this job (a redelivery) has an attempt that has not ended"
    #: The numbers the claim took were suppressed, and ended so: others may be due.
    NUMBERS_BARRED = "the numbers taken were on a do-not-call list"
