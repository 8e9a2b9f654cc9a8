"""Shared plumbing for tests that run their own RabbitMQ nodes and PostgreSQL clusters.

The brokers and databases run as their service users (rabbitmq, postgres) in folders of their
own, beside the machine's services, which must never be touched. So everything here is about
finding exactly our processes again (by a marker or by a unique name, never by a program
name), reaching only 127.0.0.1, and waiting on conditions with deadlines instead of sleeping.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pwd
import random
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

LOOPBACK = "127.0.0.1"

#: The environment variable that every process we start carries, with a value unique to its
#: owner, so that a sweep can find (and kill) exactly those processes and no others.
MARKER_VARIABLE = "OWN_INFRA_ID"

#: Ports the machine's own services (or their CLI tools) use: never hand these out.
_RESERVED_PORTS = frozenset({4369, 5432, 5672, 15672, 25672, *range(35672, 35683)})


@dataclass(frozen=True)
class ServiceUser:
    """The unprivileged account a broker or database runs as (initdb refuses root, and the
    broker's files must belong to the user that runs it)."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def named(cls, name: str) -> ServiceUser:
        entry = pwd.getpwnam(name)
        return cls(name, entry.pw_uid, entry.pw_gid, entry.pw_dir)

    def chown(self, *paths: Path) -> None:
        for path in paths:
            os.chown(path, self.uid, self.gid)

    def chown_tree(self, root: Path) -> None:
        self.chown(root)
        for folder, dirs, files in os.walk(root):
            for entry in (*dirs, *files):
                os.chown(os.path.join(folder, entry), self.uid, self.gid, follow_symlinks=False)


def make_base_dir(prefix: str = "own-infra-") -> Path:
    """A fresh folder under the system temp dir that service users may traverse (0711).

    pytest's tmp_path lives under a 0700 folder of root's, which rabbitmq and postgres cannot
    enter, so nodes and clusters need a base like this one. The caller removes it.
    """
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o711)
    return base


def check_traversable(path: Path, user: ServiceUser) -> None:
    """Raise if `user` cannot reach `path` (we are root, so os.access would say yes)."""
    groups = {user.gid, *(g for g in os.getgrouplist(user.name, user.gid))}
    for folder in [path, *path.parents]:
        info = folder.stat()
        if info.st_uid == user.uid:
            allowed = bool(info.st_mode & stat.S_IXUSR)
        elif info.st_gid in groups:
            allowed = bool(info.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(info.st_mode & stat.S_IXOTH)
        if not allowed:
            raise RuntimeError(
                f"user {user.name} cannot enter {folder} (needed for {path}); use a base folder"
                " made by make_base_dir()"
            )


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_ports(count: int) -> list[int]:
    """`count` distinct ports on 127.0.0.1 that nothing is bound to right now.

    Taken below the kernel's ephemeral range, at random: ports that other programs get from
    bind(0) (other tests' servers, proxies) and the source ports of outgoing connections come
    from that range, so a port of ours stays ours while its node is down for a restart. All
    sockets are held open together so that the ports differ; the machine's well-known ports
    and the CLI tools' distribution range are skipped.
    """
    low = _ephemeral_range()[0]
    candidates = [p for p in range(10000, low) if p not in _RESERVED_PORTS]
    random.shuffle(candidates)
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for port in candidates:
            if len(ports) == count:
                break
            sock = socket.socket()
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                sock.close()
                continue
            held.append(sock)
            ports.append(port)
        while len(ports) < count:  # a machine whose ephemeral range starts very low
            sock = socket.socket()
            held.append(sock)
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
            if port not in _RESERVED_PORTS:
                ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def listening_socket_inodes(port: int) -> set[int]:
    """Inodes of the sockets listening on TCP `port` (any address), from /proc/net/tcp*."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(int(inode))
    return inodes


def owns_listener(pid: int, port: int) -> bool:
    """Whether process `pid` holds the socket listening on `port`: a probe that gets an
    answer on our port might otherwise be talking to someone else who took the port."""
    inodes = listening_socket_inodes(port)
    if not inodes:
        return False
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") in wanted:
                return True
    return False


async def tcp_accepts(port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts a TCP connection on 127.0.0.1:`port`."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(LOOPBACK, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with suppress(OSError):
        await writer.wait_closed()
    return True


async def poll(
    probe: Callable[[], Awaitable[bool]], *, timeout: float, interval: float = 0.1
) -> bool:
    """Call `probe` until it returns True (then True) or `timeout` s pass (then False)."""
    deadline = time.monotonic() + timeout
    while True:
        if await probe():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file, for error messages (empty if there is none)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def first_lines_with(path: Path, needle: str, limit: int = 12) -> str:
    """The first `limit` lines of a log that contain `needle`: where a failure began, which
    the tail of a long crash report no longer shows."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join([line for line in text if needle in line][:limit])


def tails(*paths: Path, lines: int = 40) -> str:
    """The tails of several logs, each under its file name."""
    parts = [f"--- {p} ---\n{log_tail(p, lines)}" for p in paths if p.exists()]
    return "\n".join(parts) or "(no log files yet)"


@dataclass(frozen=True)
class ProcInfo:
    """What /proc says about one process."""

    pid: int
    ppid: int
    uid: int
    state: str
    cmdline: tuple[str, ...]
    environ: Mapping[str, str]

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def proc_info(pid: int) -> ProcInfo | None:
    """A snapshot of process `pid`, or None if it is gone."""
    base = Path(f"/proc/{pid}")
    try:
        stat_text = (base / "stat").read_text()
        status = (base / "status").read_text()
        cmdline = (base / "cmdline").read_bytes()
        try:
            environ = (base / "environ").read_bytes()
        except PermissionError:
            environ = b""
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return None
    # stat is "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
    after_comm = stat_text[stat_text.rindex(")") + 2 :].split()
    uid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:"))
    env: dict[str, str] = {}
    for item in environ.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    args = tuple(a.decode(errors="replace") for a in cmdline.split(b"\0") if a)
    return ProcInfo(pid, int(after_comm[1]), uid, after_comm[0], args, env)


def all_processes() -> Iterator[ProcInfo]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = proc_info(int(entry))
            if info is not None:
                yield info


def is_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent counts as gone)."""
    info = proc_info(pid)
    return info is not None and info.alive


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment carries our marker with this exact value."""
    return [p.pid for p in all_processes() if p.alive and p.environ.get(MARKER_VARIABLE) == marker]


