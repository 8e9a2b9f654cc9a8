"""The do-not-call lists: numbers added (a JSON list, an uploaded file, an opt-out), listed and
removed. docs/suppressions.md tells the rules to people.

A load holds its list's lock until it commits and copies each batch in with COPY while the
next batch is being read and checked. It first copies a batch without looking at the list (the
common load: a new list, or numbers it does not have), in a savepoint: the list's unique index
refuses a number the list has (or an earlier batch of the same load added), the savepoint rolls
back, and from then on each batch is checked against the list before it is copied. A number in
E.164 needs only a pattern match; others go through libphonenumber, in the validation pool when
there are many.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import structlog

from services.api.operations.ingestion import (
    INLINE_VALIDATION_ROWS,
    MAX_LISTED_INVALID,
    InvalidLine,
    shown_value,
)
from services.api.operations.number_file import Row
from shared.domain.phone import InvalidPhoneNumber, normalize_for_list, written_e164
from shared.errors import InvalidInput, NotFound
from shared.repositories import calls as call_repo
from shared.repositories import campaigns as campaign_repo
from shared.repositories import suppressions as repo

log = structlog.get_logger()

#: Numbers checked against the list and copied in per statement.
BATCH_ROWS = 50_000
#: The smallest batch copied without a look at the list first: a smaller one is checked at
#: once (cheap), so that adding a few numbers the list has does not log a refused COPY.
BLIND_COPY_ROWS = 1_000
#: Invalid lines a refusal (422) names.
MAX_LISTED_ERRORS = 50
#: The file column that may give each number its own reason (compared without case).
REASON_COLUMN = "reason"


@dataclass
class LoadReport:
    total_received: int = 0
    added: int = 0
    already_present: int = 0
    invalid_skipped: int = 0
    invalid_lines: list[InvalidLine] = field(default_factory=list)


def listed_forms(numbers: Sequence[str], region: str) -> list[str | InvalidPhoneNumber]:
    """Each number as a list holds it, or the reason it is not a number (for the pool)."""
    out: list[str | InvalidPhoneNumber] = []
    for raw in numbers:
        try:
            out.append(normalize_for_list(raw, region))
        except InvalidPhoneNumber as exc:
            out.append(exc)
    return out


def _row_reason(row: Row) -> str | None:
    for name, value in (row.attributes or {}).items():
        if name.strip().lower() == REASON_COLUMN and value.strip():
            return value.strip()[:200].replace("\x00", "\ufffd")
    return None


class SuppressionLoad:
    """One load into one list, inside the caller's transaction."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        campaign_id: UUID | None,
        reason: str | None,
        expires_at: datetime | None,
        default_region: str,
        executor: Callable[[], Executor] | None,
    ) -> None:
        self._conn = conn
        self._campaign_id = campaign_id
        self._reason = reason
        self._expires_at = expires_at
        self._region = default_region
        self._executor = executor
        self._batch: list[Row] = []
        #: The previous batch's check and copy, run while the next batch is read.
        self._writing: asyncio.Task[None] | None = None
        #: Whether a batch may still be copied without a look at the list first (until the
        #: list's index refuses one).
        self._blind = True
        self.report = LoadReport()

    async def __aenter__(self) -> SuppressionLoad:
        if self._campaign_id is not None and not await campaign_repo.campaign_exists(
            self._conn, self._campaign_id
        ):
            raise NotFound(f"no campaign with id {self._campaign_id}")
        await repo.lock_list(self._conn, self._campaign_id)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writing is not None and not self._writing.done():
            self._writing.cancel()
            await asyncio.gather(self._writing, return_exceptions=True)

    async def add(self, rows: Sequence[Row]) -> None:
        self._batch.extend(rows)
        if len(self._batch) >= BATCH_ROWS:
            await self._flush()

    async def finish(self) -> LoadReport:
        await self._flush()
        if self._writing is not None:
            await self._writing
        return self.report

    async def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        self.report.total_received += len(batch)
        numbers = await self._check(batch)
        if self._writing is not None:
            await self._writing
        self._writing = asyncio.create_task(self._write(numbers))

    async def _check(self, batch: list[Row]) -> dict[str, str | None]:
        """The batch's valid numbers, each once, with its reason; invalid ones reported."""
        forms = await self._forms([row.number for row in batch])
        numbers: dict[str, str | None] = {}
        report = self.report
        default = self._reason
        for row, form in zip(batch, forms, strict=True):
            # A million of these per large list: the common cases first, and cheap.
            if not isinstance(form, str):
                report.invalid_skipped += 1
                if len(report.invalid_lines) < MAX_LISTED_INVALID:
                    report.invalid_lines.append(
                        InvalidLine(row.line, shown_value(row.number), str(form))
                    )
            elif form in numbers:
                report.already_present += 1
            else:
                numbers[form] = (row.attributes and _row_reason(row)) or default
        return numbers

    async def _forms(self, raws: list[str]) -> list[str | InvalidPhoneNumber]:
        # A pattern match is cheaper than a trip to the pool: only the rest may take one.
        forms: list[str | InvalidPhoneNumber | None] = [written_e164(raw) for raw in raws]
        slow = [i for i, form in enumerate(forms) if form is None]
        if slow:
            rest = [raws[i] for i in slow]
            if self._executor is None or len(rest) < INLINE_VALIDATION_ROWS:
                checked = listed_forms(rest, self._region)
            else:
                loop = asyncio.get_running_loop()
                checked = await loop.run_in_executor(
                    self._executor(), listed_forms, rest, self._region
                )
            for index, form in zip(slow, checked, strict=True):
                forms[index] = form
        return [form for form in forms if form is not None]

    async def _write(self, numbers: dict[str, str | None]) -> None:
        if self._blind and len(numbers) >= BLIND_COPY_ROWS:
            try:
                async with self._conn.transaction():
                    await self._copy(sorted(numbers), numbers)
            except asyncpg.UniqueViolationError:
                self._blind = False
            else:
                self.report.added += len(numbers)
                return
        await self._checked_write(numbers)

    async def _copy(self, new: list[str], numbers: dict[str, str | None]) -> None:
        await repo.copy_entries(
            self._conn, [(n, self._campaign_id, numbers[n], None, self._expires_at) for n in new]
        )

    async def _checked_write(self, numbers: dict[str, str | None]) -> None:
        now = datetime.now(UTC)
        listed = await repo.listed_among(self._conn, list(numbers), self._campaign_id)
        expired = {n for n, expiry in listed.items() if expiry is not None and expiry <= now}
        renewed = [n for n, expiry in listed.items() if self._renews(expiry, now)]
        if renewed:
            await repo.renew_entries(
                self._conn, renewed, self._campaign_id, self._reason, self._expires_at, now
            )
        new = sorted(n for n in numbers if n not in listed)
        if new:
            await self._copy(new, numbers)
        self.report.added += len(new) + len(expired)
        self.report.already_present += len(listed) - len(expired)

    def _renews(self, expiry: datetime | None, now: datetime) -> bool:
        """Whether an entry the list has changes when added again: expired, or kept less long
        than this load asks."""
        if expiry is None:
            return False
        return expiry <= now or self._expires_at is None or self._expires_at > expiry


