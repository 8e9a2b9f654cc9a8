"""What the fake carrier does with one dial request: a pure decision from its configuration."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Step = Literal[
    "completed",
    "machine",
    "busy",
    "no_answer",
    "failed",
    "no_callback",
    "sync_error",
    "rate_limited",
    "invalid",
]
STEPS: tuple[str, ...] = Step.__args__  # type: ignore[attr-defined]


class MockConfig(BaseModel):
    """The carrier's behaviour; every field can be changed at runtime (PUT /mock/config)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    delay_min_ms: int = Field(3000, ge=0, alias="delayMinMs")
    delay_max_ms: int = Field(10_000, ge=0, alias="delayMaxMs")
    failure_rate: float = Field(0.05, ge=0, le=1, alias="failureRate")
    no_callback_rate: float = Field(0.01, ge=0, le=1, alias="noCallbackRate")
    #: Dial requests answered at once with 503, and with 429.
    sync_error_rate: float = Field(0.005, ge=0, le=1, alias="syncErrorRate")
    rate_limited_rate: float = Field(0.0, ge=0, le=1, alias="rateLimitedRate")
    #: Placed calls whose final result is delivered twice.
    duplicate_callback_rate: float = Field(0.0, ge=0, le=1, alias="duplicateCallbackRate")
    #: Placed calls (with status callbacks) whose final status goes out before their progress.
    out_of_order_callback_rate: float = Field(0.0, ge=0, le=1, alias="outOfOrderCallbackRate")
    #: Placed calls whose result goes out `lateCallbackDelayMs` after the call ended (past a
    #: short callback timeout, say): the line is free, the news is late.
    late_callback_rate: float = Field(0.0, ge=0, le=1, alias="lateCallbackRate")
    late_callback_delay_ms: int = Field(5000, ge=0, alias="lateCallbackDelayMs")
    #: Answered calls that a machine answers: its greeting and the message then last
    #: `machineMessageMs`, unless the call is hung up first.
    machine_rate: float = Field(0.0, ge=0, le=1, alias="machineRate")
    machine_message_ms: int = Field(3000, ge=0, alias="machineMessageMs")
    #: Per number, the steps its successive dial requests take; the last one repeats.
    scenarios: dict[str, list[Step]] = Field(default_factory=dict)
    #: Deliver results as signed JSON POSTs to this URL instead of as messages.
    callback_url: str | None = Field(None, alias="callbackUrl")

    @model_validator(mode="after")
    def _consistent(self) -> MockConfig:
        if self.delay_min_ms > self.delay_max_ms:
            raise ValueError("delayMinMs must not exceed delayMaxMs")
        if (
            self.failure_rate
            + self.no_callback_rate
            + self.sync_error_rate
            + self.rate_limited_rate
            > 1
        ):
            raise ValueError(
                "failure, no-callback, sync-error and rate-limited rates add up past 1"
            )
        for number, steps in self.scenarios.items():
            if not steps:
                raise ValueError(f"scenario for {number} is empty")
        return self


@dataclass(frozen=True)
class Decision:
    step: Step
    delay_ms: int = 0
    duration_seconds: int = 0
    duplicate_callback: bool = False
    out_of_order: bool = False
    late_by_ms: int = 0


@dataclass
class Behaviour:
    config: MockConfig
    rng: random.Random = field(default_factory=random.Random)

    def decide(self, request_index: int, phone_number: str) -> Decision:
        """The fate of the `request_index`-th (0-based) dial request for `phone_number`."""
        scenario = self.config.scenarios.get(phone_number)
        step = scenario[min(request_index, len(scenario) - 1)] if scenario else self._random_step()
        delay = self.rng.randint(self.config.delay_min_ms, self.config.delay_max_ms)
        duration = self.rng.randint(5, 300) if step == "completed" else 0
        duplicate = self.rng.random() < self.config.duplicate_callback_rate
        out_of_order = self.rng.random() < self.config.out_of_order_callback_rate
        late = self.rng.random() < self.config.late_callback_rate
        late_by = self.config.late_callback_delay_ms if late else 0
        return Decision(step, delay, duration, duplicate, out_of_order, late_by)

    def _random_step(self) -> Step:
        roll = self.rng.random()
        config = self.config
        if roll < config.sync_error_rate:
            return "sync_error"
        roll -= config.sync_error_rate
        if roll < config.rate_limited_rate:
            return "rate_limited"
        roll -= config.rate_limited_rate
        if roll < config.no_callback_rate:
            return "no_callback"
        roll -= config.no_callback_rate
        if roll < config.failure_rate:
            choice: Step = self.rng.choice(("busy", "no_answer", "failed"))
            return choice
        if config.machine_rate and self.rng.random() < config.machine_rate:
            return "machine"
        return "completed"
