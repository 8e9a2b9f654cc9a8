"""Loading numbers into a campaign: validated in chunks off the event loop and copied straight
into the calls table with COPY, while the next chunk is being read.

Duplicates are dropped before the copy, against the numbers the campaign already has and
those seen earlier in the same load; a transaction-scoped advisory lock keeps two loads into
one campaign from racing. Memory stays bounded by a few chunks, plus that set of numbers.
Validation runs in a process pool (libphonenumber is pure Python: about 9 µs a number), and
so does the resolution of each valid number's place (its candidate time zones): every call is
copied with the id of its zone group, which the calling rules read instead of the number.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any
from uuid import UUID

import asyncpg

from services.api.operations.number_file import Row
from shared.db.pool import RawJson
from shared.domain.contacts import (
    CheckedContacts,
    InvalidValidity,
    check_contacts,
    contact_validity,
    has_validity,
)
from shared.domain.recipient_zones import is_location_attribute, location_attributes
from shared.domain.statuses import CallStatus
from shared.errors import InvalidInput
from shared.repositories import ingestion as ingestion_repo
from shared.repositories import suppressions as suppression_repo
from shared.repositories.zone_groups import ZoneGroupCache
from shared.repositories.zone_windows import register_groups

CHUNK_ROWS = 5000
#: Below this, validating in the event loop costs less than a trip to the pool.
INLINE_VALIDATION_ROWS = 500
#: Chunks validated or waiting to be copied while more rows are read.
LOADS_IN_FLIGHT = 3
#: How many invalid lines a report lists; the count covers all of them.
MAX_LISTED_INVALID = 1000

_Validated = CheckedContacts
#: Every loaded call starts so, but for a suppressed number: that one ends at once.
_PENDING = CallStatus.PENDING.value
_CANCELLED = CallStatus.CANCELLED.value


@dataclass(frozen=True)
class InvalidLine:
    line: int
    value: str
    reason: str
    #: The attribute at fault (an unknown `timezone`), or None when the number is.
    field: str | None = None


@dataclass
class ImportReport:
    total_received: int = 0
    total_imported: int = 0
    duplicates_skipped: int = 0
    invalid_skipped: int = 0
    #: Imported, and ended at once: their numbers are on a do-not-call list.
    suppressed: int = 0
    invalid_lines: list[InvalidLine] = field(default_factory=list)

    @property
    def invalid_lines_truncated(self) -> bool:
        return self.invalid_skipped > len(self.invalid_lines)


def shown_value(text: str) -> str:
    """An invalid line's value as a report echoes it: at most 100 characters, NUL shown as
    U+FFFD (a stored answer, the idempotency record, is jsonb, which cannot hold NUL)."""
    return text[:100].replace("\x00", "\ufffd")


def attributes_json(attributes: dict[str, str]) -> RawJson:
    """A file line's extra columns as a JSON object. Names and values are strings, so the C
    string encoder does all the work: a third of json.dumps' cost, which matters on the event
    loop at 100,000 lines."""
    members = ",".join(
        f"{encode_basestring(k)}:{encode_basestring(v)}" for k, v in attributes.items()
    )
    return RawJson(("{" + members + "}").encode())


async def listed_rows(numbers: list[str]) -> AsyncIterator[list[Row]]:
    """Rows of a JSON list (line = position from 1), made a chunk at a time."""
    for start in range(0, len(numbers), CHUNK_ROWS):
        chunk = numbers[start : start + CHUNK_ROWS]
        yield [Row(start + i + 1, number, None) for i, number in enumerate(chunk)]


def requested_rows(
    phone_numbers: list[str] | None,
    contacts: list[tuple[str, dict[str, str] | None]] | None,
    *,
    required: bool,
) -> AsyncIterator[list[Row]] | None:
    """The rows of a JSON body's `phoneNumbers` or `contacts` (None when neither and neither
    is required); InvalidInput, before anything is written, when both are given."""
    if phone_numbers is not None and contacts is not None:
        message = "give phoneNumbers or contacts, not both"
        raise InvalidInput(message, errors=[{"field": "contacts", "message": message}])
    if contacts is not None:
        return contact_rows(contacts)
    if phone_numbers is not None:
        return listed_rows(phone_numbers)
    if required:
        message = "give phoneNumbers or contacts"
        raise InvalidInput(message, errors=[{"field": "phoneNumbers", "message": message}])
    return None


def invalid_field(bad: InvalidLine, contacts: bool) -> str:
    """Where an invalid line was in a JSON body, as a 422 names the field."""
    index = bad.line - 1
    if not contacts:
        return f"phoneNumbers[{index}]"
    if bad.field is None:
        return f"contacts[{index}].phoneNumber"
    return f"contacts[{index}].attributes.{bad.field}"


async def contact_rows(
    contacts: list[tuple[str, dict[str, str] | None]],
) -> AsyncIterator[list[Row]]:
    """Rows of a JSON list of (number, attributes) (line = position from 1), a chunk at a time."""
    for start in range(0, len(contacts), CHUNK_ROWS):
        chunk = contacts[start : start + CHUNK_ROWS]
        yield [
            Row(start + i + 1, number, attributes or None)
            for i, (number, attributes) in enumerate(chunk)
        ]


def attribute_names(chunk: list[Row]) -> set[str]:
    """Every attribute name some row of the chunk has (a file's: its columns)."""
    return set().union(*(row.attributes for row in chunk if row.attributes))


def _location_attributes(chunk: list[Row]) -> list[dict[str, str] | None] | None:
    """Per row, only the attributes that say where the recipient is, for the pool (a file's
    other columns would only be pickled there and back); None when no row has any, which the
    columns' names tell at once for a whole file chunk."""
    names = attribute_names(chunk)
    if not any(is_location_attribute(name) for name in names):
        return None
    return [location_attributes(row.attributes) for row in chunk]


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
        #: Whether any do-not-call list has entries to check the numbers against.
        self._lists = False
        self._campaign_id = campaign_id
        self._region = default_region
        self._executor = executor
        self._seen: set[str] = set()
        self._existing: set[str] = set()
        self._groups = ZoneGroupCache(conn)
        #: Zone groups this load has told campaign_zone_groups about.
        self._registered: set[int] = set()
        # Chunks being validated, waiting for the one connection to copy them, in order. The
        # bound keeps memory to a few chunks while parsing, validation and COPY overlap.
        self._loads: asyncio.Queue[tuple[list[Row], asyncio.Future[_Validated]] | None] = (
            asyncio.Queue(maxsize=LOADS_IN_FLIGHT)
        )
        self._loader: asyncio.Task[None] | None = None
        self.report = ImportReport()

    async def __aenter__(self) -> Ingestion:
        await ingestion_repo.lock_campaign_loads(self._conn, self._campaign_id)
        self._existing = await ingestion_repo.deduplicated_numbers(self._conn, self._campaign_id)
        self._lists = await suppression_repo.any_in_force(self._conn)
        self._loader = asyncio.create_task(self._load_in_order())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._loader is not None and not self._loader.done():
            self._loader.cancel()
            with suppress(asyncio.CancelledError):
                await self._loader

    async def add(self, rows: Sequence[Row]) -> None:
        """Take rows in any number; they are validated and copied a chunk at a time while the
        caller goes on producing rows."""
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = list(rows[start : start + CHUNK_ROWS])
            self.report.total_received += len(chunk)
            await self._put((chunk, self._validate(chunk)))

    async def finish(self) -> ImportReport:
        """Wait for the last chunk to be copied."""
        await self._put(None)
        assert self._loader is not None
        await self._loader
        return self.report

    async def _put(self, item: tuple[list[Row], asyncio.Future[_Validated]] | None) -> None:
        """Queue a load, or surface the loader's failure instead of waiting on it for ever."""
        assert self._loader is not None
        putting = asyncio.ensure_future(self._loads.put(item))
        await asyncio.wait([putting, self._loader], return_when=asyncio.FIRST_COMPLETED)
        if not putting.done():
            putting.cancel()
            self._loader.result()  # raises the loader's error

    async def _load_in_order(self) -> None:
        """Each chunk's records are made while the one before is being copied: the copy (one
        backend, the load's critical path) then waits only for the records' last chunk."""
        storing: asyncio.Task[None] | None = None
        try:
            while (item := await self._loads.get()) is not None:
                chunk, validating = item
                checked = await validating
                if storing is not None and not self._groups.knows(checked.places):
                    # New places are looked up on the load's one connection, copying or not.
                    await storing
                    storing = None
                records, used = await self._prepare(chunk, checked)
                if storing is not None:
                    await storing
                storing = asyncio.create_task(self._store(records, used))
            if storing is not None:
                await storing
        finally:
            if storing is not None and not storing.done():
                storing.cancel()
                with suppress(asyncio.CancelledError):
                    await storing

    def _validate(self, chunk: list[Row]) -> asyncio.Future[_Validated]:
        numbers = [row.number for row in chunk]
        attributes = _location_attributes(chunk)
        loop = asyncio.get_running_loop()
        if self._executor is None or len(chunk) < INLINE_VALIDATION_ROWS:
            future: asyncio.Future[_Validated] = loop.create_future()
            future.set_result(check_contacts(numbers, attributes, self._region))
            return future
        return loop.run_in_executor(
            self._executor(), check_contacts, numbers, attributes, self._region
        )

    async def _prepare(
        self, chunk: list[Row], checked: _Validated
    ) -> tuple[list[tuple[Any, ...]], set[int]]:
        """The chunk's new calls as records to copy, and the zone groups they use."""
        valid, invalid, places = checked
        report = self.report
        for index, reason, at_fault in invalid:
            self._skip(chunk[index], reason, at_fault)
        known = await self._groups.ids(places)
        group_ids = [known[place] for place in places]
        # Most chunks have no validity attribute at all: told by the chunk's attribute names.
        bounded = has_validity(attribute_names(chunk))
        records = []
        used: set[int] = set()
        for index, number, slot in valid:
            if number in self._seen or number in self._existing:
                report.duplicates_skipped += 1
                continue
            attributes = chunk[index].attributes
            not_before = expires_at = None
            if bounded:
                try:
                    not_before, expires_at = contact_validity(attributes)
                except InvalidValidity as exc:
                    self._skip(chunk[index], str(exc), exc.field)
                    continue
            self._seen.add(number)
            used.add(group_ids[slot])
            records.append(
                (
                    self._campaign_id,
                    number,
                    _PENDING,
                    attributes_json(attributes) if attributes else None,
                    group_ids[slot],
                    not_before,
                    expires_at,
                    None,
                )
            )
        return records, used

    async def _store(self, records: list[tuple[Any, ...]], used: set[int]) -> None:
        if records and self._lists:
            records = await self._end_suppressed(records)
        if records:
            await ingestion_repo.copy_new_calls(self._conn, records)
            new_groups = used - self._registered
            if new_groups:
                await register_groups(self._conn, self._campaign_id, new_groups)
                self._registered |= new_groups
            self.report.total_imported += len(records)

    async def _end_suppressed(self, records: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The records, those of suppressed numbers made CANCELLED (reason SUPPRESSED)."""
        barred = await suppression_repo.suppressed_among(
            self._conn, [r[1] for r in records], self._campaign_id, datetime.now(UTC)
        )
        if not barred:
            return records
        self.report.suppressed += len(barred)
        return [
            (*r[:2], _CANCELLED, *r[3:-1], suppression_repo.SUPPRESSED) if r[1] in barred else r
            for r in records
        ]

    def _skip(self, row: Row, reason: str, at_fault: str | None) -> None:
        report = self.report
        report.invalid_skipped += 1
        if len(report.invalid_lines) < MAX_LISTED_INVALID:
            report.invalid_lines.append(
                InvalidLine(row.line, shown_value(row.number), reason, at_fault)
            )
