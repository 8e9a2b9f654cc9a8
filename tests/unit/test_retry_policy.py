from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.retry_policy import RetryConfig, after_attempt
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
