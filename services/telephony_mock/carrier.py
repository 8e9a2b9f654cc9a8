"""The fake carrier's state: every dial it received, the calls live now, and their results.

It measures what the tests check the service against: the most calls one campaign (and one
number) ever had live at once, and how often each number was dialled.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import structlog

from services.telephony_mock.behaviour import Behaviour, MockConfig, Step

log = structlog.get_logger()

_RESULT_OF_STEP: dict[str, tuple[str, str | None]] = {
    "completed": ("COMPLETED", None),
    #: A machine answers: the call is answered, as far as the carrier's status goes.
    "machine": ("COMPLETED", None),
    "busy": ("BUSY", "busy"),
    "no_answer": ("NO_ANSWER", "no answer"),
    "failed": ("FAILED", "rejected by the callee's network"),
}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DialRecord:
    """One dial request as the carrier saw it."""

    request_no: int
    phone_number: str
    campaign_id: str | None
    call_id: str | None
    attempt_no: int | None
    #: None for a request through the Twilio API, which has no idempotency key.
    idempotency_key: str | None
    received_at: datetime
    step: Step | None
    result_route: str = ""
    #: "amqp" (DialCall messages) or "twilio" (the REST API).
    channel: str = "amqp"
    status_callback: str | None = None
    callback_events: frozenset[str] = frozenset()
    machine_detection: bool = False
    external_call_id: str | None = None
    duplicate: bool = False
    delay_ms: int = 0
    duration_seconds: int = 0
    duplicate_callback: bool = False
    out_of_order: bool = False
    late_by_ms: int = 0
    ended_at: datetime | None = None
    reported_status: str | None = None
    #: The status callbacks delivered, in the order they were sent.
    callbacks_sent: list[str] = field(default_factory=list)
    announced: asyncio.Task[None] | None = None
    #: Who the carrier said answered (only when detection was asked for), last said.
    answered_by: str | None = None
    #: A hang-up was asked for while the call was live, and ended it.
    hung_up: bool = False
    hang_up_asked: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def placed(self) -> bool:
        return self.external_call_id is not None and not self.duplicate

    def as_json(self) -> dict[str, Any]:
        return {
            "requestNo": self.request_no,
            "phoneNumber": self.phone_number,
            "campaignId": self.campaign_id,
            "callId": self.call_id,
            "attemptNo": self.attempt_no,
            "idempotencyKey": self.idempotency_key,
            "receivedAt": self.received_at.isoformat(),
            "channel": self.channel,
            "step": self.step,
            "placed": self.placed,
            "duplicate": self.duplicate,
            "externalCallId": self.external_call_id,
            "endedAt": self.ended_at.isoformat() if self.ended_at else None,
            "reportedStatus": self.reported_status,
            "statusCallback": self.status_callback,
            "callbacksSent": list(self.callbacks_sent),
            "duplicateCallback": self.duplicate_callback,
            "outOfOrder": self.out_of_order,
            "lateByMs": self.late_by_ms,
            "machineDetection": self.machine_detection,
            "answeredBy": self.answered_by,
            "hungUp": self.hung_up,
        }


@dataclass(frozen=True)
class Accepted:
    external_call_id: str


@dataclass(frozen=True)
class Refused:
    transient: bool
    status_code: int
    reason: str


@dataclass(frozen=True)
class Result:
    """A status callback to send for a placed call."""

    record: DialRecord
    status: str
    duration_seconds: int | None
    failure_reason: str | None
    #: The carrier's second delivery of the same final result.
    repeat: bool = False
    #: Who answered, in Twilio's words, when the dial asked for detection.
    answered_by: str | None = None

    @property
    def is_progress(self) -> bool:
        """An answer reported while the call goes on (IN_PROGRESS), not its result."""
        return self.status == "IN_PROGRESS"


Reporter = Callable[[Result], Awaitable[None]]
#: Tells the caller a call was placed (status callbacks: initiated, ringing).
Announcer = Callable[[DialRecord], Awaitable[None]]


@dataclass
class _Live:
    now: int = 0
    peak: int = 0

    def up(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def down(self) -> None:
        self.now -= 1


@dataclass
class Carrier:
    behaviour: Behaviour
    report: Reporter
    announce: Announcer | None = None
    clock: Callable[[], datetime] = utcnow
    records: list[DialRecord] = field(default_factory=list)
    _by_key: dict[str, DialRecord] = field(default_factory=dict)
    _requests_per_number: Counter[str] = field(default_factory=Counter)
    _live_total: _Live = field(default_factory=_Live)
    _live_by_campaign: dict[str, _Live] = field(default_factory=dict)
    _live_by_number: dict[str, _Live] = field(default_factory=dict)
    _timers: set[asyncio.Task[None]] = field(default_factory=set)
    _numbering: itertools.count[int] = field(default_factory=itertools.count)
    #: Dial requests by the step the carrier took (and "duplicate"), since start: for metrics.
    requests_by_step: Counter[str] = field(default_factory=Counter)

    @property
    def config(self) -> MockConfig:
        return self.behaviour.config

    def configure(self, config: MockConfig) -> None:
        self.behaviour.config = config

    def dial(
        self,
        *,
        phone_number: str,
        idempotency_key: str | None,
        campaign_id: str | None = None,
        call_id: str | None = None,
        attempt_no: int | None = None,
        result_route: str = "",
        channel: str = "amqp",
        status_callback: str | None = None,
        callback_events: frozenset[str] = frozenset(),
        machine_detection: bool = False,
    ) -> Accepted | Refused:
        """Place a call, or refuse to; the same key twice never places two calls (a request
        without a key, as through the Twilio API, always places one)."""
        record = DialRecord(
            request_no=next(self._numbering),
            phone_number=phone_number,
            campaign_id=campaign_id,
            call_id=call_id,
            attempt_no=attempt_no,
            idempotency_key=idempotency_key,
            received_at=self.clock(),
            step=None,
            result_route=result_route,
            channel=channel,
            status_callback=status_callback,
            callback_events=callback_events,
            machine_detection=machine_detection,
        )
        self.records.append(record)
        earlier = self._by_key.get(idempotency_key) if idempotency_key else None
        if earlier is not None:
            record.duplicate = True
            self.requests_by_step["duplicate"] += 1
            record.external_call_id = earlier.external_call_id
            assert earlier.external_call_id is not None
            return Accepted(earlier.external_call_id)

        index = self._requests_per_number[phone_number]
        self._requests_per_number[phone_number] += 1
        decision = self.behaviour.decide(index, phone_number)
        record.step = decision.step
        self.requests_by_step[decision.step] += 1
        if decision.step == "sync_error":
            return Refused(True, 503, "carrier temporarily unavailable")
        if decision.step == "rate_limited":
            return Refused(True, 429, "too many requests")
        if decision.step == "invalid":
            return Refused(False, 400, f"the number {phone_number} is not a valid phone number")

        # Twilio's call sids are CA and 32 hex digits.
        record.external_call_id = f"CA{uuid4().hex}" if channel == "twilio" else f"mock-{uuid4()}"
        record.delay_ms = decision.delay_ms
        record.duration_seconds = decision.duration_seconds
        record.duplicate_callback = decision.duplicate_callback
        record.out_of_order = decision.out_of_order
        record.late_by_ms = decision.late_by_ms
        if idempotency_key:
            self._by_key[idempotency_key] = record
        self._live_total.up()
        self._live_of(self._live_by_campaign, campaign_id or "-").up()
        self._live_of(self._live_by_number, phone_number).up()
        if self.announce is not None and record.status_callback:
            record.announced = self._track(self.announce(record))
        self._track(self._finish(record))
        return Accepted(record.external_call_id)

    def _track(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)
        return task

    def hang_up(self, external_call_id: str) -> bool:
        """End the live call with this id now; False if no such call is live."""
        for record in reversed(self.records):
            if record.external_call_id == external_call_id and not record.duplicate:
                if record.ended_at is not None:
                    return False
                record.hang_up_asked.set()
                self.requests_by_step["hang_up"] += 1
                return True
        return False

    async def _machine_answers(self, record: DialRecord) -> int:
        """A machine took the call: say so at once when detection was asked for, then play
        the greeting and the message until they end or the call is hung up; the seconds the
        call lasted from its answer."""
        answered_at = self.clock()
        if record.machine_detection:
            if record.announced is not None:
                await asyncio.wait([record.announced])
            record.answered_by = "machine_start"
            try:
                await self.report(
                    Result(record, "IN_PROGRESS", None, None, answered_by="machine_start")
                )
            except Exception as exc:
                log.error("could not deliver a call's answer", error=repr(exc))
        try:
            async with asyncio.timeout(self.config.machine_message_ms / 1000):
                await record.hang_up_asked.wait()
            record.hung_up = True
        except TimeoutError:
            pass
        return round((self.clock() - answered_at).total_seconds())

    @staticmethod
    def _final_answer(record: DialRecord, status: str) -> str | None:
        """Who answered, as the final status says it (only when detection was asked for)."""
        if not record.machine_detection or status != "COMPLETED":
            return None
        if record.step == "machine":
            # Hung up during the greeting, or the message went on after the beep.
            return "machine_start" if record.hung_up else "machine_end_beep"
        return "human"

    async def _finish(self, record: DialRecord) -> None:
        await asyncio.sleep(record.delay_ms / 1000)
        if record.step == "machine":
            record.duration_seconds = await self._machine_answers(record)
        # The line is free before anyone can hear of it: the result goes out after.
        record.ended_at = self.clock()
        self._live_total.down()
        self._live_of(self._live_by_campaign, record.campaign_id or "-").down()
        self._live_of(self._live_by_number, record.phone_number).down()
        if record.announced is not None and not record.out_of_order:
            # Progress goes out before the result, unless told to mix them up.
            await asyncio.wait([record.announced])
        if record.step == "no_callback":
            return
        if record.late_by_ms:
            await asyncio.sleep(record.late_by_ms / 1000)
        status, reason = _RESULT_OF_STEP[str(record.step)]
        record.reported_status = status
        duration = record.duration_seconds if status == "COMPLETED" else None
        answer = self._final_answer(record, status)
        record.answered_by = answer or record.answered_by
        result = Result(record, status, duration, reason, answered_by=answer)
        try:
            await self.report(result)
            if record.duplicate_callback:
                await self.report(replace(result, repeat=True))
        except Exception as exc:
            log.error("could not deliver a call result", error=repr(exc))

    @staticmethod
    def _live_of(table: dict[str, _Live], key: str) -> _Live:
        live = table.get(key)
        if live is None:
            live = table[key] = _Live()
        return live

    @property
    def live_now(self) -> int:
        return self._live_total.now

    def stats(self) -> dict[str, Any]:
        placed = [r for r in self.records if r.placed]
        dials_per_number = Counter(r.phone_number for r in placed)
        # Counted in one sweep: thousands of campaigns must not cost a sweep each.
        placed_by_campaign = Counter(r.campaign_id or "-" for r in placed)
        campaigns: dict[str, dict[str, int]] = {}
        for campaign_id, live in self._live_by_campaign.items():
            campaigns[campaign_id] = {
                "placed": placed_by_campaign[campaign_id],
                "liveNow": live.now,
                "maxLive": live.peak,
            }
        return {
            "requests": len(self.records),
            "placed": len(placed),
            "refused": sum(1 for r in self.records if r.external_call_id is None),
            "duplicates": sum(1 for r in self.records if r.duplicate),
            "machines": sum(1 for r in placed if r.step == "machine"),
            "hungUp": sum(1 for r in placed if r.hung_up),
            "liveNow": self._live_total.now,
            "maxLive": self._live_total.peak,
            "maxLivePerNumber": max((v.peak for v in self._live_by_number.values()), default=0),
            "maxDialsPerNumber": max(dials_per_number.values(), default=0),
            "resultsPending": len(self._timers),
            "campaigns": campaigns,
        }

    def calls(
        self, *, phone_number: str | None = None, campaign_id: str | None = None
    ) -> list[DialRecord]:
        return [
            r
            for r in self.records
            if (phone_number is None or r.phone_number == phone_number)
            and (campaign_id is None or r.campaign_id == campaign_id)
        ]

    def reset(self) -> None:
        """Forget the records and peaks; live calls keep running and are counted."""
        self.records.clear()
        self._requests_per_number.clear()
        for table in (self._live_by_campaign, self._live_by_number):
            for key in [k for k, v in table.items() if v.now == 0]:
                del table[key]
            for live in table.values():
                live.peak = live.now
        self._live_total.peak = self._live_total.now

    async def close(self) -> None:
        pending = list(self._timers)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if pending:
            log.info("carrier stopped with results undelivered", count=len(pending))
