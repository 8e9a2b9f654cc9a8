"""RabbitMQ nodes of a test's own, beside the machine's broker, to restart, kill and cluster.

The machine's node (rabbit@localhost on 5672/15672/25672) must stay untouched, so each node
here gets its own node name, ports, config, data and log folders, and is found again only
through its pid file or the marker in its environment, never by program name.

Isolation choices, and why:

* Our own rabbitmq-env.conf (RABBITMQ_CONF_ENV_FILE): the machine's sets
  NODENAME=rabbit@localhost, which must not leak into our nodes or their CLI calls.
* Our own config file, plus an empty conf.d and a missing advanced.config: the machine's
  rabbitmq.conf pins listeners.tcp.local to 5672.
* A private epmd on a spare port and an Erlang cookie of our own (an `ErlangSite`, shared by
  the nodes of one cluster): the machine's epmd never sees our nodes, no `epmd -daemon` started
  by a node outlives the tests, and our rabbitmqctl calls cannot reach the machine's node.
* Broker and CLI run as user rabbitmq (supplementary groups dropped) with HOME set to the
  site's folder, which holds the cookie: runuser would reset HOME to the machine's.
* The broker script is started in the foreground as our child, in a session of its own, with
  its output in the node's folder (/usr/sbin/rabbitmq-server would write the machine's
  /var/log/rabbitmq/startup_log).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import IO

import aiohttp

from tests.support.own_processes import (
    LOOPBACK,
    MARKER_VARIABLE,
    CommandError,
    ServiceUser,
    Timings,
    check_traversable,
    first_lines_with,
    free_ports,
    is_alive,
    owns_listener,
    poll,
    proc_info,
    reap,
    run_command,
    sweep_marked,
    tails,
    tcp_accepts,
    track,
    untrack,
)

RABBITMQ_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
EPMD = Path(shutil.which("epmd") or "/usr/bin/epmd")
BROKER_USER = "rabbitmq"

#: A cold node with the management plugin boots in 8-20 s on two cores; several at once
#: share the cores, so the default deadline is generous.
START_TIMEOUT = 180.0
CTL_TIMEOUT = 90.0

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,30}")
_AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


class NodeStartError(RuntimeError):
    """A node did not come up; the message carries the tails of its logs."""


class ErlangSite:
    """A private epmd and an Erlang cookie: what nodes that cluster together must share."""

    def __init__(self, base: Path, name: str = "site", *, epmd_port: int | None = None) -> None:
        self.user = ServiceUser.named(BROKER_USER)
        check_traversable(base, self.user)
        self.name = name
        self.epmd_port = epmd_port or free_ports(1)[0]
        self.marker = f"erlang-site-{name}-{secrets.token_hex(6)}"
        self.root = Path(tempfile.mkdtemp(prefix=f"erlang-{name}-", dir=base))
        self.home = self.root / "home"
        self.epmd_log = self.root / "epmd.log"
        self.timings = Timings()
        self._epmd: subprocess.Popen[bytes] | None = None
        self._epmd_log_file: IO[bytes] | None = None
        track(self)
        self.home.mkdir(mode=0o700)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        self.user.chown_tree(self.root)

    def __repr__(self) -> str:
        return f"ErlangSite({self.name!r}, epmd_port={self.epmd_port})"

    def env(self) -> dict[str, str]:
        """The environment that the broker and its CLI tools share: a clean one, not ours, so
        that nothing of the test process (or the machine's settings) leaks in."""
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    @property
    def running(self) -> bool:
        return self._epmd is not None and self._epmd.poll() is None

    async def start(self, timeout: float = 15.0) -> None:
        """Start the private epmd (once) and wait until it accepts connections."""
        if self.running:
            return
        with self.timings.measure("epmd start"):
            reap(self._epmd)
            if self._epmd_log_file is not None:
                self._epmd_log_file.close()
            self._epmd_log_file = self.epmd_log.open("ab")
            self._epmd = subprocess.Popen(
                [str(EPMD), "-port", str(self.epmd_port), "-address", LOOPBACK],
                stdin=subprocess.DEVNULL,
                stdout=self._epmd_log_file,
                stderr=subprocess.STDOUT,
                env={**self.env(), MARKER_VARIABLE: self.marker},
                cwd=self.root,
                user=self.user.uid,
                group=self.user.gid,
                extra_groups=[],
                start_new_session=True,
            )

            epmd = self._epmd

            async def up() -> bool:
                if epmd.poll() is not None:
                    raise NodeStartError(f"epmd exited:\n{tails(self.epmd_log)}")
                return owns_listener(epmd.pid, self.epmd_port) and await tcp_accepts(self.epmd_port)

            if not await poll(up, timeout=timeout, interval=0.02):
                raise NodeStartError(f"epmd not up in {timeout} s:\n{tails(self.epmd_log)}")

    def cleanup(self) -> None:
        """Kill our epmd (nodes of this site should be gone first) and remove the folder."""
        sweep_marked(self.marker)
        reap(self._epmd)
        self._epmd = None
        if self._epmd_log_file is not None:
            self._epmd_log_file.close()
            self._epmd_log_file = None
        shutil.rmtree(self.root, ignore_errors=True)
        untrack(self)


class OwnRabbitNode:
    """One RabbitMQ node of our own: start, stop_app/start_app, kill, restart, cluster.

    Give it a short name (letters, digits, - and _) and a base folder that the rabbitmq user
    can traverse (see `make_base_dir`). `extra_config` lines go into its rabbitmq.conf as
    they are, e.g. "consumer_timeout = 5000". Without a `site` the node has an epmd and a
    cookie of its own; nodes meant to cluster must be given the same site.
    """

    def __init__(
        self,
        name: str,
        base: Path,
        *,
        extra_config: Sequence[str] = (),
        site: ErlangSite | None = None,
        ports: tuple[int, int, int] | None = None,
    ) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"node name {name!r}: use 1-31 of a-z, 0-9, - and _")
        self.name = name
        token = secrets.token_hex(3)
        self.nodename = f"own-{name}-{token}@localhost"
        self.marker = f"rabbit-{name}-{token}-{secrets.token_hex(4)}"
        self.extra_config = list(extra_config)
        # Picked together (with the epmd's, if the node has its own site) so that they differ.
        picked = list(ports) if ports else free_ports(3 if site else 4)
        self.amqp_port, self.dist_port, self.management_port = picked[:3]
        self.timings = Timings()
        self._owns_site = site is None
        epmd_port = picked[3] if len(picked) > 3 else None
        self.site = site or ErlangSite(base, name, epmd_port=epmd_port)
        self.user = self.site.user
        self.root = Path(tempfile.mkdtemp(prefix=f"rabbit-{name}-", dir=base))
        self.config_file = self.root / "rabbitmq.conf"
        self.env_file = self.root / "rabbitmq-env.conf"
        self.plugins_file = self.root / "enabled_plugins"
        self.feature_flags_file = self.root / "feature_flags"
        self.pid_file = self.root / "node.pid"
        self.mnesia_base = self.root / "mnesia"
        self.log_base = self.root / "log"
        self.startup_log = self.root / "startup.log"
        self.node_log = self.log_base / f"{self.nodename}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._startup_log_file: IO[bytes] | None = None
        self._started_once = False
        track(self)
        self._write_files()

    def __repr__(self) -> str:
        return f"OwnRabbitNode({self.nodename!r}, amqp={self.amqp_port})"

    # -- addresses --------------------------------------------------------------------------

    @property
    def amqp_url(self) -> str:
        """guest/guest on the default vhost; loopback_users = none lets guest in."""
        return f"amqp://guest:guest@{LOOPBACK}:{self.amqp_port}/"

    @property
    def management_url(self) -> str:
        return f"http://{LOOPBACK}:{self.management_port}"

    # -- files and environment --------------------------------------------------------------

    def _write_files(self) -> None:
        config = [
            f"# Written for the test node {self.nodename}.",
            f"listeners.tcp.local = {LOOPBACK}:{self.amqp_port}",
            f"management.tcp.port = {self.management_port}",
            f"management.tcp.ip = {LOOPBACK}",
            "loopback_users = none",
            "log.console = false",
            "log.file.level = info",
            *self.extra_config,
        ]
        self.config_file.write_text("\n".join(config) + "\n")
        # Sourced by the scripts instead of /etc/rabbitmq/rabbitmq-env.conf.
        self.env_file.write_text(f"NODENAME={self.nodename}\n")
        self.plugins_file.write_text("[rabbitmq_management].\n")
        (self.root / "conf.d").mkdir()
        self.mnesia_base.mkdir()
        self.log_base.mkdir()
        self.user.chown_tree(self.root)

    def _env(self) -> dict[str, str]:
        return {
            **self.site.env(),
            MARKER_VARIABLE: self.marker,
            "RABBITMQ_CONF_ENV_FILE": str(self.env_file),
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_USE_LONGNAME": "false",
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.config_file),
            "RABBITMQ_CONFIG_FILES": str(self.root / "conf.d"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_MNESIA_BASE": str(self.mnesia_base),
            "RABBITMQ_LOG_BASE": str(self.log_base),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.plugins_file),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(self.root / "plugins-expand"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(self.feature_flags_file),
            "RABBITMQ_PID_FILE": str(self.pid_file),
        }

    def log_tails(self, lines: int = 40) -> str:
        """The first errors of the startup output (a failed boot ends in a long crash report),
        then the tails of the startup output, the node's log and the epmd's log."""
        first_errors = first_lines_with(self.startup_log, "[error]")
        head = (
            f"--- first errors in {self.startup_log} ---\n{first_errors}\n" if first_errors else ""
        )
        return head + tails(self.startup_log, self.node_log, self.site.epmd_log, lines=lines)

    # -- processes --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the broker process we started is still there (the app may be stopped)."""
        return self._process is not None and self._process.poll() is None

    def beam_pid(self) -> int | None:
        """The node's Erlang VM, from its pid file, if it runs and is really ours."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        info = proc_info(pid)
        if info is None or not info.alive or info.environ.get(MARKER_VARIABLE) != self.marker:
            return None
        return pid

    def _launch(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.nodename} is already running")
        reap(self._process)
        if self._startup_log_file is not None:
            self._startup_log_file.close()
        self._startup_log_file = self.startup_log.open("ab")
        self._process = subprocess.Popen(
            [str(RABBITMQ_SCRIPTS / "rabbitmq-server")],
            stdin=subprocess.DEVNULL,
            stdout=self._startup_log_file,
            stderr=subprocess.STDOUT,
            env=self._env(),
            cwd=self.root,
            user=self.user.uid,
            group=self.user.gid,
            extra_groups=[],
            start_new_session=True,
        )

    async def _amqp_answers(self) -> bool:
        """The AMQP listener answers our protocol header with a frame (Connection.Start)."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(LOOPBACK, self.amqp_port), 2
            )
        except (OSError, TimeoutError):
            return False
        try:
            writer.write(_AMQP_HEADER)
            await writer.drain()
            frame_type = await asyncio.wait_for(reader.readexactly(1), 5)
            return frame_type == b"\x01"
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return False
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()

    async def _management_answers(self) -> bool:
        try:
            async with (
                aiohttp.ClientSession(
                    headers={"Authorization": aiohttp.encode_basic_auth("guest", "guest")},
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as http,
                http.get(f"{self.management_url}/api/overview") as response,
            ):
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def _wait_ready(self, timeout: float) -> None:
        async def ready() -> bool:
            if not self.running:
                code = self._process.returncode if self._process else None
                raise NodeStartError(
                    f"{self.nodename} exited ({code}) while starting:\n{self.log_tails()}"
                )
            beam = self.beam_pid()
            return (
                beam is not None
                and owns_listener(beam, self.amqp_port)
                and owns_listener(beam, self.management_port)
                and await self._amqp_answers()
                and await self._management_answers()
            )

        if not await poll(ready, timeout=timeout, interval=0.2):
            raise NodeStartError(
                f"{self.nodename} not ready in {timeout} s (AMQP {self.amqp_port}, management"
                f" {self.management_port}):\n{self.log_tails()}"
            )

    async def _wait_gone(self, timeout: float) -> None:
        """Wait until the broker script we started has exited, then sweep what it left."""

        async def gone() -> bool:
            return not self.running

        if not await poll(gone, timeout=timeout, interval=0.05):
            raise RuntimeError(f"{self.nodename} still running after {timeout} s")
        reap(self._process)
        sweep_marked(self.marker)

    # -- life cycle -------------------------------------------------------------------------

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the node and wait until AMQP accepts connections and management answers,
        on listening sockets that belong to this node's VM."""
        label = "restart" if self._started_once else "start"
        with self.timings.measure(label):
            await self.site.start()
            self._started_once = True
            self._launch()
            await self._wait_ready(timeout)

    async def stop(self, timeout: float = 60.0) -> None:
        """A clean stop (rabbitmqctl stop, which waits for the VM to exit); data is kept."""
        with self.timings.measure("stop"):
            if self.beam_pid() is not None:
                await self.rabbitmqctl("stop", str(self.pid_file), timeout=timeout)
            await self._wait_gone(timeout)

    def kill(self) -> int:
        """SIGKILL the node's Erlang VM (only it: the pid from its pid file, checked to be
        ours), as if its machine died; returns that pid. Waits until it is gone."""
        with self.timings.measure("kill"):
            pid = self.beam_pid()
            if pid is None:
                raise RuntimeError(f"{self.nodename} has no running VM to kill")
            os.kill(pid, signal.SIGKILL)
            if self._process is not None:
                self._process.wait(timeout=30)
            sweep_marked(self.marker)
            if is_alive(pid):
                raise RuntimeError(f"{self.nodename}: VM {pid} survived SIGKILL")
            return pid

    async def restart_after_kill(self, timeout: float = START_TIMEOUT) -> None:
        """Start the same node again, same name, ports and data, after `kill()`."""
        if self.running:
            raise RuntimeError(f"{self.nodename} is still running; kill() it first")
        with self.timings.measure("restart after kill"):
            self._launch()
            await self._wait_ready(timeout)

    async def stop_app(self, timeout: float = 60.0) -> None:
        """Stop the RabbitMQ application (the VM stays up) and wait until AMQP refuses."""
        with self.timings.measure("stop_app"):
            await self.rabbitmqctl("stop_app", timeout=timeout)

            async def refused() -> bool:
                return not await tcp_accepts(self.amqp_port)

            if not await poll(refused, timeout=timeout):
                raise RuntimeError(f"{self.nodename} still accepts AMQP after stop_app")

    async def start_app(self, timeout: float = START_TIMEOUT) -> None:
        """Start the application again and wait until AMQP and management answer."""
        with self.timings.measure("start_app"):
            await self.rabbitmqctl("start_app", timeout=timeout)
            await self._wait_ready(timeout)

    async def rabbitmqctl(
        self, *args: str, timeout: float = CTL_TIMEOUT, check: bool = True
    ) -> str:
        """Run `rabbitmqctl -n <this node> *args` as the broker's user; returns its stdout."""
        result = await run_command(
            [str(RABBITMQ_SCRIPTS / "rabbitmqctl"), "-n", self.nodename, *args],
            user=self.user,
            env=self._env(),
            cwd=self.root,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise CommandError(
                f"rabbitmqctl -n {self.nodename} {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}\n{self.log_tails(20)}"
            )
        return result.stdout

    async def cluster_status(self) -> dict[str, object]:
        """`rabbitmqctl cluster_status` as a dict (running_nodes, disk_nodes, ...)."""
        status: dict[str, object] = json.loads(
            await self.rabbitmqctl("cluster_status", "--formatter", "json")
        )
        return status

    async def running_nodes(self) -> list[str]:
        running = (await self.cluster_status()).get("running_nodes", [])
        assert isinstance(running, list)
        return [str(node) for node in running]

    async def join_cluster(self, other: OwnRabbitNode) -> None:
        """Make this node a member of `other`'s cluster: stop_app, reset, join, start_app.

        Its own data is wiped by the reset. Both nodes must share one `ErlangSite`.
        """
        with self.timings.measure("join cluster"):
            await self._stop_and_reset()
            await self._join(other)
            await self.start_app()

    async def _stop_and_reset(self) -> None:
        with self.timings.measure("stop_app+reset"):
            await self.stop_app()
            await self.rabbitmqctl("reset")

    async def _join(self, other: OwnRabbitNode) -> None:
        """rabbitmqctl join_cluster, on a node whose app is stopped and reset."""
        if other.site is not self.site:
            raise ValueError("nodes can only cluster within one ErlangSite (epmd and cookie)")
        with self.timings.measure("join_cluster"):
            await self.rabbitmqctl("join_cluster", other.nodename)

    def cleanup(self) -> None:
        """Leave nothing running and remove the node's folder (and its own site's, if any).

        SIGKILL rather than a clean stop: the data is deleted anyway, and a clean stop of a
        node with the management plugin takes several seconds. Synchronous, so that it works
        from finalizers and at exit as well.
        """
        with self.timings.measure("cleanup"):
            beam = self.beam_pid()
            if beam is not None and self._process is not None:
                # The VM first, so that the broker script (our child) reaps it and exits.
                os.kill(beam, signal.SIGKILL)
                with suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=15)
            sweep_marked(self.marker)
            reap(self._process)
            self._process = None
            if self._startup_log_file is not None:
                self._startup_log_file.close()
                self._startup_log_file = None
            if self._owns_site:
                self.site.cleanup()
            shutil.rmtree(self.root, ignore_errors=True)
            untrack(self)


class OwnRabbitCluster:
    """`size` nodes on one ErlangSite that form one cluster, the first node being the seed."""

    def __init__(
        self, name: str, base: Path, size: int = 3, *, extra_config: Sequence[str] = ()
    ) -> None:
        if size < 1:
            raise ValueError("a cluster needs at least one node")
        ports = free_ports(1 + 3 * size)
        self.site = ErlangSite(base, name, epmd_port=ports[0])
        self.nodes: list[OwnRabbitNode] = []
        track(self)
        for index in range(size):
            first = 1 + 3 * index
            self.nodes.append(
                OwnRabbitNode(
                    f"{name}{index + 1}",
                    base,
                    extra_config=extra_config,
                    site=self.site,
                    ports=(ports[first], ports[first + 1], ports[first + 2]),
                )
            )
        self.timings = Timings()

    def __repr__(self) -> str:
        return f"OwnRabbitCluster({[n.nodename for n in self.nodes]})"

    @property
    def nodenames(self) -> list[str]:
        return [node.nodename for node in self.nodes]

    @property
    def amqp_url(self) -> str:
        """Every node, the way VCS_AMQP_URL names a cluster (guest/guest, default vhost)."""
        nodes = ",".join(f"{LOOPBACK}:{node.amqp_port}" for node in self.nodes)
        return f"amqp://guest:guest@{nodes}/"

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """What `join_cluster` does for each of the others, with the independent steps at
        once: boot all nodes, stop_app + reset the others, join them to the first one by
        one (joins change the seed's membership), start their apps, and wait until all of
        them run in one cluster. Booting dominates: the nodes share the machine's cores."""
        with self.timings.measure("cluster start"):
            await self.site.start()
            seed, *others = self.nodes
            await _all(node.start(timeout) for node in self.nodes)
            await _all(node._stop_and_reset() for node in others)
            for node in others:
                await node._join(seed)
            await _all(node.start_app(timeout) for node in others)
            expected = set(self.nodenames)

            async def formed() -> bool:
                return set(await seed.running_nodes()) == expected

            if not await poll(formed, timeout=timeout, interval=0.5):
                raise NodeStartError(
                    f"cluster not formed in {timeout} s: {await seed.running_nodes()}"
                )

    async def stop(self) -> None:
        """Stop all nodes cleanly, the seed last."""
        for node in reversed(self.nodes):
            if node.running:
                await node.stop()

    def cleanup(self) -> None:
        """Kill every node and the site's epmd, and remove all folders."""
        with self.timings.measure("cluster cleanup"):
            for node in self.nodes:
                node.cleanup()
            self.site.cleanup()
            untrack(self)

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(node.log_tails(lines) for node in self.nodes)

    def report(self) -> str:
        lines = [self.timings.report("cluster"), self.site.timings.report("epmd")]
        lines += [node.timings.report(node.name) for node in self.nodes]
        return "\n".join(line for line in lines if line)


async def _all(steps: Iterable[Coroutine[object, object, None]]) -> None:
    """Run the steps at once; wait for all of them, then raise the first error if any (so
    that no step is left running behind the error)."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    errors = [result for result in results if isinstance(result, BaseException)]
    if errors:
        raise errors[0]


async def start_cluster(
    name: str, base: Path, size: int = 3, *, extra_config: Sequence[str] = ()
) -> OwnRabbitCluster:
    """Start `size` clustered nodes; the caller must `cleanup()` the result. If starting
    fails, whatever was started is cleaned up before the error propagates."""
    cluster = OwnRabbitCluster(name, base, size, extra_config=extra_config)
    try:
        await cluster.start()
    except BaseException:
        cluster.cleanup()
        raise
    return cluster


@asynccontextmanager
async def own_rabbit_node(
    name: str, base: Path, *, extra_config: Sequence[str] = ()
) -> AsyncIterator[OwnRabbitNode]:
    """One running node for the block; killed and removed afterwards whatever happens."""
    node = OwnRabbitNode(name, base, extra_config=extra_config)
    try:
        await node.start()
        yield node
    except BaseException:
        print(f"\n{node!r} logs before cleanup:\n{node.log_tails()}")
        raise
    finally:
        node.cleanup()


@asynccontextmanager
async def own_rabbit_cluster(
    name: str, base: Path, size: int = 3, *, extra_config: Sequence[str] = ()
) -> AsyncIterator[OwnRabbitCluster]:
    """A running cluster of `size` nodes for the block; all killed and removed afterwards."""
    cluster = OwnRabbitCluster(name, base, size, extra_config=extra_config)
    try:
        await cluster.start()
        yield cluster
    except BaseException:
        print(f"\n{cluster!r} logs before cleanup:\n{cluster.log_tails()}")
        raise
    finally:
        cluster.cleanup()
