"""The Prometheus and Grafana files in deploy/ agree with the services and their metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from services.api.metrics import ApiMetrics
from services.dispatcher.metrics import DispatcherMetrics
from services.telephony_mock.behaviour import Behaviour, MockConfig
from services.telephony_mock.carrier import Carrier
from services.telephony_mock.metrics import carrier_registry
from services.worker.metrics import WorkerMetrics
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PORT_SETTING = {
    "api": "api_port",
    "dispatcher": "dispatcher_health_port",
    "worker": "worker_health_port",
    "telephony_mock": "mock_http_port",
}
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def _yaml(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


async def _no_report(_: Any) -> None:
    return None


def exported_series() -> set[str]:
    registries: list[CollectorRegistry] = [
        WorkerMetrics.create().registry,
        DispatcherMetrics.create(100).registry,
        ApiMetrics.create().registry,
        carrier_registry(Carrier(Behaviour(MockConfig()), _no_report)),
    ]
    names = set()
    for registry in registries:
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def test_prometheus_scrapes_every_service_where_it_serves_metrics() -> None:
    config = _yaml(DEPLOY / "prometheus.yml")
    compose = _yaml(ROOT / "docker-compose.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(PORT_SETTING)
    for name, setting in PORT_SETTING.items():
        port = Settings.model_fields[setting].default
        job = jobs[name]
        if "dns_sd_configs" in job:  # replicas, found by the compose service's DNS name
            [sd] = job["dns_sd_configs"]
            assert sd["names"] == [name] and sd["port"] == port
        else:
            [static] = job["static_configs"]
            assert static["targets"] == [f"{name}:{port}"]
        assert name in compose["services"]
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts


def test_every_dashboard_query_names_a_series_the_services_export() -> None:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/voice-campaigns.json").read_text())
    exported = exported_series()
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bvcs_[a-z_]+\b", target["expr"])
    }
    assert queried, "the dashboard queries nothing"
    assert queried <= exported, queried - exported
    # The series operators need most are all on the dashboard.
    for needed in (
        "vcs_dials_total",
        "vcs_call_results_total",
        "vcs_dial_latency_seconds_bucket",
        "vcs_callback_latency_seconds_bucket",
        "vcs_worker_calls_in_flight",
        "vcs_breaker_state",
        "vcs_dispatcher_tick_seconds_bucket",
        "vcs_lines_in_use",
    ):
        assert needed in queried, needed


def test_grafana_is_provisioned_with_the_datasource_the_dashboard_uses() -> None:
    datasources = _yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
    [source] = datasources["datasources"]
    dashboard = json.loads((DEPLOY / "grafana/dashboards/voice-campaigns.json").read_text())
    uids = {panel["datasource"]["uid"] for panel in dashboard["panels"]}
    assert uids == {source["uid"]}
    assert source["url"] == "http://prometheus:9090"
    provider = _yaml(DEPLOY / "grafana/provisioning/dashboards/voice-campaigns.yml")
    [dashboards] = provider["providers"]
    grafana = _yaml(ROOT / "docker-compose.yml")["services"]["grafana"]
    assert f"./deploy/grafana/dashboards:{dashboards['options']['path']}:ro" in grafana["volumes"]
