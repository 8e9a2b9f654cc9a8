"""The mock carrier's Prometheus metrics, read from its state when scraped."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.telephony_mock.carrier import Carrier


class _CarrierCollector(Collector):
    def __init__(self, carrier: Carrier) -> None:
        self._carrier = carrier

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "vcs_mock_dial_requests", "Dial requests by what the carrier did", labels=["step"]
        )
        for step, count in sorted(self._carrier.requests_by_step.items()):
            requests.add_metric([step], count)
        yield requests
        yield GaugeMetricFamily("vcs_mock_live_calls", "Calls live now", self._carrier.live_now)


def carrier_registry(carrier: Carrier) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_CarrierCollector(carrier))
    return registry
