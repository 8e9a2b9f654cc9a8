"""How failures are retried: the campaign's retry config and the decisions drawn from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.statuses import AttemptOutcome, CallStatus


@dataclass(frozen=True)
class RetryConfig:
    """The seed's `retryConfig`, in milliseconds."""

    max_retries: int
    sync_initial_backoff_ms: int
    sync_backoff_multiplier: float
    callback_retry_delay_ms: int
    callback_timeout_ms: int


@dataclass(frozen=True)
class NextStep:
    """What becomes of a call once an attempt has ended."""

    status: CallStatus
    next_retry_at: datetime | None = None


def after_attempt(
    outcome: AttemptOutcome | None,
    dials_made: int,
    config: RetryConfig,
    now: datetime,
    *,
    campaign_cancelled: bool = False,
) -> NextStep:
    """The call's next state after an attempt ended with `outcome` (None: no result in time).

    `dials_made` counts the attempts that reached (or may have reached) the provider, this one
    included. A rejected number is never retried; a cancelled campaign retries nothing.
    """
    if outcome is AttemptOutcome.COMPLETED:
        return NextStep(CallStatus.COMPLETED)
    if outcome is AttemptOutcome.REJECTED:
        return NextStep(CallStatus.PERMANENTLY_FAILED)
    if campaign_cancelled:
        return NextStep(CallStatus.CANCELLED)
    if outcome is AttemptOutcome.NOT_PLACED:
        # Nothing reached the provider: the call is dialable again without losing a retry.
        return NextStep(CallStatus.PENDING if dials_made == 0 else CallStatus.FAILED, now)
    if dials_made > config.max_retries:
        return NextStep(CallStatus.PERMANENTLY_FAILED)
    return NextStep(CallStatus.FAILED, now + timedelta(milliseconds=config.callback_retry_delay_ms))
