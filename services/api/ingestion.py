"""Loading numbers into a campaign: validated in chunks off the event loop, streamed through
a temporary table with COPY, inserted once at the end with duplicates dropped.

Memory stays bounded by a chunk, plus the set of numbers already seen (for duplicates within
the upload). Validation runs in a process pool (libphonenumber is pure Python: about 9 µs a
number), while the previous chunk is being copied into PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg

from services.api.number_file import Row
from shared.domain.phone import normalize_many

CHUNK_ROWS = 5000
#: Below this, validating in the event loop costs less than a trip to the pool.
INLINE_VALIDATION_ROWS = 500
#: How many invalid lines a report lists; the count covers all of them.
MAX_LISTED_INVALID = 1000

_Validated = tuple[list[tuple[int, str]], list[tuple[int, str]]]


@dataclass(frozen=True)
class InvalidLine:
    line: int
    value: str
    reason: str


@dataclass
class ImportReport:
    total_received: int = 0
    total_imported: int = 0
    duplicates_skipped: int = 0
    invalid_skipped: int = 0
    invalid_lines: list[InvalidLine] = field(default_factory=list)

    @property
    def invalid_lines_truncated(self) -> bool:
        return self.invalid_skipped > len(self.invalid_lines)


async def listed_rows(numbers: list[str]) -> AsyncIterator[list[Row]]:
    """Rows of a JSON list (line = position from 1), made a chunk at a time."""
    for start in range(0, len(numbers), CHUNK_ROWS):
        chunk = numbers[start : start + CHUNK_ROWS]
        yield [Row(start + i + 1, number, None) for i, number in enumerate(chunk)]


class Ingestion:
    """One load into one campaign, inside the caller's transaction."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        campaign_id: UUID,
        default_region: str,
        executor: Callable[[], Executor] | None,
    ) -> None:
        self._conn = conn
        self._campaign_id = campaign_id
        self._region = default_region
        self._executor = executor
        self._seen: set[str] = set()
        self._previous: tuple[list[Row], asyncio.Future[_Validated]] | None = None
        self.report = ImportReport()

    async def __aenter__(self) -> Ingestion:
        await self._conn.execute(
            "CREATE TEMP TABLE incoming_numbers (line integer, phone_number text,"
            " attributes text) ON COMMIT DROP"
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._previous is not None:
            self._previous[1].cancel()

    async def add(self, rows: Sequence[Row]) -> None:
        """Take rows in any number; they are validated and copied a chunk at a time."""
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = list(rows[start : start + CHUNK_ROWS])
            self.report.total_received += len(chunk)
            validating = self._validate(chunk)
            if self._previous is not None:
                await self._load(*self._previous)
            self._previous = (chunk, validating)

    async def finish(self) -> ImportReport:
        """Insert what was loaded; numbers the campaign already has are duplicates."""
        if self._previous is not None:
            await self._load(*self._previous)
            self._previous = None
        result = await self._conn.execute(
            """
            INSERT INTO calls (id, campaign_id, phone_number, status, attributes)
            SELECT gen_random_uuid(), $1, phone_number, 'PENDING', attributes::jsonb
            FROM incoming_numbers ORDER BY line
            ON CONFLICT (campaign_id, phone_number) WHERE deduplicate DO NOTHING
            """,
            self._campaign_id,
        )
        self.report.total_imported = int(result.split()[-1])
        self.report.duplicates_skipped += len(self._seen) - self.report.total_imported
        return self.report

    def _validate(self, chunk: list[Row]) -> asyncio.Future[_Validated]:
        numbers = [row.number for row in chunk]
        loop = asyncio.get_running_loop()
        if self._executor is None or len(chunk) < INLINE_VALIDATION_ROWS:
            future: asyncio.Future[_Validated] = loop.create_future()
            future.set_result(normalize_many(numbers, self._region))
            return future
        return loop.run_in_executor(self._executor(), normalize_many, numbers, self._region)

    async def _load(self, chunk: list[Row], validating: asyncio.Future[_Validated]) -> None:
        valid, invalid = await validating
        report = self.report
        for index, reason in invalid:
            report.invalid_skipped += 1
            if len(report.invalid_lines) < MAX_LISTED_INVALID:
                row = chunk[index]
                report.invalid_lines.append(InvalidLine(row.line, row.number[:100], reason))
        records = []
        for index, number in valid:
            if number in self._seen:
                report.duplicates_skipped += 1
                continue
            self._seen.add(number)
            row = chunk[index]
            attributes = json.dumps(row.attributes) if row.attributes else None
            records.append((row.line, number, attributes))
        if records:
            await self._conn.copy_records_to_table(
                "incoming_numbers",
                records=records,
                columns=["line", "phone_number", "attributes"],
            )