async def load_numbers(
    conn: asyncpg.Connection,
    batches: AsyncIterator[list[Row]],
    *,
    campaign_id: UUID | None,
    reason: str | None,
    expires_at: datetime | None,
    skip_invalid: bool,
    default_region: str,
    executor: Callable[[], Executor] | None,
    field_of: Callable[[InvalidLine], str],
) -> LoadReport:
    """Add the numbers to the global list or the campaign's, in the caller's transaction.
    Unless `skip_invalid`, one invalid number refuses them all (InvalidInput naming each
    invalid one's field, up to MAX_LISTED_ERRORS): the caller's transaction rolls back."""
    async with SuppressionLoad(
        conn, campaign_id, reason, expires_at, default_region, executor
    ) as load:
        async for batch in batches:
            await load.add(batch)
        report = await load.finish()
    if report.invalid_skipped and not skip_invalid:
        what = "is not a phone number" if report.invalid_skipped == 1 else "are not phone numbers"
        raise InvalidInput(
            f"{report.invalid_skipped} of {report.total_received} {what}; nothing was added"
            " (skipInvalid: true adds the others)",
            errors=[
                {"field": field_of(bad), "message": f"{bad.value!r}: {bad.reason}"}
                for bad in report.invalid_lines[:MAX_LISTED_ERRORS]
            ],
        )
    log.info(
        "numbers suppressed",
        campaign_id=str(campaign_id) if campaign_id else None,
        received=report.total_received,
        added=report.added,
        invalid=report.invalid_skipped,
    )
    return report


async def opt_out(conn: asyncpg.Connection, call_id: UUID) -> repo.Entry:
    """The call's recipient asked not to be called again: the number goes on the global list
    for ever, with reason OPT_OUT and the call as its source."""
    number = await call_repo.phone_number_of(conn, call_id)
    if number is None:
        raise NotFound(f"no call with id {call_id}")
    entry = await repo.add_entry(conn, number, None, repo.OPT_OUT, call_id, datetime.now(UTC))
    log.info("number opted out", call_id=str(call_id))
    return entry


def listed_number(raw: str, default_region: str, field_name: str) -> str:
    """A number given in a query or a path, as the list holds it; InvalidInput otherwise."""
    try:
        return normalize_for_list(raw, default_region)
    except InvalidPhoneNumber as exc:
        raise InvalidInput(str(exc), errors=[{"field": field_name, "message": str(exc)}]) from exc


async def list_entries(
    conn: asyncpg.Connection,
    campaign_id: UUID | None,
    phone_number: str | None,
    *,
    limit: int,
    offset: int,
    after: str | None,
) -> tuple[list[repo.Entry], int]:
    """A page of one list in number order, and how many entries match in all."""
    return await repo.list_entries(conn, campaign_id, phone_number, limit, offset, after)


async def remove(conn: asyncpg.Connection, phone_number: str, campaign_id: UUID | None) -> None:
    """Take the number off the list (calls it ended stay ended); NotFound if not there."""
    if not await repo.delete_entry(conn, phone_number, campaign_id):
        where = f"campaign {campaign_id}'s list" if campaign_id else "the global list"
        raise NotFound(f"{phone_number} is not on {where}")
    log.info("number taken off a do-not-call list", campaign_id=str(campaign_id or "global"))
