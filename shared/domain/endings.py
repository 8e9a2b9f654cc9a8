"""What an attempt's ending means for its call and its campaign, decided without a database.

A provider's result (a message from the mock, an HTTP callback), the watchdog's timeout and the
worker's own verdict on a dial all end attempts through shared.repositories.endings, which
reads each attempt as an `AttemptState`, asks `decide` what the ending changes, and writes the
answer. The rules decided here: duplicates change nothing, a final state never regresses, and a
real success that arrives after the watchdog timed the attempt out is still recorded and
withdraws the retry that the timeout scheduled, if that retry has not been dialled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from shared.domain.answering_machine import (
    MACHINE_REASON,
    NO_DETECTION,
    AnsweringMachine,
    OnMachine,
    answered_by,
)
from shared.domain.attempts import AttemptRef
from shared.domain.retry_policy import RetryConfig, after_attempt
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus
from shared.messages.telephony import ProviderStatus

TIMEOUT_REASON = "no result within callbackTimeoutMs"

_FINAL_PROVIDER_STATUSES: dict[str, AttemptOutcome] = {
    "COMPLETED": AttemptOutcome.COMPLETED,
    "BUSY": AttemptOutcome.BUSY,
    "NO_ANSWER": AttemptOutcome.NO_ANSWER,
    "FAILED": AttemptOutcome.FAILED,
    "CANCELLED": AttemptOutcome.CANCELLED,
}

#: Call states a late success may overturn: those the watchdog's timeout can lead to.
_OVERTURNED_BY_LATE_SUCCESS = frozenset(
    {CallStatus.FAILED, CallStatus.PERMANENTLY_FAILED, CallStatus.CANCELLED}
)


def outcome_of(status: ProviderStatus) -> AttemptOutcome | None:
    """The attempt outcome a provider status means; None for progress (queued, ringing...)."""
    return _FINAL_PROVIDER_STATUSES.get(status)


@dataclass(frozen=True)
class Ending:
    """How an attempt ended. `outcome` None means no result came in time."""

    outcome: AttemptOutcome | None
    reason: str | None = None
    duration_seconds: int | None = None
    external_call_id: str | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None


@dataclass(frozen=True)
class ProviderReport:
    """A provider's status for one attempt, however it reached us."""

    external_call_id: str
    status: ProviderStatus
    ref: AttemptRef | None = None
    duration_seconds: int | None = None
    failure_reason: str | None = None
    answered_by: str | None = None
    sip_response_code: int | None = None


def ending_of_report(report: ProviderReport) -> Ending | None:
    """The ending a provider's report means; None if it reports progress, not a result."""
    outcome = outcome_of(report.status)
    if outcome is None:
        return None
    reason = report.failure_reason
    if outcome is not AttemptOutcome.COMPLETED and not reason:
        reason = outcome.value
    return Ending(
        outcome,
        reason,
        report.duration_seconds,
        report.external_call_id,
        report.answered_by,
        report.sip_response_code,
    )


@dataclass(frozen=True)
class EndEffect:
    """What ending an attempt changed, for the caller to tell the worker and the dispatcher."""

    ref: AttemptRef
    campaign_id: UUID
    #: The worker holding the attempt's job.
    worker_id: str
    #: False for a duplicate: nothing changed.
    applied: bool
    #: True if the attempt held a line until now: its job may be acknowledged.
    released_line: bool
    call_status: CallStatus | None
    #: The carrier's id of a live call that a machine answered under a campaign that hangs up
    #: on machines: the provider must be told to hang up (a progress report's effect).
    machine_hang_up: str | None = None


@dataclass(frozen=True)
class AttemptState:
    """An attempt as read before it is ended, with what its call and campaign were then."""

    campaign_id: UUID
    worker_id: str
    outcome: AttemptOutcome | None
    timed_out_at: datetime | None
    call_status: CallStatus
    #: The number of the call's latest attempt: this one, unless a retry has started since.
    call_attempt_count: int
    dial_count: int
    campaign_status: CampaignStatus
    retry: RetryConfig
    answering_machine: AnsweringMachine = NO_DETECTION
    #: Who answered, as a progress report already said (normalised; None if nobody said).
    answered_by: str | None = None

    @property
    def is_open(self) -> bool:
        """Neither a result nor a timeout yet: the attempt still holds its line."""
        return self.outcome is None and self.timed_out_at is None

    def unchanged(self, ref: AttemptRef) -> EndEffect:
        """The effect of an ending that changes nothing (a duplicate)."""
        return EndEffect(ref, self.campaign_id, self.worker_id, False, False, None)


