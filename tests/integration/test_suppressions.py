"""Do-not-call lists and frequency caps through the app and the claim: what the API answers,
what it refuses (and leaves unchanged), and what the claim then dials.

No dispatcher runs: a test works out the zone groups' windows (and caps) as the dispatcher's
pass would, gives the campaign its lines, and claims as a worker would.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID, uuid4

import aiohttp
import asyncpg
import pytest

from services.api.operations import suppressions as suppression_load
from services.api.operations.number_file import Row
from services.dispatcher.windows import refresh_windows
from shared.domain.attempts import AttemptRef, NoDial, StartedAttempt
from shared.domain.endings import Ending
from shared.domain.frequency_caps import MAX_PERIOD_HOURS
from shared.domain.statuses import AttemptOutcome
from shared.repositories import suppressions as suppression_repo
from shared.repositories.attempts import fetch_dial_rules
from shared.repositories.claims import start_attempts
from shared.repositories.endings import end_attempt
from shared.repositories.number_dials import forget_old_dials, forget_unplaced
from shared.repositories.suppressions import forget_expired
from tests.integration import test_api_eligibility
from tests.integration.test_api_eligibility import (
    OPEN_NOW,
    Client,
    codes,
    eligibility,
    give_lines,
    instant,
    inventory,
    local_minute,
    window,
)
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

client = test_api_eligibility.client


def national(e164: str) -> str:
    """+14152000001 written as a person would: (415) 200-0001."""
    digits = e164[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


async def suppress(client: Client, numbers: list[str], **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/suppressions", json={"phoneNumbers": numbers, **fields})
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def listed(client: Client, number: str, campaign_id: str | None = None) -> list[Any]:
    query = f"phoneNumber={quote(number)}" + (f"&campaignId={campaign_id}" if campaign_id else "")
    response = await client.get(f"/api/v1/suppressions?{query}")
    assert response.status == 200, await response.text()
    return list(await response.json())


async def open_campaign(client: Client, db: asyncpg.Pool, numbers: list[str], **extra: Any) -> str:
    hours = window(*(local_minute(d) for d in OPEN_NOW))
    body = {"name": "dnc", "phoneNumbers": numbers, "businessHours": hours, **extra}
    response = await client.post("/api/v1/campaigns", json=body)
    assert response.status == 201, await response.text()
    created = dict(await response.json())
    test_api_eligibility._CREATED.append(created["id"])
    assert (await client.post(f"/api/v1/campaigns/{created['id']}/start")).status == 200
    await give_lines(db, created["id"], 50)
    return str(created["id"])


async def claim(conn: asyncpg.Connection, campaign_id: str, jobs: int) -> list[Any]:
    """A worker's claim for `jobs` jobs, after the dispatcher's pass over the windows."""
    await refresh_windows(conn, None, datetime.now(UTC))
    rules = await fetch_dial_rules(conn, UUID(campaign_id))
    assert rules is not None
    return await start_attempts(
        conn, rules, [uuid4() for _ in range(jobs)], "test", datetime.now(UTC), 1000
    )


async def call_of(db: asyncpg.Pool, campaign_id: str, number: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT id, status, failure_reason FROM calls WHERE campaign_id = $1 AND phone_number = $2",
        UUID(campaign_id),
        number,
    )
    assert row is not None
    return row


async def test_numbers_in_any_form_make_one_entry_which_can_be_found_and_removed(
    client: Client,
) -> None:
    first, second = fresh_numbers(2)
    answer = await suppress(client, [first, national(first), second], reason="asked")
    assert answer == {
        "totalReceived": 3,
        "added": 2,
        "alreadyPresent": 1,
        "invalidSkipped": 0,
        "invalidLines": [],
    }
    again = await suppress(client, [national(second)])
    assert (again["added"], again["alreadyPresent"]) == (0, 1)
    [entry] = await listed(client, national(first))
    assert entry["phoneNumber"] == first and entry["reason"] == "asked"
    assert entry["campaignId"] is None and entry["expiresAt"] is None
    deleted = await client.delete(f"/api/v1/suppressions/{quote(national(first))}")
    assert deleted.status == 204
    assert await listed(client, first) == []
    gone = await client.delete(f"/api/v1/suppressions/{quote(first)}")
    assert gone.status == 404


async def test_a_malformed_number_refuses_the_whole_request_unless_skipped(
    client: Client,
) -> None:
    good, other = fresh_numbers(2)
    response = await client.post(
        "/api/v1/suppressions", json={"phoneNumbers": [good, "not a number", other]}
    )
    assert response.status == 422
    problem = await response.json()
    assert [e["field"] for e in problem["errors"]] == ["phoneNumbers[1]"]
    assert await listed(client, good) == []
    skipped = await suppress(client, [good, "12", other], skipInvalid=True)
    assert (skipped["added"], skipped["invalidSkipped"]) == (2, 1)
    assert skipped["invalidLines"][0]["line"] == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phoneNumbers": []}, "phoneNumbers"),
        ({"phoneNumbers": ["+14155550100"], "campaignId": "nope"}, "campaignId"),
        ({"phoneNumbers": ["+14155550100"], "expiresAt": "2026-13-01"}, "expiresAt"),
        ({"phoneNumbers": ["+14155550100"], "colour": "red"}, "colour"),
    ],
)
async def test_bad_bodies_name_the_field(client: Client, body: dict[str, Any], field: str) -> None:
    response = await client.post("/api/v1/suppressions", json=body)
    assert response.status == 422, await response.text()
    assert field in [e["field"] for e in (await response.json())["errors"]]


async def test_a_file_with_a_reason_column_and_options_as_fields(client: Client) -> None:
    first, second = fresh_numbers(2)
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    form = aiohttp.FormData()
    form.add_field(
        "file", f"phone,reason\n{first},complained\n{national(second)},\n", filename="d.csv"
    )
    form.add_field("reason", "LIST_UPLOAD")
    form.add_field("expiresAt", expires.isoformat())
    response = await client.post("/api/v1/suppressions/import", data=form)
    assert response.status == 200, await response.text()
    assert (await response.json())["added"] == 2
    [one] = await listed(client, first)
    [two] = await listed(client, second)
    assert (one["reason"], two["reason"]) == ("complained", "LIST_UPLOAD")
    assert instant(two["expiresAt"]) == expires
    bad = aiohttp.FormData()
    bad.add_field("file", f"{fresh_numbers(1)[0]}\nhello\n", filename="d.txt")
    refused = await client.post("/api/v1/suppressions/import", data=bad)
    assert refused.status == 422
    assert [e["field"] for e in (await refused.json())["errors"]] == ["file (line 2)"]
    wrong = aiohttp.FormData()
    wrong.add_field("file", f"{fresh_numbers(1)[0]}\n", filename="d.txt")
    wrong.add_field("campaignId", "not-a-uuid")
    assert (await client.post("/api/v1/suppressions/import", data=wrong)).status == 422
    for field in ("campaignId", "reason"):
        empty = aiohttp.FormData()
        empty.add_field("file", f"{fresh_numbers(1)[0]}\n", filename="d.txt")
        empty.add_field(field, "")
        answer = await client.post("/api/v1/suppressions/import", data=empty)
        assert answer.status == 422, f"an empty {field} is refused, not read as absent"
        assert [e["field"] for e in (await answer.json())["errors"]] == [field]


async def test_a_load_copies_blind_until_the_list_has_a_number_then_checks_each_batch(
    client: Client, db: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of three: the first is new (copied without a look-up), the second repeats a
    number of the first (the index refuses it: the savepoint rolls back, the batch is looked
    up), the third holds an entry in force and an expired one (looked up: one kept, one
    renewed)."""
    monkeypatch.setattr(suppression_load, "BATCH_ROWS", 3)
    monkeypatch.setattr(suppression_load, "BLIND_COPY_ROWS", 3)
    n = fresh_numbers(8)
    kept, lapsed = n[5], n[6]
    await suppress(client, [kept], reason="old")
    await db.execute(
        "INSERT INTO suppressions (phone_number, reason, expires_at) VALUES ($1, 'gone', $2)",
        lapsed,
        datetime.now(UTC) - timedelta(days=1),
    )
    looked_up: list[int] = []
    listed_among = suppression_repo.listed_among

    async def counted(conn: Any, numbers: Any, campaign_id: Any) -> Any:
        looked_up.append(len(numbers))
        return await listed_among(conn, numbers, campaign_id)

    monkeypatch.setattr(suppression_repo, "listed_among", counted)
    lines = [n[0], n[1], n[2], n[3], national(n[0]), n[4], kept, lapsed, n[7]]
    rows = [Row(i + 1, line, None) for i, line in enumerate(lines)]

    async def batches() -> AsyncIterator[list[Row]]:
        for i in range(0, len(rows), 3):
            yield rows[i : i + 3]

    async with db.acquire() as conn, conn.transaction():
        report = await suppression_load.load_numbers(
            conn,
            batches(),
            campaign_id=None,
            reason="NEW",
            expires_at=None,
            skip_invalid=False,
            default_region="US",
            executor=None,
            field_of=lambda bad: "file",
        )
    assert (report.total_received, report.added, report.already_present) == (9, 7, 2)
    assert looked_up == [3, 3], "the first batch goes in without a look-up, the others with"
    reasons = {number: [e["reason"] for e in await listed(client, number)] for number in n}
    assert reasons == {**{number: ["NEW"] for number in n if number != kept}, kept: ["old"]}
    [renewed] = await listed(client, lapsed)
    assert renewed["expiresAt"] is None


