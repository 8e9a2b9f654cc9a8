"""SQL about zone groups: the distinct places of recipients, a few hundred rows at most."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from shared.domain.recipient_zones import RecipientPlace

# Ids of the places given, inserting the missing ones, in one statement. Only places not there
# yet are inserted (an insert that hits the conflict would still spend an id of the small
# sequence). The lists travel as comma-joined text: IANA zones and ISO 3166-2 codes hold no
# comma, and a ragged array of arrays is not something PostgreSQL can take as a parameter.
_GET_OR_CREATE = """
WITH wanted AS (
    SELECT DISTINCT string_to_array(z, ',') AS zones, string_to_array(r, ',') AS regions,
           c AS country, s AS source
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS w (z, r, c, s)
), found AS (
    SELECT g.id, g.zones, g.regions, g.country, g.source
    FROM zone_groups g JOIN wanted w
      ON g.zones = w.zones AND g.regions = w.regions AND g.source = w.source
     AND g.country IS NOT DISTINCT FROM w.country
), inserted AS (
    INSERT INTO zone_groups (zones, regions, country, source)
    SELECT w.zones, w.regions, w.country, w.source FROM wanted w
    WHERE NOT EXISTS (
        SELECT FROM found f
        WHERE f.zones = w.zones AND f.regions = w.regions AND f.source = w.source
          AND f.country IS NOT DISTINCT FROM w.country)
    ON CONFLICT DO NOTHING
    RETURNING id, zones, regions, country, source
)
SELECT * FROM found UNION ALL SELECT * FROM inserted
"""


def _key(place: RecipientPlace) -> RecipientPlace:
    # Rows come back as lists; the key is the place itself, with tuples.
    return RecipientPlace(tuple(place.zones), tuple(place.regions), place.country, place.source)


async def zone_group_ids(
    conn: asyncpg.Connection, places: Iterable[RecipientPlace]
) -> dict[RecipientPlace, int]:
    """The id of each place's zone group, created when missing, in one statement.

    A place another transaction inserted at the same moment is neither found (the statement's
    snapshot predates it) nor inserted (the conflict): it is asked for again, and then found.
    """
    wanted = {_key(place) for place in places}
    ids: dict[RecipientPlace, int] = {}
    for _ in range(3):
        missing = [place for place in wanted if place not in ids]
        if not missing:
            return ids
        rows = await conn.fetch(
            _GET_OR_CREATE,
            [",".join(p.zones) for p in missing],
            [",".join(p.regions) for p in missing],
            [p.country for p in missing],
            [p.source for p in missing],
        )
        for row in rows:
            place = RecipientPlace(
                tuple(row["zones"]), tuple(row["regions"]), row["country"], row["source"]
            )
            ids[place] = row["id"]
    missing = [place for place in wanted if place not in ids]
    if missing:
        raise RuntimeError(f"zone groups could not be created: {missing[:3]}")
    return ids


class ZoneGroupCache:
    """Zone group ids known to one load: each place costs the database once per load."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._ids: dict[RecipientPlace, int] = {}

    async def ids(self, places: Iterable[RecipientPlace]) -> dict[RecipientPlace, int]:
        """Every given place's id (callers look up with the same places they passed)."""
        new = {place for place in places if place not in self._ids}
        if new:
            found = await zone_group_ids(self._conn, new)
            for place in new:
                self._ids[place] = found[_key(place)]
        return self._ids
