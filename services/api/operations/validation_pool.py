"""Processes for validating large number lists in parallel, started on first need."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor


class ValidationPool:
    """Lazily creates a process pool (spawned, not forked: the api runs an event loop and
    threads, which a fork would copy half-alive)."""

    def __init__(self, processes: int) -> None:
        self._processes = processes or os.cpu_count() or 1
        self._executor: ProcessPoolExecutor | None = None

    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self._processes, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