async def test_an_oversized_upload_is_refused_before_it_is_read_whole(
    client: Client, settings: Any
) -> None:
    too_big = b"+14155550100\n" * (settings.max_request_bytes // 13 + 10)
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(too_big), filename="big.txt")
    response = await client.post("/api/v1/suppressions/import", data=form)
    assert response.status == 413


async def test_the_claim_ends_suppressed_numbers_and_dials_the_others(
    client: Client, db: asyncpg.Pool
) -> None:
    barred, free, theirs = fresh_numbers(3)
    campaign_id = await open_campaign(client, db, [barred, free, theirs])
    other_id = await open_campaign(client, db, [theirs])
    await suppress(client, [barred], reason="asked")
    await suppress(client, [theirs], campaignId=campaign_id)
    call = await call_of(db, campaign_id, barred)
    answer = await eligibility(client, call["id"])
    assert "SUPPRESSED" in codes(answer) and answer["nextEligibleAt"] is None
    counted = await inventory(client, campaign_id)
    assert counted["waiting"] == {"SUPPRESSED": 2} and counted["dialableNow"] == 1
    async with db.acquire() as conn:
        answers = await claim(conn, campaign_id, 3)
        dialled = [a.phone_number for a in answers if isinstance(a, StartedAttempt)]
        assert dialled == [free]
        assert NoDial.NUMBERS_BARRED in answers
        # The campaign's list bars the number in that campaign only.
        elsewhere = await claim(conn, other_id, 1)
        assert [a.phone_number for a in elsewhere if isinstance(a, StartedAttempt)] == [theirs]
    for number in (barred, theirs):
        row = await call_of(db, campaign_id, number)
        assert (row["status"], row["failure_reason"]) == ("CANCELLED", "SUPPRESSED")
    shown = await client.get(f"/api/v1/campaigns/{campaign_id}")
    assert (await shown.json())["metrics"]["suppressedCalls"] == 2


