"""The deliverer: renders new events, fans them out, and sends due deliveries, inside the api
process (the design fixes four processes; every api replica runs one).

One loop owns the database work (one pooled connection at a time); each request is a task
of its own, at most `webhook_max_concurrency` in flight and `webhook_endpoint_concurrency`
per endpoint, so an endpoint that hangs holds only its own slots until the timeout, and
dialling (other processes) never waits for any of it. Results are written in one statement
per turn of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, deque
from collections.abc import Mapping, Set
from datetime import UTC, datetime, timedelta
from uuid import UUID

import aiohttp
import asyncpg
import structlog

from services.api.webhooks import render, signing
from services.api.webhooks.addresses import connection_kwargs, url_problem
from services.api.webhooks.secrets import SecretBox
from shared.domain.webhook_retries import GONE, RetrySchedule, delivered
from shared.repositories import webhook_deliveries as repo
from shared.repositories.webhook_deliveries import DeliveryResult, DueDelivery
from shared.settings import Settings

log = structlog.get_logger()

#: Events rendered and fanned out per statement.
FAN_OUT_BATCH = 200
#: How much longer than its requests' timeouts a claimed delivery stays leased.
LEASE_MARGIN = timedelta(seconds=5)
#: Deliveries claimed ahead, as a multiple of the requests allowed in flight.
CLAIM_AHEAD = 4
#: Decrypted endpoint secrets kept in memory, at most.
SECRETS_KEPT = 10_000
#: After a request ends, how long the loop waits for others to end with it.
COALESCE_S = 0.005
#: Pause after a database error before the loop tries again.
ERROR_PAUSE_S = 1.0
#: Endpoints remembered as failing, at most (beyond it the memory starts again).
FAILING_KEPT = 10_000
#: Reasons an endpoint is disabled by the deliverer (`disabledReason`).
GONE_REASON = "GONE"
FAILING_REASON = "FAILING"


def endpoint_slots(
    held: Mapping[UUID, int], failing: Set[UUID], *, per_endpoint: int
) -> dict[UUID, int]:
    """How many more deliveries each endpoint may claim, for the endpoints not at the full
    allowance (`per_endpoint`): those holding some, and those failing. A failing endpoint
    gets one at a time (the deliverer also holds all failing endpoints together to a share
    of its requests, when it starts them: see `Deliverer._start_lanes`)."""
    slots = {k: max(per_endpoint - v, 0) for k, v in held.items() if v}
    for endpoint_id in failing:
        slots[endpoint_id] = 0 if held.get(endpoint_id, 0) else 1
    return slots


class Deliverer:
    """Delivers webhooks until cancelled."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        box: SecretBox | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._box = box or SecretBox(settings.webhook_secret_key)
        self._session = session
        self._schedule = RetrySchedule(
            base=timedelta(milliseconds=settings.webhook_retry_base_ms),
            maximum=timedelta(milliseconds=settings.webhook_retry_max_ms),
            period=timedelta(hours=settings.webhook_retry_hours),
        )
        self._timeout = timedelta(milliseconds=settings.webhook_timeout_ms)
        # A claimed delivery may wait behind those claimed ahead of it, then take its timeout.
        self._lease = CLAIM_AHEAD * self._timeout + LEASE_MARGIN
        self._session_in_use: aiohttp.ClientSession | None = None
        self._idle = False
        self._in_flight: Counter[UUID] = Counter()
        #: Claimed deliveries waiting for a request, by endpoint (see `_claim`).
        self._queued: dict[UUID, deque[DueDelivery]] = {}
        self._claimed_ids: set[UUID] = set()
        #: Claimed deliveries given back unsent, to be released in the next turn.
        self._released: list[DueDelivery] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: list[DeliveryResult] = []
        self._wake = asyncio.Event()
        self._poll_s = settings.webhook_poll_interval_ms / 1000
        self._secrets_by_token: dict[str, str] = {}
        # Endpoints whose last request here failed (`endpoint_slots`, `_start_lanes`): a
        # hundred endpoints a customer forgot, failing or hanging, must not starve those
        # that answer. One deleted stays here (it never succeeds again) but holds nothing.
        self._failing: set[UUID] = set()
        self._failing_share = max(settings.webhook_max_concurrency // 2, 1)

    async def run(self) -> None:
        own_session = self._session is None
        session = self._session or aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self._settings.webhook_max_concurrency,
                limit_per_host=self._settings.webhook_endpoint_concurrency,
                **connection_kwargs(self._settings.webhook_allow_private),
            ),
            timeout=aiohttp.ClientTimeout(total=self._timeout.total_seconds()),
            # A receiver's cookies are nobody's business here.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._session_in_use = session
        log.info("webhook deliverer started")
        fan_out = asyncio.create_task(self._fan_out_loop())
        try:
            await self._delivery_loop(session)
        finally:
            fan_out.cancel()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(fan_out, *self._tasks, return_exceptions=True)
            self._session_in_use = None
            if own_session:
                await session.close()

    async def _fan_out_loop(self) -> None:
        """Render new events and create their deliveries, on a connection of its own, so
        that rendering a batch never holds back the requests' results and claims."""
        while True:
            try:
                async with self._pool.acquire() as conn:
                    fanned = await self._fan_out(conn)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("webhook fan-out: database unavailable", error=repr(exc))
                await asyncio.sleep(ERROR_PAUSE_S)
                continue
            if fanned:
                self.wake()  # new deliveries are due
            if fanned < FAN_OUT_BATCH:
                await asyncio.sleep(self._poll_s)

    async def _delivery_loop(self, session: aiohttp.ClientSession) -> None:
        """Record what requests did and claim what is due, on one connection a turn; a turn
        whenever requests end (or new deliveries were made), else once a poll interval."""
        while True:
            self._wake.clear()  # before the turn: a wake-up during it is not lost
            busy = False
            try:
                async with self._pool.acquire() as conn:
                    await self._record_results(conn)
                    # Without the operator's key no secret can sign: bodies are still
                    # rendered, for the event stream.
                    if self._box.available:
                        busy = await self._claim(conn, session)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("webhook deliverer: database unavailable", error=repr(exc))
                await asyncio.sleep(ERROR_PAUSE_S)
            if not busy:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that comes as the wake-up does, and then the loop never stops
                # (an api's shutdown hung on it, waiting for the deliverer).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_s):
                        self._idle = True
                        try:
                            await self._wake.wait()
                        finally:
                            self._idle = False
                    # Woken by a finished request: let those finishing with it join, so
                    # that one turn's statements serve many requests.
                    await asyncio.sleep(COALESCE_S)

    async def _fan_out(self, conn: asyncpg.Connection) -> int:
        """Render a batch of new events and create their deliveries, the first ones of each
        endpoint claimed for this replica's queues (as `_claim` would claim them next)."""
        async with conn.transaction():
            events = await repo.lock_events_to_fan_out(conn, FAN_OUT_BATCH)
            if not events:
                return 0
            bodies = await render.render_all(conn, events)
            room, default_room = self._room()
            _, claimed = await repo.fan_out(
                conn,
                bodies,
                room=room,
                default_room=default_room,
                lease_until=datetime.now(UTC) + self._lease,
            )
        self._enqueue(claimed)
        if self._session_in_use is not None:
            self._start_lanes(self._session_in_use)
        return len(events)

    def _room(self) -> tuple[dict[UUID, int], int]:
        """How many more deliveries each endpoint may have claimed here (those not named:
        the second number), within the replica's total."""
        if not self._box.available:
            return {}, 0
        held = self._held()
        free = CLAIM_AHEAD * self._settings.webhook_max_concurrency - sum(held.values())
        per_endpoint = CLAIM_AHEAD * self._settings.webhook_endpoint_concurrency
        room = endpoint_slots(held, self._failing, per_endpoint=per_endpoint)
        return {k: min(v, max(free, 0)) for k, v in room.items()}, min(per_endpoint, max(free, 0))

    def _enqueue(self, claimed: list[DueDelivery]) -> int:
        added = 0
        for delivery in claimed:
            # A lease that ran out while the delivery waited here: it is ours already.
            if delivery.id not in self._claimed_ids:
                self._claimed_ids.add(delivery.id)
                self._queued.setdefault(delivery.endpoint_id, deque()).append(delivery)
                added += 1
        return added

    def _held(self) -> Counter[UUID]:
        """Deliveries claimed and not yet done, by endpoint: in flight or queued."""
        held = Counter(self._in_flight)
        held.update({k: len(q) for k, q in self._queued.items()})
        return held

    async def _claim(self, conn: asyncpg.Connection, session: aiohttp.ClientSession) -> bool:
        """Claim due deliveries into the endpoints' queues, up to CLAIM_AHEAD times what
        each may have in flight, and start their requests; whether more may be due at once.

        Claiming ahead lets a request that ends start the next one of its endpoint at
        once, without waiting for a turn of the loop (which waits on the database)."""
        free = CLAIM_AHEAD * self._settings.webhook_max_concurrency - sum(self._held().values())
        claimed = 0
        if free > 0:
            room, default_room = self._room()
            due = await repo.claim_due(
                conn,
                datetime.now(UTC),
                free_slots=room,
                slots_per_endpoint=default_room,
                limit=free,
                lease=self._lease,
            )
            claimed = self._enqueue(due)
        self._start_lanes(session)
        return claimed >= free > 0

    def _allowance(self, endpoint_id: UUID) -> int:
        if endpoint_id in self._failing:
            return 1
        return self._settings.webhook_endpoint_concurrency

    def _start_lanes(self, session: aiohttp.ClientSession) -> None:
        room = self._settings.webhook_max_concurrency - sum(self._in_flight.values())
        # Endpoints that fail or hang together take at most their share of the requests.
        failing_room = self._failing_share - sum(self._in_flight[k] for k in self._failing)
        for endpoint_id, queue in list(self._queued.items()):
            failing = endpoint_id in self._failing
            while (
                queue
                and room > 0
                and (failing_room > 0 or not failing)
                and self._in_flight[endpoint_id] < self._allowance(endpoint_id)
            ):
                self._in_flight[endpoint_id] += 1
                room -= 1
                failing_room -= failing
                task = asyncio.create_task(self._lane(session, endpoint_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _lane(self, session: aiohttp.ClientSession, endpoint_id: UUID) -> None:
        """Send the endpoint's queued deliveries one after the other, while it may have
        this many requests in flight (a failing endpoint: one)."""
        try:
            while (queue := self._queued.get(endpoint_id)) and self._in_flight[
                endpoint_id
            ] <= self._allowance(endpoint_id):
                delivery = queue.popleft()
                if not queue:
                    del self._queued[endpoint_id]
                result = await self._send(session, delivery)
                self._claimed_ids.discard(delivery.id)
                self.note(result)
                self._results.append(result)
                self.wake()
        finally:
            self._in_flight[endpoint_id] -= 1
            if self._in_flight[endpoint_id] <= 0:
                del self._in_flight[endpoint_id]
            self.wake()

    @property
    def idle(self) -> bool:
        """Waiting for a wake-up or its poll interval."""
        return self._idle

    def wake(self) -> None:
        """Look for work now (as a finished request does)."""
        self._wake.set()

    @property
    def failing(self) -> Set[UUID]:
        return frozenset(self._failing)

    def note(self, result: DeliveryResult) -> None:
        """Remember whether the endpoint's last request succeeded (`endpoint_slots`)."""
        if result.status == "DELIVERED":
            self._failing.discard(result.endpoint_id)
            return
        if len(self._failing) >= FAILING_KEPT:
            self._failing.clear()
        self._failing.add(result.endpoint_id)
        # What was claimed ahead for it goes back (due again at once, for its one lane),
        # rather than wait here, one request after another, past its leases.
        for delivery in self._queued.pop(result.endpoint_id, ()):
            self._claimed_ids.discard(delivery.id)
            self._released.append(delivery)

    def _decrypt(self, token: str) -> str:
        # Decrypting was a twentieth of a delivery's cost; a rotation gives a new token.
        secret = self._secrets_by_token.get(token)
        if secret is None:
            if len(self._secrets_by_token) >= SECRETS_KEPT:
                self._secrets_by_token.clear()
            secret = self._secrets_by_token[token] = self._box.decrypt(token)
        return secret

    def _secrets(self, delivery: DueDelivery, now: datetime) -> list[str]:
        secrets = [self._decrypt(delivery.secret_encrypted)]
        until = delivery.previous_secret_until
        if delivery.previous_secret_encrypted and until is not None and until > now:
            secrets.append(self._decrypt(delivery.previous_secret_encrypted))
        return secrets

    async def _send(self, session: aiohttp.ClientSession, delivery: DueDelivery) -> DeliveryResult:
        started = datetime.now(UTC)
        clock = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        problem = url_problem(delivery.url, allow_private=self._settings.webhook_allow_private)
        if problem is not None:
            error = f"url refused: {problem}"
        else:
            headers = signing.headers(
                self._secrets(delivery, started), str(delivery.event_id), started, delivery.body
            )
            try:
                async with session.post(
                    delivery.url,
                    data=delivery.body.encode(),
                    headers=headers,
                    allow_redirects=False,
                ) as response:
                    status_code = response.status
            except TimeoutError:
                error = f"no answer within {self._settings.webhook_timeout_ms} ms"
            except (aiohttp.ClientError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
        latency_ms = round((time.monotonic() - clock) * 1000)
        return self._result(delivery, started, latency_ms, status_code, error)

    def _result(
        self,
        delivery: DueDelivery,
        at: datetime,
        latency_ms: int,
        status_code: int | None,
        error: str | None,
    ) -> DeliveryResult:
        gone = status_code == GONE
        next_try = None
        if status_code is not None and delivered(status_code):
            status = "DELIVERED"
        elif gone:
            status = "FAILED"
        else:
            ended = at + timedelta(milliseconds=latency_ms)
            draw = random.uniform(-1.0, 1.0)
            next_try = self._schedule.next_try(
                delivery.attempt_no, ended, delivery.retry_since, draw
            )
            status = "PENDING" if next_try else "FAILED"
        return DeliveryResult(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            attempt_no=delivery.attempt_no,
            attempted_at=at,
            latency_ms=latency_ms,
            status_code=status_code,
            error=error,
            status=status,
            next_retry_at=next_try,
            retry_since=delivery.retry_since,
            gone=gone,
        )

    async def _record_results(self, conn: asyncpg.Connection) -> None:
        if self._released:
            released, self._released = self._released, []
            try:
                await repo.release(conn, released)
            except BaseException:
                self._released = released + self._released
                raise
        if not self._results:
            return
        results, self._results = self._results, []
        try:
            async with conn.transaction():
                await repo.record_results(conn, results)
                for endpoint_id in {r.endpoint_id for r in results if r.gone}:
                    if await repo.disable_endpoint(conn, endpoint_id, GONE_REASON):
                        log.warning(
                            "webhook endpoint disabled: 410 Gone", webhook_id=str(endpoint_id)
                        )
                given_up: dict[UUID, datetime] = {}
                for r in results:
                    if r.status == "FAILED" and not r.gone and r.retry_since is not None:
                        since = given_up.get(r.endpoint_id, r.retry_since)
                        given_up[r.endpoint_id] = max(since, r.retry_since)
                if given_up:
                    failing = await repo.failing_for_whole_period(conn, given_up)
                    for endpoint_id in failing:
                        await repo.disable_endpoint(conn, endpoint_id, FAILING_REASON)
                        log.error(
                            "webhook endpoint disabled: nothing delivered for the whole retry"
                            " period",
                            webhook_id=str(endpoint_id),
                        )
        except asyncpg.IntegrityConstraintViolationError as exc:
            # Never written, however often tried: dropped, their deliveries are sent again
            # when their leases run out (at least once), rather than stop every later turn.
            log.error("webhook results not recorded", error=repr(exc), results=len(results))
        except BaseException:
            # Not written: keep them for the next turn (the leases keep them from being
            # sent again meanwhile, unless the database stays away past the lease).
            self._results = results + self._results
            raise
