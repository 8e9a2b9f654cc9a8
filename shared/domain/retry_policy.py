"""How failures are retried: the campaign's retry config and the decisions drawn from it.

The seed's fields (maxRetries, callbackRetryDelayMs) apply to every outcome alike, except that
a rejected number (the carrier says it is invalid) is not retried. `outcomes` overrides them
per outcome, field by field; `jitterRatio` spreads each retry time. docs/retries.md tells the
rule to people.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from shared.domain.answering_machine import OnMachine
from shared.domain.statuses import AttemptOutcome, CallStatus

#: The longest a retry waits before its jitter: backoff stops growing here. The largest
#: delay a campaign may set (callbackRetryDelayMs, delayMs).
MAX_RETRY_DELAY_MS = 86_400_000


class RetryOutcome(StrEnum):
    """The keys of `retryConfig.outcomes`: the endings a retry rule can be set for."""

    BUSY = "BUSY"
    NO_ANSWER = "NO_ANSWER"
    FAILED = "FAILED"
    #: The carrier refused the number for good (invalid, blocked).
    REJECTED = "REJECTED"
    #: Answered by a machine, under a campaign whose onMachine is RETRY.
    MACHINE = "MACHINE"
    #: No result within callbackTimeoutMs (the watchdog ended the attempt).
    NO_RESULT = "NO_RESULT"


_RETRY_OUTCOME_OF: dict[AttemptOutcome | None, RetryOutcome] = {
    AttemptOutcome.BUSY: RetryOutcome.BUSY,
    AttemptOutcome.NO_ANSWER: RetryOutcome.NO_ANSWER,
    AttemptOutcome.FAILED: RetryOutcome.FAILED,
    AttemptOutcome.REJECTED: RetryOutcome.REJECTED,
    AttemptOutcome.MACHINE: RetryOutcome.MACHINE,
    None: RetryOutcome.NO_RESULT,
}

#: Outcomes that are not retried unless their rule says `retry: true`.
NOT_RETRIED_BY_DEFAULT = frozenset({RetryOutcome.REJECTED})


def retry_outcome_of(outcome: AttemptOutcome | None) -> RetryOutcome | None:
    """The `outcomes` key an attempt's outcome falls under (None: no result in time); None for
    outcomes no key names (a call the carrier cancelled follows the general fields)."""
    return _RETRY_OUTCOME_OF.get(outcome)


@dataclass(frozen=True)
class OutcomeRetry:
    """One outcome's rule as the campaign gives it; None fields fall back to the general ones."""

    retry: bool | None = None
    max_retries: int | None = None
    delay_ms: int | None = None
    backoff_multiplier: float | None = None


@dataclass(frozen=True)
class RetryRule:
    """One outcome's rule with every field resolved."""

    retry: bool
    max_retries: int
    delay_ms: int
    backoff_multiplier: float

    def delay_before_retry(self, retries_made: int) -> int:
        """The delay before the call's next retry, in ms, once `retries_made` have been made:
        delayMs, times backoffMultiplier for each earlier retry, at most MAX_RETRY_DELAY_MS."""
        if self.delay_ms == 0:
            return 0
        grown = float(self.delay_ms)
        for _ in range(max(retries_made, 0)):
            grown *= self.backoff_multiplier
            if grown >= MAX_RETRY_DELAY_MS:
                return MAX_RETRY_DELAY_MS
        return min(round(grown), MAX_RETRY_DELAY_MS)


