"""The dispatcher's depth reads against the real broker: a queue is declared on first sight
and asked about passively after, and a read that does not declare never brings back a queue
that was removed (the stocker reads ahead of its snapshot, when a campaign may have ended)."""

from __future__ import annotations

from uuid import uuid4

import aio_pika
import aiormq
import pytest

from services.dispatcher.depth_reads import DepthReader
from shared.broker_connection import connect_robust
from shared.topology import campaign_queue, declare_topology, delete_campaign_queue
from tests.support.infra import Infra

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_removed_queue_is_reported_gone_and_not_declared_again(infra: Infra) -> None:
    connection = await connect_robust(infra.amqp_url)
    async with connection:
        admin = await connection.channel()
        await declare_topology(admin)
        reader = DepthReader(connection, "classic")
        seen, unseen = uuid4(), uuid4()
        try:
            assert await reader.read([seen]) == {seen: 0}
            await admin.default_exchange.publish(
                aio_pika.Message(b"job"), routing_key=campaign_queue(seen)
            )
            assert await reader.read([seen], declare=False) == {seen: 1}
            assert await reader.read([unseen], declare=False) == {unseen: None}
            await delete_campaign_queue(admin, seen)
            assert await reader.read([seen, unseen], declare=False) == {seen: None, unseen: None}
            # Neither queue exists: a passive declare of its own says so.
            for campaign_id in (seen, unseen):
                probe = await connection.channel()
                with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
                    await probe.declare_queue(campaign_queue(campaign_id), passive=True)
            # A declaring read brings the queue of a campaign still wanted back, empty.
            assert await reader.read([seen]) == {seen: 0}
        finally:
            await reader.close()
            await delete_campaign_queue(admin, seen)
            await delete_campaign_queue(admin, unseen)