@dataclass(frozen=True)
class CallChange:
    """The call's new state after an ending."""

    status: CallStatus
    next_retry_at: datetime | None
    dial_count: int
    failure_reason: str | None
    duration_seconds: int | None
    #: The call must still be in this status (a late result must not overtake a retry).
    expected_status: CallStatus | None = None
    #: Who answered this attempt (normalised), shown on the call as its latest.
    answered_by: str | None = None


@dataclass(frozen=True)
class EndingPlan:
    """One ending, decided against the attempt as it was read, ready to be written."""

    ref: AttemptRef
    ending: Ending
    seen: AttemptState
    #: The attempt held a line until now; the ending gives it back.
    releases_line: bool
    #: None: the call stays as it is (a late failure, or a retry has started since).
    change: CallChange | None

    def effect(self) -> EndEffect:
        """What the plan changed, once written."""
        return EndEffect(
            self.ref,
            self.seen.campaign_id,
            self.seen.worker_id,
            True,
            self.releases_line,
            self.change.status if self.change else None,
        )


def decide(
    ref: AttemptRef, ending: Ending, seen: AttemptState, now: datetime, jitter_draw: float = 0.0
) -> EndingPlan | None:
    """What this ending should write, or None if it changes nothing (a duplicate).
    `jitter_draw` (uniform in [-1, 1], drawn by the caller) spreads a retry's time."""
    timing_out = ending.outcome is None
    if (timing_out and not seen.is_open) or (not timing_out and seen.outcome is not None):
        return None
    ending = with_answer(ending, seen)
    is_current = seen.call_attempt_count == ref.attempt_no
    change: CallChange | None = None
    if seen.is_open and is_current:
        change = next_call_state(seen, ending, now, jitter_draw)
    elif seen.answering_machine.completes(ending.outcome) and is_current:
        # A late real success after the watchdog gave up: the retry it scheduled has not been
        # dialled (this is still the call's latest attempt), so withdraw it.
        change = late_completion(seen, ending)
    return EndingPlan(ref, ending, seen, seen.is_open, change)


def with_answer(ending: Ending, seen: AttemptState) -> Ending:
    """The ending with who answered in our words (this report's, else an earlier progress
    report's), and, when the campaign detects machines and one answered, outcome MACHINE."""
    if ending.outcome is None:
        return ending
    who = answered_by(ending.answered_by) or answered_by(seen.answered_by)
    ending = replace(ending, answered_by=who.value if who else None)
    outcome = seen.answering_machine.outcome(ending.outcome, who)
    if outcome is ending.outcome:
        return ending
    completes = seen.answering_machine.on_machine is OnMachine.COMPLETE
    return replace(ending, outcome=outcome, reason=None if completes else MACHINE_REASON)


def next_call_state(
    seen: AttemptState, ending: Ending, now: datetime, jitter_draw: float = 0.0
) -> CallChange:
    """The call's state after its latest, open attempt ends with `ending`."""
    # A call that never reached the provider does not count as a dial.
    dials = seen.dial_count - (1 if ending.outcome is AttemptOutcome.NOT_PLACED else 0)
    step = after_attempt(
        ending.outcome,
        dials,
        seen.retry,
        now,
        campaign_cancelled=seen.campaign_status is CampaignStatus.CANCELLED,
        jitter_draw=jitter_draw,
        on_machine=seen.answering_machine.on_machine,
    )
    failure = None
    if step.status is not CallStatus.COMPLETED:
        failure = ending.reason or (ending.outcome.value if ending.outcome else TIMEOUT_REASON)
    return CallChange(
        step.status,
        step.next_retry_at,
        dials,
        failure,
        ending.duration_seconds,
        answered_by=ending.answered_by,
    )


def late_completion(seen: AttemptState, ending: Ending) -> CallChange | None:
    """A success reported after the attempt timed out: the call becomes completed, unless it
    already is (or is in progress again)."""
    if seen.call_status not in _OVERTURNED_BY_LATE_SUCCESS:
        return None
    return CallChange(
        CallStatus.COMPLETED,
        None,
        seen.dial_count,
        None,
        ending.duration_seconds,
        expected_status=seen.call_status,
        answered_by=ending.answered_by,
    )
