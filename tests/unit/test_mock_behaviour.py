from __future__ import annotations

import random
from collections import Counter

import pytest
from pydantic import ValidationError

from services.telephony_mock.behaviour import Behaviour, MockConfig


def test_scenario_steps_in_order_then_the_last_repeats() -> None:
    behaviour = Behaviour(MockConfig(scenarios={"+14155550100": ["busy", "completed"]}))
    steps = [behaviour.decide(i, "+14155550100").step for i in range(4)]
    assert steps == ["busy", "completed", "completed", "completed"]


def test_random_outcomes_follow_the_configured_rates() -> None:
    config = MockConfig(failureRate=0.2, noCallbackRate=0.1, syncErrorRate=0.05)
    behaviour = Behaviour(config, random.Random(7))
    counts = Counter(behaviour.decide(0, "+1").step for _ in range(20_000))
    assert counts["sync_error"] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert counts["no_callback"] / 20_000 == pytest.approx(0.1, abs=0.01)
    failures = counts["busy"] + counts["no_answer"] + counts["failed"]
    assert failures / 20_000 == pytest.approx(0.2, abs=0.015)


def test_rate_limits_duplicates_and_disorder_follow_their_rates() -> None:
    config = MockConfig(
        failureRate=0,
        noCallbackRate=0,
        syncErrorRate=0,
        rateLimitedRate=0.1,
        duplicateCallbackRate=0.3,
        outOfOrderCallbackRate=0.2,
    )
    behaviour = Behaviour(config, random.Random(3))
    decisions = [behaviour.decide(0, "+1") for _ in range(20_000)]
    assert sum(d.step == "rate_limited" for d in decisions) / 20_000 == pytest.approx(0.1, abs=0.01)
    assert sum(d.duplicate_callback for d in decisions) / 20_000 == pytest.approx(0.3, abs=0.015)
    assert sum(d.out_of_order for d in decisions) / 20_000 == pytest.approx(0.2, abs=0.015)


def test_late_results_follow_their_rate_and_delay() -> None:
    config = MockConfig(lateCallbackRate=0.25, lateCallbackDelayMs=4000)
    behaviour = Behaviour(config, random.Random(5))
    lateness = [behaviour.decide(0, "+1").late_by_ms for _ in range(20_000)]
    assert set(lateness) == {0, 4000}
    assert sum(1 for ms in lateness if ms) / 20_000 == pytest.approx(0.25, abs=0.015)


def test_delays_stay_within_bounds() -> None:
    behaviour = Behaviour(MockConfig(delayMinMs=10, delayMaxMs=20), random.Random(1))
    assert all(10 <= behaviour.decide(0, "+1").delay_ms <= 20 for _ in range(1000))


@pytest.mark.parametrize(
    "config",
    [
        {"delayMinMs": 5, "delayMaxMs": 1},
        {"failureRate": 0.7, "noCallbackRate": 0.4},
        {"syncErrorRate": 0.5, "rateLimitedRate": 0.6},
        {"duplicateCallbackRate": 1.5},
        {"scenarios": {"+1": []}},
        {"scenarios": {"+1": ["explode"]}},
        {"surprise": True},
    ],
)
def test_inconsistent_configuration_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MockConfig.model_validate(config)


def test_machines_answer_their_rate_of_the_answered_calls() -> None:
    config = MockConfig(failureRate=0, noCallbackRate=0, syncErrorRate=0, machineRate=0.3)
    behaviour = Behaviour(config, random.Random(5))
    counts = Counter(behaviour.decide(0, "+1").step for _ in range(20_000))
    assert counts["machine"] / 20_000 == pytest.approx(0.3, abs=0.015)
    assert counts["machine"] + counts["completed"] == 20_000


def test_no_machine_unless_asked() -> None:
    behaviour = Behaviour(MockConfig(failureRate=0, noCallbackRate=0, syncErrorRate=0))
    assert {behaviour.decide(0, "+1").step for _ in range(2_000)} == {"completed"}
