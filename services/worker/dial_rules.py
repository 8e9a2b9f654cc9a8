"""The worker's copy of each campaign's dialling rules, checked against the settings version
by the claim itself, so a stale copy can never let a call through."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from shared.domain.attempts import DialRules
from shared.repositories.attempts import fetch_dial_rules


class DialRulesCache:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._rules: dict[UUID, DialRules] = {}

    async def get(self, campaign_id: UUID, *, fresh: bool = False) -> DialRules | None:
        rules = None if fresh else self._rules.get(campaign_id)
        if rules is None:
            async with self._pool.acquire() as conn:
                rules = await fetch_dial_rules(conn, campaign_id)
            if rules is None:
                self._rules.pop(campaign_id, None)
                return None
            self._rules[campaign_id] = rules
        return rules

    def forget(self, campaign_id: UUID) -> None:
        self._rules.pop(campaign_id, None)
