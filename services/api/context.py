"""Typed keys for what the api keeps in its aiohttp application."""

from __future__ import annotations

import asyncpg
from aio_pika.abc import AbstractRobustConnection
from aiohttp import web

from services.api.metrics import ApiMetrics
from services.api.validation_pool import ValidationPool
from shared.amqp import Publisher
from shared.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
BROKER: web.AppKey[AbstractRobustConnection] = web.AppKey("broker", AbstractRobustConnection)
PUBLISHER: web.AppKey[Publisher] = web.AppKey("publisher", Publisher)
VALIDATION: web.AppKey[ValidationPool] = web.AppKey("validation", ValidationPool)
METRICS: web.AppKey[ApiMetrics] = web.AppKey("metrics", ApiMetrics)
