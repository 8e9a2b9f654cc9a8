from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.answering_machine import OnMachine
from shared.domain.retry_policy import (
    MAX_RETRY_DELAY_MS,
    OutcomeRetry,
    RetryConfig,
    RetryOutcome,
    after_attempt,
    outcomes_from_json,
    outcomes_to_json,
    retry_outcome_of,
)
from shared.domain.statuses import AttemptOutcome, CallStatus

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CONFIG = RetryConfig(
    max_retries=2,
    sync_initial_backoff_ms=1000,
    sync_backoff_multiplier=2.0,
    callback_retry_delay_ms=30_000,
    callback_timeout_ms=120_000,
)


def test_success_completes() -> None:
    assert after_attempt(AttemptOutcome.COMPLETED, 1, CONFIG, NOW).status is CallStatus.COMPLETED


def test_failure_is_retried_after_the_callback_retry_delay() -> None:
    step = after_attempt(AttemptOutcome.BUSY, 1, CONFIG, NOW)
    assert step.status is CallStatus.FAILED
    assert step.next_retry_at == NOW + timedelta(seconds=30)


def test_no_result_counts_as_a_failure() -> None:
    assert after_attempt(None, 1, CONFIG, NOW).status is CallStatus.FAILED


def test_after_max_retries_the_call_fails_for_good() -> None:
    # maxRetries 2: dials 1, 2 and 3 are allowed; the third failure is final.
    assert after_attempt(AttemptOutcome.NO_ANSWER, 2, CONFIG, NOW).status is CallStatus.FAILED
    final = after_attempt(AttemptOutcome.NO_ANSWER, 3, CONFIG, NOW)
    assert final.status is CallStatus.PERMANENTLY_FAILED
    assert final.next_retry_at is None


def test_a_rejected_number_is_never_retried() -> None:
    step = after_attempt(AttemptOutcome.REJECTED, 1, CONFIG, NOW)
    assert step.status is CallStatus.PERMANENTLY_FAILED


def test_a_call_never_placed_costs_no_retry() -> None:
    assert after_attempt(AttemptOutcome.NOT_PLACED, 0, CONFIG, NOW).status is CallStatus.PENDING
    again = after_attempt(AttemptOutcome.NOT_PLACED, 3, CONFIG, NOW)
    assert again.status is CallStatus.FAILED
    assert again.next_retry_at == NOW


def test_a_cancelled_campaign_retries_nothing() -> None:
    step = after_attempt(AttemptOutcome.BUSY, 1, CONFIG, NOW, campaign_cancelled=True)
    assert step.status is CallStatus.CANCELLED
    success = after_attempt(AttemptOutcome.COMPLETED, 1, CONFIG, NOW, campaign_cancelled=True)
    assert success.status is CallStatus.COMPLETED


# -- per-outcome rules (retryConfig.outcomes, jitterRatio) -----------------------------------


def with_outcomes(
    outcomes: dict[RetryOutcome, OutcomeRetry], jitter_ratio: float = 0.0
) -> RetryConfig:
    return replace(CONFIG, outcomes=outcomes, jitter_ratio=jitter_ratio)


def test_each_outcome_waits_its_own_delay() -> None:
    config = with_outcomes(
        {
            RetryOutcome.BUSY: OutcomeRetry(delay_ms=5_000),
            RetryOutcome.NO_ANSWER: OutcomeRetry(delay_ms=600_000),
        }
    )
    busy = after_attempt(AttemptOutcome.BUSY, 1, config, NOW)
    assert busy.next_retry_at == NOW + timedelta(seconds=5)
    unanswered = after_attempt(AttemptOutcome.NO_ANSWER, 1, config, NOW)
    assert unanswered.next_retry_at == NOW + timedelta(minutes=10)
    # FAILED has no rule of its own: the general callbackRetryDelayMs.
    failed = after_attempt(AttemptOutcome.FAILED, 1, config, NOW)
    assert failed.next_retry_at == NOW + timedelta(seconds=30)


def test_no_result_is_the_callback_timeout_key() -> None:
    config = with_outcomes({RetryOutcome.NO_RESULT: OutcomeRetry(retry=False)})
    assert after_attempt(None, 1, config, NOW).status is CallStatus.PERMANENTLY_FAILED
    assert after_attempt(AttemptOutcome.BUSY, 1, config, NOW).status is CallStatus.FAILED


