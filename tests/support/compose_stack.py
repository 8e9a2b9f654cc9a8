"""docker-compose.yml, run on podman on a machine with no container network (make test-compose).

The machines this runs on have no Docker engine, no systemd and no container networking, but
podman with runc runs containers on the host's network. `local_stack` turns docker-compose.yml
into the file that runs there, changing only what those machines force:

- every container shares the host's network (`network_mode: host`) and finds the others by
  their service names, mapped to 127.0.0.1 (`extra_hosts`); `ports:` mean nothing there;
- the servers the machine already runs on their standard ports (PostgreSQL, RabbitMQ, Redis)
  listen on ports of their own (`HostPorts`), and the services' URLs say so;
- replicas of one service get a health port each (`worker`, `worker-2`), since they cannot
  all bind one port of one network, and every container its service's name as host name;
- the images come from deploy/local-images (tests/support/local_images.py), as build
  arguments of our own Dockerfiles;
- `${VAR:-default}` is resolved to its default, so the caller's environment (make's
  VCS_AMQP_URL, say) cannot point the stack at the machine's own servers;
- the optional cluster profile and the monitoring pair (Prometheus, Grafana) are left out:
  neither has a health check, Grafana is not packaged by Debian, and Prometheus finds the
  workers through DNS, which the host's network does not give.

`ComposeStack` then does what `docker compose up` does with `depends_on` conditions, which
podman cannot do alone here: podman runs health checks from systemd timers, and there is no
systemd, so the stack runs every health check itself (`podman healthcheck run`), starting each
service only once what it depends on is healthy, started or completed successfully.
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support import local_images
from tests.support.local_images import ROOT, podman_env
from tests.support.waiting import wait_until

LEFT_OUT = ("prometheus", "grafana")
#: The image each official one is replaced by; our own images get their base as an argument.
LOCAL_IMAGES = {
    "postgres:15": local_images.POSTGRES.name,
    "rabbitmq:3.13-management": local_images.RABBITMQ.name,
    "redis:7": local_images.REDIS.name,
}
BUILD_ARGS = {
    "deploy/Dockerfile": {"BASE_IMAGE": local_images.PYTHON.name},
    "deploy/ui.Dockerfile": {
        "NODE_IMAGE": local_images.NODE.name,
        "NGINX_IMAGE": local_images.NGINX.name,
    },
}
_DEFAULTED = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}")


@dataclass(frozen=True)
class HostPorts:
    """Ports of the stack's own servers, away from the machine's PostgreSQL, RabbitMQ, Redis.

    Below Linux's ephemeral range (32768-60999), where no outgoing connection can hold them.
    """

    postgres: int = 16432
    amqp: int = 16672
    amqp_dist: int = 16679
    management: int = 16673
    redis: int = 16379


def _resolved(value: Any) -> Any:
    return _DEFAULTED.sub(lambda match: match.group(1), value) if isinstance(value, str) else value


def _move_ports(value: str, ports: HostPorts) -> str:
    return (
        value.replace("@postgres:5432/", f"@postgres:{ports.postgres}/")
        .replace("@rabbitmq:5672/", f"@rabbitmq:{ports.amqp}/")
        .replace("//redis:6379/", f"//redis:{ports.redis}/")
    )


def _health_port(service: dict[str, Any]) -> tuple[str, str] | None:
    """The variable naming the port the health check probes, and that port."""
    test = service.get("healthcheck", {}).get("test", [])
    port = str(test[-1]) if test else ""
    for variable, value in service.get("environment", {}).items():
        if variable.endswith("_PORT") and str(value) == port:
            return variable, port
    return None


def _replicas(name: str, service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    count = int(service.pop("deploy", {}).get("replicas", 1))
    if count == 1:
        return {name: service}
    found = _health_port(service)
    if found is None:
        raise ValueError(f"{name}: {count} replicas on one network need a health port each")
    variable, port = found
    copies = {}
    for index in range(count):
        replica = copy.deepcopy(service)
        replica["environment"][variable] = str(int(port) + index)
        replica["healthcheck"]["test"][-1] = str(int(port) + index)
        copies[name if index == 0 else f"{name}-{index + 1}"] = replica
    return copies


def local_stack(compose: dict[str, Any], ports: HostPorts) -> dict[str, Any]:
    """docker-compose.yml as it runs here (the module's docstring says what changes and why)."""
    services: dict[str, dict[str, Any]] = {}
    for name, original in compose["services"].items():
        if "profiles" in original or name in LEFT_OUT:
            continue
        service = copy.deepcopy(original)
        service.pop("ports", None)
        if "environment" in service:
            service["environment"] = {
                variable: _move_ports(str(_resolved(value)), ports)
                for variable, value in service["environment"].items()
            }
        if "VCS_HOST" in service.get("environment", {}):
            service["environment"]["VCS_HOST"] = "127.0.0.1"  # the host's network: loopback only
        if "build" in service:
            build = service["build"]
            build["args"] = dict(BUILD_ARGS[build["dockerfile"]])
            build["context"] = str(ROOT / build.get("context", "."))
        elif service["image"] in LOCAL_IMAGES:
            service["image"] = LOCAL_IMAGES[service["image"]]
        else:
            raise ValueError(f"{name}: no local image stands in for {service['image']}")
        services.update(_replicas(name, service))
    built: set[tuple[str, str]] = set()
    for name, service in services.items():
        if "build" in service:
            # podman-compose builds once per service that says `build`, all at once: the
            # first of the services sharing an image builds it for all.
            key = (service["build"]["context"], service["build"]["dockerfile"])
            if key in built:
                del service["build"]
            built.add(key)
        depends = service.get("depends_on")
        if isinstance(depends, dict):
            service["depends_on"] = {
                other: condition for other, condition in depends.items() if other in services
            }
        service["network_mode"] = "host"
        # Compose gives each container a host name of its own, and a worker's id is its host
        # name and pid: on the host's network two replicas would otherwise share one.
        service.setdefault("hostname", name)
        service["extra_hosts"] = [f"{other}:127.0.0.1" for other in sorted(services)]
    _place_servers(services, ports)
    volumes = compose.get("volumes", {})
    return {"services": services, "volumes": volumes}


def _place_servers(services: dict[str, dict[str, Any]], ports: HostPorts) -> None:
    services["postgres"]["environment"].update(PGPORT=str(ports.postgres), PGLISTEN="127.0.0.1")
    services["rabbitmq"].setdefault("environment", {}).update(
        RABBITMQ_NODENAME="vcs-compose@localhost",
        RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
        RABBITMQ_NODE_PORT=str(ports.amqp),
        RABBITMQ_DIST_PORT=str(ports.amqp_dist),
        RABBITMQ_MANAGEMENT_PORT=str(ports.management),
    )
    redis = services["redis"]
    redis["command"] = [*redis["command"], "--bind", "127.0.0.1", "--port", str(ports.redis)]
    test = redis["healthcheck"]["test"]
    redis["healthcheck"]["test"] = [*test[:-1], "-p", str(ports.redis), test[-1]]


def start_order(services: dict[str, dict[str, Any]]) -> list[str]:
    """Every service after those it depends on (compose's order); raises on a cycle."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order:
            return
        if name in visiting:
            raise ValueError(f"depends_on cycle through {name}")
        visiting.add(name)
        for other in sorted(services[name].get("depends_on", {})):
            visit(other)
        visiting.discard(name)
        order.append(name)

    for name in sorted(services):
        visit(name)
    return order


class ComposeStack:
    """One project of the derived file: build, up in order with its conditions, down."""

    def __init__(self, stack: dict[str, Any], folder: Path, project: str, log: Path) -> None:
        self.services: dict[str, dict[str, Any]] = stack["services"]
        self.project = project
        self.file = folder / "docker-compose.yml"
        self.file.write_text(yaml.safe_dump(stack, sort_keys=False))
        self.log = log
        log.write_text("")

    async def _run(self, *command: str, check: bool = True) -> str:
        code, text = await self._status(*command)
        if check and code != 0:
            raise RuntimeError(f"{' '.join(command)} exited {code}: {text[-2000:]}")
        return text

    async def _status(self, *command: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            *command,
            env=podman_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        text = out.decode(errors="replace")
        with self.log.open("a") as log:
            log.write(f"$ {' '.join(command)}\n{text}\n")
        assert process.returncode is not None
        return process.returncode, text

    async def compose(self, *args: str, check: bool = True) -> str:
        podman_compose = str(ROOT / ".venv" / "bin" / "podman-compose")
        return await self._run(
            podman_compose, "-f", str(self.file), "-p", self.project, *args, check=check
        )

    async def build(self) -> None:
        await self.compose("build")

    async def container(self, service: str) -> str:
        (name,) = await self._containers(service)
        return name

    async def _containers(self, service: str) -> list[str]:
        names = await self._run(
            "podman", "ps", "-a", "--format", "{{.Names}}",
            "--filter", f"label=com.docker.compose.project={self.project}",
            "--filter", f"label=com.docker.compose.service={service}",
        )  # fmt: skip
        return names.split()

    async def healthy(self, service: str) -> bool:
        """The service's own health check, run now; a service without one counts if running."""
        name = await self.container(service)
        if "healthcheck" not in self.services[service]:
            state = await self._run("podman", "inspect", "-f", "{{.State.Status}}", name)
            return state.strip() == "running"
        # Exit 0 and no output when healthy; "unhealthy" and 1 when not, or an error if stopped.
        code, _ = await self._status("podman", "healthcheck", "run", name)
        return code == 0

    async def exec(self, service: str, *command: str) -> str:
        """`podman exec` in the service's container: its output, and an error unless exit 0."""
        return await self._run("podman", "exec", await self.container(service), *command)

    async def exit_code(self, service: str) -> int | None:
        name = await self.container(service)
        state = await self._run(
            "podman", "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name
        )
        status, code = state.split()
        return int(code) if status in ("exited", "stopped") else None

    async def _condition_met(self, service: str, condition: str) -> bool:
        if condition == "service_healthy":
            return await self.healthy(service)
        if condition == "service_completed_successfully":
            code = await self.exit_code(service)
            if code not in (None, 0):
                raise RuntimeError(f"{service} exited {code} (see {self.log})")
            return code == 0
        return True  # service_started: it was started before anything after it

    async def _wait(self, service: str, condition: str, deadline: float) -> None:
        async def met() -> bool:
            return await self._condition_met(service, condition)

        await wait_until(
            met,
            timeout=max(deadline - time.monotonic(), 0),
            interval=1,
            message=f"{service} {condition} (see {self.log})",
        )

    async def up(self, timeout: float) -> dict[str, float]:
        """Start every service in order; returns when each became ready, in s from the start."""
        start = time.monotonic()
        deadline = start + timeout
        ready: dict[str, float] = {}
        for service in start_order(self.services):
            for other, rule in self.services[service].get("depends_on", {}).items():
                await self._wait(other, rule.get("condition", "service_started"), deadline)
                ready.setdefault(other, time.monotonic() - start)
            await self.compose("up", "-d", "--no-deps", service)
        return ready

    async def all_healthy(self, timeout: float) -> dict[str, float]:
        """Every service with a health check healthy (setup, which exits, excluded)."""
        start = time.monotonic()
        when: dict[str, float] = {}
        for service, definition in self.services.items():
            if "healthcheck" in definition:
                await self._wait(service, "service_healthy", start + timeout)
                when[service] = time.monotonic() - start
        return when

    async def logs(self) -> str:
        """Every container's output, for a failure's report."""
        parts = []
        for service in self.services:
            for name in await self._containers(service):
                parts.append(
                    f"--- {service}\n" + await self._run("podman", "logs", name, check=False)
                )
        return "\n".join(parts)

    async def down(self) -> None:
        await self.compose("down", "-v", "-t", "10", check=False)
