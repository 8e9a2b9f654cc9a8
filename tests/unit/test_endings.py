"""What an ending means for its call, decided without a database (shared.domain.endings)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import get_args
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.answering_machine import OnMachine
from shared.domain.attempts import AttemptRef
from shared.domain.endings import (
    TIMEOUT_REASON,
    AttemptState,
    Ending,
    ProviderReport,
    decide,
    ending_of_report,
    outcome_of,
)
from shared.domain.retry_policy import OutcomeRetry, RetryConfig, RetryOutcome
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus
from shared.messages.telephony import ProviderStatus

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CAMPAIGN = UUID(int=7)
REF = AttemptRef(UUID(int=1), 2)
RETRY = RetryConfig(
    max_retries=2,
    sync_initial_backoff_ms=10,
    sync_backoff_multiplier=2.0,
    callback_retry_delay_ms=60_000,
    callback_timeout_ms=120_000,
)


def open_attempt(**changes: object) -> AttemptState:
    """The call's latest attempt, dialled (its second dial) and waiting for its result."""
    state = AttemptState(
        campaign_id=CAMPAIGN,
        worker_id="w1",
        outcome=None,
        timed_out_at=None,
        call_status=CallStatus.IN_PROGRESS,
        call_attempt_count=REF.attempt_no,
        dial_count=2,
        campaign_status=CampaignStatus.IN_PROGRESS,
        retry=RETRY,
    )
    return replace(state, **changes)  # type: ignore[arg-type]


def timed_out(call_status: CallStatus = CallStatus.FAILED, **changes: object) -> AttemptState:
    """The attempt after the watchdog gave up on it and moved its call on."""
    return open_attempt(timed_out_at=NOW - timedelta(minutes=1), call_status=call_status, **changes)


# -- provider statuses ------------------------------------------------------------------------

EXPECTED_OUTCOMES: dict[str, AttemptOutcome | None] = {
    "QUEUED": None,
    "INITIATED": None,
    "RINGING": None,
    "IN_PROGRESS": None,
    "COMPLETED": AttemptOutcome.COMPLETED,
    "BUSY": AttemptOutcome.BUSY,
    "NO_ANSWER": AttemptOutcome.NO_ANSWER,
    "FAILED": AttemptOutcome.FAILED,
    "CANCELLED": AttemptOutcome.CANCELLED,
}


def test_every_provider_status_is_expected() -> None:
    assert set(get_args(ProviderStatus)) == set(EXPECTED_OUTCOMES)


@pytest.mark.parametrize("status", get_args(ProviderStatus))
def test_provider_status_means_an_outcome_or_progress(status: ProviderStatus) -> None:
    assert outcome_of(status) is EXPECTED_OUTCOMES[status]
    ending = ending_of_report(ProviderReport("ext-1", status, duration_seconds=5))
    if EXPECTED_OUTCOMES[status] is None:
        assert ending is None
    else:
        assert ending is not None
        assert ending.outcome is EXPECTED_OUTCOMES[status]
        assert ending.external_call_id == "ext-1"
        assert ending.duration_seconds == 5


def test_a_failure_report_without_reason_gets_its_outcome_as_reason() -> None:
    assert ending_of_report(ProviderReport("x", "BUSY")) == Ending(
        AttemptOutcome.BUSY, "BUSY", external_call_id="x"
    )
    failed = ending_of_report(ProviderReport("x", "FAILED", failure_reason="SIP 503"))
    assert failed is not None and failed.reason == "SIP 503"
    completed = ending_of_report(ProviderReport("x", "COMPLETED", answered_by="human"))
    assert completed is not None and completed.reason is None
    assert completed.answered_by == "human"


# -- an open attempt ends ---------------------------------------------------------------------


def test_success_completes_the_call_and_frees_the_line() -> None:
    plan = decide(REF, Ending(AttemptOutcome.COMPLETED, duration_seconds=30), open_attempt(), NOW)
    assert plan is not None and plan.change is not None
    assert plan.releases_line
    assert plan.change.status is CallStatus.COMPLETED
    assert plan.change.failure_reason is None
    assert plan.change.duration_seconds == 30
    assert plan.change.next_retry_at is None
    assert plan.change.expected_status is None
    effect = plan.effect()
    assert (effect.ref, effect.campaign_id, effect.worker_id) == (REF, CAMPAIGN, "w1")
    assert effect.applied and effect.released_line
    assert effect.call_status is CallStatus.COMPLETED


