"""PostgreSQL clusters of a test's own, beside the machine's 15/main, to restart, kill and
fail over.

The machine's cluster on 5432 must stay untouched, so each cluster here lives in a temp folder
of its own (data, unix socket, log), listens on a spare port on 127.0.0.1 only, and is found
again only through its postmaster.pid, never by program name. initdb refuses to run as root,
so everything runs as user postgres, with the folders belonging to it.

Settings live in `own_infra.conf`, included from postgresql.conf: a standby made with
pg_basebackup copies that file along and rewrites it with its own port and socket, and
the primary's synchronous_standby_names is changed there and reloaded.
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Literal

import asyncpg

from tests.support.own_processes import (
    LOOPBACK,
    MARKER_VARIABLE,
    ServiceUser,
    Timings,
    all_processes,
    check_traversable,
    free_ports,
    is_alive,
    log_tail,
    poll,
    proc_info,
    run_command,
    sigkill_and_wait,
    track,
    untrack,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DB_USER = "postgres"
START_TIMEOUT = 60.0

StopMode = Literal["smart", "fast", "immediate"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")

_HBA = """\
# Written for a test cluster: trust, and only over the unix socket or 127.0.0.1.
local all all trust
host all all 127.0.0.1/32 trust
local replication all trust
host replication all 127.0.0.1/32 trust
"""


class PostgresStartError(RuntimeError):
    """A cluster did not come up; the message carries the tail of its log."""


class OwnPostgres:
    """One PostgreSQL 15 cluster of our own: init, start, restart, stop, kill, promote.

    Give it a short name (a-z, 0-9, _) and a base folder that user postgres can traverse
    (see `make_base_dir`). `settings` are extra postgresql.conf settings (values written as
    they are, so quote strings: {"synchronous_commit": "'remote_apply'"}).
    """

    def __init__(
        self,
        name: str,
        base: Path,
        *,
        settings: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        if not _NAME.fullmatch(name):
            raise ValueError(f"cluster name {name!r}: use 1-31 of a-z, 0-9 and _")
        self.user = ServiceUser.named(DB_USER)
        check_traversable(base, self.user)
        self.name = name
        token = secrets.token_hex(3)
        #: Shown in every server process's title ("postgres: own_x_ab12cd: checkpointer"),
        #: which is how processes left behind by a killed postmaster are recognised.
        self.cluster_name = f"own_{name}_{token}"
        self.marker = f"postgres-{name}-{token}-{secrets.token_hex(4)}"
        self.port = port or free_ports(1)[0]
        self.settings = dict(settings or {})
        self.synchronous_standby_names = ""
        self.timings = Timings()
        self.root = Path(tempfile.mkdtemp(prefix=f"pg-{name}-", dir=base))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log_path = self.root / "postgres.log"
        self._pids: set[int] = set()
        track(self)
        self.socket_dir.mkdir(mode=0o700)
        self.user.chown_tree(self.root)

    def __repr__(self) -> str:
        return f"OwnPostgres({self.cluster_name!r}, port={self.port})"

    # -- addresses --------------------------------------------------------------------------

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{DB_USER}@{LOOPBACK}:{self.port}/{database}"

    @property
    def dsn(self) -> str:
        return self.url()

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(self.url(database), timeout=10)

    # -- files and commands -----------------------------------------------------------------

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    @property
    def initialised(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def _env(self) -> dict[str, str]:
        return {
            "PATH": f"{PG_BIN}:/usr/bin:/bin",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PGHOST": LOOPBACK,
            MARKER_VARIABLE: self.marker,
        }

    async def _run(self, *argv: str, timeout: float = START_TIMEOUT) -> str:
        result = await run_command(
            argv, user=self.user, env=self._env(), cwd=self.root, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise PostgresStartError(
                f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-2000:]}"
                f"\n{result.stderr[-2000:]}\n--- {self.log_path} ---\n{log_tail(self.log_path)}"
            )
        return result.stdout

    def _pg_ctl(self, *args: str) -> list[str]:
        return [str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]

    def _write_settings(self) -> None:
        """(Re)write own_infra.conf: where to listen, and the settings asked for."""
        values = {
            "listen_addresses": f"'{LOOPBACK}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "cluster_name": f"'{self.cluster_name}'",
            "max_connections": "50",
            "shared_buffers": "'32MB'",
            "max_wal_senders": "5",
            "max_replication_slots": "5",
            "hot_standby": "on",
            "logging_collector": "off",
            "log_line_prefix": "'%m [%p] %q%a '",
            "synchronous_standby_names": f"'{self.synchronous_standby_names}'",
            **self.settings,
        }
        lines = [f"{key} = {value}" for key, value in values.items()]
        (self.data / "own_infra.conf").write_text(
            "# Written for a test cluster; rewritten by tests/support/own_postgres.py.\n"
            + "\n".join(lines)
            + "\n"
        )
        (self.data / "pg_hba.conf").write_text(_HBA)
        self.user.chown(self.data / "own_infra.conf", self.data / "pg_hba.conf")

    async def init(self) -> None:
        """initdb (trust auth, C locale; --no-sync only skips initdb's own final fsync)."""
        with self.timings.measure("initdb"):
            await self._run(
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                DB_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write("\ninclude 'own_infra.conf'\n")
            self._write_settings()

    # -- processes --------------------------------------------------------------------------

    def postmaster_pid(self) -> int | None:
        """The postmaster's pid from postmaster.pid, if it runs and is really this cluster's."""
        try:
            first = (self.data / "postmaster.pid").read_text().splitlines()[0]
            pid = int(first)
        except (OSError, ValueError, IndexError):
            return None
        info = proc_info(pid)
        if info is None or not info.alive or info.uid != self.user.uid:
            return None
        if info.environ.get(MARKER_VARIABLE) != self.marker and str(self.data) not in " ".join(
            info.cmdline
        ):
            return None
        return pid

    @property
    def running(self) -> bool:
        return self.postmaster_pid() is not None

    def _server_processes(self) -> list[int]:
        """This cluster's live server processes: the postmaster, its children, and any that
        carry our marker or our cluster name in their title (children outlive a killed
        postmaster for a moment; their environment is overwritten by their title)."""
        postmaster = self.postmaster_pid()
        title = f"postgres: {self.cluster_name}: "
        found: list[int] = []
        for info in all_processes():
            if not info.alive or info.uid != self.user.uid:
                continue
            if (
                info.pid == postmaster
                or (postmaster is not None and info.ppid == postmaster)
                or info.environ.get(MARKER_VARIABLE) == self.marker
                or (info.cmdline and info.cmdline[0].startswith(title))
            ):
                found.append(info.pid)
        return found

    async def _wait_ready(self, timeout: float) -> None:
        """pg_isready on our port until it says the server accepts connections."""

        async def ready() -> bool:
            result = await run_command(
                [str(PG_BIN / "pg_isready"), "-h", LOOPBACK, "-p", str(self.port), "-t", "2"],
                user=self.user,
                env=self._env(),
                cwd=self.root,
                timeout=10,
                check=False,
            )
            return result.returncode == 0

        if not await poll(ready, timeout=timeout, interval=0.1):
            raise PostgresStartError(
                f"{self.cluster_name} not ready in {timeout} s:\n{log_tail(self.log_path)}"
            )

    async def _wait_processes_gone(self, timeout: float) -> None:
        async def gone() -> bool:
            self._pids = {pid for pid in self._pids if is_alive(pid)}
            return not self._pids and not self._server_processes()

        if not await poll(gone, timeout=timeout, interval=0.02):
            raise RuntimeError(f"{self.cluster_name}: processes left: {self._server_processes()}")

    # -- life cycle -------------------------------------------------------------------------

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """initdb if needed, then pg_ctl start -w, and wait until pg_isready says yes."""
        label = "start" if self.initialised else "init+start"
        with self.timings.measure(label):
            if not self.initialised:
                await self.init()
            if self.running:
                raise RuntimeError(f"{self.cluster_name} is already running")
            self._clear_stale_pid_file()
            await self._run(
                *self._pg_ctl("-l", str(self.log_path), "-w", "-t", str(int(timeout)), "start"),
                timeout=timeout + 10,
            )
            await self._wait_ready(timeout)
            self._remember_processes()

    def _remember_processes(self) -> None:
        self._pids.update(self._server_processes())

    def _clear_stale_pid_file(self) -> None:
        """Remove postmaster.pid left by a killed postmaster once none of its processes live.

        Needed because a killed postmaster is reparented to the machine's init, which may reap
        it late: until then its pid is a zombie, and a new postmaster, seeing that pid alive,
        refuses to start ("lock file postmaster.pid already exists"); the same goes for the
        socket's lock file. The shared memory segment the pid file names goes too, as the new
        postmaster might not look for it.
        """
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists() and not self._server_processes():
            shmid = self._orphan_shared_memory()
            if shmid is not None:
                _remove_shared_memory(shmid)
            pid_file.unlink()
            for lock in self.socket_dir.glob(f".s.PGSQL.{self.port}*"):
                lock.unlink()

    def _orphan_shared_memory(self) -> int | None:
        """The id of the SysV shared memory segment named in postmaster.pid, if it still
        exists, belongs to user postgres and no process is attached: what a SIGKILLed
        postmaster leaves behind (a clean or immediate stop removes it)."""
        try:
            line = (self.data / "postmaster.pid").read_text().splitlines()[6]
            key, shmid = (int(part) for part in line.split())
            table = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
        except (OSError, ValueError, IndexError):
            return None
        for row in table:
            fields = row.split()
            if (int(fields[0]), int(fields[1])) == (key, shmid):
                attached, uid = int(fields[6]), int(fields[7])
                return shmid if attached == 0 and uid == self.user.uid else None
        return None

    async def stop(self, mode: StopMode = "fast", timeout: float = START_TIMEOUT) -> None:
        """pg_ctl stop -m `mode` -w; returns once all server processes are gone."""
        with self.timings.measure(f"stop {mode}"):
            self._remember_processes()
            await self._run(
                *self._pg_ctl("-m", mode, "-w", "-t", str(int(timeout)), "stop"),
                timeout=timeout + 10,
            )
            await self._wait_processes_gone(timeout)

    async def restart(self, mode: StopMode = "fast", timeout: float = START_TIMEOUT) -> None:
        """Stop with `mode`, then start again on the same data and port."""
        with self.timings.measure(f"restart {mode}"):
            await self.stop(mode, timeout)
            await self.start(timeout)

    async def kill(self, timeout: float = 30.0) -> int:
        """SIGKILL the postmaster (its pid from postmaster.pid, checked to be ours), as if the
        machine died; returns that pid. Its children notice their parent's death and exit on
        their own; any still there after `timeout` s are killed too, so that a later start
        does not find the old shared memory still in use."""
        with self.timings.measure("kill"):
            pid = self.postmaster_pid()
            if pid is None:
                raise RuntimeError(f"{self.cluster_name} has no running postmaster to kill")
            self._remember_processes()
            os.kill(pid, signal.SIGKILL)
            try:
                await self._wait_processes_gone(timeout)
            except RuntimeError:
                sigkill_and_wait(self._server_processes())
            return pid

    async def reload(self) -> None:
        await self._run(*self._pg_ctl("reload"))

    async def promote(self, timeout: float = START_TIMEOUT) -> None:
        """pg_ctl promote -w (a standby becomes a primary), then wait until it takes writes."""
        with self.timings.measure("promote"):
            await self._run(
                *self._pg_ctl("-w", "-t", str(int(timeout)), "promote"), timeout=timeout + 10
            )

            async def writable() -> bool:
                connection = await self.connect()
                try:
                    return not await connection.fetchval("SELECT pg_is_in_recovery()")
                finally:
                    await connection.close()

            if not await poll(writable, timeout=timeout):
                raise PostgresStartError(f"{self.cluster_name} still in recovery after promote")

    async def make_sync_standby(self, name: str, base: Path) -> OwnPostgres:
        """A streaming standby of this (running) cluster, made synchronous: pg_basebackup -R
        with a replication slot into a new folder on a new port, started, and named in this
        cluster's synchronous_standby_names, so that commits here wait for it."""
        standby = OwnPostgres(name, base, settings=self.settings)
        try:
            with standby.timings.measure("basebackup+start"):
                slot = standby.cluster_name
                conninfo = (
                    f"host={LOOPBACK} port={self.port} user={DB_USER}"
                    f" application_name={standby.cluster_name}"
                )
                await standby._run(
                    str(PG_BIN / "pg_basebackup"),
                    "-d",
                    conninfo,
                    "-D",
                    str(standby.data),
                    "-R",
                    "-X",
                    "stream",
                    "-C",
                    "-S",
                    slot,
                    "-c",
                    "fast",
                    "--no-sync",
                    timeout=120,
                )
                standby._write_settings()
                await standby.start()
            with self.timings.measure("make standby synchronous"):
                await self._wait_replication(standby.cluster_name, "streaming", {"async"})
                self.synchronous_standby_names = f'"{standby.cluster_name}"'
                self._write_settings()
                await self.reload()
                await self._wait_replication(standby.cluster_name, "streaming", {"sync"})
        except BaseException:
            standby.cleanup()
            raise
        return standby

    async def _wait_replication(
        self, application_name: str, state: str, sync_states: set[str], timeout: float = 60
    ) -> None:
        async def replicating() -> bool:
            connection = await self.connect()
            try:
                row = await connection.fetchrow(
                    "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1",
                    application_name,
                )
            finally:
                await connection.close()
            return row is not None and row["state"] == state and row["sync_state"] in sync_states

        if not await poll(replicating, timeout=timeout, interval=0.1):
            raise PostgresStartError(
                f"{application_name} not {state}/{sync_states} from {self.cluster_name}:\n"
                f"{log_tail(self.log_path)}"
            )

    def cleanup(self) -> None:
        """Leave nothing running and remove the folder: pg_ctl stop -m immediate (which also
        frees the cluster's shared memory), then SIGKILL of anything of ours still there, and
        removal of a shared memory segment a killed postmaster left. Synchronous, so that it
        works from finalizers and at exit as well."""
        with self.timings.measure("cleanup"):
            if self.postmaster_pid() is not None:
                with suppress(subprocess.SubprocessError, OSError):
                    subprocess.run(
                        self._pg_ctl("-m", "immediate", "-w", "-t", "20", "stop"),
                        stdin=subprocess.DEVNULL,
                        capture_output=True,
                        env=self._env(),
                        cwd=self.root,
                        user=self.user.uid,
                        group=self.user.gid,
                        extra_groups=[],
                        timeout=30,
                        check=False,
                    )
            for _ in range(3):
                found = set(self._server_processes()) | {p for p in self._pids if is_alive(p)}
                if not found:
                    break
                sigkill_and_wait(sorted(found))
            self._pids.clear()
            shmid = self._orphan_shared_memory()
            if shmid is not None:
                _remove_shared_memory(shmid)
            shutil.rmtree(self.root, ignore_errors=True)
            untrack(self)


def _remove_shared_memory(shmid: int) -> None:
    """shmctl(IPC_RMID) on a segment we have checked is ours and unused."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.shmctl(ctypes.c_int(shmid), ctypes.c_int(0), None) != 0:  # 0 is IPC_RMID
        raise OSError(ctypes.get_errno(), f"shmctl(IPC_RMID) on segment {shmid}")


@asynccontextmanager
async def own_postgres(
    name: str, base: Path, *, settings: Mapping[str, str] | None = None
) -> AsyncIterator[OwnPostgres]:
    """One running cluster for the block; killed and removed afterwards whatever happens."""
    cluster = OwnPostgres(name, base, settings=settings)
    try:
        await cluster.start()
        yield cluster
    except BaseException:
        print(f"\n{cluster!r} log before cleanup:\n{cluster.log_tail()}")
        raise
    finally:
        cluster.cleanup()


@asynccontextmanager
async def own_postgres_pair(
    name: str, base: Path, *, settings: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[OwnPostgres, OwnPostgres]]:
    """A running primary and its synchronous streaming standby, (primary, standby); both
    killed and removed afterwards whatever happens."""
    primary = OwnPostgres(f"{name}_primary", base, settings=settings)
    standby: OwnPostgres | None = None
    try:
        await primary.start()
        standby = await primary.make_sync_standby(f"{name}_standby", base)
        yield primary, standby
    except BaseException:
        for cluster in (primary, standby):
            if cluster is not None:
                print(f"\n{cluster!r} log before cleanup:\n{cluster.log_tail()}")
        raise
    finally:
        if standby is not None:
            standby.cleanup()
        primary.cleanup()
