"""Every database write the worker's handlers make, each a named method over the one pool.

The batchers call `claim_lines`, `write_results` and `write_accepted` with what they gathered;
the handlers call the others directly. Each method takes a connection from the pool for one
repository function: the SQL itself lives in `shared/repositories/`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from shared.domain.attempts import AttemptRef, DialRules, NoDial, StartedAttempt
from shared.domain.endings import EndEffect, Ending, ProviderReport
from shared.repositories.attempts import (
    adopt_job_attempt,
    extend_open_attempt,
    record_dials_accepted,
)
from shared.repositories.claims import start_attempts
from shared.repositories.endings import apply_provider_reports, end_attempt
from shared.repositories.number_dials import forget_unplaced


class AttemptWrites:
    """What the worker writes about attempts: claims, dial acceptances and endings."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        worker_id: str,
        clock: Callable[[], datetime],
        max_concurrent_calls: int,
        dial_window: timedelta,
    ) -> None:
        self._pool = pool
        self._worker_id = worker_id
        self._clock = clock
        self._max_concurrent_calls = max_concurrent_calls
        self._dial_window = dial_window

    async def claim_lines(
        self, key: tuple[UUID, int], claims: Sequence[tuple[DialRules, UUID]]
    ) -> list[StartedAttempt | NoDial]:
        """Start an attempt (or say why not) for each job in `claims`, all of one campaign
        under one settings version (`key`): the claims batcher's flush."""
        rules = claims[0][0]
        async with self._pool.acquire() as conn:
            return await start_attempts(
                conn,
                rules,
                [job_id for _, job_id in claims],
                self._worker_id,
                self._clock(),
                self._max_concurrent_calls,
                dial_window=self._dial_window,
            )

    async def write_results(self, reports: Sequence[ProviderReport]) -> Sequence[EndEffect | None]:
        """Apply carriers' reports; the results batcher's flush."""
        async with self._pool.acquire() as conn:
            return await apply_provider_reports(conn, reports, self._clock())

    async def write_accepted(self, accepted: Sequence[tuple[AttemptRef, str]]) -> list[None]:
        """Record the carrier's id of each accepted dial; the acceptances batcher's flush."""
        async with self._pool.acquire() as conn:
            await record_dials_accepted(conn, accepted)
        return [None] * len(accepted)

    async def adopt_job_attempt(self, job_id: UUID) -> AttemptRef | None:
        """The open attempt a redelivered job started, now held by this worker; None if none."""
        async with self._pool.acquire() as conn:
            return await adopt_job_attempt(conn, job_id, self._worker_id)

    async def extend_open_attempt(self, ref: AttemptRef, expected_by: datetime) -> bool:
        """Move an open attempt's deadline to `expected_by`; False if it has already ended."""
        async with self._pool.acquire() as conn:
            return await extend_open_attempt(conn, ref, expected_by)

    async def end_attempt(self, ref: AttemptRef, ending: Ending) -> EndEffect | None:
        """End an attempt the worker itself settled (a refused or unplaced dial)."""
        async with self._pool.acquire() as conn:
            return await end_attempt(conn, ref, ending, self._clock())

    async def uncount_unplaced(self, ref: AttemptRef) -> None:
        """An attempt the provider never placed does not count against its number's caps."""
        async with self._pool.acquire() as conn:
            await forget_unplaced(conn, ref.call_id, ref.attempt_no)
