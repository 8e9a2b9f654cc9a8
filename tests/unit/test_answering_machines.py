"""Answering machines decided without a database: the carrier's words read as ours, and what a
machine's answer does to an attempt and its call under each onMachine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.answering_machine import (
    MACHINE_REASON,
    AnsweredBy,
    AnsweringMachine,
    OnMachine,
    answered_by,
)
from shared.domain.attempts import AttemptRef
from shared.domain.endings import AttemptState, Ending, ProviderReport, decide, ending_of_report
from shared.domain.retry_policy import (
    OutcomeRetry,
    RetryConfig,
    RetryOutcome,
    after_attempt,
    retry_outcome_of,
)
from shared.domain.statuses import AttemptOutcome, CallStatus, CampaignStatus

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
REF = AttemptRef(UUID(int=1), 1)
RETRY = RetryConfig(
    max_retries=2,
    sync_initial_backoff_ms=10,
    sync_backoff_multiplier=2.0,
    callback_retry_delay_ms=60_000,
    callback_timeout_ms=120_000,
)


@pytest.mark.parametrize(
    ("carrier", "ours"),
    [
        ("human", AnsweredBy.HUMAN),
        ("machine_start", AnsweredBy.MACHINE),
        ("machine_end_beep", AnsweredBy.MACHINE),
        ("machine_end_silence", AnsweredBy.MACHINE),
        ("machine_end_other", AnsweredBy.MACHINE),
        ("machine", AnsweredBy.MACHINE),
        ("fax", AnsweredBy.FAX),
        ("unknown", AnsweredBy.UNKNOWN),
        ("MACHINE_START", AnsweredBy.MACHINE),
        (" Human ", AnsweredBy.HUMAN),
        ("machine-end-beep", AnsweredBy.MACHINE),
        ("a robot", AnsweredBy.UNKNOWN),
    ],
)
def test_the_carriers_words_read_as_ours(carrier: str, ours: AnsweredBy) -> None:
    assert answered_by(carrier) is ours


@pytest.mark.parametrize("nothing", [None, "", "   "])
def test_no_word_is_no_answer(nothing: str | None) -> None:
    assert answered_by(nothing) is None


@given(st.text(max_size=40))
def test_any_word_reads_as_one_of_four_or_none(word: str) -> None:
    assert answered_by(word) in (*AnsweredBy, None)


def test_without_detection_nothing_is_a_machine() -> None:
    setting = AnsweringMachine(detect=False, on_machine=OnMachine.HANG_UP)
    assert not setting.is_machine(AnsweredBy.MACHINE)
    assert not setting.hangs_up_on(AnsweredBy.MACHINE)
    outcome = setting.outcome(AttemptOutcome.COMPLETED, AnsweredBy.MACHINE)
    assert outcome is AttemptOutcome.COMPLETED


@pytest.mark.parametrize("who", [AnsweredBy.MACHINE, AnsweredBy.FAX])
def test_with_detection_a_machine_or_a_fax_is_a_machine(who: AnsweredBy) -> None:
    setting = AnsweringMachine(detect=True)
    assert setting.outcome(AttemptOutcome.COMPLETED, who) is AttemptOutcome.MACHINE


@pytest.mark.parametrize("who", [AnsweredBy.HUMAN, AnsweredBy.UNKNOWN, None])
def test_a_person_or_an_unknown_answer_stays_an_answered_call(who: AnsweredBy | None) -> None:
    setting = AnsweringMachine(detect=True, on_machine=OnMachine.HANG_UP)
    assert setting.outcome(AttemptOutcome.COMPLETED, who) is AttemptOutcome.COMPLETED
    assert not setting.hangs_up_on(who)


def test_only_an_answered_call_becomes_machine() -> None:
    setting = AnsweringMachine(detect=True)
    assert setting.outcome(AttemptOutcome.BUSY, AnsweredBy.MACHINE) is AttemptOutcome.BUSY


def test_only_hang_up_hangs_up() -> None:
    for on_machine in OnMachine:
        setting = AnsweringMachine(detect=True, on_machine=on_machine)
        assert setting.hangs_up_on(AnsweredBy.MACHINE) is (on_machine is OnMachine.HANG_UP)


# -- the retry rule ------------------------------------------------------------------------


def test_machine_has_its_own_retry_key() -> None:
    assert retry_outcome_of(AttemptOutcome.MACHINE) is RetryOutcome.MACHINE


def test_complete_completes_the_call() -> None:
    step = after_attempt(AttemptOutcome.MACHINE, 1, RETRY, NOW, on_machine=OnMachine.COMPLETE)
    assert step.status is CallStatus.COMPLETED


def test_hang_up_fails_the_call_for_good_even_with_retries_left() -> None:
    step = after_attempt(AttemptOutcome.MACHINE, 1, RETRY, NOW, on_machine=OnMachine.HANG_UP)
    assert step.status is CallStatus.PERMANENTLY_FAILED
    assert step.next_retry_at is None


def test_retry_follows_the_machine_rule_then_fails_for_good() -> None:
    config = replace(
        RETRY, outcomes={RetryOutcome.MACHINE: OutcomeRetry(max_retries=1, delay_ms=5_000)}
    )
    first = after_attempt(AttemptOutcome.MACHINE, 1, config, NOW, on_machine=OnMachine.RETRY)
    assert first.status is CallStatus.FAILED
    assert first.next_retry_at == NOW + timedelta(seconds=5)
    second = after_attempt(AttemptOutcome.MACHINE, 2, config, NOW, on_machine=OnMachine.RETRY)
    assert second.status is CallStatus.PERMANENTLY_FAILED


def test_retry_without_a_machine_rule_follows_the_general_fields() -> None:
    step = after_attempt(AttemptOutcome.MACHINE, 1, RETRY, NOW, on_machine=OnMachine.RETRY)
    assert step.next_retry_at == NOW + timedelta(milliseconds=RETRY.callback_retry_delay_ms)
    assert after_attempt(
        AttemptOutcome.MACHINE, 3, RETRY, NOW, on_machine=OnMachine.RETRY
    ).status is (CallStatus.PERMANENTLY_FAILED)


def test_a_machine_rule_may_say_no_retry() -> None:
    config = replace(RETRY, outcomes={RetryOutcome.MACHINE: OutcomeRetry(retry=False)})
    step = after_attempt(AttemptOutcome.MACHINE, 1, config, NOW, on_machine=OnMachine.RETRY)
    assert step.status is CallStatus.PERMANENTLY_FAILED


# -- an ending -----------------------------------------------------------------------------


def attempt(setting: AnsweringMachine, **changes: object) -> AttemptState:
    state = AttemptState(
        campaign_id=UUID(int=7),
        worker_id="w1",
        outcome=None,
        timed_out_at=None,
        call_status=CallStatus.IN_PROGRESS,
        call_attempt_count=REF.attempt_no,
        dial_count=1,
        campaign_status=CampaignStatus.IN_PROGRESS,
        retry=RETRY,
        answering_machine=setting,
    )
    return replace(state, **changes)  # type: ignore[arg-type]


def answered(word: str | None) -> Ending:
    ending = ending_of_report(
        ProviderReport("CA1", "COMPLETED", duration_seconds=20, answered_by=word)
    )
    assert ending is not None
    return ending


@pytest.mark.parametrize(
    ("on_machine", "status", "reason"),
    [
        (OnMachine.COMPLETE, CallStatus.COMPLETED, None),
        (OnMachine.RETRY, CallStatus.FAILED, MACHINE_REASON),
        (OnMachine.HANG_UP, CallStatus.PERMANENTLY_FAILED, MACHINE_REASON),
    ],
)
def test_a_machines_answer_ends_the_attempt_machine_and_the_call_as_configured(
    on_machine: OnMachine, status: CallStatus, reason: str | None
) -> None:
    plan = decide(
        REF, answered("machine_end_beep"), attempt(AnsweringMachine(True, on_machine)), NOW
    )
    assert plan is not None and plan.change is not None
    assert plan.ending.outcome is AttemptOutcome.MACHINE
    assert plan.ending.answered_by == "machine"
    assert plan.change.status is status
    assert plan.change.failure_reason == reason
    assert plan.change.answered_by == "machine"


def test_without_detection_a_machines_answer_completes_and_is_reported() -> None:
    plan = decide(REF, answered("machine_start"), attempt(AnsweringMachine(False)), NOW)
    assert plan is not None and plan.change is not None
    assert plan.ending.outcome is AttemptOutcome.COMPLETED
    assert plan.change.status is CallStatus.COMPLETED
    assert plan.ending.answered_by == "machine"


def test_an_answer_said_in_progress_decides_a_final_report_that_does_not_say_it() -> None:
    seen = attempt(AnsweringMachine(True, OnMachine.HANG_UP), answered_by="machine")
    plan = decide(REF, answered(None), seen, NOW)
    assert plan is not None and plan.change is not None
    assert plan.ending.outcome is AttemptOutcome.MACHINE
    assert plan.change.status is CallStatus.PERMANENTLY_FAILED


def test_a_person_completes_the_call_whatever_on_machine_says() -> None:
    plan = decide(REF, answered("human"), attempt(AnsweringMachine(True, OnMachine.HANG_UP)), NOW)
    assert plan is not None and plan.change is not None
    assert plan.ending.outcome is AttemptOutcome.COMPLETED
    assert plan.change.status is CallStatus.COMPLETED
    assert plan.change.answered_by == "human"


def test_a_late_machine_answer_under_complete_overturns_a_timeout() -> None:
    seen = attempt(
        AnsweringMachine(True, OnMachine.COMPLETE),
        timed_out_at=NOW - timedelta(minutes=1),
        call_status=CallStatus.FAILED,
    )
    plan = decide(REF, answered("machine_start"), seen, NOW)
    assert plan is not None and plan.change is not None
    assert plan.change.status is CallStatus.COMPLETED


def test_a_late_machine_answer_under_hang_up_moves_nothing() -> None:
    seen = attempt(
        AnsweringMachine(True, OnMachine.HANG_UP),
        timed_out_at=NOW - timedelta(minutes=1),
        call_status=CallStatus.FAILED,
    )
    plan = decide(REF, answered("machine_start"), seen, NOW)
    assert plan is not None
    assert plan.change is None
    assert plan.ending.outcome is AttemptOutcome.MACHINE