async def test_suppressed_numbers_are_imported_and_ended_at_once(
    client: Client, db: asyncpg.Pool
) -> None:
    barred, free = fresh_numbers(2)
    await suppress(client, [barred])
    hours = window(*(local_minute(d) for d in OPEN_NOW))
    response = await client.post(
        "/api/v1/campaigns",
        json={"name": "has one", "phoneNumbers": [barred, free], "businessHours": hours},
    )
    created = await response.json()
    test_api_eligibility._CREATED.append(created["id"])
    assert created["importSummary"]["suppressed"] == 1
    assert created["importSummary"]["totalImported"] == 2
    row = await call_of(db, created["id"], barred)
    assert (row["status"], row["failure_reason"]) == ("CANCELLED", "SUPPRESSED")
    single = await client.post("/api/v1/calls", json={"phoneNumber": national(barred)})
    assert single.status == 201
    body = await single.json()
    assert (body["status"], body["failureReason"]) == ("CANCELLED", "SUPPRESSED")


async def test_an_opt_out_puts_the_number_on_the_global_list_for_ever(
    client: Client, db: asyncpg.Pool
) -> None:
    [number] = fresh_numbers(1)
    campaign_id = await open_campaign(client, db, [number])
    await suppress(client, [number], expiresAt="2099-01-01T00:00:00Z")
    call = await call_of(db, campaign_id, number)
    response = await client.post(f"/api/v1/calls/{call['id']}/opt-out")
    assert response.status == 200, await response.text()
    entry = await response.json()
    assert entry["phoneNumber"] == number and entry["sourceCallId"] == str(call["id"])
    assert entry["expiresAt"] is None
    assert (await client.post(f"/api/v1/calls/{uuid4()}/opt-out")).status == 404


