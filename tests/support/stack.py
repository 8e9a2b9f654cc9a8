"""The four services as real OS processes, against a test run's own database and vhost."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
import pytest
from cryptography.fernet import Fernet

from shared.topology import QueueType
from tests.support.infra import Infra, create_infra, destroy_infra

ROOT = Path(__file__).resolve().parents[2]

#: Each service's port setting: its health endpoint is served there.
#: Encrypts webhook secrets in the test stack (a Fernet key made for this run).
WEBHOOK_SECRET_KEY = Fernet.generate_key().decode()

HEALTH_PORT_SETTING = {
    "api": "VCS_API_PORT",
    "dispatcher": "VCS_DISPATCHER_HEALTH_PORT",
    "worker": "VCS_WORKER_HEALTH_PORT",
    "telephony_mock": "VCS_MOCK_HTTP_PORT",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    name: str
    module: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @property
    def port(self) -> int:
        return int(self.env[HEALTH_PORT_SETTING[self.module]])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Stack:
    infra: Infra
    log_dir: Path
    settings: dict[str, str] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VCS_")}
        env.update(
            {
                "VCS_DATABASE_URL": self.infra.database_url,
                "VCS_AMQP_URL": self.infra.amqp_url,
                "VCS_QUEUE_TYPE": self.infra.queue_type,
                "VCS_LOG_FORMAT": "json",
                "VCS_HOST": "127.0.0.1",
                # Tests not about the policy pass at any hour; those about it give a file.
                "VCS_CALLING_POLICY": "off",
                # Test receivers listen on 127.0.0.1.
                "VCS_WEBHOOK_SECRET_KEY": WEBHOOK_SECRET_KEY,
                "VCS_WEBHOOK_ALLOW_PRIVATE": "true",
                "PYTHONUNBUFFERED": "1",
                **self.settings,
            }
        )
        return env

    async def start(
        self, module: str, name: str | None = None, *, healthy: bool = True, **settings: str
    ) -> Service:
        """Start `python -m services.<module>` and wait until its health endpoint answers
        (unless not `healthy`: a process expected to wait unhealthy, as a standby does)."""
        name = name or module
        assert name not in self.services, f"{name} is already running"
        env = self.base_env()
        env[HEALTH_PORT_SETTING[module]] = str(free_port())
        env.update(settings)
        return await self._launch(module, name, env, healthy=healthy)

    async def start_again(self, gone: Service) -> Service:
        """Start a process that was killed or stopped again as it was: same settings, same
        port (carriers and clients know its address)."""
        return await self._launch(gone.module, gone.name, dict(gone.env))

    async def run_until_exit(
        self, module: str, name: str, timeout: float = 30, **settings: str
    ) -> tuple[int, str]:
        """Start `python -m services.<module>` expecting it to stop by itself (a setting it
        refuses); its exit code and log. AssertionError if it is still running at `timeout`."""
        env = self.base_env()
        env[HEALTH_PORT_SETTING[module]] = str(free_port())
        env.update(settings)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", f"services.{module}"],
                cwd=ROOT,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                # The exit itself is the condition, waited on with a deadline (no polling).
                await asyncio.to_thread(process.wait, timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                raise AssertionError(f"{name} still running after {timeout} s") from None
        return process.returncode, log_path.read_text(errors="replace")

    async def _launch(
        self, module: str, name: str, env: dict[str, str], *, healthy: bool = True
    ) -> Service:
        assert name not in self.services, f"{name} is already running"
        log_path = self.log_dir / f"{name}.log"
        log_file = log_path.open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", f"services.{module}"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        service = Service(name, module, env, process, log_path, log_file)
        self.services[name] = service
        if healthy:
            await self._wait_healthy(service)
        return service

    async def _wait_healthy(self, service: Service, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if service.process.poll() is not None:
                    raise RuntimeError(f"{service.name} exited:\n{service.log_tail()}")
                try:
                    async with http.get(f"{service.base_url}/health") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{service.name} not healthy in {timeout} s:\n{service.log_tail()}")

    def kill(self, name: str) -> Service:
        """SIGKILL: no chance to clean up, as when a machine dies."""
        service = self.services.pop(name)
        service.process.send_signal(signal.SIGKILL)
        service.process.wait(timeout=10)
        service.log_file.close()
        return service

    async def stop(self, name: str, timeout: float = 15) -> int:
        """SIGTERM and wait; returns the exit code (killing it if it does not stop in time)."""
        service = self.services.pop(name)
        service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while service.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if service.process.poll() is None:
            service.process.kill()
        code = service.process.wait(timeout=10)
        service.log_file.close()
        return code

    async def stop_all(self) -> None:
        for name in list(self.services):
            await self.stop(name)

    def url(self, name: str) -> str:
        return self.services[name].base_url

    def tails(self) -> str:
        return "\n\n".join(f"== {s.name} ==\n{s.log_tail()}" for s in self.services.values())


@asynccontextmanager
async def full_stack(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    prefix: str,
    settings: dict[str, str],
    late_settings: Callable[[Stack], dict[str, str]] | None = None,
    queue_type: QueueType = "classic",
) -> AsyncIterator[Stack]:
    """The five processes on a database and vhost of their own; their logs are printed when
    a test of the session failed. `late_settings` adds settings that name the mock's or the
    api's address (known once they run) to the dispatcher and workers."""
    own = await create_infra(prefix, queue_type=queue_type)
    log_dir: Path = tmp_path_factory.mktemp(f"{prefix}-logs")
    running = Stack(own, log_dir, dict(settings))
    try:
        await running.start("telephony_mock")
        await running.start("api")
        running.settings.update(late_settings(running) if late_settings else {})
        await running.start("dispatcher")
        await running.start("worker", "worker-1")
        await running.start("worker", "worker-2")
        yield running
    finally:
        if request.session.testsfailed:
            print(f"\nservice logs in {log_dir}\n{running.tails()}")
        await running.stop_all()
        await destroy_infra(own)
