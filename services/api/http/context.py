"""Typed keys for what the api keeps in its aiohttp application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from aiohttp import web

from services.api.http.event_streams import StreamSlots
from services.api.http.recent import Recent
from services.api.metrics import ApiMetrics
from services.api.operations.broker import Broker
from services.api.operations.validation_pool import ValidationPool
from services.api.stats_schemas import GlobalMetricsOut
from services.api.webhooks.secrets import SecretBox
from shared.domain.calling import CallingPolicy
from shared.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
#: Events, job queues and queue depths: the views reach the broker only through this.
BROKER: web.AppKey[Broker] = web.AppKey("broker", Broker)
#: Encrypts and decrypts webhook secrets with the operator's key.
WEBHOOK_SECRETS: web.AppKey[SecretBox] = web.AppKey("webhook_secrets", SecretBox)
#: The live event streams this replica serves (GET /api/v1/events).
STREAMS: web.AppKey[StreamSlots] = web.AppKey("streams", StreamSlots)
VALIDATION: web.AppKey[ValidationPool] = web.AppKey("validation", ValidationPool)
METRICS: web.AppKey[ApiMetrics] = web.AppKey("metrics", ApiMetrics)
#: The operator's calling policy, read at start (None: turned off); explains dials.
POLICY: web.AppKey[CallingPolicy | None] = web.AppKey("calling_policy")
#: Loads of numbers (imports, campaigns created with numbers) running at once: each holds a
#: pool connection for its whole load, so they may take at most half the pool.
BULK_LOADS: web.AppKey[asyncio.Semaphore] = web.AppKey("bulk_loads", asyncio.Semaphore)


@asynccontextmanager
async def bulk_load(request: web.Request) -> AsyncIterator[None]:
    """Wait for one of the app's bulk-load slots, so that loads never take the whole pool."""
    async with request.app[BULK_LOADS]:
        yield


#: GET /api/v1/metrics, shared by every poller of this replica for METRICS_TTL_S.
RECENT_METRICS: web.AppKey[Recent[GlobalMetricsOut]] = web.AppKey("recent_metrics", Recent)
METRICS_TTL_S = 2.0
