"""docker-compose.yml cannot run here (no Docker engine): check it agrees with `make run`."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared.broker_connection import broker_urls
from shared.settings import Settings
from tests.support import local_images
from tests.support.compose_stack import LEFT_OUT, HostPorts, local_stack, start_order

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("api", "dispatcher", "worker", "telephony_mock")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


@pytest.fixture(scope="module")
def procfile() -> dict[str, list[str]]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = shlex.split(command)
    return entries


def test_the_same_four_services_run_the_same_modules(
    compose: dict[str, Any], procfile: dict[str, list[str]]
) -> None:
    assert set(procfile) == set(SERVICES)
    for name in SERVICES:
        service = compose["services"][name]
        # Same module, whichever interpreter: `.venv/bin/python -m services.api` here.
        assert service["command"][1:] == procfile[name][1:], name
        assert Path(procfile[name][0]).name == service["command"][0] == "python"


def default(name: str) -> Any:
    return Settings.model_fields[name].default


def test_ports_agree_with_the_settings_defaults(compose: dict[str, Any]) -> None:
    services = compose["services"]
    api_port, mock_port = default("api_port"), default("mock_http_port")
    assert f"{api_port}:{api_port}" in services["api"]["ports"]
    assert f"{mock_port}:{mock_port}" in services["telephony_mock"]["ports"]
    assert "15672:15672" in services["rabbitmq"]["ports"]
    expected = {
        "api": ("VCS_API_PORT", api_port),
        "dispatcher": ("VCS_DISPATCHER_HEALTH_PORT", default("dispatcher_health_port")),
        "worker": ("VCS_WORKER_HEALTH_PORT", default("worker_health_port")),
        "telephony_mock": ("VCS_MOCK_HTTP_PORT", mock_port),
    }
    for name, (variable, port) in expected.items():
        service = services[name]
        assert service["environment"][variable] == str(port)
        # The health check probes the port the service listens on.
        assert service["healthcheck"]["test"][-1] == str(port)


def test_every_variable_is_a_setting(compose: dict[str, Any]) -> None:
    fields = {f"VCS_{name.upper()}" for name in Settings.model_fields}
    for name in SERVICES:
        variables = set(compose["services"][name]["environment"])
        assert variables <= fields, variables - fields
        assert {"VCS_DATABASE_URL", "VCS_AMQP_URL", "VCS_HOST"} <= variables


def test_start_order_and_health(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["worker"]["deploy"]["replicas"] == 2
    setup = services["setup"]["depends_on"]
    assert setup["postgres"] == setup["rabbitmq"] == {"condition": "service_healthy"}
    for name in SERVICES:
        assert services[name]["depends_on"] == {
            "setup": {"condition": "service_completed_successfully"}
        }
    for name in (*SERVICES, "postgres", "rabbitmq"):
        assert "healthcheck" in services[name], name
    assert "management" in services["rabbitmq"]["image"]


@pytest.mark.parametrize("service", ["api", "ui"])
def test_the_images_build_from_files_that_exist(compose: dict[str, Any], service: str) -> None:
    build = compose["services"][service]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    text = dockerfile.read_text()
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_the_console_container_serves_3000_and_reaches_the_api(compose: dict[str, Any]) -> None:
    ui = compose["services"]["ui"]
    assert "3000:3000" in ui["ports"]
    assert ui["depends_on"] == {"api": {"condition": "service_healthy"}}
    nginx = (ROOT / "deploy" / "ui-nginx.conf").read_text()
    assert "listen 3000;" in nginx
    assert f"proxy_pass http://api:{default('api_port')};" in nginx


def test_the_cluster_profile_runs_three_nodes_that_name_each_other(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    nodes = [f"rabbitmq-{n}" for n in (1, 2, 3)]
    config = (ROOT / "deploy" / "rabbitmq-cluster.conf").read_text()
    cookies = set()
    for name in nodes:
        node = services[name]
        assert node["profiles"] == ["cluster"]
        assert node["hostname"] == name
        assert node["image"] == services["rabbitmq"]["image"]
        assert "healthcheck" in node
        assert f"= rabbit@{name}" in config
        mount = "./deploy/rabbitmq-cluster.conf:/etc/rabbitmq/conf.d/20-cluster.conf:ro"
        assert mount in node["volumes"]
        cookies.add(node["environment"]["RABBITMQ_ERLANG_COOKIE"])
    assert len(cookies) == 1, "one cookie for the three nodes"
    published = [port for name in nodes for port in services[name]["ports"]]
    assert len(published) == len(set(published)) and "5672:5672" not in published
    # Nothing but setup waits for them, and only when the profile is on.
    setup = services["setup"]["depends_on"]
    for name in nodes:
        assert setup[name] == {"condition": "service_healthy", "required": False}
    assert "profiles" not in services["rabbitmq"], "the single node stays the default"


def test_the_cluster_env_file_names_every_node_and_quorum_queues(
    compose: dict[str, Any],
) -> None:
    values = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "cluster.env").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    settings = Settings(amqp_url=values["VCS_AMQP_URL"], queue_type=values["VCS_QUEUE_TYPE"])
    assert settings.queue_type == "quorum"
    hosts = {urlsplit(url).hostname for url in broker_urls(settings.amqp_url)}
    assert hosts == {"rabbitmq-1", "rabbitmq-2", "rabbitmq-3"}
    # The services read both from the environment, with the single node as the default.
    env = compose["x-python-service"]["environment"]
    assert env["VCS_AMQP_URL"] == "${VCS_AMQP_URL:-amqp://guest:guest@rabbitmq:5672/}"
    assert env["VCS_QUEUE_TYPE"] == "${VCS_QUEUE_TYPE:-classic}"


# The file `make test-compose` runs on podman (tests/support/compose_stack.py): the same stack,
# changed only where the host's network forces it.


@pytest.fixture(scope="module")
def local(compose: dict[str, Any]) -> dict[str, Any]:
    return local_stack(compose, HostPorts())["services"]


def test_the_local_stack_keeps_every_default_service(
    compose: dict[str, Any], local: dict[str, Any]
) -> None:
    default_profile = {
        name for name, service in compose["services"].items() if "profiles" not in service
    }
    assert set(local) == (default_profile - set(LEFT_OUT)) | {"worker-2"}
    for name, service in local.items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name
        assert {entry.split(":")[0] for entry in service["extra_hosts"]} == set(local)
        assert set(service.get("depends_on", {})) <= set(local), name


def test_the_local_stack_never_reaches_the_machines_own_servers(local: dict[str, Any]) -> None:
    text = yaml.safe_dump(local)
    assert "${" not in text, "the caller's environment must not choose the stack's servers"
    for standard in (":5432/", ":5672/", ":6379/", "127.0.0.1:5672"):
        assert standard not in text
    ports = HostPorts()
    env = local["api"]["environment"]
    assert urlsplit(env["VCS_DATABASE_URL"]).port == ports.postgres
    assert urlsplit(env["VCS_AMQP_URL"]).port == ports.amqp
    assert urlsplit(env["VCS_REDIS_URL"]).port == ports.redis
    assert local["postgres"]["environment"]["PGPORT"] == str(ports.postgres)
    assert local["rabbitmq"]["environment"]["RABBITMQ_NODE_PORT"] == str(ports.amqp)
    assert str(ports.redis) in local["redis"]["command"]
    assert str(ports.redis) in local["redis"]["healthcheck"]["test"]


def test_the_local_stack_builds_every_image_here(local: dict[str, Any]) -> None:
    built = {service["image"] for service in local.values() if "build" in service}
    for name, service in local.items():
        if service["image"] in built and "build" not in service:
            continue  # a replica of a service that builds it
        if "build" in service:
            args = service["build"]["args"]
            assert all(value.startswith("vcs-local/") for value in args.values()), name
            dockerfile = Path(service["build"]["context"]) / service["build"]["dockerfile"]
            for arg in args:
                assert f"ARG {arg}=" in dockerfile.read_text(), (name, arg)
        else:
            assert service["image"].startswith("vcs-local/"), name
            image = next(i for i in local_images.ALL if i.name == service["image"])
            assert (local_images.LOCAL_IMAGES_DIR / image.containerfile).is_file()


def test_replicas_get_a_health_port_each(compose: dict[str, Any], local: dict[str, Any]) -> None:
    assert compose["services"]["worker"]["deploy"]["replicas"] == 2
    ports = set()
    for name in ("worker", "worker-2"):
        port = local[name]["environment"]["VCS_WORKER_HEALTH_PORT"]
        assert local[name]["healthcheck"]["test"][-1] == port
        ports.add(port)
        assert "deploy" not in local[name]
    assert len(ports) == 2


def test_each_image_is_built_once(local: dict[str, Any]) -> None:
    builds = [
        (service["build"]["context"], service["build"]["dockerfile"])
        for service in local.values()
        if "build" in service
    ]
    assert len(builds) == len(set(builds)) == 2  # the services' image and the console's


def test_the_start_order_follows_depends_on(local: dict[str, Any]) -> None:
    order = start_order(local)
    assert sorted(order) == sorted(local)
    for name, service in local.items():
        for other in service.get("depends_on", {}):
            assert order.index(other) < order.index(name), (other, name)
    with pytest.raises(ValueError, match="cycle"):
        start_order({"a": {"depends_on": {"b": {}}}, "b": {"depends_on": {"a": {}}}})