@pytest.mark.parametrize(
    "outcome", [AttemptOutcome.BUSY, AttemptOutcome.NO_ANSWER, AttemptOutcome.FAILED]
)
def test_a_failure_with_retries_left_schedules_a_retry(outcome: AttemptOutcome) -> None:
    plan = decide(REF, Ending(outcome, outcome.value), open_attempt(dial_count=2), NOW)
    assert plan is not None and plan.change is not None
    assert plan.change.status is CallStatus.FAILED
    assert plan.change.next_retry_at == NOW + timedelta(milliseconds=RETRY.callback_retry_delay_ms)
    assert plan.change.failure_reason == outcome.value
    assert plan.change.dial_count == 2


def test_retries_exhausted_fail_the_call_for_good() -> None:
    seen = open_attempt(dial_count=RETRY.max_retries + 1)
    plan = decide(REF, Ending(AttemptOutcome.NO_ANSWER, "NO_ANSWER"), seen, NOW)
    assert plan is not None and plan.change is not None
    assert plan.change.status is CallStatus.PERMANENTLY_FAILED
    assert plan.change.next_retry_at is None


def test_a_timeout_is_a_failure_with_the_timeout_reason() -> None:
    plan = decide(REF, Ending(None), open_attempt(), NOW)
    assert plan is not None and plan.change is not None
    assert plan.releases_line
    assert plan.change.status is CallStatus.FAILED
    assert plan.change.failure_reason == TIMEOUT_REASON


def test_a_rejected_number_is_never_retried() -> None:
    plan = decide(REF, Ending(AttemptOutcome.REJECTED, "invalid"), open_attempt(dial_count=1), NOW)
    assert plan is not None and plan.change is not None
    assert plan.change.status is CallStatus.PERMANENTLY_FAILED
    assert plan.change.failure_reason == "invalid"


def test_a_call_never_placed_gives_its_dial_back() -> None:
    first = decide(REF, Ending(AttemptOutcome.NOT_PLACED), open_attempt(dial_count=1), NOW)
    assert first is not None and first.change is not None
    assert first.change.dial_count == 0
    assert first.change.status is CallStatus.PENDING
    later = decide(REF, Ending(AttemptOutcome.NOT_PLACED), open_attempt(dial_count=3), NOW)
    assert later is not None and later.change is not None
    assert later.change.dial_count == 2
    assert later.change.status is CallStatus.FAILED
    assert later.change.next_retry_at == NOW


def test_a_failure_in_a_cancelled_campaign_cancels_the_call() -> None:
    seen = open_attempt(campaign_status=CampaignStatus.CANCELLED)
    plan = decide(REF, Ending(AttemptOutcome.BUSY, "BUSY"), seen, NOW)
    assert plan is not None and plan.change is not None
    assert plan.change.status is CallStatus.CANCELLED


def test_an_attempt_a_retry_has_overtaken_changes_no_call() -> None:
    seen = open_attempt(call_attempt_count=REF.attempt_no + 1)
    plan = decide(REF, Ending(AttemptOutcome.COMPLETED), seen, NOW)
    assert plan is not None
    assert plan.change is None
    assert plan.releases_line


# -- duplicates and late results --------------------------------------------------------------


@pytest.mark.parametrize("outcome", [*AttemptOutcome, None])
def test_a_second_ending_of_an_ended_attempt_changes_nothing(
    outcome: AttemptOutcome | None,
) -> None:
    ended = open_attempt(outcome=AttemptOutcome.BUSY, call_status=CallStatus.FAILED)
    assert decide(REF, Ending(outcome), ended, NOW) is None
    effect = ended.unchanged(REF)
    assert not effect.applied and not effect.released_line and effect.call_status is None


def test_a_second_timeout_changes_nothing() -> None:
    assert decide(REF, Ending(None), timed_out(), NOW) is None


@pytest.mark.parametrize(
    "status", [CallStatus.FAILED, CallStatus.PERMANENTLY_FAILED, CallStatus.CANCELLED]
)
def test_late_success_after_a_timeout_completes_the_call(status: CallStatus) -> None:
    success = Ending(AttemptOutcome.COMPLETED, duration_seconds=12)
    plan = decide(REF, success, timed_out(status), NOW)
    assert plan is not None and plan.change is not None
    assert not plan.releases_line  # the timeout gave the line back already
    assert plan.change.status is CallStatus.COMPLETED
    assert plan.change.expected_status is status  # unless a retry started meanwhile
    assert plan.change.next_retry_at is None
    assert plan.change.failure_reason is None
    assert plan.change.dial_count == 2
    assert plan.change.duration_seconds == 12


def test_late_success_leaves_a_call_dialled_again_alone() -> None:
    for status in (CallStatus.SCHEDULED, CallStatus.IN_PROGRESS, CallStatus.COMPLETED):
        plan = decide(REF, Ending(AttemptOutcome.COMPLETED), timed_out(status), NOW)
        assert plan is not None and plan.change is None
    overtaken = timed_out(call_attempt_count=REF.attempt_no + 1)
    plan = decide(REF, Ending(AttemptOutcome.COMPLETED), overtaken, NOW)
    assert plan is not None and plan.change is None


