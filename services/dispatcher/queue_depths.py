"""What the dispatcher knows of each campaign queue's depth between the broker's answers.

Asking the broker costs a round trip a queue (queue.declare); with thousands of running
campaigns, asking for every queue on every pass costs more than the pass may take. A queue's
depth changes in three ways: the dispatcher publishes (it knows how many), a worker takes a
job, or the broker loses or returns jobs (a restart, a worker gone). A worker that takes a job
either claims a line, which moves the campaign's `lines_granted`, or finds nothing to do
because of something that shows in the campaign's row or counts (its lines, its calls in
progress, its settings, its dialable numbers). So what the broker last said, plus what was
published since, holds while that signature is unchanged, and for at most `refresh_s`
(spread out, so that campaigns first seen together are not asked together again).

Even then the broker is asked only where its answer could change what is published: the
remembered depth is at least the real one (workers only take jobs away), so a campaign whose
remembered depth is below its target gets the difference without asking, and it can never
overfill its queue. Only a campaign whose remembered depth meets its target may be short
without knowing it; those are asked, the longest unasked first, at most `reads_per_pass` a
pass, so that a pass stays short however many campaigns run: the rest wait a pass or two.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from uuid import UUID

#: What must be unchanged for a remembered depth to hold: lines in use on the whole trunk,
#: the campaign's allowed lines, calls in progress, lines granted ever, settings version,
#: dialable numbers (as counted).
Signature = tuple[int, int, int, int, int, int]


@dataclass
class _Known:
    queued: int
    signature: Signature
    read_at: float
    stale_at: float


@dataclass(frozen=True)
class Wanted:
    campaign_id: UUID
    signature: Signature
    #: Jobs its queue should hold now: free lines plus a buffer, at most its dialable numbers.
    target: int


class QueueDepths:
    def __init__(
        self,
        refresh_s: float,
        *,
        reads_per_pass: int = 64,
        declares_per_pass: int = 256,
        rng: random.Random | None = None,
    ) -> None:
        self._refresh_s = refresh_s
        self._reads_per_pass = reads_per_pass
        self._declares_per_pass = declares_per_pass
        self._rng = rng or random.Random()
        self._known: dict[UUID, _Known] = {}

    def to_read(self, wanted: Iterable[Wanted], now: float) -> list[UUID]:
        """The campaigns whose depth to ask of the broker on this pass (a campaign never
        asked about is declared by that read), never asked first. With `refresh_s` 0: all."""
        wanted = list(wanted)
        if self._refresh_s == 0:
            return [w.campaign_id for w in wanted]
        unknown: list[UUID] = []
        doubtful: list[tuple[float, UUID]] = []
        for w in wanted:
            known = self._known.get(w.campaign_id)
            if known is None:
                unknown.append(w.campaign_id)
            elif (known.signature != w.signature or now >= known.stale_at) and (
                0 < w.target <= known.queued
            ):
                doubtful.append((known.read_at, w.campaign_id))
        doubtful.sort()
        return unknown[: self._declares_per_pass] + [c for _, c in doubtful[: self._reads_per_pass]]

    def depth(self, campaign_id: UUID) -> int | None:
        """What the broker last said plus what was published since; None: never asked."""
        known = self._known.get(campaign_id)
        return None if known is None else known.queued

    def answered(self, campaign_id: UUID, signature: Signature, queued: int, now: float) -> None:
        """The broker said `queued` at `now`, the campaign's signature being `signature`."""
        stale_in = self._refresh_s * (0.5 + 0.5 * self._rng.random())
        self._known[campaign_id] = _Known(queued, signature, now, now + stale_in)

    def published(self, campaign_id: UUID, count: int) -> None:
        known = self._known.get(campaign_id)
        if known is not None:
            known.queued += count

    def forget(self, campaign_id: UUID) -> None:
        self._known.pop(campaign_id, None)

    def forget_all_but(self, campaign_ids: Collection[UUID]) -> None:
        for campaign_id in [c for c in self._known if c not in campaign_ids]:
            del self._known[campaign_id]
