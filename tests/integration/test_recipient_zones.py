"""Each ingestion path stores every number's place once (its zone group) and the calls show
it: a `timezone` attribute first, then a US postal code, then the number itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.settings import Settings
from tests.support.api_client import TEST_API_KEY

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]

NEW_YORK = "+12125550123"
LOS_ANGELES = "+13105550123"
NORTH_DAKOTA = "+17015550123"  # area code 701 spans Central and Mountain time
TOLL_FREE = "+18005550123"
BAD_ZONE = "Mars/Olympus_Mons"


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> Client:
    return await aiohttp_client(
        create_app(settings), headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    )


async def create(client: Client, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/campaigns", json={"name": "zones", **fields})
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def zones_of(client: Client, campaign_id: str) -> dict[str, tuple[Any, str]]:
    """Each listed call's (timezone, timezoneSource), by number."""
    response = await client.get(f"/api/v1/campaigns/{campaign_id}/calls?size=1000")
    assert response.status == 200, await response.text()
    return {c["phoneNumber"]: (c["timezone"], c["timezoneSource"]) for c in await response.json()}


async def problem_fields(response: Any) -> set[str]:
    assert response.status == 422, await response.text()
    body = await response.json()
    return {e["field"] for e in body["errors"]}


def check_the_usual_places(zones: dict[str, tuple[Any, str]]) -> None:
    assert zones[NEW_YORK] == ("America/New_York", "area_code")
    assert zones[LOS_ANGELES] == ("America/Chicago", "attribute_timezone")
    assert zones[NORTH_DAKOTA] == (["America/Denver", "America/North_Dakota/Center"], "area_code")
    toll_free, source = zones[TOLL_FREE]
    assert source == "country" and isinstance(toll_free, list)
    assert {"America/New_York", "Pacific/Honolulu", "America/Anchorage"} <= set(toll_free)


USUAL_CONTACTS = [
    {"phoneNumber": NEW_YORK},
    {"phoneNumber": LOS_ANGELES, "attributes": {"timezone": "America/Chicago"}},
    {"phoneNumber": NORTH_DAKOTA, "attributes": {"name": "Ola"}},
    {"phoneNumber": TOLL_FREE},
]


async def test_campaign_create_with_phone_numbers_stores_each_numbers_zone(
    client: Client,
) -> None:
    campaign = await create(client, phoneNumbers=[NEW_YORK, NORTH_DAKOTA, TOLL_FREE])
    zones = await zones_of(client, campaign["id"])
    assert zones[NEW_YORK] == ("America/New_York", "area_code")
    assert zones[NORTH_DAKOTA][0] == ["America/Denver", "America/North_Dakota/Center"]
    assert zones[TOLL_FREE][1] == "country"


async def test_campaign_create_with_contacts_reads_their_attributes(client: Client) -> None:
    campaign = await create(client, contacts=USUAL_CONTACTS)
    check_the_usual_places(await zones_of(client, campaign["id"]))


async def test_json_batch_of_contacts_stores_zones_from_attributes(
    client: Client, db: asyncpg.Pool
) -> None:
    campaign = await create(client)
    contacts = [
        *USUAL_CONTACTS,
        # A ZIP in Chicago for a New York area code: the ZIP says where the person is.
        {"phoneNumber": "+12125550124", "attributes": {"postalCode": "60601"}},
        {"phoneNumber": "+12125550125", "attributes": {"zip": "94103-1234"}},
    ]
    response = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/import/batch", json={"contacts": contacts}
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["totalImported"] == 6
    zones = await zones_of(client, campaign["id"])
    check_the_usual_places(zones)
    assert zones["+12125550124"] == ("America/Chicago", "postal_code")
    assert zones["+12125550125"] == ("America/Los_Angeles", "postal_code")
    # The attributes are kept with the call, as a file's extra columns are.
    call_attributes = await db.fetchval(
        "SELECT attributes FROM calls WHERE campaign_id = $1 AND phone_number = $2",
        campaign["id"],
        LOS_ANGELES,
    )
    assert call_attributes == {"timezone": "America/Chicago"}
    # Places are stored once, in groups; calls carry the group's key.
    groups = await db.fetchval(
        "SELECT count(DISTINCT zone_group_id) FROM calls WHERE campaign_id = $1", campaign["id"]
    )
    assert groups == 6


async def test_json_batch_of_phone_numbers_stores_zones(client: Client) -> None:
    campaign = await create(client)
    response = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/import/batch",
        json={"phoneNumbers": [NEW_YORK, TOLL_FREE]},
    )
    assert response.status == 200, await response.text()
    zones = await zones_of(client, campaign["id"])
    assert zones[NEW_YORK] == ("America/New_York", "area_code")
    assert zones[TOLL_FREE][1] == "country"


