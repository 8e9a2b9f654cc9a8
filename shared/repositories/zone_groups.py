"""SQL about zone groups: the distinct places of recipients, a few hundred rows at most."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from shared.domain.recipient_zones import RecipientPlace

# The places travel as four arrays, the lists as comma-joined text: IANA zones and ISO 3166-2
# codes hold no comma, and a ragged array of arrays is not something PostgreSQL can take.
_WANTED = """
    SELECT DISTINCT string_to_array(z, ',') AS zones, string_to_array(r, ',') AS regions,
           c AS country, s AS source
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS w (z, r, c, s)
"""
_FIND = f"""
SELECT g.id, g.zones, g.regions, g.country, g.source
FROM zone_groups g JOIN ({_WANTED}) w
  ON g.zones = w.zones AND g.regions = w.regions AND g.source = w.source
 AND g.country IS NOT DISTINCT FROM w.country
"""
# Run under _CREATION_LOCK: whatever another load created is committed and found here, so
# only places that are really new are inserted (a conflict would still spend an id of the
# small sequence).
_CREATE = f"""
WITH found AS ({_FIND}), inserted AS (
    INSERT INTO zone_groups (zones, regions, country, source)
    SELECT w.zones, w.regions, w.country, w.source FROM ({_WANTED}) w
    WHERE NOT EXISTS (
        SELECT FROM found f
        WHERE f.zones = w.zones AND f.regions = w.regions AND f.source = w.source
          AND f.country IS NOT DISTINCT FROM w.country)
    RETURNING id, zones, regions, country, source
)
SELECT * FROM found UNION ALL SELECT * FROM inserted
"""
# New groups are created by one transaction at a time, until it ends: two loads that each
# inserted a place the other then needs would otherwise wait on each other's uncommitted rows
# (a deadlock). Once a deployment has seen its places, nothing takes this lock.
_CREATION_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('zone_groups', 0))"


def _arguments(places: list[RecipientPlace]) -> list[list[str | None]]:
    return [
        [",".join(p.zones) for p in places],
        [",".join(p.regions) for p in places],
        [p.country for p in places],
        [p.source for p in places],
    ]


def _place(row: asyncpg.Record) -> RecipientPlace:
    # Rows come back with lists; places hold tuples.
    return RecipientPlace(tuple(row["zones"]), tuple(row["regions"]), row["country"], row["source"])


async def zone_group_ids(
    conn: asyncpg.Connection, places: Iterable[RecipientPlace]
) -> dict[RecipientPlace, int]:
    """The id of each place's zone group: one statement when all exist, else the missing ones
    are created, under a lock held until the transaction ends."""
    wanted = list(set(places))
    rows = await conn.fetch(_FIND, *_arguments(wanted))
    ids = {_place(row): row["id"] for row in rows}
    missing = [place for place in wanted if place not in ids]
    if missing:
        await conn.execute(_CREATION_LOCK)
        rows = await conn.fetch(_CREATE, *_arguments(missing))
        ids.update((_place(row), row["id"]) for row in rows)
    return ids


class ZoneGroupCache:
    """Zone group ids known to one load: each place costs the database once per load."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._ids: dict[RecipientPlace, int] = {}

    def knows(self, places: Iterable[RecipientPlace]) -> bool:
        """Whether `ids` can answer for these places without the database."""
        return all(place in self._ids for place in places)

    async def ids(self, places: Iterable[RecipientPlace]) -> dict[RecipientPlace, int]:
        """Every given place's id (callers look up with the same places they passed)."""
        new = {place for place in places if place not in self._ids}
        if new:
            found = await zone_group_ids(self._conn, new)
            for place in new:
                self._ids[place] = found[place]
        return self._ids