def test_rejected_is_retried_only_when_asked() -> None:
    config = with_outcomes({RetryOutcome.REJECTED: OutcomeRetry(retry=True, delay_ms=1_000)})
    step = after_attempt(AttemptOutcome.REJECTED, 1, config, NOW)
    assert step.status is CallStatus.FAILED
    assert step.next_retry_at == NOW + timedelta(seconds=1)
    # A rule for REJECTED without `retry` keeps it unretried.
    only_delay = with_outcomes({RetryOutcome.REJECTED: OutcomeRetry(delay_ms=1_000)})
    assert after_attempt(AttemptOutcome.REJECTED, 1, only_delay, NOW).status is (
        CallStatus.PERMANENTLY_FAILED
    )


def test_an_outcome_can_be_left_unretried() -> None:
    config = with_outcomes({RetryOutcome.BUSY: OutcomeRetry(retry=False)})
    assert after_attempt(AttemptOutcome.BUSY, 1, config, NOW).status is (
        CallStatus.PERMANENTLY_FAILED
    )


def test_backoff_grows_the_delay_retry_by_retry_up_to_a_day() -> None:
    config = with_outcomes(
        {RetryOutcome.NO_ANSWER: OutcomeRetry(max_retries=20, delay_ms=1_000, backoff_multiplier=3)}
    )
    delays = [
        after_attempt(AttemptOutcome.NO_ANSWER, dials, config, NOW).next_retry_at
        for dials in (1, 2, 3)
    ]
    assert delays == [NOW + timedelta(seconds=s) for s in (1, 3, 9)]
    late = after_attempt(AttemptOutcome.NO_ANSWER, 20, config, NOW)
    assert late.next_retry_at == NOW + timedelta(milliseconds=MAX_RETRY_DELAY_MS)


def test_the_seeds_fields_alone_keep_a_fixed_delay() -> None:
    # syncBackoffMultiplier is for dial requests, not for retries after a result.
    delays = {after_attempt(AttemptOutcome.BUSY, d, CONFIG, NOW).next_retry_at for d in (1, 2)}
    assert delays == {NOW + timedelta(seconds=30)}


def test_a_cancelled_campaign_still_fails_an_unretried_outcome_for_good() -> None:
    step = after_attempt(AttemptOutcome.REJECTED, 1, CONFIG, NOW, campaign_cancelled=True)
    assert step.status is CallStatus.PERMANENTLY_FAILED
    config = with_outcomes({RetryOutcome.REJECTED: OutcomeRetry(retry=True)})
    cancelled = after_attempt(AttemptOutcome.REJECTED, 1, config, NOW, campaign_cancelled=True)
    assert cancelled.status is CallStatus.CANCELLED


def test_the_carriers_cancel_follows_the_general_fields() -> None:
    config = with_outcomes({RetryOutcome.BUSY: OutcomeRetry(retry=False)})
    step = after_attempt(AttemptOutcome.CANCELLED, 1, config, NOW)
    assert step.status is CallStatus.FAILED
    assert step.next_retry_at == NOW + timedelta(seconds=30)


def test_stored_form_round_trips() -> None:
    outcomes = {
        RetryOutcome.BUSY: OutcomeRetry(delay_ms=5_000, backoff_multiplier=2.0),
        RetryOutcome.REJECTED: OutcomeRetry(retry=True, max_retries=1),
    }
    stored = outcomes_to_json(outcomes)
    assert stored == {
        "BUSY": {"delayMs": 5_000, "backoffMultiplier": 2.0},
        "REJECTED": {"retry": True, "maxRetries": 1},
    }
    assert outcomes_from_json(stored) == outcomes
    assert outcomes_from_json(json.dumps(stored)) == outcomes
    assert outcomes_from_json({}) == {}


# -- properties -------------------------------------------------------------------------------

RETRIED = [o for o in AttemptOutcome if o not in (AttemptOutcome.COMPLETED,)]
#: MACHINE is an outcome the retry rules decide only when the campaign's onMachine is RETRY.
RETRY_MACHINES = OnMachine.RETRY
FAILURES = st.sampled_from([*RETRIED, None])
RULES = st.builds(
    OutcomeRetry,
    retry=st.none() | st.booleans(),
    max_retries=st.none() | st.integers(0, 20),
    delay_ms=st.none() | st.integers(0, MAX_RETRY_DELAY_MS),
    backoff_multiplier=st.none() | st.floats(1.0, 10.0),
)
CONFIGS = st.builds(
    RetryConfig,
    max_retries=st.integers(0, 20),
    sync_initial_backoff_ms=st.just(1000),
    sync_backoff_multiplier=st.just(2.0),
    callback_retry_delay_ms=st.integers(0, MAX_RETRY_DELAY_MS),
    callback_timeout_ms=st.just(120_000),
    outcomes=st.dictionaries(st.sampled_from(list(RetryOutcome)), RULES),
    jitter_ratio=st.floats(0.0, 1.0),
)
DRAWS = st.floats(-1.0, 1.0)