async def test_a_large_batch_resolved_in_the_validation_pool_stores_zones(
    client: Client, db: asyncpg.Pool
) -> None:
    # Enough rows that the chunk goes to the process pool rather than the event loop.
    numbers = [f"+1212555{i:04d}" for i in range(600)] + [f"+1310555{i:04d}" for i in range(600)]
    contacts = [
        {"phoneNumber": n, "attributes": {"timezone": "America/Chicago"}}
        if n.startswith("+1310")
        # One bad zone among them: skipped and reported, the rest loaded.
        else {"phoneNumber": n, "attributes": {"tz": BAD_ZONE}}
        if n == "+12125550007"
        else {"phoneNumber": n}
        for n in numbers
    ]
    campaign = await create(client)
    response = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/import/batch", json={"contacts": contacts}
    )
    assert response.status == 200, await response.text()
    result = await response.json()
    assert (result["totalImported"], result["invalidSkipped"]) == (1199, 1)
    assert (
        result["invalidLines"][0]["line"] == 8 and BAD_ZONE in result["invalidLines"][0]["reason"]
    )
    rows = await db.fetch(
        "SELECT z.zones, z.source, count(*) FROM calls c JOIN zone_groups z"
        " ON z.id = c.zone_group_id WHERE c.campaign_id = $1 GROUP BY 1, 2 ORDER BY 1",
        campaign["id"],
    )
    assert [(r["zones"], r["source"], r["count"]) for r in rows] == [
        (["America/Chicago"], "attribute_timezone", 600),
        (["America/New_York"], "area_code", 599),
    ]


async def test_csv_upload_reads_timezone_and_zip_columns(client: Client) -> None:
    campaign = await create(client)
    csv = (
        "phone,timezone,zip,name\n"
        f"{NEW_YORK},,,Ada\n"
        f"{LOS_ANGELES},America/Chicago,,Bob\n"
        "+12125550124,,60601,Cy\n"
        f"+12125550125,{BAD_ZONE},,Di\n"
        f"{NORTH_DAKOTA},,,Ed\n"
        f"{TOLL_FREE},,,Flo\n"
    )
    form = aiohttp.FormData()
    form.add_field("file", csv.encode(), filename="contacts.csv", content_type="text/csv")
    response = await client.post(f"/api/v1/campaigns/{campaign['id']}/import", data=form)
    assert response.status == 200, await response.text()
    result = await response.json()
    assert (result["totalImported"], result["invalidSkipped"]) == (5, 1)
    bad = result["invalidLines"][0]
    assert bad["line"] == 5 and bad["value"] == "+12125550125"
    assert BAD_ZONE in bad["reason"] and "IANA" in bad["reason"]
    zones = await zones_of(client, campaign["id"])
    check_the_usual_places(zones)
    assert zones["+12125550124"] == ("America/Chicago", "postal_code")
    assert "+12125550125" not in zones
    export = await client.get(f"/api/v1/campaigns/{campaign['id']}/calls/export")
    text = await export.text()
    assert "America/Chicago,attribute_timezone" in text
    assert "America/Denver America/North_Dakota/Center,area_code" in text


async def test_single_call_stores_and_shows_its_zone(client: Client) -> None:
    response = await client.post(
        "/api/v1/calls",
        json={"phoneNumber": LOS_ANGELES, "attributes": {"timezone": "america/chicago"}},
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    assert (created["timezone"], created["timezoneSource"]) == (
        "America/Chicago",
        "attribute_timezone",
    )
    shown = await (await client.get(f"/api/v1/calls/{created['id']}")).json()
    assert (shown["timezone"], shown["timezoneSource"]) == ("America/Chicago", "attribute_timezone")
    assert shown["attributes"] == {"timezone": "america/chicago"}
    plain = await (await client.post("/api/v1/calls", json={"phoneNumber": NEW_YORK})).json()
    assert (plain["timezone"], plain["timezoneSource"]) == ("America/New_York", "area_code")


async def test_single_call_with_an_unknown_zone_is_refused(
    client: Client, db: asyncpg.Pool
) -> None:
    before = await db.fetchval("SELECT count(*) FROM calls")
    response = await client.post(
        "/api/v1/calls", json={"phoneNumber": NEW_YORK, "attributes": {"timeZone": BAD_ZONE}}
    )
    assert await problem_fields(response) == {"attributes.timeZone"}
    assert await db.fetchval("SELECT count(*) FROM calls") == before


async def test_strict_campaign_create_refuses_an_unknown_zone(
    client: Client, db: asyncpg.Pool
) -> None:
    campaigns = await db.fetchval("SELECT count(*) FROM campaigns")
    contacts = [*USUAL_CONTACTS, {"phoneNumber": "+12125550199", "attributes": {"tz": BAD_ZONE}}]
    response = await client.post(
        "/api/v1/campaigns",
        json={"name": "strict", "contacts": contacts, "strictNumbers": True},
    )
    assert await problem_fields(response) == {"contacts[4].attributes.tz"}
    assert await db.fetchval("SELECT count(*) FROM campaigns") == campaigns
    # Without strictNumbers the contact is skipped and reported.
    lenient = await create(client, contacts=contacts)
    summary = lenient["importSummary"]
    assert (summary["totalImported"], summary["invalidSkipped"]) == (4, 1)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phoneNumbers": [NEW_YORK], "contacts": [{"phoneNumber": LOS_ANGELES}]}, "contacts"),
        ({}, "phoneNumbers"),
        ({"phoneNumbers": None}, "phoneNumbers"),
    ],
)
async def test_a_batch_takes_exactly_one_list(
    client: Client, db: asyncpg.Pool, payload: dict[str, Any], field: str
) -> None:
    campaign = await create(client)
    response = await client.post(f"/api/v1/campaigns/{campaign['id']}/import/batch", json=payload)
    assert field in await problem_fields(response)
    assert (
        await db.fetchval("SELECT count(*) FROM calls WHERE campaign_id = $1", campaign["id"]) == 0
    )