def sigkill_and_wait(pids: Sequence[int], timeout: float = 15.0) -> list[int]:
    """SIGKILL these processes and wait (bounded) until they are gone; returns those left.

    Synchronous on purpose: cleanup must work from finalizers and atexit too, where no event
    loop may be running.
    """
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    left = [pid for pid in pids if is_alive(pid)]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [pid for pid in left if is_alive(pid)]
    return left


def sweep_marked(marker: str, timeout: float = 15.0) -> list[int]:
    """Kill every live process carrying `marker` (a few rounds, as dying parents may still
    fork); returns the PIDs that were killed."""
    killed: list[int] = []
    deadline = time.monotonic() + timeout
    while (found := marked_processes(marker)) and time.monotonic() < deadline:
        killed.extend(found)
        left = sigkill_and_wait(found, timeout=max(0.1, deadline - time.monotonic()))
        if left:
            raise RuntimeError(f"processes {left} survived SIGKILL")
    return killed


def reap(process: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """Kill (if needed) and wait for a child we started, so no zombie or ResourceWarning stays."""
    if process is None:
        return
    if process.poll() is None:
        process.kill()
    process.wait(timeout=timeout)


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class CommandError(RuntimeError):
    """A helper command (rabbitmqctl, pg_ctl, initdb...) failed or timed out."""


async def run_command(
    argv: Sequence[str],
    *,
    user: ServiceUser,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
    check: bool = True,
) -> CommandResult:
    """Run a short command as `user`; kill it if it outlives `timeout`.

    Supplementary groups are dropped so that the command has exactly the rights of the
    service user, like runuser would give, but without runuser resetting HOME.
    """
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        cwd=cwd,
        user=user.uid,
        group=user.gid,
        extra_groups=[],
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise CommandError(f"{' '.join(argv)} timed out after {timeout} s") from None
    result = CommandResult(
        tuple(argv),
        process.returncode or 0,
        out.decode(errors="replace"),
        err.decode(errors="replace"),
    )
    if check and result.returncode != 0:
        raise CommandError(
            f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-2000:]}"
            f"\n{result.stderr[-2000:]}"
        )
    return result


class Cleanable(Protocol):
    def cleanup(self) -> None: ...


#: Everything that started processes and has not been cleaned up yet; swept at interpreter
#: exit as a last resort, so that even an aborted test run leaves nothing running.
_LIVE: dict[int, Cleanable] = {}


def track(owner: Cleanable) -> None:
    """Remember `owner` until it is cleaned up (its cleanup then calls `untrack`)."""
    _LIVE[id(owner)] = owner


def untrack(owner: Cleanable) -> None:
    _LIVE.pop(id(owner), None)


def _cleanup_all() -> None:
    for owner in list(_LIVE.values()):
        try:
            owner.cleanup()
        except Exception as error:  # keep cleaning the others
            print(f"cleanup of {owner!r} failed: {error}")


atexit.register(_cleanup_all)


@dataclass
class Timings:
    """How long each start, stop and restart took, for reports and for spotting slow steps."""

    entries: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def measure(self, label: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.entries.append((label, time.monotonic() - started))

    def last(self, label: str) -> float:
        return next(s for name, s in reversed(self.entries) if name == label)

    def report(self, owner: str) -> str:
        return "\n".join(f"{owner}: {label} {seconds:.2f} s" for label, seconds in self.entries)