@dataclass(frozen=True)
class RetryConfig:
    """The seed's `retryConfig`, in milliseconds, with the per-outcome rules and the jitter."""

    max_retries: int
    sync_initial_backoff_ms: int
    sync_backoff_multiplier: float
    callback_retry_delay_ms: int
    callback_timeout_ms: int
    #: Per outcome, what overrides the general fields; an outcome left out follows them.
    outcomes: Mapping[RetryOutcome, OutcomeRetry] = field(default_factory=dict)
    #: Each retry time falls uniformly within ±jitter_ratio of its delay (0 to 1).
    jitter_ratio: float = 0.0

    @property
    def most_retries(self) -> int:
        """The most retries any outcome allows a call (its dials are at most one more)."""
        rules = [self.rule_for(key) for key in (*RetryOutcome, None)]
        return max((rule.max_retries for rule in rules if rule.retry), default=0)

    def rule_for(self, outcome: RetryOutcome | None) -> RetryRule:
        """The rule an outcome's ending follows: its own fields, else the general ones."""
        given = self.outcomes.get(outcome, OutcomeRetry()) if outcome else OutcomeRetry()
        retry = given.retry
        if retry is None:
            retry = outcome not in NOT_RETRIED_BY_DEFAULT
        return RetryRule(
            retry=retry,
            max_retries=self.max_retries if given.max_retries is None else given.max_retries,
            delay_ms=self.callback_retry_delay_ms if given.delay_ms is None else given.delay_ms,
            # The seed's callback retries waited a fixed delay: no growth unless asked.
            backoff_multiplier=(
                1.0 if given.backoff_multiplier is None else given.backoff_multiplier
            ),
        )


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
    jitter_draw: float = 0.0,
    on_machine: OnMachine = OnMachine.COMPLETE,
) -> NextStep:
    """The call's next state after an attempt ended with `outcome` (None: no result in time).

    `dials_made` counts the attempts that reached (or may have reached) the provider, this one
    included. The outcome's rule decides whether it is retried, how often (maxRetries counts
    every retry the call has had) and after how long. `jitter_draw`, uniform in [-1, 1] (the
    caller draws it, so that this stays a function), places the retry within ±jitterRatio of
    its delay. A cancelled campaign retries nothing. A machine's answer (MACHINE) follows the
    campaign's `on_machine`: COMPLETE completes the call, HANG_UP fails it for good, RETRY
    applies the MACHINE rule like any other outcome's.
    """
    if outcome is AttemptOutcome.COMPLETED:
        return NextStep(CallStatus.COMPLETED)
    if outcome is AttemptOutcome.MACHINE and on_machine is not OnMachine.RETRY:
        if on_machine is OnMachine.COMPLETE:
            return NextStep(CallStatus.COMPLETED)
        return NextStep(CallStatus.PERMANENTLY_FAILED)
    rule = config.rule_for(retry_outcome_of(outcome))
    if outcome is not AttemptOutcome.NOT_PLACED and not rule.retry:
        return NextStep(CallStatus.PERMANENTLY_FAILED)
    if campaign_cancelled:
        return NextStep(CallStatus.CANCELLED)
    if outcome is AttemptOutcome.NOT_PLACED:
        # Nothing reached the provider: the call is dialable again without losing a retry.
        return NextStep(CallStatus.PENDING if dials_made == 0 else CallStatus.FAILED, now)
    if dials_made > rule.max_retries:
        return NextStep(CallStatus.PERMANENTLY_FAILED)
    delay_ms = rule.delay_before_retry(dials_made - 1)
    spread = max(-1.0, min(1.0, jitter_draw)) * config.jitter_ratio
    return NextStep(CallStatus.FAILED, now + timedelta(milliseconds=delay_ms * (1 + spread)))


# -- stored form ------------------------------------------------------------------------------
# campaigns.retry_outcomes holds the map as the API spells it (camelCase), fields left out
# where the campaign gave none.

_STORED_FIELDS = (
    ("retry", "retry"),
    ("maxRetries", "max_retries"),
    ("delayMs", "delay_ms"),
    ("backoffMultiplier", "backoff_multiplier"),
)


def outcomes_to_json(outcomes: Mapping[RetryOutcome, OutcomeRetry]) -> dict[str, Any]:
    """The stored (and shown) form of the per-outcome rules."""
    return {
        key.value: {
            name: getattr(rule, attr)
            for name, attr in _STORED_FIELDS
            if getattr(rule, attr) is not None
        }
        for key, rule in sorted(outcomes.items())
    }


def outcomes_from_json(
    stored: Mapping[str, Any] | str | None,
) -> Mapping[RetryOutcome, OutcomeRetry]:
    """The per-outcome rules from their stored form (a jsonb value, or its text)."""
    if not stored:
        return {}
    text = stored if isinstance(stored, str) else json.dumps(stored, sort_keys=True)
    return _parsed_outcomes(text)


@lru_cache(maxsize=1024)
def _parsed_outcomes(text: str) -> Mapping[RetryOutcome, OutcomeRetry]:
    # Cached: every ending reads its campaign's rules, and campaigns are few.
    # Stored values were checked when they were written.
    return MappingProxyType(
        {
            RetryOutcome(key): OutcomeRetry(
                **{attr: rule.get(name) for name, attr in _STORED_FIELDS}
            )
            for key, rule in json.loads(text).items()
        }
    )