async def test_campaign_create_refuses_both_lists(client: Client, db: asyncpg.Pool) -> None:
    campaigns = await db.fetchval("SELECT count(*) FROM campaigns")
    response = await client.post(
        "/api/v1/campaigns",
        json={"name": "both", "phoneNumbers": [NEW_YORK], "contacts": [{"phoneNumber": TOLL_FREE}]},
    )
    assert await problem_fields(response) == {"contacts"}
    assert await db.fetchval("SELECT count(*) FROM campaigns") == campaigns


async def test_calls_from_before_zone_groups_show_an_unknown_zone(
    client: Client, db: asyncpg.Pool
) -> None:
    campaign = await create(client, phoneNumbers=[NEW_YORK])
    await db.execute("UPDATE calls SET zone_group_id = NULL WHERE campaign_id = $1", campaign["id"])
    assert await zones_of(client, campaign["id"]) == {NEW_YORK: (None, "unknown")}


async def test_zone_groups_are_shared_and_not_duplicated(db: asyncpg.Pool) -> None:
    from shared.domain.recipient_zones import recipient_place
    from shared.repositories.zone_groups import zone_group_ids

    places = [recipient_place(NEW_YORK), recipient_place("+15555"), recipient_place(TOLL_FREE)]
    async with db.acquire() as conn:
        first = await zone_group_ids(conn, places)
        again = await zone_group_ids(conn, places)
    assert first == again and len(set(first.values())) == 3
    unknown = await db.fetchrow(
        "SELECT zones, country, source FROM zone_groups WHERE id = $1", first[places[1]]
    )
    assert dict(unknown) == {"zones": [], "country": None, "source": "unknown"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/calls", {"phoneNumber": NEW_YORK, "attributes": {"name": "a\u0000b"}}),
        ("/api/v1/calls", {"phoneNumber": NEW_YORK, "attributes": {"\u0000": "b"}}),
        (
            "/api/v1/campaigns",
            {"name": "nul", "contacts": [{"phoneNumber": NEW_YORK, "attributes": {"x": "\u0000"}}]},
        ),
    ],
)
async def test_attributes_postgresql_cannot_store_are_a_422(
    client: Client, db: asyncpg.Pool, path: str, body: dict[str, Any]
) -> None:
    calls = await db.fetchval("SELECT count(*) FROM calls")
    response = await client.post(path, json=body)
    assert response.status == 422, await response.text()
    assert await db.fetchval("SELECT count(*) FROM calls") == calls


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        ({"phoneNumber": NEW_YORK, "name": "Ola"}, "contacts[1].name"),
        ({"attributes": {"timezone": "UTC"}}, "contacts[1].phoneNumber"),
        ({"phoneNumber": 12125550123}, "contacts[1].phoneNumber"),
        ({"phoneNumber": NEW_YORK, "attributes": {"n": 1}}, "contacts[1].attributes.n"),
        ({"phoneNumber": NEW_YORK, "attributes": {"n": "a\u0000b"}}, "contacts[1].attributes.n"),
        ({"phoneNumber": NEW_YORK, "attributes": ["timezone"]}, "contacts[1].attributes"),
        ("+12125550123", "contacts[1]"),
    ],
)
async def test_a_malformed_contact_is_refused_by_its_field_and_nothing_is_created(
    client: Client, db: asyncpg.Pool, contact: Any, field: str
) -> None:
    contacts = [{"phoneNumber": LOS_ANGELES}, contact]
    campaigns_before = await db.fetchval("SELECT count(*) FROM campaigns")
    created = await client.post("/api/v1/campaigns", json={"name": "bad", "contacts": contacts})
    assert field in await problem_fields(created)
    assert await db.fetchval("SELECT count(*) FROM campaigns") == campaigns_before
    campaign = await create(client)
    imported = await client.post(
        f"/api/v1/campaigns/{campaign['id']}/import/batch", json={"contacts": contacts}
    )
    assert field in await problem_fields(imported)
    calls = await db.fetchval("SELECT count(*) FROM calls WHERE campaign_id = $1", campaign["id"])
    assert calls == 0
