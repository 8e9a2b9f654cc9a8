"""Assertions and waits that several e2e tests share."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from typing import Any

from tests.support.api_client import ApiClient
from tests.support.waiting import wait_until

FINAL_CALL_STATUSES = {"COMPLETED", "PERMANENTLY_FAILED", "CANCELLED"}


async def finished(api: ApiClient, campaign_id: str, timeout: float = 60) -> dict[str, Any]:
    """Wait until the campaign is COMPLETED, FAILED or CANCELLED; returns it."""

    async def done() -> dict[str, Any] | None:
        campaign = await api.campaign(campaign_id)
        return campaign if campaign["status"] in ("COMPLETED", "FAILED", "CANCELLED") else None

    return await wait_until(done, timeout=timeout, interval=0.2, message="campaign to finish")


async def metric_reaches(
    api: ApiClient, campaign_id: str, metric: str, at_least: int, timeout: float = 60
) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        campaign = await api.campaign(campaign_id)
        return campaign if campaign["metrics"][metric] >= at_least else None

    return await wait_until(
        reached, timeout=timeout, interval=0.1, message=f"{metric} >= {at_least}"
    )


def placed_per_number(dials: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for dial in dials:
        counts[dial["phoneNumber"]] += dial["placed"]
    return counts


def assert_never_two_live_calls_per_number(dials: list[dict[str, Any]]) -> None:
    spans: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for dial in dials:
        if dial["placed"]:
            spans[dial["phoneNumber"]].append(
                (
                    datetime.fromisoformat(dial["receivedAt"]),
                    datetime.fromisoformat(dial["endedAt"]),
                )
            )
    for number, intervals in spans.items():
        intervals.sort()
        for (_, previous_end), (next_start, _) in itertools.pairwise(intervals):
            assert next_start >= previous_end, f"{number} was in two live calls at once"
