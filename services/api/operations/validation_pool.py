"""Processes for validating large number lists in parallel, started on first need."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor

#: How often a pool process looks whether the api that started it is still there.
PARENT_CHECK_S = 1.0


def _exit_with_parent(parent_pid: int) -> None:
    """Run in each pool process: exit once the api is gone. An api killed outright (SIGKILL,
    the OOM killer) never shuts its pool down, and the processes, blocked on their call
    queue, would stay for ever (the fault suite left them behind)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)  # a poll: there is no portable parent-death event
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ValidationPool:
    """Lazily creates a process pool (spawned, not forked: the api runs an event loop and
    threads, which a fork would copy half-alive)."""

    def __init__(self, processes: int) -> None:
        self._processes = processes or os.cpu_count() or 1
        self._executor: ProcessPoolExecutor | None = None

    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
