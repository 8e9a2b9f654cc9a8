"""The dispatcher's Prometheus metrics, in a registry of its own that outlives sessions.

Per-campaign figures come from the last pass rather than from labelled gauges, so that a
finished campaign's series simply stop instead of lingering with their last values.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: Finer than the latency buckets where the pass's targets lie (50 ms at 1,000 running
#: campaigns, 150 ms at 3,000), so that its median can be read off within 10 ms.
PASS_BUCKETS = (
    0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.075, 0.1, 0.125, 0.15, 0.2, 0.3, 0.5, 1,
    2.5, 5, 10,
)  # fmt: skip


@dataclass(frozen=True)
class CampaignLines:
    allowed: int
    in_flight: int
    queued_jobs: int


@dataclass
class LastPass:
    """What the latest stocking pass saw, per campaign inside its hours."""

    campaigns: dict[UUID, CampaignLines] = field(default_factory=dict)


class _LastPassCollector(Collector):
    def __init__(self, last: LastPass) -> None:
        self._last = last

    def collect(self) -> Iterator[Metric]:
        families = {
            "allowed": GaugeMetricFamily(
                "vcs_campaign_lines_allowed",
                "Lines the campaign's share allows it now",
                labels=["campaign_id"],
            ),
            "in_flight": GaugeMetricFamily(
                "vcs_campaign_calls_in_flight", "Calls in progress", labels=["campaign_id"]
            ),
            "queued_jobs": GaugeMetricFamily(
                "vcs_campaign_queued_jobs",
                "Jobs in the campaign's queue as the last pass knew it (at most that many)",
                labels=["campaign_id"],
            ),
        }
        for campaign_id, lines in list(self._last.campaigns.items()):
            for name, family in families.items():
                family.add_metric([str(campaign_id)], getattr(lines, name))
        yield from families.values()


@dataclass(frozen=True)
class DispatcherMetrics:
    registry: CollectorRegistry
    pass_seconds: Histogram
    #: Where the active dispatcher spends its time: a pass's database reads, queue depths and
    #: publishing, and the housekeeping beside the passes.
    pass_phase_seconds: Counter
    queue_depth_reads: Counter
    leases_published: Counter
    line_capacity: Gauge
    lines_in_use: Gauge
    is_leader: Gauge
    last_pass: LastPass

    @classmethod
    def create(cls, line_capacity: int) -> DispatcherMetrics:
        registry = CollectorRegistry()
        last_pass = LastPass()
        registry.register(_LastPassCollector(last_pass))
        capacity = Gauge(
            "vcs_line_capacity", "Calls allowed in progress across campaigns", registry=registry
        )
        capacity.set(line_capacity)
        return cls(
            registry=registry,
            pass_seconds=Histogram(
                "vcs_dispatcher_tick_seconds",
                "Duration of one dispatcher pass: shares and jobs (housekeeping runs beside it)",
                buckets=PASS_BUCKETS,
                registry=registry,
            ),
            pass_phase_seconds=Counter(
                "vcs_dispatcher_pass_phase_seconds",
                "Seconds dispatcher passes spent in each phase",
                ["phase"],
                registry=registry,
            ),
            queue_depth_reads=Counter(
                "vcs_dispatcher_queue_depth_reads",
                "Campaign queue depths asked of the broker (one round trip each)",
                registry=registry,
            ),
            leases_published=Counter(
                "vcs_leases_published",
                "LeaseLine messages (leases on lines) published",
                registry=registry,
            ),
            line_capacity=capacity,
            lines_in_use=Gauge(
                "vcs_lines_in_use", "Calls in progress across campaigns", registry=registry
            ),
            is_leader=Gauge(
                "vcs_dispatcher_active",
                "1 while this dispatcher is the active one",
                registry=registry,
            ),
            last_pass=last_pass,
        )
