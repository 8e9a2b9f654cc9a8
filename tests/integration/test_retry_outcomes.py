"""Retry policy per outcome through the API and the SQL that ends attempts (docs/retries.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from services.api.app import create_app
from shared.domain.endings import TIMEOUT_REASON, Ending
from shared.domain.retry_policy import OutcomeRetry, RetryOutcome
from shared.domain.statuses import AttemptOutcome
from shared.repositories import campaigns as campaign_repo
from shared.repositories.attempts import fetch_dial_rules
from shared.repositories.endings import end_attempt
from shared.settings import Settings
from tests.integration.test_attempts import RETRY, call_row, now, running_campaign, start
from tests.support.api_client import TEST_API_KEY
from tests.support.numbers import fresh_numbers

pytestmark = pytest.mark.asyncio(loop_scope="session")

Client = TestClient  # type: ignore[type-arg]

OUTCOMES = {
    RetryOutcome.BUSY: OutcomeRetry(delay_ms=5_000),
    RetryOutcome.NO_ANSWER: OutcomeRetry(delay_ms=600_000, max_retries=1),
    RetryOutcome.NO_RESULT: OutcomeRetry(retry=False),
}


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> Client:
    return await aiohttp_client(
        create_app(settings), headers={"Authorization": f"Bearer {TEST_API_KEY}"}
    )


# -- the SQL path -----------------------------------------------------------------------------


async def end_first_dial(db: asyncpg.Pool, campaign_id: UUID, ending: Ending) -> dict[str, Any]:
    """Dial a number of the campaign, end the attempt so: its call's row, and `at` the time
    the ending was applied."""
    attempt = await start(db, campaign_id)
    at = now()
    async with db.acquire() as conn:
        await end_attempt(conn, attempt.ref, ending, at)
    row = await call_row(db, attempt.ref.call_id)
    return {"at": at, **dict(row)}


async def test_an_ending_applies_its_outcomes_rule(db: asyncpg.Pool) -> None:
    retry = replace(RETRY, outcomes=OUTCOMES)
    campaign_id = await running_campaign(db, fresh_numbers(5), retry=retry)

    busy = await end_first_dial(db, campaign_id, Ending(AttemptOutcome.BUSY, "busy"))
    assert busy["status"] == "FAILED"
    assert busy["next_retry_at"] == busy["at"] + timedelta(seconds=5)

    unanswered = await end_first_dial(db, campaign_id, Ending(AttemptOutcome.NO_ANSWER, "x"))
    assert unanswered["next_retry_at"] == unanswered["at"] + timedelta(minutes=10)

    # FAILED has no rule: the general callbackRetryDelayMs (60 s).
    failed = await end_first_dial(db, campaign_id, Ending(AttemptOutcome.FAILED, "x"))
    assert failed["next_retry_at"] == failed["at"] + timedelta(seconds=60)

    rejected = await end_first_dial(db, campaign_id, Ending(AttemptOutcome.REJECTED, "invalid"))
    assert rejected["status"] == "PERMANENTLY_FAILED" and rejected["next_retry_at"] is None

    timed_out = await end_first_dial(db, campaign_id, Ending(None, TIMEOUT_REASON))
    assert timed_out["status"] == "PERMANENTLY_FAILED"
    assert timed_out["failure_reason"] == TIMEOUT_REASON


async def test_an_outcomes_max_retries_ends_the_call(db: asyncpg.Pool) -> None:
    # The general maxRetries (2) would allow a second retry; BUSY's own (1) does not.
    retry = replace(RETRY, outcomes={RetryOutcome.BUSY: OutcomeRetry(delay_ms=0, max_retries=1)})
    campaign_id = await running_campaign(db, fresh_numbers(1), retry=retry)
    for expected in ("FAILED", "PERMANENTLY_FAILED"):
        row = await end_first_dial(db, campaign_id, Ending(AttemptOutcome.BUSY, "busy"))
        assert row["status"] == expected
    assert row["dial_count"] == 2


async def test_jitter_spreads_retries_within_its_ratio(db: asyncpg.Pool) -> None:
    retry = replace(
        RETRY, outcomes={RetryOutcome.BUSY: OutcomeRetry(delay_ms=10_000)}, jitter_ratio=0.5
    )
    campaign_id = await running_campaign(db, fresh_numbers(20), limit=20, retry=retry)
    waits = []
    for _ in range(20):
        row = await end_first_dial(db, campaign_id, Ending(AttemptOutcome.BUSY, "busy"))
        waits.append((row["next_retry_at"] - row["at"]).total_seconds())
    assert all(5 <= wait <= 15 for wait in waits), waits
    assert len(set(waits)) > 1, "jitter should spread the retries"


async def test_rules_are_stored_and_read_back_whole(db: asyncpg.Pool) -> None:
    retry = replace(RETRY, outcomes=OUTCOMES, jitter_ratio=0.25)
    campaign_id = await running_campaign(db, fresh_numbers(1), retry=retry)
    async with db.acquire() as conn:
        campaign = await campaign_repo.fetch_campaign(conn, campaign_id)
        rules = await fetch_dial_rules(conn, campaign_id)
        assert campaign is not None and rules is not None
        assert campaign.retry == retry and rules.retry == retry
        stored = await conn.fetchval(
            "SELECT retry_outcomes::text FROM campaigns WHERE id = $1", campaign_id
        )
        assert '"delayMs": 5000' in stored and "maxRetries" in stored
        changed = await campaign_repo.update_campaign(
            conn,
            campaign_id,
            campaign_repo.CampaignChanges(retry=replace(retry, outcomes={}, jitter_ratio=0.0)),
        )
        assert changed is not None and changed.retry.outcomes == {}
        assert changed.retry.jitter_ratio == 0.0


# -- the API ------------------------------------------------------------------------------------


async def problem_fields(response: Any) -> set[str]:
    assert response.status == 422, await response.text()
    body = await response.json()
    return {e["field"] for e in body.get("errors", [])}


@pytest.mark.parametrize(
    ("retry_config", "field"),
    [
        ({"outcomes": {"VOICEMAIL": {"retry": True}}}, "retryConfig.outcomes.VOICEMAIL"),
        ({"outcomes": {"busy": {"retry": True}}}, "retryConfig.outcomes.busy"),
        ({"outcomes": {"BUSY": {"delayMs": -1}}}, "retryConfig.outcomes.BUSY.delayMs"),
        ({"outcomes": {"BUSY": {"maxRetries": 21}}}, "retryConfig.outcomes.BUSY.maxRetries"),
        ({"outcomes": {"BUSY": {"maxRetries": -1}}}, "retryConfig.outcomes.BUSY.maxRetries"),
        (
            {"outcomes": {"NO_ANSWER": {"backoffMultiplier": 0.5}}},
            "retryConfig.outcomes.NO_ANSWER.backoffMultiplier",
        ),
        ({"outcomes": {"FAILED": {"retry": "yes"}}}, "retryConfig.outcomes.FAILED.retry"),
        ({"outcomes": {"FAILED": {"later": 1}}}, "retryConfig.outcomes.FAILED.later"),
        ({"outcomes": ["BUSY"]}, "retryConfig.outcomes"),
        ({"jitterRatio": 1.5}, "retryConfig.jitterRatio"),
        ({"jitterRatio": -0.1}, "retryConfig.jitterRatio"),
    ],
)
async def test_bad_rules_are_refused_by_field_and_change_nothing(
    client: Client, db: asyncpg.Pool, retry_config: dict[str, Any], field: str
) -> None:
    before = await db.fetchval("SELECT count(*) FROM campaigns")
    response = await client.post(
        "/api/v1/campaigns", json={"name": "bad rules", "retryConfig": retry_config}
    )
    assert field in await problem_fields(response)
    assert await db.fetchval("SELECT count(*) FROM campaigns") == before

    created = await client.post("/api/v1/campaigns", json={"name": "kept rules"})
    path = f"/api/v1/campaigns/{(await created.json())['id']}"
    kept = await (await client.get(path)).json()
    patched = await client.patch(path, json={"retryConfig": retry_config})
    assert field in await problem_fields(patched)
    assert await (await client.get(path)).json() == kept


async def test_rules_are_shown_and_patched(client: Client) -> None:
    defaults = await (await client.post("/api/v1/campaigns", json={"name": "seed way"})).json()
    assert defaults["retryConfig"]["outcomes"] == {}
    assert defaults["retryConfig"]["jitterRatio"] == 0

    response = await client.post(
        "/api/v1/campaigns",
        json={
            "name": "per outcome",
            "retryConfig": {
                "maxRetries": 4,
                "callbackRetryDelayMs": 1000,
                "jitterRatio": 0.2,
                "outcomes": {
                    "BUSY": {"delayMs": 5000, "backoffMultiplier": 2},
                    "REJECTED": {"retry": True, "maxRetries": 1},
                },
            },
        },
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    path = f"/api/v1/campaigns/{created['id']}"
    shown = (await (await client.get(path)).json())["retryConfig"]
    assert shown == created["retryConfig"]
    assert shown["jitterRatio"] == 0.2
    assert shown["outcomes"] == {
        "BUSY": {"retry": None, "maxRetries": None, "delayMs": 5000, "backoffMultiplier": 2.0},
        "REJECTED": {"retry": True, "maxRetries": 1, "delayMs": None, "backoffMultiplier": None},
    }

    # Fields merge as today; outcomes left out of the PATCH stay as they were.
    merged = await (await client.patch(path, json={"retryConfig": {"maxRetries": 2}})).json()
    assert merged["retryConfig"]["maxRetries"] == 2
    assert merged["retryConfig"]["outcomes"] == shown["outcomes"]
    assert merged["retryConfig"]["jitterRatio"] == 0.2

    # Given outcomes replace the whole map.
    replaced = await (
        await client.patch(
            path, json={"retryConfig": {"outcomes": {"NO_RESULT": {"retry": False}}}}
        )
    ).json()
    assert set(replaced["retryConfig"]["outcomes"]) == {"NO_RESULT"}
    assert replaced["retryConfig"]["callbackRetryDelayMs"] == 1000
    cleared = await (await client.patch(path, json={"retryConfig": {"outcomes": {}}})).json()
    assert cleared["retryConfig"]["outcomes"] == {}


async def test_the_document_describes_the_rules(client: Client) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    schemas = document["components"]["schemas"]
    names = {name for name in schemas if "Outcome" in name or "RetryConfig" in name}
    retry_in = next(schemas[n] for n in names if n.startswith("RetryConfigIn"))
    assert {"outcomes", "jitterRatio"} <= set(retry_in["properties"])
    outcomes_in = next(schemas[n] for n in names if n.startswith("RetryOutcomesIn"))
    assert set(outcomes_in["properties"]) == {
        "BUSY",
        "NO_ANSWER",
        "FAILED",
        "REJECTED",
        "MACHINE",
        "NO_RESULT",
    }
    assert outcomes_in.get("additionalProperties") is False