def test_late_failure_after_a_timeout_is_recorded_but_moves_nothing() -> None:
    plan = decide(REF, Ending(AttemptOutcome.BUSY, "BUSY"), timed_out(), NOW)
    assert plan is not None
    assert plan.change is None and not plan.releases_line
    assert plan.effect().applied and plan.effect().call_status is None


# -- properties over every state an attempt can be read in -----------------------------------

outcomes = st.sampled_from([*AttemptOutcome, None])
endings = st.builds(
    Ending,
    outcome=outcomes,
    reason=st.none() | st.sampled_from(["SIP 486", "invalid"]),
    duration_seconds=st.none() | st.integers(0, 3600),
)
states = st.builds(
    AttemptState,
    campaign_id=st.just(CAMPAIGN),
    worker_id=st.just("w1"),
    outcome=outcomes,
    timed_out_at=st.none() | st.just(NOW - timedelta(seconds=5)),
    call_status=st.sampled_from(CallStatus),
    call_attempt_count=st.integers(REF.attempt_no, REF.attempt_no + 1),
    dial_count=st.integers(1, 6),
    campaign_status=st.sampled_from(CampaignStatus),
    retry=st.builds(
        RetryConfig,
        max_retries=st.integers(0, 4),
        sync_initial_backoff_ms=st.just(10),
        sync_backoff_multiplier=st.just(2.0),
        callback_retry_delay_ms=st.integers(0, 600_000),
        callback_timeout_ms=st.just(120_000),
    ),
)


@given(endings, states)
def test_an_ending_changes_something_only_once(ending: Ending, seen: AttemptState) -> None:
    plan = decide(REF, ending, seen, NOW)
    has_result = seen.outcome is not None
    if has_result or (ending.outcome is None and not seen.is_open):
        assert plan is None
        return
    assert plan is not None
    # Only the ending that closes the attempt gives its line back: never twice.
    assert plan.releases_line == seen.is_open
    if seen.call_attempt_count != REF.attempt_no:
        assert plan.change is None  # a retry has started: the call belongs to it


@given(endings, states)
def test_a_call_moves_only_on_its_first_ending_or_a_late_success(
    ending: Ending, seen: AttemptState
) -> None:
    plan = decide(REF, ending, seen, NOW)
    if plan is None or plan.change is None:
        return
    change = plan.change
    if seen.is_open:
        assert change.expected_status is None
        completed = change.status is CallStatus.COMPLETED
        # An answered call completes; so does one a machine answered under a campaign whose
        # onMachine is COMPLETE (a message was left: docs/answering-machines.md).
        if ending.outcome is AttemptOutcome.COMPLETED:
            assert completed
        if completed:
            assert ending.outcome in (AttemptOutcome.COMPLETED, AttemptOutcome.MACHINE)
        assert (change.failure_reason is None) == completed
        assert change.dial_count <= seen.dial_count
        # A retry is scheduled only while retries are left; a final state has no retry time.
        if change.status.is_final:
            assert change.next_retry_at is None
        else:
            assert change.next_retry_at is not None and change.next_retry_at >= NOW
    else:
        # A late success overturns the watchdog's verdict; a machine's answer is one under
        # onMachine COMPLETE (the message was left).
        machine_completes = seen.answering_machine.on_machine is OnMachine.COMPLETE
        assert plan.ending.outcome is AttemptOutcome.COMPLETED or (
            plan.ending.outcome is AttemptOutcome.MACHINE and machine_completes
        )
        assert change.status is CallStatus.COMPLETED
        assert change.expected_status is seen.call_status
        assert change.dial_count == seen.dial_count


def test_a_retrys_time_follows_its_outcomes_rule_and_the_jitter_draw() -> None:
    retry = replace(
        RETRY, outcomes={RetryOutcome.BUSY: OutcomeRetry(delay_ms=10_000)}, jitter_ratio=0.5
    )
    seen = open_attempt(retry=retry)
    plan = decide(REF, Ending(AttemptOutcome.BUSY, "busy"), seen, NOW, jitter_draw=-1.0)
    assert plan is not None and plan.change is not None
    assert plan.change.next_retry_at == NOW + timedelta(seconds=5)
    timeout = decide(REF, Ending(None, TIMEOUT_REASON), seen, NOW, jitter_draw=1.0)
    assert timeout is not None and timeout.change is not None
    assert timeout.change.next_retry_at == NOW + timedelta(seconds=90)
