"""The SQL text built from our own constants (shared.repositories.sql)."""

from __future__ import annotations

from shared.domain.statuses import FINAL_CALL_STATUSES, CallStatus, CampaignStatus
from shared.repositories.sql import (
    FINAL_CAMPAIGN_STATUSES_SQL,
    OPEN_CALL_STATUSES_SQL,
    after,
    sql_list,
    sql_literal,
)


def test_status_lists_follow_the_enums_in_their_order() -> None:
    assert sql_literal(CallStatus.PENDING) == "'PENDING'"
    assert sql_list({CallStatus.FAILED, CallStatus.PENDING}) == "('PENDING', 'FAILED')"
    assert OPEN_CALL_STATUSES_SQL == "('PENDING', 'SCHEDULED', 'IN_PROGRESS', 'FAILED')"
    assert FINAL_CAMPAIGN_STATUSES_SQL == "('COMPLETED', 'FAILED', 'CANCELLED')"


def test_open_and_final_call_statuses_cover_every_status_once() -> None:
    open_statuses = set(CallStatus) - FINAL_CALL_STATUSES
    assert open_statuses and open_statuses.isdisjoint(FINAL_CALL_STATUSES)
    assert all(f"'{s}'" in OPEN_CALL_STATUSES_SQL for s in open_statuses)
    assert all(f"'{s}'" not in OPEN_CALL_STATUSES_SQL for s in FINAL_CALL_STATUSES)


def test_a_list_of_statuses_of_one_enum_only_is_its_own_order() -> None:
    assert sql_list([CampaignStatus.PAUSED, CampaignStatus.IN_PROGRESS]) == (
        "('IN_PROGRESS', 'PAUSED')"
    )


def test_after_is_a_condition_that_reads_the_cte() -> None:
    assert after("locked") == "(SELECT count(*) FROM locked) >= 0"
