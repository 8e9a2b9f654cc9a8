"""The dispatcher's upkeep runs its steps independently: a failing statement is logged and the
steps after it still run; a lost database ends the pass."""

from __future__ import annotations

import asyncpg
import pytest

from services.dispatcher.maintenance import Step, run_steps


def steps_that_record(ran: list[str], failing: str, error: Exception) -> list[Step]:
    def step(name: str) -> Step:
        async def work() -> int:
            ran.append(name)
            if name == failing:
                raise error
            return 1

        return (name, f"{name} done", work)

    return [step(n) for n in ("keys", "dials", "vacuum")]


async def test_a_failing_statement_does_not_skip_the_steps_after_it() -> None:
    ran: list[str] = []
    broken = asyncpg.exceptions.UndefinedFunctionError("timestamptz > interval")
    await run_steps(steps_that_record(ran, "dials", broken))
    assert ran == ["keys", "dials", "vacuum"]


@pytest.mark.parametrize(
    "lost",
    [ConnectionResetError("reset"), asyncpg.exceptions.CannotConnectNowError("starting up")],
)
async def test_a_lost_database_ends_the_pass(lost: Exception) -> None:
    ran: list[str] = []
    with pytest.raises(type(lost)):
        await run_steps(steps_that_record(ran, "dials", lost))
    assert ran == ["keys", "dials"]
