"""What the webhook endpoints do: save endpoints (checking where they point), rotate their
secrets, send a test event, read the delivery log and retry a delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import structlog

from services.api.webhook_schemas import (
    DeliveryAttemptOut,
    DeliveryOut,
    WebhookCreate,
    WebhookOut,
    WebhookPatch,
    WebhookTestOut,
    WebhookUpdated,
    WebhookWithSecret,
)
from services.api.webhooks.addresses import url_problem
from services.api.webhooks.render import envelope
from services.api.webhooks.secrets import SecretBox, new_secret
from shared.domain.webhook_events import EventType
from shared.errors import InvalidInput, NotFound
from shared.repositories import webhooks as repo
from shared.repositories.webhooks import Endpoint, EndpointChanges
from shared.settings import Settings

log = structlog.get_logger()


def webhook_out(endpoint: Endpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        disabled_at=endpoint.disabled_at,
        previous_secret_until=endpoint.previous_secret_until,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _with_secret(endpoint: Endpoint, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**webhook_out(endpoint).model_dump(), secret=secret)


def _check_url(url: str, settings: Settings) -> None:
    problem = url_problem(url, allow_private=settings.webhook_allow_private)
    if problem is not None:
        raise InvalidInput(f"url {problem}", errors=[{"field": "url", "message": problem}])


async def create_webhook(
    conn: asyncpg.Connection, settings: Settings, box: SecretBox, body: WebhookCreate
) -> WebhookWithSecret:
    _check_url(body.url, settings)
    secret = new_secret()
    endpoint = await repo.insert_endpoint(
        conn, body.url, body.events, body.description, box.encrypt(secret)
    )
    log.info("webhook created", webhook_id=str(endpoint.id), events=list(endpoint.events))
    return _with_secret(endpoint, secret)


async def get_endpoint(conn: asyncpg.Connection, webhook_id: UUID) -> Endpoint:
    endpoint = await repo.fetch_endpoint(conn, webhook_id)
    if endpoint is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    return endpoint


async def update_webhook(
    conn: asyncpg.Connection,
    settings: Settings,
    box: SecretBox,
    webhook_id: UUID,
    body: WebhookPatch,
) -> WebhookUpdated:
    present = body.model_fields_set
    for field in ("url", "events", "enabled"):
        if field in present and getattr(body, field) is None:
            message = "may be left out, not null"
            raise InvalidInput(f"{field} {message}", errors=[{"field": field, "message": message}])
    if body.url is not None:
        _check_url(body.url, settings)
    secret = new_secret() if body.rotate_secret else None
    changes = EndpointChanges(
        url=body.url,
        events=body.events,
        description=body.description,
        clear_description="description" in present and body.description is None,
        enabled=body.enabled,
        secret_encrypted=box.encrypt(secret) if secret else None,
        previous_secret_until=(
            datetime.now(UTC) + timedelta(hours=settings.webhook_secret_overlap_hours)
            if secret
            else None
        ),
    )
    endpoint = await repo.update_endpoint(conn, webhook_id, changes)
    if endpoint is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    log.info("webhook updated", webhook_id=str(webhook_id), fields=sorted(present))
    return WebhookUpdated(**webhook_out(endpoint).model_dump(), secret=secret)


async def delete_webhook(conn: asyncpg.Connection, webhook_id: UUID) -> None:
    if not await repo.delete_endpoint(conn, webhook_id):
        raise NotFound(f"no webhook with id {webhook_id}")
    log.info("webhook deleted", webhook_id=str(webhook_id))


async def send_test(conn: asyncpg.Connection, webhook_id: UUID) -> WebhookTestOut:
    """A webhook.test event for this endpoint alone, delivered like any other."""
    endpoint = await get_endpoint(conn, webhook_id)
    event_id = uuid4()
    body = envelope(
        event_id,
        EventType.WEBHOOK_TEST.value,
        datetime.now(UTC),
        1,
        {"webhookId": str(endpoint.id), "message": "a test event, sent on request"},
    )
    delivery_id = await repo.insert_test_event(conn, endpoint.id, event_id, body)
    return WebhookTestOut(event_id=event_id, delivery_id=delivery_id)


async def list_webhooks(
    conn: asyncpg.Connection, *, limit: int, offset: int, after: tuple[datetime, UUID] | None
) -> tuple[list[Endpoint], int]:
    return await repo.list_endpoints(conn, limit=limit, offset=offset, after=after)


async def list_deliveries(
    conn: asyncpg.Connection,
    webhook_id: UUID,
    *,
    status: str | None,
    limit: int,
    offset: int,
    after: tuple[datetime, UUID] | None,
) -> tuple[list[asyncpg.Record], int]:
    """A page of the webhook's delivery log; NotFound if there is no such webhook."""
    await get_endpoint(conn, webhook_id)
    return await repo.list_deliveries(
        conn, webhook_id, status=status, limit=limit, offset=offset, after=after
    )


def delivery_out(row: asyncpg.Record) -> DeliveryOut:
    return DeliveryOut(
        id=row["id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        status=row["status"],
        attempt_count=row["attempt_count"],
        next_attempt_at=row["next_attempt_at"] if row["status"] == "PENDING" else None,
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        attempts=[
            DeliveryAttemptOut(
                attempt_number=a["attempt_no"],
                attempted_at=a["attempted_at"],
                status_code=a["status_code"],
                latency_ms=a["latency_ms"],
                error=a["error"],
                next_retry_at=a["next_retry_at"],
            )
            for a in row["attempts"]
        ],
    )


async def retry_delivery(
    conn: asyncpg.Connection, webhook_id: UUID, delivery_id: UUID
) -> DeliveryOut:
    await get_endpoint(conn, webhook_id)
    row = await repo.retry_delivery(conn, webhook_id, delivery_id)
    if row is None:
        raise NotFound(f"no delivery with id {delivery_id} for webhook {webhook_id}")
    log.info("webhook delivery retried", webhook_id=str(webhook_id), delivery_id=str(delivery_id))
    return delivery_out(row)