@pytest.mark.parametrize(
    ("caps", "field"),
    [
        ([{"maxAttempts": 0, "periodHours": 24}], "contactPolicy.frequencyCaps[0].maxAttempts"),
        ([{"maxAttempts": 3, "periodHours": -1}], "contactPolicy.frequencyCaps[0].periodHours"),
        ([{"maxAttempts": 3, "periodHours": 745}], "contactPolicy.frequencyCaps[0].periodHours"),
        ([{"maxAttempts": 3}], "contactPolicy.frequencyCaps[0].periodHours"),
    ],
)
async def test_bad_caps_are_refused_naming_the_field(
    client: Client, caps: list[Any], field: str
) -> None:
    body = {"name": "capped", "contactPolicy": {"frequencyCaps": caps}}
    response = await client.post("/api/v1/campaigns", json=body)
    assert response.status == 422, await response.text()
    assert field in [e["field"] for e in (await response.json())["errors"]]


async def test_a_cap_counts_the_attempts_of_every_campaign(
    client: Client, db: asyncpg.Pool
) -> None:
    [number] = fresh_numbers(1)
    caps = {"frequencyCaps": [{"maxAttempts": 1, "periodHours": 24}]}
    first = await open_campaign(client, db, [number])
    capped = await open_campaign(client, db, [number], contactPolicy=caps)
    shown = await (await client.get(f"/api/v1/campaigns/{capped}")).json()
    assert shown["contactPolicy"] == caps
    async with db.acquire() as conn:
        [started] = await claim(conn, first, 1)
        assert isinstance(started, StartedAttempt)
        await end_attempt(conn, started.ref, Ending(AttemptOutcome.COMPLETED), datetime.now(UTC))
        assert await claim(conn, capped, 1) == [NoDial.NOTHING_TO_DIAL]
    call = await call_of(db, capped, number)
    answer = await eligibility(client, call["id"])
    [reason] = [r for r in answer["reasons"] if r["code"] == "FREQUENCY_CAP"]
    started_at = await db.fetchval(
        "SELECT started_at FROM call_attempts WHERE call_id = $1", started.ref.call_id
    )
    assert reason["details"]["maxAttempts"] == 1 and reason["details"]["periodHours"] == 24
    assert [instant(t) for t in reason["details"]["countedAttempts"]] == [started_at]
    assert instant(answer["nextEligibleAt"]) == started_at + timedelta(hours=24)
    assert (await inventory(client, capped))["waiting"] == {"FREQUENCY_CAP": 1}


