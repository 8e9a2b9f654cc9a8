"""The worker's Prometheus metrics, in a registry of its own that outlives broker sessions."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.prometheus import LATENCY_BUCKETS


@dataclass(frozen=True)
class WorkerMetrics:
    registry: CollectorRegistry
    #: Dial requests by what became of them: placed, rejected, unavailable, unknown.
    dials: Counter
    #: Jobs' claims of a line: dialled, or why not.
    claims: Counter
    #: Results applied by this worker, by the call status they left.
    results: Counter
    #: From the dial request to the provider's answer (accepted or refused).
    dial_seconds: Histogram
    #: From the accepted dial to its result arriving here: how long calls and callbacks take.
    callback_seconds: Histogram
    calls_in_flight: Gauge
    leases_held: Gauge
    #: 0 closed, 1 half-open, 2 open.
    breaker_state: Gauge
    #: Hang-ups asked of the provider because a machine answered: asked, or failed.
    machine_hang_ups: Counter

    @classmethod
    def create(cls) -> WorkerMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            dials=Counter("vcs_dials", "Dial requests by outcome", ["outcome"], registry=registry),
            claims=Counter(
                "vcs_line_claims", "Jobs' claims of a line by result", ["result"], registry=registry
            ),
            results=Counter(
                "vcs_call_results",
                "Call results applied, by the call's status after them",
                ["status"],
                registry=registry,
            ),
            dial_seconds=Histogram(
                "vcs_dial_latency_seconds",
                "Time for the provider to accept or refuse a dial",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            callback_seconds=Histogram(
                "vcs_callback_latency_seconds",
                "Time from an accepted dial to its result",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            calls_in_flight=Gauge(
                "vcs_worker_calls_in_flight",
                "Calls this worker holds a line for",
                registry=registry,
            ),
            leases_held=Gauge(
                "vcs_worker_leases_held",
                "Leases on campaign lines this worker holds",
                registry=registry,
            ),
            breaker_state=Gauge(
                "vcs_breaker_state",
                "The provider circuit breaker: 0 closed, 1 half-open, 2 open",
                registry=registry,
            ),
            machine_hang_ups=Counter(
                "vcs_machine_hang_ups",
                "Calls hung up because a machine answered (campaigns with onMachine HANG_UP)",
                ["result"],
                registry=registry,
            ),
        )
