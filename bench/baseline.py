"""The baseline: a bare aio-pika job -> worker -> result -> collector round trip.

Two confirmed publishes and two acks per job, the same message work one call needs at the
least, on the same broker. `python -m bench.baseline worker <amqp-url>` runs the worker side.
"""

from __future__ import annotations

import asyncio
import sys
import time
from uuid import uuid4

import aio_pika

JOBS = "bench.baseline.jobs"
RESULTS = "bench.baseline.results"
BODY = (
    b'{"type": "LeaseLine", "campaign_id": "'
    + str(uuid4()).encode()
    + b'", "pad": "'
    + (b"x" * 200)
    + b'"}'
)


async def run_worker(amqp_url: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        publish_channel = await connection.channel(publisher_confirms=True)
        consume_channel = await connection.channel()
        await consume_channel.set_qos(prefetch_count=100)
        queue = await consume_channel.declare_queue(JOBS, durable=True)

        async def on_job(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await publish_channel.default_exchange.publish(
                aio_pika.Message(message.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                RESULTS,
            )
            await message.ack()

        await queue.consume(on_job)
        await asyncio.Future()


async def measure(amqp_url: str, jobs: int) -> float:
    """Jobs per second through a separate worker process."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        setup = await connection.channel()
        for name in (JOBS, RESULTS):
            queue = await setup.declare_queue(name, durable=True)
            await queue.purge()
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.baseline", "worker", amqp_url
        )
        try:
            publish_channel = await connection.channel(publisher_confirms=True)
            collect_channel = await connection.channel()
            await collect_channel.set_qos(prefetch_count=200)
            results = await collect_channel.declare_queue(RESULTS, durable=True)
            received = 0
            done = asyncio.Event()

            async def on_result(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                nonlocal received
                await message.ack()
                received += 1
                if received == jobs:
                    done.set()

            tag = await results.consume(on_result)
            started = time.perf_counter()
            window = asyncio.Semaphore(500)

            async def publish_one() -> None:
                async with window:
                    await publish_channel.default_exchange.publish(
                        aio_pika.Message(BODY, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        JOBS,
                    )

            await asyncio.gather(*(publish_one() for _ in range(jobs)))
            await asyncio.wait_for(done.wait(), timeout=300)
            rate = jobs / (time.perf_counter() - started)
            await results.cancel(tag)
            return rate
        finally:
            worker.terminate()
            await worker.wait()
            for name in (JOBS, RESULTS):
                await setup.queue_delete(name)


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    asyncio.run(run_worker(sys.argv[2]))