async def test_two_claims_racing_for_a_capped_number_dial_it_once(
    client: Client, db: asyncpg.Pool
) -> None:
    """The race the check exists for: the first claim's attempt starts and ends before the
    second claim's statement can see it. The second waits on the number's row, then fails the
    check, claims again, and passes the number over."""
    [number] = fresh_numbers(1)
    caps = {"frequencyCaps": [{"maxAttempts": 1, "periodHours": 24}]}
    one = await open_campaign(client, db, [number], contactPolicy=caps)
    two = await open_campaign(client, db, [number], contactPolicy=caps)
    async with db.acquire() as first, db.acquire() as second:
        await refresh_windows(second, None, datetime.now(UTC))
        transaction = first.transaction()
        await transaction.start()
        [started] = await claim(first, one, 1)
        assert isinstance(started, StartedAttempt)
        await end_attempt(first, started.ref, Ending(AttemptOutcome.BUSY), datetime.now(UTC))
        rules = await fetch_dial_rules(second, UUID(two))
        assert rules is not None
        for _ in range(10):
            racing = asyncio.ensure_future(
                start_attempts(second, rules, [uuid4()], "test", datetime.now(UTC), 1000)
            )
            # The second claim is blocked on the first's uncommitted rows, unless it started
            # from the line slot the first holds (1 in LINE_SLOTS): it then skips that slot and
            # finds no line at once, as a worker's claim does; claim again.
            done, _ = await asyncio.wait([racing], timeout=0.5)
            if not done or racing.result() != [NoDial.NO_FREE_LINE]:
                break
        assert not done
        await transaction.commit()
        assert await asyncio.wait_for(racing, 10) == [NoDial.NOTHING_TO_DIAL]
    attempts = await db.fetchval(
        "SELECT count(*) FROM call_attempts WHERE phone_number = $1", number
    )
    assert attempts == 1


async def test_an_unplaced_attempt_gives_its_count_back(client: Client, db: asyncpg.Pool) -> None:
    [number] = fresh_numbers(1)
    caps = {"frequencyCaps": [{"maxAttempts": 1, "periodHours": 24}]}
    first = await open_campaign(client, db, [number])
    capped = await open_campaign(client, db, [number], contactPolicy=caps)
    async with db.acquire() as conn:
        [started] = await claim(conn, first, 1)
        assert isinstance(started, StartedAttempt)
        ref = AttemptRef(started.ref.call_id, started.ref.attempt_no)
        await end_attempt(conn, ref, Ending(AttemptOutcome.NOT_PLACED, "503"), datetime.now(UTC))
        await forget_unplaced(conn, ref.call_id, ref.attempt_no)
        [again] = await claim(conn, capped, 1)
        assert isinstance(again, StartedAttempt) and again.phone_number == number


async def test_upkeep_forgets_expired_entries_and_dials_no_cap_counts(db: asyncpg.Pool) -> None:
    """The active dispatcher's upkeep (services/dispatcher/maintenance.py): an entry past its
    expiry and the dial history of a number not called within the longest cap period go;
    entries in force and recent dials stay."""
    expired, in_force, idle, recent = fresh_numbers(4)
    now = datetime.now(UTC)
    async with db.acquire() as conn:
        await conn.executemany(
            "INSERT INTO suppressions (phone_number, reason, expires_at) VALUES ($1, 'T', $2)",
            [(expired, now - timedelta(seconds=1)), (in_force, now + timedelta(days=1))],
        )
        long_ago = now - timedelta(hours=MAX_PERIOD_HOURS, minutes=1)
        await conn.executemany(
            "INSERT INTO number_dials (phone_number, started) VALUES ($1, $2)",
            [(idle, [long_ago]), (recent, [long_ago, now - timedelta(hours=1)])],
        )
        assert await forget_expired(conn, now) >= 1
        assert await forget_old_dials(conn, now) >= 1
        left = await conn.fetch(
            "SELECT phone_number FROM suppressions WHERE phone_number = ANY($1::text[])"
            " UNION ALL SELECT phone_number FROM number_dials WHERE phone_number = ANY($1::text[])",
            [expired, in_force, idle, recent],
        )
    assert sorted(r["phone_number"] for r in left) == sorted([in_force, recent])
