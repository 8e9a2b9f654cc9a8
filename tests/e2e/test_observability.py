"""Every service's Prometheus metrics, after real work went through them."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import finished
from tests.support.api_client import ApiClient, MockClient
from tests.support.numbers import fresh_numbers
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


async def _scrape(http: aiohttp.ClientSession, base_url: str) -> dict[str, float]:
    """Every sample by name and labels, e.g. 'vcs_dials_total{outcome="placed"}'."""
    async with http.get(f"{base_url}/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


def _sum(samples: dict[str, float], name: str) -> float:
    return sum(v for k, v in samples.items() if k == name or k.startswith(name + "{"))


async def test_every_service_exposes_what_operators_graph(
    api: ApiClient, mock: MockClient, stack: Stack, http: aiohttp.ClientSession
) -> None:
    numbers = fresh_numbers(30)
    await mock.configure(scenarios={n: ["busy", "completed"] for n in numbers[:5]})
    campaign = await api.create_campaign(
        name="observed",
        phoneNumbers=numbers,
        retryConfig={"callbackRetryDelayMs": 0},
    )
    await api.action(campaign["id"], "start")
    await finished(api, campaign["id"])

    # Other tests replace workers; whichever run now did the work.
    names = [n for n in stack.services if stack.services[n].module == "worker"]
    workers = [await _scrape(http, stack.url(n)) for n in names]
    dispatcher = await _scrape(http, stack.url("dispatcher"))
    api_samples = await _scrape(http, stack.url("api"))
    carrier = await _scrape(http, stack.url("telephony_mock"))

    assert sum(_sum(w, 'vcs_dials_total{outcome="placed"}') for w in workers) >= 35
    assert sum(_sum(w, 'vcs_call_results_total{status="COMPLETED"}') for w in workers) >= 30
    assert sum(_sum(w, 'vcs_call_results_total{status="FAILED"}') for w in workers) >= 5
    assert sum(w["vcs_dial_latency_seconds_count"] for w in workers) >= 35
    assert sum(w["vcs_callback_latency_seconds_count"] for w in workers) >= 35
    for samples in workers:
        assert samples["vcs_worker_calls_in_flight"] >= 0
        assert samples["vcs_breaker_state"] == 0
        assert "vcs_worker_leases_held" in samples

    assert dispatcher["vcs_dispatcher_active"] == 1
    assert dispatcher["vcs_dispatcher_tick_seconds_count"] > 0
    assert dispatcher["vcs_leases_published_total"] >= 1
    assert dispatcher["vcs_line_capacity"] == 100
    assert "vcs_lines_in_use" in dispatcher

    route = 'method="POST",route="/api/v1/campaigns/{id}/start",status="200"'
    assert api_samples[f"vcs_http_requests_total{{{route}}}"] >= 1
    assert _sum(api_samples, "vcs_http_request_seconds_count") > 0

    assert carrier['vcs_mock_dial_requests_total{step="completed"}'] >= 30
    assert "vcs_mock_live_calls" in carrier