@given(FAILURES, st.integers(1, 25), CONFIGS, DRAWS)
def test_a_retry_falls_within_the_jitter_of_its_delay(
    outcome: AttemptOutcome | None, dials: int, config: RetryConfig, draw: float
) -> None:
    step = after_attempt(outcome, dials, config, NOW, jitter_draw=draw, on_machine=RETRY_MACHINES)
    if step.status is not CallStatus.FAILED or outcome is AttemptOutcome.NOT_PLACED:
        return
    rule = config.rule_for(retry_outcome_of(outcome))
    delay = rule.delay_before_retry(dials - 1)
    assert step.next_retry_at is not None
    waited_ms = (step.next_retry_at - NOW) / timedelta(milliseconds=1)
    slack = 0.01  # timedelta keeps microseconds
    assert delay * (1 - config.jitter_ratio) - slack <= waited_ms
    assert waited_ms <= delay * (1 + config.jitter_ratio) + slack
    assert 0 <= delay <= MAX_RETRY_DELAY_MS


@given(FAILURES, st.integers(1, 25), CONFIGS, DRAWS)
def test_max_retries_of_the_outcome_is_respected(
    outcome: AttemptOutcome | None, dials: int, config: RetryConfig, draw: float
) -> None:
    step = after_attempt(outcome, dials, config, NOW, jitter_draw=draw, on_machine=RETRY_MACHINES)
    if outcome is AttemptOutcome.NOT_PLACED:
        return
    rule = config.rule_for(retry_outcome_of(outcome))
    retried = step.status is CallStatus.FAILED
    assert retried == (rule.retry and dials <= rule.max_retries)
    if not retried:
        assert step.status is CallStatus.PERMANENTLY_FAILED and step.next_retry_at is None


@given(st.integers(1, 25), CONFIGS, DRAWS)
def test_rejected_is_never_retried_without_its_own_retry_true(
    dials: int, config: RetryConfig, draw: float
) -> None:
    given_rule = config.outcomes.get(RetryOutcome.REJECTED)
    step = after_attempt(AttemptOutcome.REJECTED, dials, config, NOW, jitter_draw=draw)
    if given_rule is None or given_rule.retry is not True:
        assert step.status is CallStatus.PERMANENTLY_FAILED


@given(FAILURES, st.integers(1, 25), CONFIGS.map(lambda c: replace(c, outcomes={})), DRAWS)
def test_without_outcomes_every_outcome_but_rejected_follows_the_seeds_fields(
    outcome: AttemptOutcome | None, dials: int, config: RetryConfig, draw: float
) -> None:
    if outcome in (AttemptOutcome.NOT_PLACED, AttemptOutcome.REJECTED):
        return
    step = after_attempt(
        outcome,
        dials,
        replace(config, jitter_ratio=0.0),
        NOW,
        jitter_draw=draw,
        on_machine=RETRY_MACHINES,
    )
    if dials > config.max_retries:
        assert step.status is CallStatus.PERMANENTLY_FAILED
    else:
        assert step.next_retry_at == NOW + timedelta(milliseconds=config.callback_retry_delay_ms)


def test_most_retries_bounds_every_outcome() -> None:
    assert CONFIG.most_retries == 2
    more_for_busy = with_outcomes({RetryOutcome.BUSY: OutcomeRetry(max_retries=7)})
    assert more_for_busy.most_retries == 7
    # A rule that is never retried does not count, however many retries it names.
    unretried = with_outcomes({RetryOutcome.REJECTED: OutcomeRetry(max_retries=9)})
    assert unretried.most_retries == 2
    nothing = replace(
        CONFIG,
        max_retries=0,
        outcomes={RetryOutcome.BUSY: OutcomeRetry(retry=False, max_retries=5)},
    )
    assert nothing.most_retries == 0


@given(FAILURES, st.integers(1, 25), CONFIGS, DRAWS)
def test_no_call_is_retried_past_most_retries(
    outcome: AttemptOutcome | None, dials: int, config: RetryConfig, draw: float
) -> None:
    step = after_attempt(outcome, dials, config, NOW, jitter_draw=draw, on_machine=RETRY_MACHINES)
    if outcome is not AttemptOutcome.NOT_PLACED and step.status is CallStatus.FAILED:
        assert dials <= config.most_retries
